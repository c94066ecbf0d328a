"""Mixed-effects meta-regression (`pedall pool ENDPOINT --moderator NAME`), as metafor's
`rma(yi, vi, mods = ~ NAME, method = "REML" | "DL")`.

The studies and their effect sizes are those `pedall pool` chooses for the endpoint (a measure,
an endpoint family or an adverse event: whatever `pool` accepts), so a meta-regression never picks
its figures differently from the pooled analysis it explains. The moderators are the columns of the
view `study_moderators`: text columns are categorical (treatment coding against the first level in
sorted order, as R codes a character vector), numeric columns continuous. Studies without a value of
every moderator are left out, and said so.

The model is yi = X b + u + e, u ~ N(0, tau²), e ~ N(0, vi). tau² is estimated by REML (Fisher
scoring) or by the method-of-moments estimator that generalizes DerSimonian-Laird to a design
matrix; b by weighted least squares with weights 1/(vi + tau²). QM tests all coefficients but the
intercept (chi-square), QE the residual heterogeneity. R² is metafor's pseudo-R²: the proportional
reduction of tau² against the model without moderators fitted to the same studies, floored at 0.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from .figsave import save
from .jsonout import dumps
from .opening import connect
from .pool import PoolResult, StudyRow, pool
from .problems import PoolError
from .query import aligned

_NUMERIC = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT",
            "UBIGINT", "UINTEGER")
# columns of study_moderators that identify a study rather than describe it
_NOT_MODERATORS = ("study_id", "acronym", "summary_arm_id")


@dataclass(frozen=True)
class Coefficient:
    name: str
    estimate: float
    se: float
    statistic: float  # z, or t with --test knha
    p: float
    ci_lower: float
    ci_upper: float


@dataclass(frozen=True)
class Fit:
    """The fitted model on the analysis scale (logit for proportions)."""

    coefficients: tuple[Coefficient, ...]
    vb: np.ndarray  # covariance matrix of the coefficients
    tau2: float
    qm: float
    qm_df: int
    qm_p: float
    qe: float
    qe_df: int
    qe_p: float
    i2: float  # residual I², percent
    tau2_re: float  # tau² of the model without moderators, same studies and method
    r2: float  # percent
    method: str
    k: int
    test: str = "z"  # z, or knha (Knapp-Hartung: t and F tests on k - p degrees of freedom)


def _tau2(y: np.ndarray, v: np.ndarray, x: np.ndarray, method: str, tol: float = 1e-12,
          maxiter: int = 5000) -> float:
    def pmat(w: np.ndarray) -> np.ndarray:
        wx = x * w[:, None]
        return np.diag(w) - wx @ np.linalg.solve(x.T @ wx, wx.T)

    k, p = x.shape
    p_fe = pmat(1.0 / v)
    # method of moments (DerSimonian-Laird generalized to a design matrix), truncated at zero
    tau2 = max(0.0, float((y @ p_fe @ y - (k - p)) / np.trace(p_fe)))
    if method == "DL":
        return tau2
    for _ in range(maxiter):  # REML by Fisher scoring
        pm = pmat(1.0 / (v + tau2))
        py = pm @ y
        adj = float((py @ py - np.trace(pm)) / np.trace(pm @ pm))
        while tau2 + adj < 0:  # step halving keeps tau² on the admissible side
            adj /= 2
        tau2 += adj
        if abs(adj) < tol:
            break
    return tau2


def fit(yi: list[float] | np.ndarray, vi: list[float] | np.ndarray, x: np.ndarray, names: list[str],
        method: str = "REML", level: float = 95.0, test: str = "z") -> Fit:
    """Fit the model; x is the design matrix with the intercept as its first column. With test =
    "knha" the covariance of the coefficients is scaled by the weighted residual variance and the
    tests and CIs use t (and QM an F) on k - p degrees of freedom, as metafor's test = "knha"."""
    y, v, x = np.asarray(yi, float), np.asarray(vi, float), np.asarray(x, float)
    k, p = x.shape
    if k <= p:
        raise PoolError(f"{k} studies cannot fit {p} coefficients: the meta-regression needs more studies than "
                        "coefficients")
    if np.linalg.matrix_rank(x) < p:
        raise PoolError("the moderators are collinear among these studies (one is fixed by the others)")
    tau2 = _tau2(y, v, x, method)
    w = 1.0 / (v + tau2)
    xtwx = x.T @ (x * w[:, None])
    vb = np.linalg.inv(xtwx)
    b = vb @ (x.T @ (w * y))
    if test == "knha":
        vb = vb * float(np.sum(w * (y - x @ b) ** 2)) / (k - p)
        dist: Any = stats.t(k - p)
    else:
        dist = stats.norm()
    se = np.sqrt(np.diag(vb))
    crit = float(dist.ppf(0.5 + level / 200))
    coefs = tuple(Coefficient(n, float(b[i]), float(se[i]), float(b[i] / se[i]),
                              float(2 * dist.sf(abs(b[i] / se[i]))), float(b[i] - crit * se[i]),
                              float(b[i] + crit * se[i])) for i, n in enumerate(names))
    mods = slice(1, p)
    qm = float(b[mods] @ np.linalg.solve(vb[mods, mods], b[mods]))
    if test == "knha":  # an F statistic on (p - 1, k - p) degrees of freedom
        qm /= p - 1
        qm_p = float(stats.f.sf(qm, p - 1, k - p))
    else:
        qm_p = float(stats.chi2.sf(qm, p - 1))
    w_fe = 1.0 / v
    wx = x * w_fe[:, None]
    p_fe = np.diag(w_fe) - wx @ np.linalg.solve(x.T @ wx, wx.T)
    qe = float(y @ p_fe @ y)
    typical_v = (k - p) / float(np.trace(p_fe))
    tau2_re = _tau2(y, v, np.ones((k, 1)), method)
    r2 = 0.0 if tau2_re == 0 else max(0.0, 100.0 * (tau2_re - tau2) / tau2_re)
    return Fit(coefs, vb, tau2, qm, p - 1, qm_p, qe, k - p, float(stats.chi2.sf(qe, k - p)),
               100.0 * tau2 / (typical_v + tau2), tau2_re, r2, method, k, test)


