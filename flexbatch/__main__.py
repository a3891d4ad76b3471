"""``python -m flexbatch``: the command line, for when the console script is not on PATH."""

from flexbatch.cli import main

main()
