"""Parametric builders for the example design packages."""