@dataclass
class Moderated:
    study: StudyRow
    values: dict[str, Any]


@dataclass
class MetaRegression:
    pooled: PoolResult  # the pooled analysis whose studies are regressed
    moderators: list[str]
    kinds: dict[str, str]  # moderator -> categorical | continuous
    reference: dict[str, str]  # categorical moderator -> its reference level
    studies: list[Moderated]
    fit: Fit
    left_out: list[tuple[str, str]] = field(default_factory=list)

    @property
    def formula(self) -> str:
        return "~ " + " + ".join(self.moderators)


def moderator_columns(con: Any) -> dict[str, str]:
    """The moderators study_moderators offers: name -> categorical | continuous (from its column types)."""
    cols = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = 'study_moderators' ORDER BY ordinal_position").fetchall()
    return {n: "continuous" if str(t).upper().startswith(_NUMERIC) else "categorical"
            for n, t in cols if n not in _NOT_MODERATORS}


def metareg(db: Path, endpoint: str, moderators: list[str], test: str = "z", **pool_args: Any) -> MetaRegression:
    """Pool as `pool(db, endpoint, **pool_args)` does, then regress its studies on the moderators
    (test: "z", or "knha" for Knapp-Hartung t and F tests)."""
    if test not in ("z", "knha"):
        raise PoolError(f"unknown test {test!r}: z or knha")
    if pool_args.get("by"):
        raise PoolError("--by and --moderator are alternatives: a categorical moderator compares the groups")
    if len(set(moderators)) != len(moderators):
        raise PoolError("a moderator is named twice")
    res = pool(db, endpoint, **pool_args)  # first: it runs the clone's staleness check
    with connect(db) as con:
        available = moderator_columns(con)
        unknown = [m for m in moderators if m not in available]
        if unknown:
            raise PoolError(f"unknown moderator {unknown[0]!r}: one of {', '.join(available)} "
                            "(the columns of the view study_moderators)")
        rows = con.execute(f"SELECT study_id, {', '.join(moderators)} FROM study_moderators").fetchall()
    values = {r[0]: dict(zip(moderators, r[1:], strict=True)) for r in rows}
    kept: list[Moderated] = []
    left_out: list[tuple[str, str]] = []
    for s in res.studies:
        vals = values.get(s.study_id, {})
        missing = [m for m in moderators if vals.get(m) is None]
        if missing:
            left_out.append((s.study_id, "no value of " + ", ".join(missing)))
            continue
        kept.append(Moderated(s, {m: float(vals[m]) if available[m] == "continuous" else str(vals[m])
                                  for m in moderators}))
    if not kept:
        raise PoolError("no study has a value of every moderator (" + "; ".join(f"{s}: {w}" for s, w in left_out) + ")")
    names, columns, reference = ["intercept"], [np.ones(len(kept))], {}
    for m in moderators:
        if available[m] == "continuous":
            names.append(m)
            columns.append(np.array([k.values[m] for k in kept], float))
            continue
        levels = sorted({k.values[m] for k in kept})
        if len(levels) < 2:
            raise PoolError(f"moderator {m} takes {'one value' if levels else 'no value'} among the "
                            f"{len(kept)} studies left: nothing to compare")
        reference[m] = levels[0]
        for lev in levels[1:]:
            names.append(f"{m}: {lev}")
            columns.append(np.array([1.0 if k.values[m] == lev else 0.0 for k in kept]))
    if len(kept) <= len(names):
        raise PoolError(f"{len(kept)} studies with a value of every moderator cannot fit {len(names)} coefficients"
                        + (" (left out: " + "; ".join(f"{s}: {w}" for s, w in left_out) + ")" if left_out else ""))
    x = np.column_stack(columns)
    f = fit([k.study.yi for k in kept], [k.study.vi for k in kept], x, names, res.method, test=test)
    return MetaRegression(res, list(moderators), {m: available[m] for m in moderators}, reference, kept, f,
                          left_out)


