"""Reading and checking what comes in: usage files, rate plans, grants, transfers, top-up rules."""
