"""The release README's fenced code blocks, and a release unpacked from its zip as that README says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from pedall.readme import SEPARATOR

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(readme: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block in the generated part of a release README."""
    generated = readme.split(SEPARATOR, 1)[0]
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(generated)]


def shell_env() -> dict[str, str]:
    # The commands as a user runs them: `python`, `duckdb` (PyPI duckdb-cli) from this environment first.
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def unpack(zip_path: Path, empty: Path) -> Path:
    """Copy the zip into an empty folder and run the README's first shell block there (unzip, cd, check)."""
    empty.mkdir(parents=True, exist_ok=False)
    shutil.copyfile(zip_path, empty / zip_path.name)
    with zipfile.ZipFile(zip_path) as zf:
        readme = zf.read(f"{zip_path.stem}/README.md").decode("utf-8")
    lang, code = blocks(readme)[0]
    assert lang == "sh" and "unzip" in code
    res = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=empty, env=shell_env(),
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    folder = empty / zip_path.stem
    assert folder.is_dir()
    return folder
