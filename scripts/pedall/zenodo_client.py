"""The Zenodo deposit REST API client (https://developers.zenodo.org): the few calls a release needs.

Transient failures (429, 5xx, no answer) are retried with backoff; a publish is never retried blindly.
The token is sent only as a Bearer header to the API's own host and is never printed.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests

SANDBOX_URL = "https://sandbox.zenodo.org/api"
PRODUCTION_URL = "https://zenodo.org/api"

Out = Callable[[str], None]


class ZenodoError(Exception):
    """A request to Zenodo failed. `draft_id` names the unpublished draft left behind, if one exists."""

    def __init__(self, message: str, *, status: int | None = None, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.status = status
        # True when the server may have acted although the answer says otherwise (5xx, 429, no answer).
        self.ambiguous = ambiguous
        self.draft_id: int | str | None = None
        self.draft_html: str | None = None
        self.publish_unknown = False  # set when whether the deposition got published could not be read back


class TokenRejected(ZenodoError):
    """HTTP 401/403: retrying cannot help, the token must be replaced."""


class _Bearer(requests.auth.AuthBase):
    """Bearer auth that never shows the token in a repr. As session auth it also stops requests from
    reading ~/.netrc, which would otherwise replace our Authorization header."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def __repr__(self) -> str:
        return "_Bearer(<hidden>)"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def check_base_url(url: str) -> str:
    """The token travels in clear over http, so plain http is allowed only to this machine (the tests' fake)."""
    parts = urlsplit(url)
    local = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise ValueError(f"{url!r} is not an https URL; refusing to send the token there")
    return url


