"""`pedall pool`: selection of one figure per study, outputs, plots and errors."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

from pedall.meta import expit
from pedall.pool import pool
from pedall.release import DB_NAME


def _cli(release: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pedall.cli", "pool", *args, "--db", str(release / DB_NAME)],
                          capture_output=True, text=True, check=False)


def test_one_figure_per_study_from_the_newest_publication(release: Path) -> None:
    res = pool(release / DB_NAME, "cr_cri")
    ids = [s.study_id for s in res.studies]
    assert len(ids) == len(set(ids))
    eliana = next(s for s in res.studies if s.study_id == "eliana")
    assert (eliana.publication_id, eliana.xi, eliana.n) == ("laetsch-2023-jco", 65, 79)
    assert math.isclose(sum(s.weight for s in res.studies), 100)


def test_subgroups_and_overall(release: Path) -> None:
    res = pool(release / DB_NAME, "crs", grade_min=3, by="intervention_class")
    assert sum(g.k for g in res.groups) == res.overall.k
    dual = next(g for g in res.groups if g.group == "cd19_cd22_car_t")
    assert dual.k == 2  # AMELIA 0/15 and CARPALL 0/12: zero cells corrected as escalc does
    assert 0 < 100 * expit(dual.pooled.estimate) < 10


def test_survival_is_pooled_on_the_scale_its_cis_imply(release: Path) -> None:
    res = pool(release / DB_NAME, "efs", timepoint=12)
    assert res.scale.name in ("identity", "log", "logit", "cloglog")
    assert [s for s, why in res.excluded] == ["amelia"]  # no CI: cannot be weighted
    pct = res.overall.percent(res.scale)
    assert pct["ci_lower"] < pct["estimate"] < pct["ci_upper"]


def test_cli_table_csv_json_and_plot(release: Path, tmp_path: Path) -> None:
    png = tmp_path / "forest.png"
    res = _cli(release, "cr_cri", "--by", "intervention_class", "--plot", str(png))
    assert res.returncode == 0, res.stderr
    assert "random effects (REML)" in res.stdout and "overall" in res.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(io.StringIO(_cli(release, "cr_cri", "--format", "csv").stdout)))
    assert [r["group"] for r in rows] == ["overall"]
    data = json.loads(_cli(release, "cr_cri", "--method", "DL", "--format", "json").stdout)
    assert data["method"] == "DL" and data["summary"][-1]["k"] == len(data["studies"])
    svg = tmp_path / "forest.svg"
    assert _cli(release, "os", "--timepoint", "12", "--plot", str(svg)).returncode == 0
    assert svg.read_text().lstrip().startswith("<?xml")


def test_cli_errors_are_messages(release: Path) -> None:
    res = _cli(release, "no_such_measure")
    assert res.returncode == 1 and "unknown measure" in res.stderr and "Traceback" not in res.stderr
    res = _cli(release, "efs")
    assert res.returncode == 1 and "--timepoint" in res.stderr


def test_population_filter_and_unknown_population(release: Path) -> None:
    res = pool(release / DB_NAME, "cr_cri", population="infused")
    assert {s.population for s in res.studies} == {"infused"}
    res = _cli(release, "cr_cri", "--population", "everyone")
    assert res.returncode == 1 and "unknown population 'everyone'" in res.stderr
