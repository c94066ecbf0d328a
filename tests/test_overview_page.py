"""The release's index.html renders in headless Chromium, without console errors, and shows every study."""

from __future__ import annotations

from pathlib import Path

import pytest

import webdriver
from conftest import REPO
from pedall.package import load_package

pytestmark = pytest.mark.skipif(not webdriver.available(),
                                reason="chromium and chromedriver are not installed (apt-get install chromium "
                                       "chromium-driver)")


def test_index_html_renders_every_study(release: Path, tmp_path: Path) -> None:
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
    studies = [line.split(",")[0] for line in (REPO / "data" / "studies.csv").read_text().splitlines()[1:]]
    for study_id in studies:
        assert study_id in text, study_id
    assert f"Version {load_package(REPO).version}" in text
    assert images and all(ok for _, ok in images), images
    # every forest plot is shown as an image; the coverage map is shown as a table
    assert len(images) == len([f for f in (release / "figures").glob("*.svg") if f.stem != "coverage"])
    assert "Core figures per study" in text
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