def _retry_after(resp: requests.Response) -> float | None:
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _server_message(resp: requests.Response) -> str:
    """Zenodo's error body is {"message": ..., "errors": [{"field": ..., "message": ...}]}."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text.strip()[:300] or resp.reason or ""
    if not isinstance(data, dict):
        return str(data)[:300]
    msg = str(data.get("message") or resp.reason or "")
    details = [f"{e.get('field', '?')}: {e.get('message') or e.get('messages')}"
               for e in data.get("errors") or [] if isinstance(e, dict)]
    return msg + (f" ({'; '.join(details)})" if details else "")


def md5_of(checksum: object) -> str | None:
    # The bucket API says "md5:<hex>", the deposition files list says "<hex>".
    return checksum.removeprefix("md5:").lower() if isinstance(checksum, str) else None


class ZenodoClient:
    """The few deposit API calls a release needs, with retries of transient failures.

    429, 5xx and connection errors are retried up to `attempts` times with exponential backoff from
    `retry_delay` seconds (Retry-After wins when the server sends it); 401/403 raise TokenRejected at once.
    """

    def __init__(self, base_url: str, token: str, *, attempts: int = 5, retry_delay: float = 2.0,
                 max_delay: float = 300.0, timeout: tuple[float, float] = (15.0, 600.0), out: Out = print,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not token:
            raise ValueError("a Zenodo token is required")
        self.base_url = check_base_url(base_url).rstrip("/")
        scheme, host = _origin(self.base_url)
        self.attempts, self.retry_delay, self.max_delay = max(1, attempts), retry_delay, max_delay
        self.timeout, self.out, self.sleep = timeout, out, sleep
        self._origin = (scheme, host)
        self._session = requests.Session()
        self._session.auth = _Bearer(token)

    def __enter__(self) -> ZenodoClient:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def _call(self, method: str, url: str, *, body: Any = None, upload: Path | None = None,
              attempts: int | None = None) -> Any:
        # Links come from server responses; the token goes only to the host the user chose.
        if _origin(url) != self._origin:
            raise ZenodoError(f"refusing to send the token to {url}: not on {self.base_url}")
        what = f"{method} {url}"
        attempts = attempts or self.attempts
        status: int | None = None
        for attempt in range(1, attempts + 1):
            wait: float | None = None
            try:
                if upload is not None:
                    with upload.open("rb") as fh:  # reopened per attempt: a retry streams the whole file again
                        resp = self._session.request(method, url, data=fh, timeout=self.timeout,
                                                     headers={"Content-Type": "application/octet-stream"},
                                                     allow_redirects=False)
                else:
                    resp = self._session.request(method, url, json=body, timeout=self.timeout, allow_redirects=False)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                problem, status = f"{type(exc).__name__}: {exc}", None
            except requests.RequestException as exc:
                raise ZenodoError(f"{what}: {type(exc).__name__}: {exc}") from exc
            else:
                status = resp.status_code
                if status in (401, 403):
                    raise TokenRejected(
                        f"{what}: HTTP {status}: {_server_message(resp)}. Zenodo refused the token: ZENODO_TOKEN is "
                        "invalid or expired, or lacks the deposit:write and deposit:actions scopes (a sandbox token "
                        "does not work on zenodo.org, nor the reverse)", status=status)
                if 200 <= status < 300:
                    try:
                        return resp.json() if resp.content else None
                    except ValueError as exc:
                        raise ZenodoError(f"{what}: HTTP {status} with a body that is not JSON") from exc
                if status != 429 and status < 500:
                    raise ZenodoError(f"{what}: HTTP {status}: {_server_message(resp)}", status=status)
                problem, wait = f"HTTP {status}", _retry_after(resp)
            if attempt == attempts:
                raise ZenodoError(f"{what}: {problem} (gave up after {attempt} attempts)", status=status,
                                  ambiguous=True)
            self._backoff(what, problem, attempt, attempts, wait)
        raise AssertionError("unreachable")

    def _backoff(self, what: str, problem: str, attempt: int, attempts: int, wait: float | None) -> None:
        delay = min(self.max_delay, wait if wait is not None else self.retry_delay * 2 ** (attempt - 1))
        self.out(f"  {what}: {problem}; retry {attempt + 1}/{attempts} in {delay:g}s")
        self.sleep(delay)

    def _dep(self, dep_id: int | str, tail: str = "") -> str:
        return f"{self.base_url}/deposit/depositions/{dep_id}{tail}"

    # Note: POSTs are retried too; a 5xx after the server acted could leave a stray empty draft, which is
    # harmless (unpublished) and cheaper than failing a release on one gateway hiccup.
    def create(self) -> dict[str, Any]:
        return self._call("POST", f"{self.base_url}/deposit/depositions", body={})

    def get(self, dep_id: int | str) -> dict[str, Any]:
        return self._call("GET", self._dep(dep_id))

    def get_url(self, url: str) -> dict[str, Any]:
        return self._call("GET", url)

    def new_version(self, dep_id: int | str) -> dict[str, Any]:
        """Returns the *previous* deposition; the new draft is at its links.latest_draft."""
        return self._call("POST", self._dep(dep_id, "/actions/newversion"))

    def files(self, dep_id: int | str) -> list[dict[str, Any]]:
        return self._call("GET", self._dep(dep_id, "/files")) or []

    def delete_file(self, dep_id: int | str, file_id: str) -> None:
        self._call("DELETE", self._dep(dep_id, f"/files/{quote(str(file_id), safe='')}"))

    def upload(self, bucket_url: str, path: Path, name: str) -> dict[str, Any]:
        return self._call("PUT", f"{bucket_url.rstrip('/')}/{quote(name, safe='')}", upload=path)

    def set_metadata(self, dep_id: int | str, metadata: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", self._dep(dep_id), body={"metadata": metadata})

    def publish(self, dep_id: int | str) -> dict[str, Any]:
        """Publish once. Never retried blindly: a publish that succeeded but answered 5xx (or not at all)
        would be retried into "already published" and reported as a failure. After any ambiguous answer
        the deposition is read back, and only a deposition that is still unpublished is sent again."""
        url = self._dep(dep_id, "/actions/publish")
        ambiguous = False
        for attempt in range(1, self.attempts + 1):
            try:
                return self._call("POST", url, attempts=1)
            except TokenRejected:
                raise
            except ZenodoError as exc:
                if not (exc.ambiguous or ambiguous):
                    raise  # a plain refusal (e.g. 400 invalid metadata) of a first, clean attempt
                ambiguous = True
                problem = str(exc)
            try:
                state = self.get(dep_id)
            except ZenodoError as exc:
                err = ZenodoError(f"publish of deposition {dep_id} got no clear answer ({problem}) and its state "
                                  f"could not be read back ({exc}): it may or may not be published")
                err.publish_unknown = True
                raise err from exc
            if state.get("submitted"):
                self.out(f"  publish of deposition {dep_id}: {problem}; read back: it IS published")
                return state
            if attempt == self.attempts:
                raise ZenodoError(f"{problem}; read back: deposition {dep_id} is NOT published "
                                  f"(gave up after {attempt} attempts)")
            self.out(f"  read back: deposition {dep_id} is not published")
            self._backoff(f"POST {url}", problem, attempt, self.attempts, None)
        raise AssertionError("unreachable")
