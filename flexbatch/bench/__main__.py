"""``python -m flexbatch.bench``: see ``flexbatch.bench.cli``."""

from flexbatch.bench.cli import main

main()
