"""Forest plots of a pooled analysis (matplotlib, written reproducibly as PNG or SVG)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Polygon

from .figsave import save
from .pool import GroupResult, PoolResult

ROW_INCHES = 0.28  # per plotted row, so that 40 studies stay legible


def _diamond(ax, y: float, pct: dict[str, float], color: str) -> None:  # type: ignore[no-untyped-def]
    lo, est, hi = pct["ci_lower"], pct["estimate"], pct["ci_upper"]
    ax.add_patch(Polygon([(lo, y), (est, y + 0.3), (hi, y), (est, y - 0.3)], closed=True, color=color))


def draw(res: PoolResult, path: Path) -> None:
    """Write the forest plot to path (.png or .svg)."""
    rows: list[tuple[str, object]] = []  # ("study", StudyRow) | ("group", GroupResult) | ("header", name)
    groups = res.groups or []
    if groups:
        for g in groups:
            rows.append(("header", res.group_labels.get(g.group, g.group.replace("_", " "))))
            rows += [("study", s) for s in res.studies if s.group == g.group]
            rows.append(("group", g))
    else:
        rows += [("study", s) for s in res.studies]
    rows.append(("overall", res.overall))
    n_rows = len(rows) + 1
    fig_h = max(3.0, 1.8 + ROW_INCHES * (n_rows + 1))
    fig, ax = plt.subplots(figsize=(10, fig_h))
    ax.set_ylim(-1.5, n_rows - 0.5)
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    max_w = max((s.weight for s in res.studies), default=1.0)
    labels = []
    for i, (kind, item) in enumerate(rows):
        if kind == "header":
            labels.append((str(item), "bold"))
        elif kind == "study":
            s = item
            counts = (f"{s.xi}/{s.n}" if s.xi is not None  # type: ignore[attr-defined]
                      else "N not reported" if s.n is None else f"N={s.n}")  # type: ignore[attr-defined]
            # what the figure is, where it is not the obvious: the family member, a derived count, a dose cohort
            notes = [counts + (" derived" if s.events_derived else "")]  # type: ignore[attr-defined]
            if s.grade_basis is None and s.response_definition not in (None, res.measure):  # type: ignore[attr-defined]
                notes.append(s.response_definition)  # type: ignore[attr-defined]
            if not s.whole_study:  # type: ignore[attr-defined]
                notes.append("dose cohort")
            labels.append((f"  {s.label}  ({'; '.join(notes)})", "normal"))  # type: ignore[attr-defined]
            ax.plot([s.ci_lower, s.ci_upper], [i, i], color="#333333", lw=1)  # type: ignore[attr-defined]
            size = 20 + 180 * (s.weight / max_w)  # type: ignore[attr-defined]
            ax.scatter([s.estimate], [i], s=size, marker="s", color="#1f4e79", zorder=3)  # type: ignore[attr-defined]
            ax.text(101, i, f"{s.estimate:.1f} ({s.ci_lower:.1f}–{s.ci_upper:.1f})  {s.weight:.1f}%",  # type: ignore[attr-defined]
                    va="center", fontsize=8)
        else:
            g: GroupResult = item  # type: ignore[assignment]
            pct = g.percent(res.scale)
            is_all = kind == "overall"
            name = "Overall" if is_all else "Subtotal"
            het = "" if g.k < 2 else f"; I²={g.pooled.i2:.0f}%, τ²={g.pooled.tau2:.3g}"
            star = "*" if g.n_not_reported else ""  # N of the studies reporting one
            n = "not reported" if g.n_not_reported == g.k else g.n
            labels.append((f"{name} (k={g.k}, N={n}{star}{het})", "bold" if is_all else "normal"))
            _diamond(ax, i, pct, "#b22222" if is_all else "#e08e45")
            if is_all and not math.isnan(pct["pi_lower"]):
                ax.plot([pct["pi_lower"], pct["pi_upper"]], [i + 0.42, i + 0.42], color="#b22222", lw=2.5,
                        solid_capstyle="butt")
            ax.text(101, i, f"{pct['estimate']:.1f} ({pct['ci_lower']:.1f}–{pct['ci_upper']:.1f})",
                    va="center", fontsize=8, fontweight="bold" if is_all else "normal")
    ax.text(101, -1, "estimate (95% CI)  weight", fontsize=8, fontweight="bold", va="center")
    ax.text(-1, -1, "study (events/total or N)", fontsize=8, fontweight="bold", va="center", ha="right")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels([t for t, _ in labels], fontsize=8)
    for tick, (_, weight) in zip(ax.get_yticklabels(), labels, strict=True):
        tick.set_fontweight(weight)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("percent (95% CI)")
    ax.grid(axis="x", color="#dddddd", lw=0.5)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.text(0.01, 1 - 0.3 / fig_h, f"{res.title}: random-effects meta-analysis", fontsize=11, va="center")
    fig.text(0.01, 0.005, f"pedall {res.version} · {res.method}, {res.scale.name} scale, "
             + ("Knapp-Hartung CI" if res.test == "knha" else "normal CI") + " · red bar under the "
             "overall diamond: 95% prediction interval (k ≥ 3) · one figure per study "
             "(the ranked candidates of study_summary)",
             fontsize=7, color="#555555")
    fig.subplots_adjust(left=0.32, right=0.78, top=1 - 0.5 / fig_h, bottom=0.75 / fig_h)
    save(fig, path)
