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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
from scipy import stats

from .jsonout import dumps
from .meta import Pooled, expit, logit, plo, random_effects
from .opening import connect
from .problems import PoolError
from .query import aligned

GROUP_LABELS = {
    "cd19_car_t": "CD19 CAR-T", "cd22_car_t": "CD22 CAR-T", "cd19_cd22_car_t": "CD19/CD22 CAR-T",
    "bispecific_t_cell_engager": "Bispecific T-cell engager", "antibody_drug_conjugate": "Antibody-drug conjugate",
    "menin_inhibitor": "Menin inhibitor", "single_arm": "Single-arm", "randomized": "Randomized",
}
GROUPINGS = {"intervention_class": "intervention_class", "product": "product_id", "study_design": "design"}
# When a study reports one figure in several populations, the first of these is used.
POPULATION_ORDER = ("infused", "treated", "evaluable", "enrolled", "randomized", "responders")
# Neurotoxicity is reported as ICANS or as neurologic events depending on the era and grading system.
EVENT_ALIASES = {"neurotoxicity": ("neurologic_event", "icans")}


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
                population: str | None) -> tuple[str, str, list[dict]]:
    # Each study is represented by its summary arm (view summary_arms of the release database).
    if population is not None:
        # The allowed populations are the schema's enumeration, carried by the database's ENUM type.
        allowed = con.execute("SELECT enum_range(NULL::outcomes_analysis_population)").fetchone()[0]
        if population not in allowed:
            raise PoolError(f"unknown population {population!r}: one of {', '.join(allowed)}")
    kind_row = con.execute("SELECT kind, label FROM measures WHERE measure = ?", [measure]).fetchone()
    if kind_row and grade_min is None:
        kind, label = kind_row
        sql = """
        SELECT l.study_id, s.acronym, s.intervention_class, s.design, a.product_id, l.arm_id, l.publication_id,
               CAST(l.analysis_population AS VARCHAR) AS population, l.timepoint_months,
               CAST(l.estimate_type AS VARCHAR) AS estimate_type, l.n_events, l.n_total, l.estimate,
               l.ci_level, l.ci_lower, l.ci_upper, l.recency_rank
        FROM latest_outcomes l JOIN summary_arms USING (arm_id) JOIN studies s ON s.study_id = l.study_id
        JOIN arms a ON a.arm_id = l.arm_id
        WHERE l.measure = ? AND l.subgroup IS NULL AND l.analysis_variant IS NULL AND l.comparator_arm_id IS NULL
        """
        params: list = [measure]
        if kind == "binary":
            sql += " AND l.estimate_type = 'proportion'"
        elif kind == "time_to_event":
            if timepoint is None:
                raise PoolError(f"{measure} is a time-to-event measure: give --timepoint (months)")
            sql += " AND l.estimate_type IN ('kaplan_meier', 'cumulative_incidence')"
        else:
            raise PoolError(f"{measure} is a measure of kind {kind}; only binary and time-to-event measures pool")
        if timepoint is not None:
            sql += " AND l.timepoint_months = ?"
            params.append(timepoint)
        if population:
            sql += " AND l.analysis_population = ?"
            params.append(population)
        return kind, label, _rows(con, sql, params)
    events = EVENT_ALIASES.get(measure, (measure,))
    if con.execute("SELECT count(*) FROM adverse_events WHERE event IN (SELECT unnest(?))",
                   [list(events)]).fetchone()[0]:
        g = grade_min or 1
        sql = """
        SELECT sa.study_id, s.acronym, s.intervention_class, s.design, a.product_id, e.arm_id, e.publication_id,
               CAST(e.analysis_population AS VARCHAR) AS population, NULL AS timepoint_months,
               'proportion' AS estimate_type, e.n_events, e.n_total, e.estimate,
               NULL AS ci_level, NULL AS ci_lower, NULL AS ci_upper, r.recency_rank
        FROM adverse_events e JOIN summary_arms sa USING (arm_id) JOIN studies s ON s.study_id = sa.study_id
        JOIN arms a ON a.arm_id = e.arm_id
        JOIN publication_recency r ON r.publication_id = e.publication_id
        WHERE e.event IN (SELECT unnest(?)) AND e.grade_min = ? AND e.grade_max = 5
        """
        params = [list(events), g]
        if population:
            sql += " AND e.analysis_population = ?"
            params.append(population)
        label = measure.replace("_", " ")
        return "binary", label.upper() if measure == "crs" else label.capitalize(), _rows(con, sql, params)
    raise PoolError(f"unknown measure or adverse event {measure!r}")


