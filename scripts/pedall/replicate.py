"""`pedall replicate`: each published pooled estimate beside pedall's answer to the same question.

For every row of `published_estimates`, pedall pools its own studies of the same intervention class,
endpoint, grade, time point and design set (through `pool`, so the figures and overlap rules are those
of every other output) with the review's own method where pedall has it:

- model: random effects with DerSimonian-Laird or REML tau², or a fixed/common-effect model; a tau²
  method pedall does not implement (PM, ML) or that the review does not state is answered with REML,
  and the output says so;
- transform of proportions: logit (metafor `measure = "PLO"`), Freeman-Tukey double arcsine
  (`"PFT"`, back-transformed with Miller's 1978 inversion at the harmonic mean of the studies'
  sizes, as metafor's `transf.ipft.hm`), arcsine (`"PAS"`, back-transformed by sin²) or raw
  proportions (`"PR"`); a log or unstated transform is answered on the logit scale, and said so;
- survival-type estimates are pooled on the scale their CIs imply, as `pedall pool` does.

Where two overlapping studies are both in pedall, the one the review included stands for the
patients (`--keep`); if the review included both or neither, pedall does not choose and the question
is reported as not answered, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from scipy import stats

from .jsonout import dumps
from .meta import expit, plo, random_effects
from .opening import connect
from .pool import pool
from .problems import PoolError, QueryError
from .query import aligned

TRANSFORMS = {"logit": "logit", "freeman_tukey": "Freeman-Tukey double arcsine", "arcsine": "arcsine",
              "raw": "raw proportions"}


@dataclass(frozen=True)
class Proportion:
    """A pooled proportion, back-transformed to percent."""

    k: int
    n: int
    estimate: float
    ci_lower: float
    ci_upper: float
    tau2: float
    i2: float
    transform: str
    model: str  # random | fixed
    method: str  # REML | DL | none (fixed)


def pft(x: int, n: int) -> tuple[float, float]:
    """Freeman-Tukey double arcsine of x events in n, and its sampling variance 1 / (4n + 2)."""
    return 0.5 * (math.asin(math.sqrt(x / (n + 1))) + math.asin(math.sqrt((x + 1) / (n + 1)))), 1.0 / (4 * n + 2)


def ipft(t: float, n: float) -> float:
    """Miller's (1978) inversion of the double arcsine at sample size n, clamped to [0, 1] outside
    the range the transform can take at that n."""
    if t <= pft_of(0.0, n):
        return 0.0
    if t >= pft_of(1.0, n):
        return 1.0
    s = math.sin(2 * t)
    inner = 1 - (s + (s - 1 / s) / n) ** 2
    return 0.5 * (1 - math.copysign(1.0, math.cos(2 * t)) * math.sqrt(max(inner, 0.0)))


def pft_of(p: float, n: float) -> float:
    # the double arcsine of a proportion p at a (possibly non-integer) sample size n
    x = p * n
    return 0.5 * (math.asin(math.sqrt(x / (n + 1))) + math.asin(math.sqrt((x + 1) / (n + 1))))


def _fixed(y: np.ndarray, v: np.ndarray, z: float) -> tuple[float, float, float, float, float]:
    w = 1.0 / v
    est = float(np.sum(w * y) / w.sum())
    se = math.sqrt(1.0 / w.sum())
    q = float(np.sum(w * (y - est) ** 2))
    i2 = max(0.0, 100.0 * (q - (len(y) - 1)) / q) if q > 0 else 0.0
    return est, est - z * se, est + z * se, 0.0, i2


def pool_proportions(xs: list[int], ns: list[int], transform: str, model: str = "random",
                     method: str = "REML", level: float = 95.0) -> Proportion:
    """Pool events xs of totals ns on the given scale and back-transform to percent."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}")
    if transform == "logit":
        yv = [plo(x, n) for x, n in zip(xs, ns, strict=True)]
    elif transform == "freeman_tukey":
        yv = [pft(x, n) for x, n in zip(xs, ns, strict=True)]
    elif transform == "arcsine":
        yv = [(math.asin(math.sqrt(x / n)), 1.0 / (4 * n)) for x, n in zip(xs, ns, strict=True)]
    else:
        yv = [(x / n, (x / n) * (1 - x / n) / n) for x, n in zip(xs, ns, strict=True)]
    y, v = np.array([a for a, _ in yv]), np.array([b for _, b in yv])
    z = float(stats.norm.ppf(0.5 + level / 200))
    if model == "fixed" or len(y) == 1:
        est, lo, hi, tau2, i2 = _fixed(y, v, z)
        i2 = math.nan if len(y) == 1 else i2
        method = "none" if model == "fixed" else method
    else:
        p = random_effects(y, v, method, level)
        est, lo, hi, tau2, i2 = p.estimate, p.ci_lower, p.ci_upper, p.tau2, p.i2
    nhm = len(ns) / sum(1.0 / n for n in ns)  # harmonic mean of the sizes, for the double arcsine
    back: Callable[[float], float] = {
        "logit": expit, "freeman_tukey": lambda t: ipft(t, nhm),
        "arcsine": lambda t: math.sin(min(max(t, 0.0), math.pi / 2)) ** 2,
        "raw": lambda t: t}[transform]
    return Proportion(len(y), sum(ns), 100 * back(est), 100 * back(lo), 100 * back(hi), tau2, i2, transform,
                      "fixed" if model == "fixed" else "random", method)


