"""The day's SQL steps: validated events to usage, subjects and charges."""
