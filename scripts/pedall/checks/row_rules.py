"""Layer 2: cross-column rules within one table, run as a pandera DataFrameSchema over the typed frame.

Each rule is a vectorized test (one verdict per row) that becomes a DataFrame-level pandera Check of
the table's schema; pandera runs them all (lazily, so every failure of every rule is collected) and
its failure cases give the rows. The single-column constraints (type, enum, pattern, range, required,
unique) are the Table Schema's and are checked by layer 1, so the pandera schema declares no columns.
A rule that raises, or returns something other than one verdict per row, is itself reported
(`rule-error`): a broken rule never lets data pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

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


def _le_total(col: str) -> Callable[[pd.DataFrame, pd.DataFrame], pd.Series]:
    def ok(df: pd.DataFrame, raw: pd.DataFrame) -> pd.Series:
        return ~(_both(df, col, "n_total") & (df[col] > df["n_total"])).fillna(False).astype(bool)
    return ok


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
        if "unit" in df:
            is_pct = df["unit"].eq("percent").fillna(False)
        elif "effect_measure" in df:  # published_estimates: a proportion is a percent, a ratio is not
            is_pct = df["effect_measure"].eq("proportion").fillna(False)
        else:
            is_pct = True
        v = df[col]
        return ~(is_pct & v.notna() & ((v < 0) | (v > 100))).fillna(False).astype(bool)
    return ok


def _unit_required(df: pd.DataFrame, raw: pd.DataFrame) -> pd.Series:
    return ~(df["estimate"].notna() | df["ci_lower"].notna()) | df["unit"].notna()


def _comparator_only_for_effects(df: pd.DataFrame, raw: pd.DataFrame) -> pd.Series:
    effect = df["estimate_type"].isin(["hazard_ratio", "odds_ratio"])
    return (effect == df["comparator_arm_id"].notna()) & df["comparator_arm_id"].ne(df["arm_id"]).fillna(True)


RULES: tuple[Rule, ...] = (
    Rule("events-le-total", ("outcomes", "adverse_events"), "n_events", _le_total("n_events"),
         lambda row: f"{row['n_events']} events exceed n_total {row['n_total']}"),
    Rule("events-le-total", ("characteristics",), "n", _le_total("n"),
         lambda row: f"n {row['n']} exceeds n_total {row['n_total']}"),
    Rule("percent-agrees-with-counts", ("outcomes", "adverse_events"), "estimate", _percent_agrees,
         lambda row: f"{row['estimate']} does not round from {row['n_events']}/{row['n_total']}"
                     f" = {100 * row['n_events'] / row['n_total']:.3f}%"),
    Rule("ci-brackets-estimate", ("outcomes", "published_estimates"), "estimate",
         lambda d, r: ~(((d["ci_lower"] > d["estimate"]) | (d["estimate"] > d["ci_upper"])
                         | (d["ci_lower"] > d["ci_upper"])).fillna(False).astype(bool)),
         lambda row: f"CI [{row['ci_lower']}, {row['ci_upper']}] does not bracket {row['estimate']}"),
    Rule("ci-needs-level", ("outcomes", "published_estimates"), "ci_level",
         lambda d, r: ~((d["ci_lower"].notna() | d["ci_upper"].notna()) & d["ci_level"].isna()),
         lambda row: "a confidence interval needs its ci_level"),
    Rule("proportion-in-0-100", ("outcomes", "published_estimates"), "estimate", _percent_range("estimate"),
         lambda row: f"percent {row['estimate']} outside 0-100"),
    Rule("proportion-in-0-100", ("outcomes", "published_estimates"), "ci_lower", _percent_range("ci_lower"),
         lambda row: f"percent {row['ci_lower']} outside 0-100"),
    Rule("proportion-in-0-100", ("outcomes", "published_estimates"), "ci_upper", _percent_range("ci_upper"),
         lambda row: f"percent {row['ci_upper']} outside 0-100"),
    Rule("unit-required", ("outcomes",), "unit", _unit_required, lambda row: "an estimate needs its unit"),
    Rule("comparator-for-effects", ("outcomes",), "comparator_arm_id", _comparator_only_for_effects,
         lambda row: "hazard and odds ratios need a comparator arm other than the arm itself; other"
                     " estimates have none"),
    Rule("grade-min-le-max", ("adverse_events",), "grade_min",
         lambda d, r: ~(_both(d, "grade_min", "grade_max") & (d["grade_min"] > d["grade_max"])).fillna(False)
         .astype(bool),
         lambda row: f"grade_min {row['grade_min']} exceeds grade_max {row['grade_max']}"),
    # A systematic review reports many studies, so it alone has no study_id; every other report has one.
    Rule("study-unless-review", ("publications",), "study_id",
         lambda d, r: d["study_id"].isna() == d["report_type"].eq("systematic_review").fillna(False).astype(bool),
         lambda row: "a systematic review has no study_id" if row["report_type"] == "systematic_review"
         else "study_id is required (only a systematic_review has none)"),
    Rule("count-or-value", ("characteristics",), "value",
         lambda d, r: (d["n"].notna() | d["value"].notna()),
         lambda row: "a characteristic needs n or value"),
    Rule("registry-id-or-note", ("studies",), "registry_note",
         lambda d, r: d["registry_id"].notna() | d["registry_note"].fillna("").str.strip().ne(""),
         lambda row: f"study {row['study_id']} has no registry_id and no registry_note saying why"),
)


def _as_check(rule: Rule, raw: pd.DataFrame) -> Callable[[pd.DataFrame], pd.Series]:
    def verdict(df: pd.DataFrame) -> pd.Series:
        ok = rule.ok(df, raw)
        if not isinstance(ok, pd.Series) or not ok.index.equals(df.index):
            raise TypeError(f"returned {type(ok).__name__}, not one verdict per row")
        # An undecided verdict (NA) is a failure: a rule must say yes or no.
        return ok.fillna(False).astype(bool)
    return verdict


def schema(table: Table, raw: pd.DataFrame) -> pa.DataFrameSchema:
    """The table's layer-2 pandera schema: one DataFrame-level check per rule that applies to it."""
    return pa.DataFrameSchema(
        name=table.name,
        checks=[pa.Check(_as_check(r, raw), name=_key(r)) for r in RULES if table.name in r.tables])


