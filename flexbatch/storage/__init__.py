"""Where IN and OUT live, the output lock, and the publication of a day.

- ``stores``: the ``Store`` contract and the local folder; ``hadoop``: a Hadoop URI.
- ``literal``: no path is a pattern (glob characters escaped for DuckDB and Hadoop).
- ``partitions``: which files of OUT's partitions are a table's (``is_table_file``), for
  every reader.
- ``publish``: one publication protocol for every store (generation, commit, roll forward).
- ``cascade``: the intent of a command that recomputes several days.
- ``lock`` (flock, local) and ``lease`` (a lease object, URI): one writer per OUT.
- ``legacy``: the upgrade of an OUT whose partitions were symbolic links.
"""
