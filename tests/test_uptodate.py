"""`pedall build` of an unchanged tree returns the existing release without validating or rebuilding."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from conftest import copy_repo
from editing import set_cell
from pedall import database, release

# the module (pedall.validate as an attribute is the API's function of that name)
validate = importlib.import_module("pedall.validate")


def test_up_to_date_build_is_skipped_and_a_change_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert release.DB_NAME == database.DB_NAME
    root = copy_repo(tmp_path / "repo")
    dist = tmp_path / "dist"
    rel = release.build(root, dist)

    def refuse(pkg):  # type: ignore[no-untyped-def]
        raise AssertionError("validated again")

    monkeypatch.setattr(validate, "validate", refuse)
    assert release.build(root, dist) == rel  # up to date: nothing validated, nothing written
    (rel / "DATA_DICTIONARY.md").write_text("tampered", encoding="utf-8")
    with pytest.raises(AssertionError, match="validated again"):  # a damaged release is rebuilt (and refused)
        release.build(root, dist)
    set_cell(root, "outcomes", {"outcome_id": "maude-2018-nejm-efs-12m"}, note="changed")
    with pytest.raises(AssertionError, match="validated again"):
        release.build(root, dist)
