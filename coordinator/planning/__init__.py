"""Builds as plans: what to make (breakdown), where it can be made (matching), when (to scheduling)."""
