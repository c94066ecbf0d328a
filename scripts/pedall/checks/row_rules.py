"""Layer 2: pandera schemas generated from the Table Schemas, plus the cross-column rules.

pandera's own `from_frictionless_schema` does not work with frictionless 5, so the column
schemas are built here from the same Field objects everything else uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from ..frames import PANDAS_DTYPES
from ..package import Table
from ..problems import Problem, csv_line


@dataclass(frozen=True)
class Rule:
    name: str
    tables: tuple[str, ...]
    column: str
    ok: Callable[[pd.DataFrame, pd.DataFrame], pd.Series]  # (typed, raw) -> True where the row passes
    message: Callable[[pd.Series], str]


def _both(df: pd.DataFrame, a: str, b: str) -> pd.Series:
    return df[a].notna() & df[b].notna()


def _decimals(text: pd.Series) -> pd.Series:
    return text.str.partition(".")[2].str.len()


def _percent_agrees(df: pd.DataFrame, raw: pd.DataFrame) -> pd.Series:
    # A reported percent must equal 100*events/total once rounded as the source rounded it
    # (to as many decimals as it printed). Only plain proportions: a KM estimate is not events/total.
    is_prop = df["estimate_type"].eq("proportion").fillna(False) if "estimate_type" in df else True
    has_all = df["n_events"].notna() & df["n_total"].notna() & df["estimate"].notna() & df["n_total"].gt(0)
    # A row flagged as a discrepancy of the source itself keeps its printed values unchecked.
    flagged = df["source_discrepancy"].fillna(False).astype(bool)
    mask = (has_all & is_prop & ~flagged).fillna(False).astype(bool)
    ok = pd.Series(True, index=df.index)
    if not mask.any():
        return ok
    calc = 100 * df.loc[mask, "n_events"].astype(float) / df.loc[mask, "n_total"].astype(float)
    tol = 0.5 * 10.0 ** (-_decimals(raw.loc[mask, "estimate"]).astype(float)) + 1e-9
    ok.loc[mask] = (calc - df.loc[mask, "estimate"].astype(float)).abs() <= tol
    return ok


def _percent_range(col: str) -> Callable[[pd.DataFrame, pd.DataFrame], pd.Series]:
    def ok(df: pd.DataFrame, raw: pd.DataFrame) -> pd.Series:
        is_pct = df["unit"].eq("percent").fillna(False) if "unit" in df else True
        v = df[col]
        return ~(is_pct & v.notna() & ((v < 0) | (v > 100))).fillna(False).astype(bool)
    return ok


def _unit_required(df: pd.DataFrame, raw: pd.DataFrame) -> pd.Series:
    return ~(df["estimate"].notna() | df["ci_lower"].notna()) | df["unit"].notna()


def _comparator_only_for_effects(df: pd.DataFrame, raw: pd.DataFrame) -> pd.Series:
    effect = df["estimate_type"].isin(["hazard_ratio", "odds_ratio"])
    return (effect == df["comparator_arm_id"].notna()) & df["comparator_arm_id"].ne(df["arm_id"]).fillna(True)


RULES: tuple[Rule, ...] = (
    Rule("events-le-total", ("outcomes", "adverse_events", "characteristics"), "n_events",
         lambda d, r: ~(_both(d, _num(d), "n_total") & (d[_num(d)] > d["n_total"])).fillna(False).astype(bool),
         lambda row: f"{row.get('n_events', row.get('n'))} events exceed n_total {row['n_total']}"),
    Rule("percent-agrees-with-counts", ("outcomes", "adverse_events"), "estimate", _percent_agrees,
         lambda row: f"{row['estimate']} does not round from {row['n_events']}/{row['n_total']}"
                     f" = {100 * row['n_events'] / row['n_total']:.3f}%"),
    Rule("ci-brackets-estimate", ("outcomes",), "estimate",
         lambda d, r: ~(((d["ci_lower"] > d["estimate"]) | (d["estimate"] > d["ci_upper"])
                         | (d["ci_lower"] > d["ci_upper"])).fillna(False).astype(bool)),
         lambda row: f"CI [{row['ci_lower']}, {row['ci_upper']}] does not bracket {row['estimate']}"),
    Rule("ci-needs-level", ("outcomes",), "ci_level",
         lambda d, r: ~((d["ci_lower"].notna() | d["ci_upper"].notna()) & d["ci_level"].isna()),
         lambda row: "a confidence interval needs its ci_level"),
    Rule("proportion-in-0-100", ("outcomes",), "estimate", _percent_range("estimate"),
         lambda row: f"percent {row['estimate']} outside 0-100"),
    Rule("proportion-in-0-100", ("outcomes",), "ci_lower", _percent_range("ci_lower"),
         lambda row: f"percent {row['ci_lower']} outside 0-100"),
    Rule("proportion-in-0-100", ("outcomes",), "ci_upper", _percent_range("ci_upper"),
         lambda row: f"percent {row['ci_upper']} outside 0-100"),
    Rule("unit-required", ("outcomes",), "unit", _unit_required, lambda row: "an estimate needs its unit"),
    Rule("comparator-for-effects", ("outcomes",), "comparator_arm_id", _comparator_only_for_effects,
         lambda row: "hazard and odds ratios need a comparator arm other than the arm itself; other"
                     " estimates have none"),
    Rule("grade-min-le-max", ("adverse_events",), "grade_min",
         lambda d, r: ~(_both(d, "grade_min", "grade_max") & (d["grade_min"] > d["grade_max"])).fillna(False)
         .astype(bool),
         lambda row: f"grade_min {row['grade_min']} exceeds grade_max {row['grade_max']}"),
    Rule("count-or-value", ("characteristics",), "value",
         lambda d, r: (d["n"].notna() | d["value"].notna()),
         lambda row: "a characteristic needs n or value"),
)


def _num(df: pd.DataFrame) -> str:
    return "n_events" if "n_events" in df else "n"


def column_schema(table: Table) -> pa.DataFrameSchema:
    """The pandera schema of one table, derived from its Table Schema."""
    columns = {}
    for f in table.fields:
        checks = []
        if f.enum:
            checks.append(pa.Check.isin(list(f.enum)))
        if f.pattern:
            checks.append(pa.Check.str_matches(f.pattern))
        if f.minimum is not None:
            checks.append(pa.Check.ge(f.minimum))
        if f.maximum is not None:
            checks.append(pa.Check.le(f.maximum))
        columns[f.name] = pa.Column(PANDAS_DTYPES[f.type], checks=checks, nullable=not f.required,
                                    unique=f.unique, required=True)
    return pa.DataFrameSchema(columns, strict=True, name=table.name)


def check(table: Table, df: pd.DataFrame, raw: pd.DataFrame) -> list[Problem]:
    rules = [r for r in RULES if table.name in r.tables]
    schema = column_schema(table)
    schema = schema.add_columns({})  # copy
    schema.checks = [pa.Check(lambda d, r=rule: r.ok(d, raw), name=f"{i}:{rule.name}")
                     for i, rule in enumerate(rules)]
    try:
        schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        return _problems(table, df, rules, exc.failure_cases)
    return []


def _problems(table: Table, df: pd.DataFrame, rules: list[Rule], fc: pd.DataFrame) -> list[Problem]:
    out: list[Problem] = []
    for rec in fc.to_dict("records"):
        idx = rec.get("index")
        row = csv_line(int(idx)) if idx is not None and not pd.isna(idx) else 0
        check_name = str(rec.get("check"))
        if ":" in check_name and check_name.split(":", 1)[0].isdigit():
            rule = rules[int(check_name.split(":", 1)[0])]
            if row == 0:
                continue
            out.append(Problem(table.path, row, rule.column, rule.message(df.loc[idx]), rule.name))
        else:
            out.append(Problem(table.path, row, str(rec.get("column") or "-"),
                               f'"{rec.get("failure_case")}" fails {check_name}', "pandera-column"))
    return list(dict.fromkeys(out))