def _key(rule: Rule) -> str:
    # a rule name can cover several columns (proportion-in-0-100 on estimate and both CI limits)
    return f"{rule.name}:{rule.column}"


def check(table: Table, df: pd.DataFrame, raw: pd.DataFrame) -> list[Problem]:
    rules = {_key(r): r for r in RULES if table.name in r.tables}
    if not rules:
        return []
    try:
        schema(table, raw).validate(df, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    out: list[Problem] = []
    for key, rule in rules.items():
        name = rule.name
        mine = cases[cases["check"] == key]
        if mine.empty:
            continue
        broken = mine[mine["index"].isna()]
        if not broken.empty:  # pandera caught an exception of the rule: never a pass
            out.append(Problem(table.path, 0, rule.column, f"rule {name} failed to run: "
                               f"{broken['failure_case'].iloc[0]}", "rule-error"))
            continue
        try:
            out += [Problem(table.path, csv_line(int(i)), rule.column, rule.message(df.loc[int(i)]), name)
                    for i in sorted({int(i) for i in mine["index"]})]
        except Exception as err:  # a message that cannot be built is a broken rule too
            out.append(Problem(table.path, 0, rule.column, f"rule {name} failed to run: "
                               f"{type(err).__name__}: {err}", "rule-error"))
    # a failure pandera reports for no rule of ours (its own fault) must not pass silently either
    for name in set(cases["check"].astype(str)) - set(rules):
        out.append(Problem(table.path, 0, "", f"layer-2 validation failed: {name}", "rule-error"))
    return out
