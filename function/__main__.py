"""Run the function server: python -m function --insecure."""

from function.cli import main

main()