def _num(v: float, digits: int = 4) -> str:
    if isinstance(v, float) and math.isnan(v):
        return ""
    if v != 0 and abs(v) < 10 ** -digits:
        return f"{v:.2e}"
    return f"{v:.{digits}f}"


def coefficient_rows(mr: MetaRegression) -> list[dict[str, Any]]:
    return [asdict(c) for c in mr.fit.coefficients]


def render(mr: MetaRegression, fmt: str = "table") -> str:
    f, res = mr.fit, mr.pooled
    if fmt == "json":
        return dumps({"endpoint": res.measure, "title": res.title, "version": res.version, "design": res.design,
                      "include_third_party": res.third_party, "method": f.method, "test": f.test,
                      "scale": res.scale.name, "mods": mr.formula, "moderators": mr.kinds,
                      "reference_levels": mr.reference, "k": f.k, "coefficients": coefficient_rows(mr),
                      "qm": {"statistic": f.qm, "df": [f.qm_df, f.qe_df] if f.test == "knha" else f.qm_df,
                             "p": f.qm_p, "distribution": "F" if f.test == "knha" else "chi-square"},
                      "qe": {"statistic": f.qe, "df": f.qe_df, "p": f.qe_p},
                      "tau2": f.tau2, "i2": f.i2, "tau2_without_moderators": f.tau2_re, "r2": f.r2,
                      "studies": [{"study_id": m.study.study_id, "label": m.study.label, "yi": m.study.yi,
                                   "vi": m.study.vi, "estimate": m.study.estimate, **m.values}
                                  for m in mr.studies],
                      "left_out": [{"study_id": s, "reason": w} for s, w in mr.left_out],
                      "excluded": [{"study_id": s, "reason": w} for s, w in res.excluded]}, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(asdict(f.coefficients[0])), lineterminator="\n")
        w.writeheader()
        w.writerows(coefficient_rows(mr))
        return buf.getvalue()
    refs = "; ".join(f"{m}: reference {r}" for m, r in mr.reference.items())
    tests = f"Knapp-Hartung t tests, df {f.qe_df}" if f.test == "knha" else "z tests"
    lines = [f"{res.title} — mixed-effects meta-regression, mods = {mr.formula} ({f.method}, {tests}), "
             f"{res.scale.name} scale, pedall {res.version}", res.selection,
             f"k = {f.k} studies" + (f"; {refs}" if refs else ""), "",
             f"Coefficients ({res.scale.name} scale):"]
    head = ["", "estimate", "SE", "t" if f.test == "knha" else "z", "p", "95% CI"]
    body = [[c.name, _num(c.estimate), _num(c.se), _num(c.statistic, 3), _num(c.p),
             f"{_num(c.ci_lower)} to {_num(c.ci_upper)}"] for c in f.coefficients]
    lines += aligned(head, body)
    qm = f"F({f.qm_df}, {f.qe_df})" if f.test == "knha" else f"QM({f.qm_df})"
    lines += ["", f"Test of moderators: {qm} = {_num(f.qm)}, p = {_num(f.qm_p)}",
              f"Residual heterogeneity: QE({f.qe_df}) = {_num(f.qe)}, p = {_num(f.qe_p)}; "
              f"tau² = {_num(f.tau2)}; I² = {f.i2:.1f}%",
              f"R² = {f.r2:.1f}% (tau² without moderators {_num(f.tau2_re)}, same studies)", "", "Studies:"]
    for m in mr.studies:
        s = m.study
        counts = f"{s.xi}/{s.n}" if s.xi is not None else f"N={s.n}"
        vals = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in m.values.items())
        lines.append(f"  {s.label}: {counts} {s.estimate:.1f}% — {vals}")
    for sid, why in mr.left_out:
        lines.append(f"  left out: {sid} ({why})")
    for sid, why in res.excluded:
        lines.append(f"  excluded: {sid} ({why})")
    return "\n".join(lines)


