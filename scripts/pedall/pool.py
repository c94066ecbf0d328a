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

from .database import enum_type_name_of
from .estimates import clopper_pearson, plo, se_from_ci
from .jsonout import dumps
from .meta import MIN_K_PREDICTION, Pooled, expit, logit, random_effects
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
    n: int | None  # None: the source gives no N ("N not reported"), never 0
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
    response_definition: str | None = None  # the family member (outcomes) or event (adverse events) used
    events_derived: bool = False  # the count was derived from a printed percent (proportion_counts)
    summed_from: str | None = None  # adverse events: grades summed to make a grade G-5 count
    grade_basis: str | None = None  # adverse events: graded, or severe_undefined ("severe" read as grade >=3)
    whole_study: bool = True  # False: a dose cohort stands for the study (its summary arm gives no such figure)


@dataclass
class GroupResult:
    group: str
    k: int
    n: int  # total N of the studies that report one
    pooled: Pooled
    n_not_reported: int = 0  # studies without N: not counted in n

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
    derived: bool = True  # counts derived from printed percents are used (--no-derived: not)
    timepoint_window: float | None = None
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
        return (f"studies: {who} (--design {self.design}); third-party figures "
                + ("included" if self.third_party else "excluded")
                + "; counts derived from printed percents " + ("used" if self.derived else "left out (--no-derived)")
                + (f"; time points within {self.timepoint_window:g} months of {self.timepoint:g}"
                   if self.timepoint_window else ""))

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
                population: str | None, design: str, third_party: bool, window: float | None
                ) -> tuple[str, str, list[dict]]:
    # The candidate figures and their ranking (`pick`) come from the database's views, the same that
    # study_summary and coverage show, so they cannot choose differently (see views.sql). `measure` is an
    # endpoint family (e.g. complete_remission), a single measure (each is a family of its own) or an
    # adverse-event group.
    if population is not None:
        # The allowed populations are the schema's enumeration, carried by the database's ENUM type.
        enum = enum_type_name_of("outcomes", "analysis_population")
        allowed = con.execute(f"SELECT enum_range(NULL::{enum})").fetchone()[0]
        if population not in allowed:
            raise PoolError(f"unknown population {population!r}: one of {', '.join(allowed)}")
    fam = con.execute("SELECT any_value(m.kind), any_value(f.label), count(*) FROM outcome_families f "
                      "LEFT JOIN measures m USING (measure) WHERE f.family = ?", [measure]).fetchone()
    if fam and fam[2] and fam[0] is None and grade_min is None:  # a family none of whose measures is in the data
        raise PoolError(f"no study reports {measure} in a form that can be pooled (none of its measures is used)")
    join = """JOIN studies s USING (study_id) JOIN arms a USING (arm_id) JOIN study_designs d USING (study_id)"""
    cols = "c.*, s.acronym, s.intervention_class, s.design, a.product_id"
    if fam and fam[0] is not None and grade_min is None:
        kind, label = fam[0], fam[1]
        if kind == "time_to_event" and timepoint is None:
            raise PoolError(f"{measure} is a time-to-event measure: give --timepoint (months)")
        if kind not in ("binary", "time_to_event"):
            raise PoolError(f"{measure} is a measure of kind {kind}; only binary and time-to-event measures pool")
        sql = f"SELECT {cols} FROM summary_outcome_candidates c {join} WHERE c.family = ?"
        params: list = [measure]
        if timepoint is not None:
            # exact, unless --timepoint-window widens it; a median is never a time-point estimate
            sql += " AND c.estimate_type <> 'median' AND abs(c.timepoint_months - ?) <= ?"
            params += [timepoint, window or 0.0]
    else:
        row = con.execute("SELECT any_value(event_group_label) FROM summary_adverse_event_candidates "
                          "WHERE event_group = ?", [measure]).fetchone()
        if row is None or row[0] is None:
            raise PoolError(f"unknown measure, endpoint family or adverse event {measure!r}")
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


def _unpoolable(r: dict, derived: bool) -> str | None:
    """Why a candidate cannot be pooled (the view's reason), or None; --no-derived adds one."""
    if not derived and r.get("events_derived"):
        return "count only derived from the printed percent (--no-derived)"
    return r["unpoolable_reason"]


