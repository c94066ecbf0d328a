"""Load the CSV tables into pandas frames typed from their Table Schemas."""

from __future__ import annotations

import pandas as pd

from .package import Package, Table

# pandas nullable dtypes per Table Schema type; keeping integers as Int64 keeps them integers with nulls.
PANDAS_DTYPES = {
    "string": "string",
    "integer": "Int64",
    "number": "Float64",
    "boolean": "boolean",
    "date": "datetime64[s]",
}


def read_raw(pkg: Package, table: Table) -> pd.DataFrame:
    """The CSV as text, empty cells as empty strings (what frictionless saw)."""
    return pd.read_csv(pkg.root / table.path, dtype=str, keep_default_na=False, na_filter=False)


def typed(table: Table, raw: pd.DataFrame) -> pd.DataFrame:
    """Convert a raw frame to the schema's types. Call only on data that passed the Table Schema."""
    out = {}
    for f in table.fields:
        col = raw[f.name].replace("", None) if f.name in raw else pd.Series([None] * len(raw))
        if f.type == "integer":
            out[f.name] = pd.to_numeric(col).astype("Int64")
        elif f.type == "number":
            out[f.name] = pd.to_numeric(col).astype("Float64")
        elif f.type == "boolean":
            out[f.name] = col.map({"true": True, "false": False}).astype("boolean")
        elif f.type == "date":
            out[f.name] = pd.to_datetime(col, format="%Y-%m-%d").astype("datetime64[s]")
        else:
            out[f.name] = col.astype("string")
    return pd.DataFrame(out, index=raw.index)

