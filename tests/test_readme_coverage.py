"""The README's per-study coverage counts are those of the data they describe (a data check)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from conftest import REPO
from pedall.release import DB_NAME


def test_readme_coverage_counts_match_the_release(real_release: Path) -> None:
    spec = importlib.util.spec_from_file_location("readme_coverage", REPO / "scripts" / "readme_coverage.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    written = readme.split(mod.START, 1)[1].split(mod.END, 1)[0].strip()
    assert written == mod.block(real_release / DB_NAME), "run: python scripts/readme_coverage.py (after make release)"
