"""The release's index.html renders in headless Chromium, without console errors, and shows every study."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import webdriver
from conftest import require


def test_index_html_renders_every_study(release: Path, tmp_path: Path) -> None:
    require(webdriver.available(), "chromium and chromedriver", "apt-get install chromium chromium-driver")
    html = (release / "index.html").read_text()
    for needle in ("http://", "https://", "<script", "@import", "<link"):
        # links for people may point outwards; nothing the page loads may
        assert needle not in html.replace('href="https://', "").replace("href=\"http://", ""), needle
    browser = webdriver.Browser(tmp_path / "profile")
    try:
        browser.get((release / "index.html").as_uri())
        text = browser.script("return document.body.innerText;")
        images = browser.script("return Array.from(document.images).map(i => [i.getAttribute('src'), "
                                "i.complete && i.naturalWidth > 0]);")
        shot = tmp_path / "index.png"
        browser.screenshot(shot)
        errors = [e for e in browser.console() if e.get("level") == "SEVERE"]
    finally:
        browser.close()
    assert errors == []
    with (release / "data" / "studies.csv").open(newline="", encoding="utf-8") as fh:
        studies = [r["study_id"] for r in csv.DictReader(fh)]
    assert studies
    for study_id in studies:
        assert study_id in text, study_id
    assert f"Version {json.loads((release / 'datapackage.json').read_text())['version']}" in text
    assert images and all(ok for _, ok in images), images
    # every forest plot is shown as an image; the coverage map is shown as a table
    assert len(images) == len([f for f in (release / "figures").glob("*.svg") if f.stem != "coverage"])
    assert "Core figures per study" in text
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
