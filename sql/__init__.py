"""The SQL of every step and view, one file each; shipped in the wheel as ``flexbatch.sql``
(``pyproject.toml`` maps this folder) and read through :mod:`flexbatch.resources`."""
