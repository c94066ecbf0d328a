"""Write each table to Parquet with types and descriptions taken from its Table Schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .package import Table

_ARROW = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "string": pa.string(),
}


def arrow_type(field_type: str, is_enum: bool) -> pa.DataType:
    # Enumerated strings become dictionary columns: compact, and read back as categoricals.
    if field_type == "string" and is_enum:
        return pa.dictionary(pa.int32(), pa.string())
    return _ARROW[field_type]


def arrow_schema(table: Table) -> pa.Schema:
    fields = [
        pa.field(f.name, arrow_type(f.type, f.enum is not None), nullable=not f.required,
                 metadata={"description": f.description})
        for f in table.fields
    ]
    return pa.schema(fields, metadata={"table": table.name, "description": table.description})


def to_arrow(table: Table, df: pd.DataFrame) -> pa.Table:
    schema = arrow_schema(table)
    arrays = []
    for f, af in zip(table.fields, schema, strict=True):
        col = df[f.name]
        if f.type == "date":
            arr = pa.array(col.dt.date.where(col.notna(), None), type=pa.date32())
        elif pa.types.is_dictionary(af.type):
            # Dictionary values in the schema's enum order, so files do not depend on row content order.
            values = pa.array(list(f.enum or ()), type=pa.string())
            codes = [None if pd.isna(v) else f.enum.index(v) for v in col]  # type: ignore[union-attr]
            arr = pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int32()), values)
        else:
            arr = pa.array(col.astype(object).where(col.notna(), None).tolist(), type=af.type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=schema)


def write(table: Table, df: pd.DataFrame, path: Path) -> None:
    pq.write_table(to_arrow(table, df), path, compression="zstd", write_statistics=True,
                   store_schema=True)
