"""`python -m parley`: the same as the `parley` command."""

from parley.cli.main import main

main()
