"""Run the three validation layers and collect every problem."""

from __future__ import annotations

import pandas as pd

from .checks import cross_table, row_rules, table_schema
from .frames import read_raw, typed
from .package import Package
from .problems import DataInvalid, Problem


def validate(pkg: Package) -> dict[str, pd.DataFrame]:
    """Return the typed frames of a valid package; raise DataInvalid listing every problem otherwise."""
    problems = table_schema.check(pkg)
    broken = {p.file for p in problems}
    frames: dict[str, pd.DataFrame] = {}
    for name, table in pkg.tables.items():
        if table.path in broken:
            continue  # types are unreliable; later layers would only echo the same fault
        raw = read_raw(pkg, table)
        df = typed(table, raw)
        problems += row_rules.check(table, df, raw)
        frames[name] = df
    problems += cross_table.check(pkg, frames)
    if problems:
        raise DataInvalid(_dedupe(problems))
    return frames


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
