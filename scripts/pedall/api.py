"""pedall from Python: the functions the command line calls, for notebooks and scripts.

`import pedall` stays cheap (the command line starts through it): this module imports DuckDB, pandas,
polars or pyarrow only inside the function that needs them. Every function takes a release as the
command line's `--release` does (a release folder, its zip or a `.duckdb` file); without one it uses
the release folder the working directory is in, else the current repository's build in `dist/`,
which must be up to date with the repository's data.

The examples run on the synthetic test package (tests/test_api.py runs them from inside its built
release folder).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .problems import UsageError, UserError

if TYPE_CHECKING:
    import pandas as pd

    from .engine import duckdb
    from .pool import PoolResult

__all__ = ["PoolOutput", "connect", "pool", "table", "validate"]

Backend = Literal["pandas", "polars", "arrow"]
Check = Callable[[Any], None]


def _repository(root: Path | None = None) -> Path:
    # The repository root: the given one, else the nearest folder upwards holding datapackage.json.
    if root is not None:
        if not (root / "datapackage.json").is_file():
            raise UsageError(f"--root {root}: not a pedall repository (no datapackage.json)")
        return root.resolve()
    here = Path.cwd()
    for p in (here, *here.parents):
        if (p / "datapackage.json").exists():
            return p.resolve()
    raise UsageError(f"not inside a pedall repository: no datapackage.json in {here} or any folder above it "
                     "(run pedall inside the repository, or give --root)")


def locate(path: Path | str | None = None, root: Path | None = None) -> tuple[Path, Check | None]:
    """The release to open and, for the repository's own build, the check that it matches the data.

    `path` given: that release (folder, zip or `.duckdb` file). Otherwise the unpacked release the
    working directory is in (unless `root` is given), else `<root>/dist/pedall-<version>/pedall.duckdb`
    with a check that refuses it when the repository's data changed after it was built.
    """
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path} does not exist (give a release folder, its zip or a .duckdb file)")
        return path, None
    from .loadsql import NAME as LOAD_SQL

    if root is None:
        here = Path.cwd()
        inside = next((p for p in (here, *here.parents) if (p / LOAD_SQL).is_file()), None)
        if inside is not None:
            return inside, None
    from .database import DB_NAME
    from .package import load_package
    from .zipper import release_name

    try:
        r = _repository(root)
    except UsageError:
        if root is not None:
            raise
        raise UsageError("not inside a pedall repository or release: give --release PATH (a release "
                         "folder, its zip or a .duckdb file)") from None
    pkg = load_package(r)
    db = r / "dist" / release_name(pkg.version) / DB_NAME
    if not db.is_file():
        raise UsageError(f"no database at {db}: run `make release` first, or give --release PATH")

    def stale_check(con: Any) -> None:
        from .database import stale_inputs_in

        changed = stale_inputs_in(con, pkg)
        if changed:
            # A database built before the latest edits would answer for data that no longer exist.
            raise UsageError(f"{db} was built from older inputs ({', '.join(changed)} changed since): "
                             "run `make release` to rebuild it (or pass --release to use it anyway)")
    return db, stale_check


def connect(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to a release with every table and view, opened as `pedall query` opens it.

    A `.duckdb` file is opened read-only; a folder or zip is opened in memory over its Parquet files
    (a zip is unpacked into a temporary folder, removed when the connection is garbage-collected or
    Python exits).

    >>> import pedall
    >>> con = pedall.connect()
    >>> con.execute("select count(*) from studies").fetchone()[0]
    4
    >>> con.execute("select study_id, n_treated from study_summary where study_id = 'fake-alpha'").fetchall()
    [('fake-alpha', 55)]
    >>> con.close()
    """
    import weakref
    from contextlib import ExitStack

    import duckdb  # noqa: F401  (the full package: adds .arrow(), .pl() and friends to the engine's connection)

    from .opening import connect as open_release

    where, check = locate(path)
    stack = ExitStack()
    try:
        con = stack.enter_context(open_release(where))
        if check is not None:
            check(con)
            # the check reads one row; DuckDB then holds the result open and refuses con.sql() until it is done
            con.execute("SELECT 1").fetchall()
    except BaseException:
        stack.close()
        raise
    # the release stays open (and a zip's unpacked copy stays on disk) as long as the connection lives
    weakref.finalize(con, stack.close)
    return con


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table(name: str, path: Path | str | None = None, backend: Backend = "pandas") -> Any:
    """A table or view of a release as a pandas or polars DataFrame or a pyarrow Table.

    pandas columns keep their types: integers with gaps are nullable `Int64`, enumerations are
    categoricals with the schema's levels in its order, dates are dates.

    >>> import pedall
    >>> outcomes = pedall.table("outcomes")
    >>> str(outcomes["n_events"].dtype), list(outcomes["value_origin"].cat.categories)
    ('Int64', ['reported', 'calculated', 'read_from_figure'])
    >>> pedall.table("study_summary", backend="polars").shape[0]
    4
    >>> pedall.table("measures", backend="arrow").num_rows > 0
    True
    """
    if backend not in ("pandas", "polars", "arrow"):
        raise UsageError(f"backend {backend!r}: one of pandas, polars, arrow")
    import duckdb

    from .opening import connect as open_release

    where, check = locate(path)
    with open_release(where) as con:
        if check is not None:
            check(con)
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views() "
            "WHERE NOT internal ORDER BY 1").fetchall()]
        if name not in names:
            raise UserError(f"no table or view {name!r} in {where}: one of {', '.join(names)}")
        try:
            arrow = con.sql(f"SELECT * FROM {_quoted(name)}").to_arrow_table()
        except duckdb.Error as exc:
            raise UserError(f"{name}: {str(exc).strip().splitlines()[0]}") from None
    if backend == "arrow":
        return arrow
    if backend == "polars":
        import polars as pl

        return pl.from_arrow(arrow)
    import pandas as pd
    import pyarrow as pa

    nullable = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return arrow.to_pandas(types_mapper=nullable.get, date_as_object=True)


