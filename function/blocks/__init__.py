"""Composition blocks several kinds build from: each object or rule written once."""
