"""Where the event-sized SQL steps run: DuckDB (the default) or Spark."""