def _one_per_study(rows: list[dict], derived: bool = True, timepoint: float | None = None
                   ) -> tuple[list[dict], list[tuple[str, str]]]:
    """Drop the figures that cannot be pooled, then take the best-ranked figure left for each study.

    A study none of whose figures can be pooled is listed with the reason its best figure gives. Within
    a --timepoint-window the nearest time point comes first, then the view's pick."""
    def rank(r: dict) -> tuple:
        t = r["timepoint_months"]
        if timepoint is None or t is None:  # a proportion: the view's pick alone
            return (0.0, 0.0, r["pick"])
        return (abs(t - timepoint), t, r["pick"])  # the nearest time point, the earlier of two as near
    best: dict[str, dict] = {}
    unpoolable: dict[str, dict] = {}
    for r in rows:
        sid = r["study_id"]
        if _unpoolable(r, derived) is None:
            if sid not in best or rank(r) < rank(best[sid]):
                best[sid] = r
        elif sid not in unpoolable or rank(r) < rank(unpoolable[sid]):
            unpoolable[sid] = r
    excluded = [(sid, _unpoolable(r, derived) or "") for sid, r in sorted(unpoolable.items()) if sid not in best]
    return [best[k] for k in sorted(best)], excluded


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
         derived: bool = True, timepoint_window: float | None = None,
         intervention_class: str | None = None, test: str = "z") -> PoolResult:
    """`check`, if given, runs on the open connection first (the clone's staleness check).
    `intervention_class`, if given, keeps only studies of that class (pedall replicate asks a review's
    question of one class), before overlaps are resolved.

    Order: the candidates (one rule with study_summary and coverage), then the figures that cannot be
    pooled are dropped (no count, no N, no CI), then each study's best-ranked figure is taken, then
    overlapping studies are resolved among the studies left (so a cohort with nothing to pool never
    blocks the trial it overlaps)."""
    if timepoint_window is not None and timepoint_window < 0:
        raise PoolError("--timepoint-window must be 0 or more months")
    with connect(db) as con:  # a .duckdb file, a release folder or a release zip
        if check is not None:
            check(con)
        try:
            designs = ["all", *(r[0] for r in con.execute(
                "SELECT DISTINCT design_group FROM design_groups ORDER BY 1").fetchall()),
                *con.execute(f"SELECT enum_range(NULL::{enum_type_name_of('studies', 'design')})").fetchone()[0]]
            if design not in designs:
                raise PoolError(f"unknown design {design!r}: one of {', '.join(dict.fromkeys(designs))}")
            kind, label, cands = _candidates(con, measure, timepoint, grade_min, population, design,
                                             include_third_party, timepoint_window)
            if intervention_class is not None:
                cands = [c for c in cands if c["intervention_class"] == intervention_class]
            overlaps = _overlaps(con)
            labels = _group_labels(con, by)
            row = con.execute("SELECT value FROM pedall_metadata WHERE key = 'version'").fetchone()
            version = row[0] if row else "unknown"
        except duckdb.Error as exc:  # a database that is not a pedall release (tables or views missing)
            raise QueryError(f"{db}: not a pedall release database: {str(exc).strip().splitlines()[0]}") from None
    studies: list[StudyRow] = []
    poolable, excluded = _one_per_study(cands, derived, timepoint)
    chosen, dropped = _resolve_overlaps(poolable, overlaps, keep, drop)
    excluded = dropped + excluded
    for r in chosen:
        group = str(r[GROUPINGS[by]]) if by else "all"
        n = r["n_total"] or None  # no N (or 0) is "N not reported", never 0 participants
        common = dict(attribution=r.get("attribution"), third_party=bool(r.get("third_party")),
                      response_definition=r.get("response_definition"), events_derived=bool(r.get("events_derived")),
                      summed_from=r.get("summed_from"), grade_basis=r.get("grade_basis"),
                      whole_study=r.get("whole_study", True) is not False)
        if kind == "binary":
            est = 100 * r["n_events"] / n
            studies.append(StudyRow(r["study_id"], r["acronym"] or r["study_id"], group, r["arm_id"],
                                    r["publication_id"], r["analysis_population"], r["timepoint_months"], n,
                                    r["n_events"], est, None, None, **common))
        else:
            studies.append(StudyRow(r["study_id"], r["acronym"] or r["study_id"], group, r["arm_id"],
                                    r["publication_id"], r["analysis_population"], r["timepoint_months"], n,
                                    None, r["estimate"], r["ci_lower"], r["ci_upper"], r["ci_level"], **common))
    if not studies:
        raise PoolError(f"no study reports {measure} in a form that can be pooled"
                        + (f" ({'; '.join(f'{s}: {why}' for s, why in excluded)})" if excluded else ""))
    if kind == "binary":
        scale = LOGIT
        for s in studies:
            x, n = s.xi or 0, s.n or 0  # rows without counts or N were dropped above
            s.yi, s.vi = plo(x, n)
            lo, hi = clopper_pearson(x, n)  # exact CI for the plot and the per-study table
            s.ci_lower, s.ci_upper = 100 * lo, 100 * hi
    else:
        scale = _implied_scale(studies)
        for s in studies:
            s.yi = scale.fwd(s.estimate / 100)
            s.vi = se_from_ci(s.ci_lower / 100, s.ci_upper / 100, s.ci_level or 95.0, scale.fwd) ** 2
    groups = []
    for g in sorted({s.group for s in studies}):
        members = [s for s in studies if s.group == g]
        groups.append(_group(g, members, method, test=test))
    overall_p = random_effects([s.yi for s in studies], [s.vi for s in studies], method, test=test)
    for s, w in zip(studies, overall_p.weights, strict=True):
        s.weight = w
    overall = _group("overall", studies, method, overall_p)
    return PoolResult(measure, label, timepoint, grade_min, by, method, scale, version, studies,
                      groups if by else [], overall, excluded, design, include_third_party, labels, derived,
                      timepoint_window, test)