@dataclass(frozen=True)
class PoolOutput:
    """What `pedall pool` computes: `pooled` (one row per subgroup and overall), `studies` (the figure
    used for each study, its weight, yi and vi) and `excluded` (study and reason) as pandas DataFrames,
    and `result`, the full result that the command line renders and plots."""

    result: PoolResult

    @property
    def pooled(self) -> pd.DataFrame:
        import pandas as pd

        from .pool import summary_rows

        df = pd.DataFrame(summary_rows(self.result))
        # the estimate and its CI first: a printed frame that is too wide hides its middle columns
        first = ["group", "k", "n", "estimate", "ci_lower", "ci_upper"]
        return df[first + [c for c in df.columns if c not in first]]

    @property
    def studies(self) -> pd.DataFrame:
        import pandas as pd

        from .pool import StudyRow

        cols = list(StudyRow.__dataclass_fields__)
        return pd.DataFrame([asdict(s) for s in self.result.studies], columns=cols)

    @property
    def excluded(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.result.excluded, columns=["study_id", "reason"])

    @property
    def estimate(self) -> float:
        """The overall pooled estimate, in percent."""
        return self.result.overall.percent(self.result.scale)["estimate"]

    def render(self, fmt: str = "table") -> str:
        """The text `pedall pool --format FMT` prints (table, csv or json)."""
        from .pool import render

        return render(self.result, fmt)

    def __str__(self) -> str:
        return self.render()


def pool(family_or_measure: str, *, path: Path | str | None = None, timepoint: float | None = None,
         grade_min: int | None = None, by: str | None = None, population: str | None = None,
         method: str = "REML", design: str = "interventional", include_third_party: bool = False,
         keep: Iterable[str] = (), drop: Iterable[str] = (), derived: bool = True,
         timepoint_window: float | None = None, test: str = "z", root: Path | None = None) -> PoolOutput:
    """Random-effects meta-analysis of one figure per study: `pedall pool`, with the same options.

    >>> import pedall
    >>> res = pedall.pool("cr_cri")
    >>> res.studies[["study_id", "xi", "n"]].values.tolist()
    [['fake-alpha', 44, 55], ['fake-beta', 7, 12], ['fake-gamma', 30, 40]]
    >>> round(float(res.pooled.loc[0, "estimate"]), 2)
    75.3
    >>> pedall.pool("crs", grade_min=3, by="intervention_class").pooled["group"].tolist()[-1]
    'overall'
    """
    from .pool import pool as run

    keep = (keep,) if isinstance(keep, str) else tuple(keep)
    drop = (drop,) if isinstance(drop, str) else tuple(drop)
    where, check = locate(path, root)
    return PoolOutput(run(where, family_or_measure, timepoint=timepoint, grade_min=grade_min, by=by,
                          population=population, method=method, design=design,
                          include_third_party=include_third_party, keep=keep, drop=drop, check=check,
                          derived=derived, timepoint_window=timepoint_window, test=test))


def validate(path: Path | str | None = None) -> list[dict[str, Any]]:
    """Every problem `pedall validate` finds in a data package (a repository folder holding
    datapackage.json; default: the repository the working directory is in), as records with `file`,
    `row` (CSV line, header = 1; 0 for the whole file), `column`, `message` and `rule`. Empty when valid.

    >>> import pedall
    >>> pedall.validate(REPOSITORY)
    []
    >>> problems = pedall.validate(BROKEN)
    >>> sorted(problems[0])
    ['column', 'file', 'message', 'row', 'rule']
    """
    from .package import load_package
    from .problems import DataInvalid
    from .validate import validate as run

    root = _repository(Path(path) if path is not None else None)
    try:
        run(load_package(root))
    except DataInvalid as exc:
        return [asdict(p) for p in exc.problems]
    return []
