"""Strict JSON (RFC 8259) for every `--format json`: undefined numbers become null.

Python's json module writes NaN and Infinity by default, which jq, JavaScript's JSON.parse and R's
jsonlite reject; pooled statistics are NaN where undefined (I² when k = 1) and SQL results may hold
them too, so everything printed as JSON goes through dumps() below.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any


def finite(value: Any) -> Any:
    """A copy of value with every non-finite float (NaN, ±inf) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None, **kw: Any) -> str:
    # allow_nan=False makes any non-finite number that slipped through an error, never invalid output.
    return json.dumps(finite(value), allow_nan=False, default=default, **kw)