def _group(name: str, members: list[StudyRow], method: str, pooled: Pooled | None = None,
           test: str = "z") -> GroupResult:
    known = [s.n for s in members if s.n is not None]
    return GroupResult(name, len(members), sum(known),
                       pooled or random_effects([s.yi for s in members], [s.vi for s in members], method,
                                                test=test),
                       len(members) - len(known))


def summary_rows(res: PoolResult) -> list[dict]:
    out = []
    for g in [*res.groups, res.overall]:
        pct = g.percent(res.scale)
        p = g.pooled
        # N of the studies reporting one; none when no study does (never 0 participants)
        out.append({"group": g.group, "k": g.k, "n": None if g.n_not_reported == g.k else g.n,
                    "n_not_reported": g.n_not_reported,
                    "estimate": pct["estimate"], "ci_lower": pct["ci_lower"],
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
                      "design": res.design, "include_third_party": res.third_party, "derived": res.derived,
                      "timepoint_window": res.timepoint_window,
                      "method": res.method, "test": res.test, "intervals": res.intervals,
                      "scale": res.scale.name, "by": res.by,
                      "summary": rows, "studies": [asdict(s) for s in res.studies],
                      "excluded": [{"study_id": s, "reason": w} for s, w in res.excluded]}, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows({k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v) for k, v in r.items()}
                    for r in rows)
        return buf.getvalue()
    lines = [f"{res.title} — random effects ({res.method}), {res.scale.name} scale, pedall {res.version}",
             res.selection, res.intervals, ""]
    head = ["group", "k", "N", "estimate %", "95% CI", "95% PI", "tau²", "I² %", "Q", "p(Q)"]
    body = [[r["group"], str(r["k"]), ("not reported" if r["n"] is None else str(r["n"]))
             + ("*" if r["n_not_reported"] else ""), _fmt(r["estimate"]),
             f"{_fmt(r['ci_lower'])}–{_fmt(r['ci_upper'])}",
             "" if math.isnan(r["pi_lower"]) else f"{_fmt(r['pi_lower'])}–{_fmt(r['pi_upper'])}",
             _fmt(r["tau2"]), _fmt(r["i2"]), _fmt(r["q"]), _fmt(r["q_p"])] for r in rows]
    lines += aligned(head, body)
    if any(r["n_not_reported"] for r in rows):
        lines.append("* N counts only the studies that report one; "
                     f"{res.overall.n_not_reported} of {res.overall.k} do not (N not reported)")
    lines += ["", "Studies:"]
    for s in res.studies:
        n = "N not reported" if s.n is None else f"N={s.n}"
        counts = f"{s.xi}/{s.n}" if s.xi is not None else n
        lines.append(f"  {s.label} [{s.group}] {counts} {s.estimate:.1f}% ({s.ci_lower:.1f}–{s.ci_upper:.1f}) "
                     f"weight {s.weight:.1f}% — {s.publication_id}, {s.population}"
                     + (f", {s.response_definition}" if s.response_definition and s.response_definition != res.measure
                        else "")
                     + (f", at {s.timepoint_months:g} months" if res.timepoint_window and s.timepoint_months is not None
                        else "")
                     + ("" if s.whole_study else f", dose cohort {s.arm_id} only")
                     + (", count derived from the printed percent" if s.events_derived else "")
                     + (f", summed from {s.summed_from}" if s.summed_from else "")
                     + (', "severe" (grade not defined) counted as grade ≥3' if s.grade_basis == "severe_undefined"
                        else "")
                     + (", treatment-related events only" if s.attribution == "treatment_related" else "")
                     + (", third-party summary" if s.third_party else ""))
    derived = [s.label for s in res.studies if s.events_derived]
    if derived:
        lines.append(f"  counts derived from printed percents (--no-derived leaves them out): {', '.join(derived)}")
    for sid, why in res.excluded:
        lines.append(f"  excluded: {sid} ({why})")
    return "\n".join(lines)
