"""Test harness: render, validate and benchmark the examples; requests and servers for tests.

Not part of the runtime image (which ships `function/` only).
Run from the project root: `python -m harness.render|validate|bench`.
"""
