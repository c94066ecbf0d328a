"""Turn text columns into typed columns following the Table Schema, vectorized with pyarrow.

A cell that does not parse as its field's type becomes null in the typed column and is flagged,
so that the Table Schema layer reports it and the later layers can still run on the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .package import Field, Table

# pandas nullable dtypes per Table Schema type; keeping integers as Int64 keeps them integers with nulls.
PANDAS_DTYPES = {
    "string": "string",
    "integer": "Int64",
    "number": "Float64",
    "boolean": "boolean",
    "date": "datetime64[s]",
}
_TO_PANDAS = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(), pa.bool_(): pd.BooleanDtype(),
              pa.string(): pd.StringDtype("pyarrow")}
# The Table Schema default lexical forms (no bareNumber/groupChar options are used in the schemas).
_INTEGER = r"^[+-]?[0-9]{1,18}$"
_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TRUE = ("true", "True", "TRUE", "1")
_FALSE = ("false", "False", "FALSE", "0")


@dataclass
class Cast:
    values: pa.Array  # typed, null where the cell is missing or unparsable
    missing: pa.Array  # boolean: the cell is one of the schema's missing values
    invalid: pa.Array  # boolean: present but not of the field's type


def missing_values(table: Table) -> list[str]:
    return list(table.schema.get("missingValues", [""]))


def cast(table: Table, f: Field, text: pa.Array) -> Cast:
    missing = pc.is_in(text, value_set=pa.array(missing_values(table), type=pa.string()))
    present = pc.if_else(missing, pa.scalar(None, pa.string()), text)
    desc = _descriptor(table, f.name)
    if f.type == "integer":
        ok = pc.match_substring_regex(present, _INTEGER)
        values = pc.cast(pc.if_else(ok, present, None), pa.int64())
    elif f.type == "number":
        ok = pc.match_substring_regex(present, _NUMBER)
        values = pc.cast(pc.if_else(ok, present, None), pa.float64())
    elif f.type == "boolean":
        true = desc.get("trueValues", _TRUE)
        false = desc.get("falseValues", _FALSE)
        is_true = pc.is_in(present, value_set=pa.array(true, type=pa.string()))
        ok = pc.or_(is_true, pc.is_in(present, value_set=pa.array(false, type=pa.string())))
        values = pc.if_else(ok, is_true, pa.scalar(None, pa.bool_()))
    elif f.type == "date":
        fmt = desc.get("format", "default")
        fmt = "%Y-%m-%d" if fmt in ("default", "any") else fmt
        shaped = pc.match_substring_regex(present, _DATE) if fmt == "%Y-%m-%d" else pc.is_valid(present)
        parsed = pc.strptime(pc.if_else(shaped, present, None), format=fmt, unit="s", error_is_null=True)
        ok = pc.is_valid(parsed)
        values = parsed
    else:  # string, and any type without a lexical check of its own
        ok = pc.is_valid(present)
        values = present
    invalid = pc.and_(pc.is_valid(present), pc.invert(pc.fill_null(ok, False)))
    return Cast(values, missing, invalid)


def _descriptor(table: Table, name: str) -> dict[str, Any]:
    for d in table.schema.get("fields", []):
        if d.get("name") == name:
            return d
    return {}


def to_pandas(table: Table, values: dict[str, pa.Array]) -> pd.DataFrame:
    """The typed frame of one table, columns in schema order with the dtypes in PANDAS_DTYPES."""
    out = {}
    for f in table.fields:
        arr = values[f.name]
        if f.type == "date":
            out[f.name] = pd.Series(arr.to_pandas(), dtype="datetime64[s]")
        else:
            out[f.name] = pd.Series(arr.to_pandas(types_mapper=_TO_PANDAS.get))
    return pd.DataFrame(out)


def text_frame(columns: dict[str, pa.Array]) -> pd.DataFrame:
    """The cells as text (empty cells as empty strings), as the rules that look at spelling need them."""
    return pd.DataFrame({k: pd.Series(v.to_pandas(types_mapper=_TO_PANDAS.get)) for k, v in columns.items()})
