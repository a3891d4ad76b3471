"""Where IN and OUT live, the output lock, and the publication of a day."""
