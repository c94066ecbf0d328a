"""A minimal W3C WebDriver client for chromedriver (the few calls the page test needs).

selenium's current release needs a newer certifi than the pinned one; chromedriver's HTTP protocol
is small enough to speak directly with requests.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1300,2000"]


def available() -> bool:
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self, profile: Path):
        self.port = _free_port()
        self.proc = subprocess.Popen([shutil.which("chromedriver") or "chromedriver", f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(100):  # wait until the driver listens (at most ~10 s)
            try:
                requests.get(f"{self.base}/status", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": shutil.which("chromium"),
                                   "args": [*CHROME_FLAGS, f"--user-data-dir={profile}"]},
            "goog:loggingPrefs": {"browser": "ALL"}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        r = requests.request(method, f"{self.base}{path}", json=body, timeout=60)
        data = r.json()
        if r.status_code != 200:
            raise RuntimeError(f"webdriver {path}: {data}")
        return data.get("value", data) if path != "/session" else data["value"]

    def get(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def script(self, js: str) -> Any:
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": js, "args": []})

    def console(self) -> list[dict]:
        return self._call("POST", f"/session/{self.session}/se/log", {"type": "browser"})

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self._call("GET", f"/session/{self.session}/screenshot")))

    def close(self) -> None:
        try:
            self._call("DELETE", f"/session/{self.session}")
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)