@dataclass
class Published:
    estimate_id: str
    publication_id: str
    review: str
    question: str
    intervention_class: str
    endpoint: str
    grade_min: int | None
    timepoint_months: float | None
    population_label: str | None
    design_set: str
    model: str
    tau2_method: str
    transform: str
    effect_measure: str
    k: int | None
    n_total: int | None
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None
    ci_level: float | None
    i2: float | None
    tau2: float | None
    source_location: str
    value_origin: str
    note: str | None
    studies: list[dict[str, Any]] = field(default_factory=list)  # study_label, study_id, note


@dataclass
class Answer:
    published: Published
    answered: bool
    reason: str | None = None  # why not answered
    k: int | None = None
    n: int | None = None
    estimate: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    i2: float | None = None
    tau2: float | None = None
    method: str = ""  # what pedall did, in words
    deviations: list[str] = field(default_factory=list)  # where pedall could not use the review's method
    studies: list[str] = field(default_factory=list)  # pedall's study ids
    in_common: list[str] = field(default_factory=list)
    only_published: list[str] = field(default_factory=list)  # labels as the review prints them
    only_pedall: list[str] = field(default_factory=list)
    excluded: list[dict[str, str]] = field(default_factory=list)  # pedall's own exclusions and overlaps


@dataclass
class Replication:
    version: str
    design_note: str
    answers: list[Answer]


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _load(db: Path, check: Callable[[duckdb.DuckDBPyConnection], None] | None) -> tuple[list[Published], str]:
    with connect(db) as con:
        if check is not None:
            check(con)
        try:
            est = _rows(con, """SELECT e.*, p.first_author || coalesce(' ' || p.year, '') || ', ' || p.journal AS review
                                FROM published_estimates e JOIN publications p USING (publication_id)
                                ORDER BY e.estimate_id""")
            inc = _rows(con, "SELECT * FROM published_estimate_studies ORDER BY estimate_id, study_label")
            row = con.execute("SELECT value FROM pedall_metadata WHERE key = 'version'").fetchone()
        except duckdb.Error as exc:
            raise QueryError(f"{db}: no published_estimates table (a pedall release before 0.4.0?): "
                             f"{str(exc).strip().splitlines()[0]}") from None
    out = []
    for e in est:
        fields = {k: (str(v) if k in ("intervention_class", "design_set", "model", "tau2_method", "transform",
                                      "effect_measure", "value_origin") and v is not None else v)
                  for k, v in e.items() if k in Published.__dataclass_fields__}
        out.append(Published(**fields, studies=[{k: i[k] for k in ("study_label", "study_id", "note")}
                                                for i in inc if i["estimate_id"] == e["estimate_id"]]))
    return out, row[0] if row else "unknown"


