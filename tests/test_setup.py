"""Set-up: one hashed pin list, a consistent environment, and `make clean` keeping the environment."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from conftest import REPO


def test_installed_environment_passes_pip_check() -> None:
    res = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_one_lock_with_hashes_matching_the_direct_pins() -> None:
    lock = (REPO / "requirements.lock").read_text()
    assert not list(REPO.glob("requirements-*.lock"))
    assert "--index-url" not in lock and "--find-links" not in lock  # no machine-specific sources
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.M))
    body = lock[re.search(r"^[A-Za-z0-9_.-]+==", lock, re.M).start():]
    entries = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", body.strip())
    assert pins and all("--hash=sha256:" in e for e in entries)
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    norm = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in pins.items()}
    for req in [*meta["dependencies"], *meta["optional-dependencies"]["dev"]]:
        name, version = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)", req).groups()
        assert norm.get(re.sub(r"[-_.]+", "-", name).lower()) == version, req


def _make_n(target: str) -> str:
    return subprocess.run(["make", "-n", "-C", str(REPO), target], capture_output=True, text=True,
                          check=True).stdout


def test_clean_keeps_the_environment_and_distclean_removes_it() -> None:
    assert "dist" in _make_n("clean") and ".venv" not in _make_n("clean")
    assert re.search(r"rm -rf \.venv\b", _make_n("distclean"))
