"""Scheduling: problem model, priority rules, CP-SAT and the planning runner (docs/scheduling.md)."""
