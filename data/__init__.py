"""The sample input (``flexbatch demo``); shipped in the wheel as ``flexbatch.sample``
(``pyproject.toml`` maps this folder) and found through :mod:`flexbatch.resources`."""
