"""Layered validation: Table Schema (frictionless) -> column and cross-column rules (pandera) -> cross-table rules."""
