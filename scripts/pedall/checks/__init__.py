"""Layered validation: Table Schema (cells vectorized, descriptors by frictionless) -> row rules -> cross-table."""
