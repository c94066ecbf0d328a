"""`pedall pool`: random-effects pooling of one figure per study, from a built release database.

Proportions (an outcome measure of kind `binary`, or an adverse event with a grade range) are
pooled on the logit scale from events and totals. Survival-type estimates at a time point are
pooled on the scale under which their reported CIs are most nearly symmetric (the scale the CIs
imply), with standard errors derived from those CIs.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
from scipy import stats

from .database import enum_type_name_of
from .jsonout import dumps
from .meta import MIN_K_PREDICTION, Pooled, expit, logit, plo, random_effects
from .opening import connect
from .problems import PoolError, QueryError
from .query import aligned
from .vocab import GROUPINGS

# --by: option value -> column of the candidate rows (the values come from the schemas' enumerations).
# The grouping column -> the schema field whose enumLabels label its values in plots.
_LABELLED = {"intervention_class": ("studies", "intervention_class"), "design": ("studies", "design")}


_FWD = {"identity": lambda p: p, "log": math.log, "logit": logit, "cloglog": lambda p: math.log(-math.log(p))}
_INV = {"identity": lambda x: x, "log": math.exp, "logit": expit, "cloglog": lambda x: math.exp(-math.exp(x))}


@dataclass(frozen=True)
class Scale:
    name: str

    def fwd(self, p: float) -> float:
        return _FWD[self.name](min(max(p, 1e-9), 1 - 1e-9))

    def inv(self, x: float) -> float:
        return _INV[self.name](x)


SURVIVAL_SCALES = tuple(Scale(n) for n in ("identity", "log", "logit", "cloglog"))
LOGIT = Scale("logit")


@dataclass
class StudyRow:
    study_id: str
    label: str
    group: str
    arm_id: str
    publication_id: str
    population: str
    timepoint_months: float | None
    n: int
    xi: int | None
    estimate: float  # percent: events/total for proportions (what is pooled), else as reported
    ci_lower: float | None
    ci_upper: float | None
    ci_level: float | None = None
    yi: float = math.nan
    vi: float = math.nan
    weight: float = math.nan
    attribution: str | None = None  # adverse events: all_cause, treatment_related or not_stated
    third_party: bool = False


@dataclass
class GroupResult:
    group: str
    k: int
    n: int
    pooled: Pooled

    def percent(self, scale: Scale) -> dict[str, float]:
        p = self.pooled
        conv = {name: 100 * scale.inv(getattr(p, name)) if not math.isnan(getattr(p, name)) else math.nan
                for name in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper")}
        if scale.name == "cloglog":  # a decreasing transform swaps the bounds
            conv["ci_lower"], conv["ci_upper"] = conv["ci_upper"], conv["ci_lower"]
            conv["pi_lower"], conv["pi_upper"] = conv["pi_upper"], conv["pi_lower"]
        return conv


@dataclass
class PoolResult:
    measure: str
    label: str
    timepoint: float | None
    grade_min: int | None
    by: str | None
    method: str
    scale: Scale
    version: str
    studies: list[StudyRow]
    groups: list[GroupResult]
    overall: GroupResult
    excluded: list[tuple[str, str]] = field(default_factory=list)
    design: str = "interventional"
    third_party: bool = False
    group_labels: dict[str, str] = field(default_factory=dict)
    test: str = "z"

    @property
    def intervals(self) -> str:
        """How the CIs and prediction intervals were formed, in words, so that every output says it."""
        how = ("Knapp-Hartung SE, t quantile on k-1 df (--test knha)" if self.test == "knha"
               else "normal quantile, z (--test z)")
        return (f"CI and prediction interval: {how}; no prediction interval for k < {MIN_K_PREDICTION}; "
                "a group of one study shows its own normal CI")

    @property
    def selection(self) -> str:
        """Which studies were eligible, in words, so that every output says it."""
        who = {"all": "all designs", "interventional": "interventional trials only",
               "observational": "observational studies only"}.get(self.design, f"design {self.design} only")
        return f"studies: {who} (--design {self.design}); third-party figures " + (
            "included" if self.third_party else "excluded")

    @property
    def title(self) -> str:
        t = self.label
        if self.grade_min:
            t += f", grade ≥{self.grade_min}"
        if self.timepoint is not None:
            t += f", {self.timepoint:g} months"
        return t


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _candidates(con: duckdb.DuckDBPyConnection, measure: str, timepoint: float | None, grade_min: int | None,
                population: str | None, design: str, third_party: bool) -> tuple[str, str, list[dict]]:
    # The candidate figures and their ranking (`pick`) come from the database's views, the same that
    # study_summary shows, so the two cannot choose differently (see views.sql). Third-party figures
    # rank after every report of the trial itself, so they stand only where nothing else does.
    if population is not None:
        # The allowed populations are the schema's enumeration, carried by the database's ENUM type.
        enum = enum_type_name_of("outcomes", "analysis_population")
        allowed = con.execute(f"SELECT enum_range(NULL::{enum})").fetchone()[0]
        if population not in allowed:
            raise PoolError(f"unknown population {population!r}: one of {', '.join(allowed)}")
    kind_row = con.execute("SELECT kind, label FROM measures WHERE measure = ?", [measure]).fetchone()
    join = """JOIN studies s USING (study_id) JOIN arms a USING (arm_id) JOIN study_designs d USING (study_id)"""
    cols = "c.*, s.acronym, s.intervention_class, s.design, a.product_id"
    if kind_row and grade_min is None:
        kind, label = kind_row
        if kind == "time_to_event" and timepoint is None:
            raise PoolError(f"{measure} is a time-to-event measure: give --timepoint (months)")
        if kind not in ("binary", "time_to_event"):
            raise PoolError(f"{measure} is a measure of kind {kind}; only binary and time-to-event measures pool")
        sql = f"SELECT {cols} FROM summary_outcome_candidates c {join} WHERE c.measure = ?"
        params: list = [measure]
        if timepoint is not None:
            sql += " AND c.timepoint_months = ?"
            params.append(timepoint)
    else:
        row = con.execute("SELECT any_value(event_group_label) FROM summary_adverse_event_candidates "
                          "WHERE event_group = ?", [measure]).fetchone()
        if row is None or row[0] is None:
            raise PoolError(f"unknown measure or adverse event {measure!r}")
        kind, label = "binary", row[0]
        sql = (f"SELECT {cols}, NULL AS timepoint_months, NULL AS ci_level, NULL AS ci_lower, NULL AS ci_upper "
               f"FROM summary_adverse_event_candidates c {join} WHERE c.event_group = ? AND c.grade_min = ?")
        params = [measure, grade_min or 1]
    if population:
        sql += " AND c.analysis_population = ?"
        params.append(population)
    # which studies are eligible: by design (study_designs) and, unless asked, no third-party figure
    sql += " AND (? OR NOT c.third_party) AND (? = 'all' OR d.design_group = ? OR CAST(d.design AS VARCHAR) = ?)"
    params += [third_party, design, design, design]
    return kind, label, _rows(con, sql, params)


def _one_per_study(rows: list[dict]) -> list[dict]:
    # The best-ranked figure left for each study (after any population filter).
    best: dict[str, dict] = {}
    for r in rows:
        if r["study_id"] not in best or r["pick"] < best[r["study_id"]]["pick"]:
            best[r["study_id"]] = r
    return [best[k] for k in sorted(best)]


def _group_labels(con: duckdb.DuckDBPyConnection, by: str | None) -> dict[str, str]:
    # Display labels of the --by groups: the schema's enumLabels, carried in the database.
    if by is None or GROUPINGS[by] not in _LABELLED:
        return {}
    table, column = _LABELLED[GROUPINGS[by]]
    return dict(con.execute("SELECT value, label FROM enum_labels WHERE table_name = ? AND column_name = ?",
                            [table, column]).fetchall())


def _implied_scale(rows: list[StudyRow]) -> Scale:
    # The scale on which the reported CIs are most nearly symmetric around their estimates.
    def asymmetry(s: Scale) -> float:
        total = 0.0
        for r in rows:
            lo, est, hi = s.fwd(r.ci_lower / 100), s.fwd(r.estimate / 100), s.fwd(r.ci_upper / 100)
            total += abs((hi - est) - (est - lo)) / max(abs(hi - lo), 1e-12)
        return total
    return min(SURVIVAL_SCALES, key=asymmetry)


def _overlaps(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in con.execute(  # type: ignore[misc]
        "SELECT study_id, overlapping_study_id, CAST(relation AS VARCHAR) FROM study_overlaps").fetchall()]


def _resolve_overlaps(rows: list[dict], overlaps: list[tuple[str, str, str]], keep: tuple[str, ...],
                      drop: tuple[str, ...]) -> tuple[list[dict], list[tuple[str, str]]]:
    """Drop what the user named; refuse while two remaining studies report some of the same patients.

    Which of two overlapping studies stands for the patients is a judgement the user must make (the
    larger registry, the trial with the longer follow-up, ...), so nothing is chosen silently.
    """
    dropped = [(r["study_id"], "dropped with --drop") for r in rows if r["study_id"] in drop]
    rows = [r for r in rows if r["study_id"] not in drop]
    present = {r["study_id"] for r in rows}
    unresolved = []
    for a, b, how in overlaps:
        if a not in present or b not in present:
            continue
        if a in keep and b in keep:
            raise PoolError(f"--keep names both {a} and {b}, which overlap ({how}): keep one")
        if a in keep or b in keep:
            gone, kept = (b, a) if a in keep else (a, b)
            present.discard(gone)
            dropped.append((gone, f"overlaps {kept} ({how.replace('_', ' ')}); --keep {kept}"))
        else:
            unresolved.append(f"{a} and {b} ({how.replace('_', ' ')})")
    if unresolved:
        raise PoolError("overlapping studies would count some patients twice: " + "; ".join(unresolved)
                        + ". Say which to use with --keep STUDY (or leave one out with --drop STUDY)")
    return [r for r in rows if r["study_id"] in present], dropped


def pool(db: Path, measure: str, *, timepoint: float | None = None, grade_min: int | None = None,
         by: str | None = None, population: str | None = None, method: str = "REML",
         design: str = "interventional", include_third_party: bool = False, keep: tuple[str, ...] = (),
         drop: tuple[str, ...] = (), check: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
         test: str = "z") -> PoolResult:
    """`check`, if given, runs on the open connection first (the clone's staleness check)."""
    with connect(db) as con:  # a .duckdb file, a release folder or a release zip
        if check is not None:
            check(con)
        try:
            designs = ["all", *(r[0] for r in con.execute(
                "SELECT DISTINCT design_group FROM study_designs ORDER BY 1").fetchall()),
                *con.execute(f"SELECT enum_range(NULL::{enum_type_name_of('studies', 'design')})").fetchone()[0]]
            if design not in designs:
                raise PoolError(f"unknown design {design!r}: one of {', '.join(dict.fromkeys(designs))}")
            kind, label, cands = _candidates(con, measure, timepoint, grade_min, population, design,
                                             include_third_party)
            overlaps = _overlaps(con)
            labels = _group_labels(con, by)
            row = con.execute("SELECT value FROM pedall_metadata WHERE key = 'version'").fetchone()
            version = row[0] if row else "unknown"
        except duckdb.Error as exc:  # a database that is not a pedall release (tables or views missing)
            raise QueryError(f"{db}: not a pedall release database: {str(exc).strip().splitlines()[0]}") from None
    studies: list[StudyRow] = []
    chosen, excluded = _resolve_overlaps(_one_per_study(cands), overlaps, keep, drop)
    for r in chosen:
        group = str(r[GROUPINGS[by]]) if by else "all"
        n = r["n_total"]
        if kind == "binary":
            if r["n_events"] is None or not n:
                excluded.append((r["study_id"], "no events and total reported"))
                continue
            est = 100 * r["n_events"] / n
            studies.append(StudyRow(r["study_id"], r["acronym"] or r["study_id"], group, r["arm_id"],
                                    r["publication_id"], r["analysis_population"], r["timepoint_months"], n,
                                    r["n_events"],
                                    est, None, None, attribution=r.get("attribution"),
                                    third_party=bool(r.get("third_party"))))
        else:
            if r["ci_lower"] is None or r["ci_upper"] is None or r["ci_level"] is None:
                excluded.append((r["study_id"], "no confidence interval reported"))
                continue
            if r["ci_upper"] <= r["ci_lower"]:  # a zero-width CI gives no standard error (and would divide by 0)
                excluded.append((r["study_id"], "confidence interval has no width"))
                continue
            studies.append(StudyRow(r["study_id"], r["acronym"] or r["study_id"], group, r["arm_id"],
                                    r["publication_id"], r["analysis_population"], r["timepoint_months"], n or 0,
                                    None,
                                    r["estimate"], r["ci_lower"], r["ci_upper"], r["ci_level"],
                                    third_party=bool(r.get("third_party"))))
    if not studies:
        raise PoolError(f"no study reports {measure} in a form that can be pooled"
                        + (f" ({'; '.join(f'{s}: {why}' for s, why in excluded)})" if excluded else ""))
    if kind == "binary":
        scale = LOGIT
        for s in studies:
            x = s.xi or 0  # binary rows without counts were excluded above
            s.yi, s.vi = plo(x, s.n)
            # exact (Clopper-Pearson) CI for the plot and per-study table
            s.ci_lower = 100 * (stats.beta.ppf(0.025, x, s.n - x + 1) if x > 0 else 0.0)
            s.ci_upper = 100 * (stats.beta.ppf(0.975, x + 1, s.n - x) if x < s.n else 1.0)
    else:
        scale = _implied_scale(studies)
        for s in studies:
            z = stats.norm.ppf(0.5 + (s.ci_level or 95.0) / 200)  # each CI's own level
            s.yi = scale.fwd(s.estimate / 100)
            s.vi = ((scale.fwd(s.ci_upper / 100) - scale.fwd(s.ci_lower / 100)) / (2 * z)) ** 2
    groups = []
    for g in sorted({s.group for s in studies}):
        members = [s for s in studies if s.group == g]
        groups.append(GroupResult(g, len(members), sum(s.n for s in members),
                                  random_effects([s.yi for s in members], [s.vi for s in members], method,
                                                 test=test)))
    overall_p = random_effects([s.yi for s in studies], [s.vi for s in studies], method, test=test)
    for s, w in zip(studies, overall_p.weights, strict=True):
        s.weight = w
    overall = GroupResult("overall", len(studies), sum(s.n for s in studies), overall_p)
    return PoolResult(measure, label, timepoint, grade_min, by, method, scale, version, studies,
                      groups if by else [], overall, excluded, design, include_third_party, labels, test)


def summary_rows(res: PoolResult) -> list[dict]:
    out = []
    for g in [*res.groups, res.overall]:
        pct = g.percent(res.scale)
        p = g.pooled
        out.append({"group": g.group, "k": g.k, "n": g.n, "estimate": pct["estimate"], "ci_lower": pct["ci_lower"],
                    "ci_upper": pct["ci_upper"], "pi_lower": pct["pi_lower"], "pi_upper": pct["pi_upper"],
                    "tau2": p.tau2, "i2": p.i2, "q": p.q, "q_p": p.q_p, "method": p.method,
                    "test": p.test, "scale": res.scale.name})
    return out


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:.4g}" if abs(v) < 0.01 and v != 0 else f"{v:.1f}" if abs(v) >= 1 else f"{v:.3f}"
    return str(v)


