"""The nightly job and the backfill: which days, in which order, and staleness."""
