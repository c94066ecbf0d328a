"""The release's README.md: its files and how to load them, in this release's version, then the project README.

Generated at build time so that the paths, version and table list always match the release. Every
command in the fenced blocks runs as written from the unpacked zip (tests/test_release_readme.py and
tests/test_r_loader.py run them).
"""

from __future__ import annotations

from .database import DB_NAME
from .loadsql import NAME as LOAD_SQL
from .package import Package

R_LOADER = "R/pedall.R"
# Marks where the generated part ends and the project README begins (tests read the part above it).
SEPARATOR = "<!-- end of the generated part; the project README follows -->"


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return (head + ".") if dot else text


def render(pkg: Package, project_readme: str) -> str:
    v, name = pkg.version, f"pedall-{pkg.version}"
    d = pkg.descriptor
    tables = "\n".join(f"| `{t.name}` | {_first_sentence(t.description)} |" for t in pkg.tables.values())
    return f"""# {d["title"]}, version {v}

This is release {v} of pedall. Its files and how to load them come first; the project's README,
with the data's definitions and limits, follows. Every table is in `data/` as CSV and in `parquet/`
as Parquet; `datapackage.json` describes both (types, enumerations, keys, descriptions, checksums),
and `DATA_DICTIONARY.md` lists every column.

## Files

| file | what |
|---|---|
| `data/<table>.csv` | the curated tables (UTF-8, comma, header row; an empty cell is a missing value) |
| `parquet/<table>.parquet` | the same tables, typed from the schemas (nullable integers, enumerations) |
| `{LOAD_SQL}` | DuckDB: creates every table and view of `{DB_NAME}` as views over `parquet/` |
| `{R_LOADER}` | R without the R package: reads the CSV files typed from `datapackage.json` (base R, jsonlite) |
| `datapackage.json` | Frictionless Data Package: every file with its schema, `bytes` and `hash` |
| `DATA_DICTIONARY.md`, `index.html` | every table and column; an overview page with forest plots |
| `figures/` | forest plots of the headline pooled analyses and the command behind each |
| `CHANGELOG.md`, `CITATION.cff`, `LICENSE`, `SHA256SUMS` | changes, how to cite, licence, checksums |

`{DB_NAME}` (the same tables and views in one DuckDB file) is published beside the zip, as
`{name}.duckdb`, and so is the R package `pedall_{v}.tar.gz`: every table and view as a data frame
with a help page, and `pedall_pool()` for metafor (`R CMD INSTALL pedall_{v}.tar.gz`, then
`library(pedall)`).

| table | what |
|---|---|
{tables}

## Load the data

Unpack the zip and work from inside its folder (the commands below use paths relative to it):

```sh
unzip -q {name}.zip
cd {name}
sha256sum --check --quiet SHA256SUMS
```

Python, with pandas, polars and DuckDB (`pip install pandas pyarrow polars duckdb`):

```python
import duckdb
import pandas as pd
import polars as pl

# pandas: nullable integers stay integers, enumerations are categoricals in the schema's order
outcomes = pd.read_parquet("parquet/outcomes.parquet", dtype_backend="numpy_nullable")
flow = pl.read_parquet("parquet/participant_flow.parquet")  # polars
# DuckDB: every table and view of {DB_NAME} (binary_outcomes, study_summary, ...) over parquet/
duckdb.sql(open("{LOAD_SQL}").read())
print(duckdb.sql("select study_id, measure, xi, ni, yi, vi from binary_outcomes where measure = 'cr_cri'"))
print(outcomes.dtypes[["n_events", "estimate_type"]], flow.schema)
```

R, with base R and jsonlite (`install.packages("jsonlite")`, or Debian's `r-cran-jsonlite`), and
metafor for the pooling:

```r
source("{R_LOADER}")
tables <- pedall_read(".")          # a named list of data frames, typed from datapackage.json
str(tables$outcomes)
dat <- pedall_binary_outcomes(tables, measure = "cr_cri")  # xi, ni and metafor's logit yi, vi
library(metafor)
dat <- subset(dat, !third_party)    # leave out figures only a review or news report gives
one <- pedall_candidates(".", "complete_remission")  # one figure per study, as pedall pool chooses it
rma(yi, vi, data = one)             # pedall pool complete_remission, in metafor
```

The DuckDB command line (`pip install duckdb-cli`, or a DuckDB release):

```sh
duckdb -c ".read {LOAD_SQL}" -c "select study_id, n_treated, complete_remission_percent from study_summary"
duckdb -init {LOAD_SQL} -c "select measure, count(*) as n from binary_outcomes group by measure order by n desc limit 5"
```

`duckdb -init {LOAD_SQL}` alone opens an interactive session with every table and view. With pedall
installed (`pip install` of its repository), `pedall query --release . "select ..."` and
`pedall pool complete_remission --release .` work on this folder, its zip or `{name}.duckdb`.

{SEPARATOR}

{project_readme}"""