def _method(p: Published) -> tuple[str, str, str, str, list[str]]:
    """(design, model, tau² method, transform) pedall uses for the review's question, and what it changed."""
    dev = []
    design = "all" if p.design_set == "unknown" else p.design_set
    if p.design_set == "unknown":
        dev.append("design set not stated by the review: all designs used")
    model = "fixed" if p.model in ("fixed", "common") else "random"
    if p.model == "unknown":
        dev.append("model not stated by the review: random effects used")
    method = p.tau2_method if p.tau2_method in ("DL", "REML") else "REML"
    if model == "random" and p.tau2_method not in ("DL", "REML"):
        dev.append(f"tau² method {p.tau2_method}: pedall has DL and REML; REML used")
    transform = p.transform if p.transform in TRANSFORMS else "logit"
    if p.transform not in TRANSFORMS:
        dev.append(f"transform {p.transform}: pooled on the logit scale")
    return design, model, method, transform, dev


def _overlap_keep(db: Path, mapped: set[str]) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """The studies that stand for overlapping patients (those the review included), and the overlapping
    pairs the review included both of (for which pedall does not choose)."""
    with connect(db) as con:
        pairs = con.execute("SELECT study_id, overlapping_study_id FROM study_overlaps").fetchall()
    both = [(a, b) for a, b in pairs if a in mapped and b in mapped]
    in_both = {s for pair in both for s in pair}
    return tuple(sorted({s for a, b in pairs for s in (a, b) if s in mapped} - in_both)), both