def _one_per_study(rows: list[dict]) -> list[dict]:
    def rank(r: dict) -> tuple:
        pop = POPULATION_ORDER.index(r["population"]) if r["population"] in POPULATION_ORDER else 99
        return (pop, r["recency_rank"], r["timepoint_months"] if r["timepoint_months"] is not None else -1)
    best: dict[str, dict] = {}
    for r in rows:
        if r["study_id"] not in best or rank(r) < rank(best[r["study_id"]]):
            best[r["study_id"]] = r
    return [best[k] for k in sorted(best)]


def _implied_scale(rows: list[StudyRow]) -> Scale:
    # The scale on which the reported CIs are most nearly symmetric around their estimates.
    def asymmetry(s: Scale) -> float:
        total = 0.0
        for r in rows:
            lo, est, hi = s.fwd(r.ci_lower / 100), s.fwd(r.estimate / 100), s.fwd(r.ci_upper / 100)
            total += abs((hi - est) - (est - lo)) / abs(hi - lo)
        return total
    return min(SURVIVAL_SCALES, key=asymmetry)


def pool(db: Path, measure: str, *, timepoint: float | None = None, grade_min: int | None = None,
         by: str | None = None, population: str | None = None, method: str = "REML") -> PoolResult:
    with connect(db) as con:  # a .duckdb file, a release folder or a release zip
        kind, label, cands = _candidates(con, measure, timepoint, grade_min, population)
        row = con.execute("SELECT value FROM pedall_metadata WHERE key = 'version'").fetchone()
        version = row[0] if row else "unknown"
    excluded: list[tuple[str, str]] = []
    studies: list[StudyRow] = []
    for r in _one_per_study(cands):
        group = str(r[GROUPINGS[by]]) if by else "all"
        n = r["n_total"]
        if kind == "binary":
            if r["n_events"] is None or not n:
                excluded.append((r["study_id"], "no events and total reported"))
                continue
            est = 100 * r["n_events"] / n
            studies.append(StudyRow(r["study_id"], r["acronym"] or r["study_id"], group, r["arm_id"],
                                    r["publication_id"], r["population"], r["timepoint_months"], n, r["n_events"],
                                    est, None, None))
        else:
            if r["ci_lower"] is None or r["ci_upper"] is None or r["ci_level"] is None:
                excluded.append((r["study_id"], "no confidence interval reported"))
                continue
            studies.append(StudyRow(r["study_id"], r["acronym"] or r["study_id"], group, r["arm_id"],
                                    r["publication_id"], r["population"], r["timepoint_months"], n or 0, None,
                                    r["estimate"], r["ci_lower"], r["ci_upper"], r["ci_level"]))
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
                                  random_effects([s.yi for s in members], [s.vi for s in members], method)))
    overall_p = random_effects([s.yi for s in studies], [s.vi for s in studies], method)
    for s, w in zip(studies, overall_p.weights, strict=True):
        s.weight = w
    overall = GroupResult("overall", len(studies), sum(s.n for s in studies), overall_p)
    return PoolResult(measure, label, timepoint, grade_min, by, method, scale, version, studies,
                      groups if by else [], overall, excluded)


def summary_rows(res: PoolResult) -> list[dict]:
    out = []
    for g in [*res.groups, res.overall]:
        pct = g.percent(res.scale)
        p = g.pooled
        out.append({"group": g.group, "k": g.k, "n": g.n, "estimate": pct["estimate"], "ci_lower": pct["ci_lower"],
                    "ci_upper": pct["ci_upper"], "pi_lower": pct["pi_lower"], "pi_upper": pct["pi_upper"],
                    "tau2": p.tau2, "i2": p.i2, "q": p.q, "q_p": p.q_p, "method": p.method,
                    "scale": res.scale.name})
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
                      "method": res.method, "scale": res.scale.name, "by": res.by,
                      "summary": rows, "studies": [asdict(s) for s in res.studies],
                      "excluded": [{"study_id": s, "reason": w} for s, w in res.excluded]}, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows)
        return buf.getvalue()
    lines = [f"{res.title} — random effects ({res.method}), {res.scale.name} scale, pedall {res.version}", ""]
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
                     f"weight {s.weight:.1f}% — {s.publication_id}, {s.population}")
    for sid, why in res.excluded:
        lines.append(f"  excluded: {sid} ({why})")
    return "\n".join(lines)
