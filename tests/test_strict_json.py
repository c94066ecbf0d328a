"""Every `--format json` is strict RFC 8259 JSON: undefined numbers are null, never NaN or Infinity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pedall.jsonout import dumps


def _refuse(token: str) -> Any:
    raise ValueError(f"not JSON: {token}")


def strict(text: str) -> Any:
    # json.loads accepts NaN, Infinity and -Infinity unless told otherwise; jq, JSON.parse and jsonlite do not.
    return json.loads(text, parse_constant=_refuse)


def _cli(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "pedall.cli", *args], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_the_strict_parser_refuses_nan() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        strict('{"i2": NaN}')


def test_query_json_turns_nan_and_infinity_into_null(release: Path) -> None:
    out = _cli("query", "select 'nan'::double as a, 'inf'::double as b, '-inf'::double as c, 2.5::double as d",
               "--release", str(release), "--format", "json")
    assert strict(out) == [{"a": None, "b": None, "c": None, "d": 2.5}]


def test_pool_json_gives_null_for_statistics_undefined_with_one_study(release: Path) -> None:
    data = strict(_cli("pool", "cr_cri", "--by", "intervention_class", "--release", str(release),
                       "--format", "json"))
    single = [g for g in data["summary"] if g["k"] == 1]
    assert single, "expected a subgroup with a single study"
    for g in single:
        assert g["i2"] is None and g["pi_lower"] is None and g["pi_upper"] is None
        assert isinstance(g["estimate"], float)


def test_diff_json_is_strict(release: Path) -> None:
    data = strict(_cli("diff", str(release), str(release.parent / f"{release.name}.zip"), "--format", "json"))
    assert set(data) == {"old", "new", "tables"}


def test_dumps_refuses_nothing_and_writes_no_constant() -> None:
    text = dumps({"x": [float("nan"), float("inf"), 1.0, (float("-inf"),)], "y": {"z": float("nan")}})
    assert strict(text) == {"x": [None, None, 1.0, [None]], "y": {"z": None}}
