"""DuckDB's compiled engine, imported on its own.

The public `duckdb` package wraps the same module, but its import (a version lookup through
importlib.metadata, the Python-side relation helpers) takes about three times as long, most of the
start-up of `pedall query`. Everything pedall uses (connect, execute, Error) is in the engine.
"""

try:
    import _duckdb as duckdb
except ImportError:  # a DuckDB build laid out differently
    import duckdb  # type: ignore[no-redef]

__all__ = ["duckdb"]
