"""pedall: tooling for the pedall dataset (validation, release build, queries), and its Python API.

    import pedall
    pedall.pool("cr_cri").pooled            # what `pedall pool cr_cri` prints, as a DataFrame
    pedall.table("study_summary")           # any table or view of a release, typed
    pedall.connect().sql("select * from binary_outcomes")
    pedall.validate()                       # the problems `pedall validate` lists, as records

The API lives in pedall.api and is imported on first use, so that `import pedall` (and with it every
start of the command line) loads nothing heavy. The *data* version lives in datapackage.json alone;
this package's own version is the tooling's.
"""

from __future__ import annotations

import sys as _sys
import types as _types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import PoolOutput, connect, pool, table, validate

__all__ = ["PoolOutput", "connect", "pool", "table", "validate"]


class _Package(_types.ModuleType):
    # `pedall.pool` and `pedall.validate` name both a function of the API and a submodule (pool.py,
    # validate.py). Importing a submodule sets it as an attribute of its package; here the function
    # keeps the name. The modules stay importable (`from pedall.pool import ...`, importlib).
    def __setattr__(self, name: str, value: Any) -> None:
        if name in __all__ and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'pedall' has no attribute {name!r}")