def render(res: PoolResult, fmt: str = "table") -> str:
    rows = summary_rows(res)
    if fmt == "json":
        # Undefined statistics (I² and the prediction interval when k = 1) are NaN: null in JSON.
        return dumps({"measure": res.measure, "title": res.title, "version": res.version,
                      "design": res.design, "include_third_party": res.third_party,
                      "method": res.method, "test": res.test, "intervals": res.intervals,
                      "scale": res.scale.name, "by": res.by,
                      "summary": rows, "studies": [asdict(s) for s in res.studies],
                      "excluded": [{"study_id": s, "reason": w} for s, w in res.excluded]}, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows)
        return buf.getvalue()
    lines = [f"{res.title} — random effects ({res.method}), {res.scale.name} scale, pedall {res.version}",
             res.selection, res.intervals, ""]
    head = ["group", "k", "N", "estimate %", "95% CI", "95% PI", "tau²", "I² %", "Q", "p(Q)"]
    body = [[r["group"], str(r["k"]), str(r["n"]), _fmt(r["estimate"]),
             f"{_fmt(r['ci_lower'])}–{_fmt(r['ci_upper'])}",
             "" if math.isnan(r["pi_lower"]) else f"{_fmt(r['pi_lower'])}–{_fmt(r['pi_upper'])}",
             _fmt(r["tau2"]), _fmt(r["i2"]), _fmt(r["q"]), _fmt(r["q_p"])] for r in rows]
    lines += aligned(head, body)
    lines += ["", "Studies:"]
    for s in res.studies:
        counts = f"{s.xi}/{s.n}" if s.xi is not None else f"N={s.n}"
        lines.append(f"  {s.label} [{s.group}] {counts} {s.estimate:.1f}% ({s.ci_lower:.1f}–{s.ci_upper:.1f}) "
                     f"weight {s.weight:.1f}% — {s.publication_id}, {s.population}"
                     + (", treatment-related events only" if s.attribution == "treatment_related" else "")
                     + (", third-party summary" if s.third_party else ""))
    for sid, why in res.excluded:
        lines.append(f"  excluded: {sid} ({why})")
    return "\n".join(lines)
