"""Build-time generators: the project's committed manifests, from the function's models.

Run by `make generate` (python -m generate; see generate/output.py). Never imported by the
function while it serves, and not in its wheel or image.
"""

from pathlib import Path

# The project root: the generated files are written under it, and its pyproject.toml and
# deps/upstream.yaml are read from it.
ROOT = Path(__file__).resolve().parent.parent