def draw_bubbles(mr: MetaRegression, path: Path) -> None:
    """Bubble plot of one continuous moderator: each study's estimate against the moderator (area by its
    weight in the model), with the fitted line and its 95% CI back-transformed to percent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(mr.moderators) != 1 or mr.kinds[mr.moderators[0]] != "continuous":
        raise PoolError("--plot with --moderator draws a bubble plot of one continuous moderator")
    name, f, scale = mr.moderators[0], mr.fit, mr.pooled.scale
    xs = np.array([m.values[name] for m in mr.studies], float)
    w = np.array([1.0 / (m.study.vi + f.tau2) for m in mr.studies])
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(xs, [m.study.estimate for m in mr.studies], s=40 + 600 * w / w.max(), alpha=0.55,
               color="#1f4e79", edgecolors="#0b2540", zorder=3)
    for m, xv in zip(mr.studies, xs, strict=True):
        ax.annotate(m.study.label, (xv, m.study.estimate), fontsize=7, xytext=(4, 4), textcoords="offset points")
    grid = np.linspace(xs.min(), xs.max(), 100) if xs.max() > xs.min() else xs[:1]
    b = np.array([c.estimate for c in f.coefficients])
    design = np.column_stack([np.ones_like(grid), grid])
    pred = design @ b
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, f.vb, design))
    z = float(stats.norm.ppf(0.975))
    lo, hi = (np.array([100 * scale.inv(v) for v in arr]) for arr in (pred - z * se, pred + z * se))
    if scale.name == "cloglog":  # a decreasing transform swaps the bounds
        lo, hi = hi, lo
    ax.plot(grid, [100 * scale.inv(v) for v in pred], color="#b22222", lw=1.5)
    ax.fill_between(grid, lo, hi, color="#b22222", alpha=0.12, lw=0)
    ax.set_xlabel(name.replace("_", " "))
    ax.set_ylabel("percent")
    ax.set_ylim(0, 100)
    ax.grid(color="#dddddd", lw=0.5)
    ax.set_title(f"{mr.pooled.title} by {name.replace('_', ' ')}: meta-regression ({f.method})", fontsize=10)
    c = f.coefficients[1]
    fig.text(0.01, 0.01, f"pedall {mr.pooled.version} · slope {c.estimate:.3g} ({scale.name} scale), p = {c.p:.3g}; "
             f"k = {f.k}; R² = {f.r2:.0f}% · bubble area: weight 1/(vi + tau²) · band: 95% CI of the fit",
             fontsize=7, color="#555555")
    fig.subplots_adjust(bottom=0.14)
    save(fig, path)
