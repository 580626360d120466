"""python -m generate [--check]: write the generated files, or check them (generate/output.py)."""

import sys

from generate.output import main

sys.exit(main(sys.argv[1:]))