def answer(db: Path, p: Published, include_third_party: bool = False,
           check: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> Answer:
    design, model, method, transform, dev = _method(p)
    mapped = {s["study_id"] for s in p.studies if s["study_id"]}
    a = Answer(p, answered=False, deviations=dev)
    if p.effect_measure != "proportion":
        a.reason = (f"a between-group {p.effect_measure.replace('_', ' ')}: pedall replicate answers pooled "
                    "proportions of single groups (and survival at a time point)")
        return a
    keep, both = _overlap_keep(db, mapped)
    try:
        res = pool(db, p.endpoint, timepoint=p.timepoint_months, grade_min=p.grade_min, method=method,
                   design=design, include_third_party=include_third_party,
                   keep=keep, intervention_class=p.intervention_class, check=check)
    except PoolError as exc:
        a.reason = str(exc)  # the review's studies stay in published.studies; pedall has none to compare
        if both and str(exc).startswith("overlapping studies"):
            a.reason = ("the review included " + "; ".join(f"{x} and {y}" for x, y in both)
                        + ", which report some of the same patients: pedall never pools both")
        return a
    ids = [s.study_id for s in res.studies]
    a.studies = ids
    a.excluded = [{"study_id": s, "reason": w} for s, w in res.excluded]
    a.in_common = sorted(set(ids) & mapped)
    a.only_pedall = sorted(set(ids) - mapped)
    a.only_published = [s["study_label"] for s in p.studies if not s["study_id"] or s["study_id"] not in ids]
    if all(s.xi is not None for s in res.studies):
        if transform == "raw" and any(s.xi in (0, s.n) for s in res.studies):
            zero = [s.study_id for s in res.studies if s.xi in (0, s.n)]
            a.reason = ("raw proportions of 0% or 100% have no sampling variance (" + ", ".join(zero) + ")")
            return a
        r = pool_proportions([s.xi or 0 for s in res.studies], [s.n for s in res.studies], transform, model,
                             method, p.ci_level or 95.0)
        a.k, a.n, a.estimate, a.ci_lower, a.ci_upper, a.tau2, a.i2 = (r.k, r.n, r.estimate, r.ci_lower,
                                                                      r.ci_upper, r.tau2, r.i2)
        a.method = ("fixed effect" if model == "fixed" else f"random effects ({method})") + f", {TRANSFORMS[transform]}"
    else:  # survival-type: pool's own scale
        if model == "fixed":
            a.deviations.append("fixed-effect survival pooling is not implemented: random effects used")
        pct = res.overall.percent(res.scale)
        a.k, a.n = res.overall.k, res.overall.n
        a.estimate, a.ci_lower, a.ci_upper = pct["estimate"], pct["ci_lower"], pct["ci_upper"]
        a.tau2, a.i2 = res.overall.pooled.tau2, res.overall.pooled.i2
        a.method = f"random effects ({method}), {res.scale.name} scale implied by the published CIs"
        if p.transform not in ("unknown", res.scale.name):
            a.deviations.append(f"survival pooled on the {res.scale.name} scale, not {p.transform}")
    a.answered = True
    return a


def replicate(db: Path, include_third_party: bool = False,
              check: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> Replication:
    published, version = _load(db, check)
    note = "pedall's figures: " + ("third-party figures included" if include_third_party else
                                   "third-party figures excluded (--include-third-party to use them)")
    return Replication(version, note, [answer(db, p, include_third_party) for p in published])


def _pct(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def _ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f"{_pct(lo)}–{_pct(hi)}"


def render(rep: Replication, fmt: str = "table") -> str:
    if fmt == "json":
        out = []
        for a in rep.answers:
            d = asdict(a)
            pub = d.pop("published")
            out.append({"published": pub, "pedall": d})
        return dumps({"version": rep.version, "note": rep.design_note, "estimates": out}, indent=2)
    if not rep.answers:
        return f"pedall {rep.version}: no published estimate in the table published_estimates"
    lines = [f"Published pooled estimates and pedall {rep.version}'s answer to the same question", rep.design_note, ""]
    head = ["published estimate", "k", "N", "estimate", "CI", "I² %", "pedall: k", "N", "%", "95% CI", "I² %"]
    body = []
    for a in rep.answers:
        p = a.published
        ratio = p.effect_measure != "proportion"  # printed with two decimals, not as a percent
        est = "" if p.estimate is None else f"{p.estimate:.2f}" if ratio else _pct(p.estimate)
        ci = "" if p.ci_lower is None or p.ci_upper is None else (
            f"{p.ci_lower:.2f}–{p.ci_upper:.2f}" if ratio else _ci(p.ci_lower, p.ci_upper))
        body.append([p.estimate_id, str(p.k or ""), str(p.n_total or ""), est, ci,
                     _pct(p.i2), str(a.k or "") if a.answered else "—", str(a.n or ""), _pct(a.estimate),
                     _ci(a.ci_lower, a.ci_upper), _pct(a.i2)])
    lines += aligned(head, body)
    for a in rep.answers:
        p = a.published
        what = p.endpoint + (f", grade ≥{p.grade_min}" if p.grade_min else "") + (
            f", {p.timepoint_months:g} months" if p.timepoint_months is not None else "")
        lines += ["", f"{p.estimate_id}: {p.question}",
                  f"  review: {p.review} ({p.publication_id}, {p.source_location}); "
                  f"{p.effect_measure.replace('_', ' ')}, {p.model} model, tau² {p.tau2_method}, "
                  f"transform {p.transform}; {p.intervention_class}, {what}, design {p.design_set}"
                  + (f"; population: {p.population_label}" if p.population_label else "")]
        if not a.answered:
            lines.append(f"  pedall: not answered: {a.reason}")
            listed = "; ".join(s["study_label"] for s in p.studies)
            lines.append(f"  the review's studies: {listed or 'not in the data'}")
        else:
            lines.append(f"  pedall: {a.method}: k={a.k}, N={a.n}, {_pct(a.estimate)}% ({_ci(a.ci_lower, a.ci_upper)})"
                         + (f", I² {_pct(a.i2)}%" if a.i2 is not None and not math.isnan(a.i2) else ""))
            lines.append(f"  studies in common: {', '.join(a.in_common) or 'none'}; only in pedall: "
                         f"{', '.join(a.only_pedall) or 'none'}")
            lines.append(f"  only in the review: {'; '.join(a.only_published) or 'none'}"
                         + ("" if p.studies else " (the review's study list is not in the data)"))
        for d in a.deviations:
            lines.append(f"  method: {d}")
        for x in a.excluded:
            lines.append(f"  pedall left out {x['study_id']}: {x['reason']}")
    return "\n".join(lines)
