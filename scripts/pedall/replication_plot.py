"""Published pooled estimates beside pedall's answer to the same question: one row per question."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .figsave import save
from .replicate import Replication

ROW_INCHES = 0.55


def drawable(rep: Replication) -> list:  # type: ignore[type-arg]
    """The answers that can be drawn on a percent axis: published proportions with an estimate."""
    return [a for a in rep.answers if a.published.effect_measure == "proportion" and a.published.estimate is not None]


def draw(rep: Replication, path: Path) -> None:
    rows = drawable(rep)
    fig_h = max(2.5, 1.4 + ROW_INCHES * len(rows))
    fig, ax = plt.subplots(figsize=(10, fig_h))
    labels = []
    for i, a in enumerate(rows):
        p = a.published
        labels.append(f"{p.question}\n{p.estimate_id.split('/')[0]} (k={p.k or '?'})"
                      + (f" · pedall k={a.k}" if a.answered else " · pedall: not answered"))
        if p.ci_lower is not None and p.ci_upper is not None:
            ax.plot([p.ci_lower, p.ci_upper], [i - 0.12] * 2, color="#c0612b", lw=1.5)
        ax.scatter([p.estimate], [i - 0.12], marker="D", s=45, color="#c0612b", zorder=3,
                   label="published" if i == 0 else None)
        if a.answered and a.estimate is not None:
            ax.plot([a.ci_lower, a.ci_upper], [i + 0.12] * 2, color="#1f4e79", lw=1.5)
            ax.scatter([a.estimate], [i + 0.12], marker="s", s=45, color="#1f4e79", zorder=3,
                       label="pedall" if not any(b.answered for b in rows[:i]) else None)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("percent (95% CI)")
    ax.grid(axis="x", color="#dddddd", lw=0.5)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.text(0.01, 1 - 0.25 / fig_h, "Published pooled estimates and pedall's answer to the same question",
             fontsize=11, va="center")
    fig.text(0.01, 0.01, f"pedall {rep.version} · pedall uses the review's model, tau² method and transform where "
             "it has them (pedall replicate says where not) · its own studies and figures", fontsize=7, color="#555555")
    fig.subplots_adjust(left=0.42, right=0.97, top=1 - 0.55 / fig_h, bottom=0.7 / fig_h)
    save(fig, path)
