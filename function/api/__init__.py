"""Typed APIs of the composite kinds: the single source of truth for their XRDs."""
