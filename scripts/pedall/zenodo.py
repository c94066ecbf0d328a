"""`pedall zenodo DIR|ZIP`: deposit a built release on Zenodo (the sandbox unless --production).

Uses the documented deposit REST API (https://developers.zenodo.org): create a deposition, or a new version
of the latest published one; upload through the bucket API; set the metadata; publish only when asked.

The release is verified against its SHA256SUMS before any request, so a damaged build is never deposited.
Once a draft exists, any failure names it and prints the command that resumes it; a resumed run skips the
files already uploaded with the same checksum. The token is sent only as a Bearer header to the API's own
host and is never printed.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import shlex
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from .checksums import file_digest, mismatches, parse_sums, sha256, sidecar_matches, stream_digest
from .metadata import ReleaseError
from .rpackage import tarball_name
from .zipper import open_release_zip, release_name

SANDBOX_URL = "https://sandbox.zenodo.org/api"
PRODUCTION_URL = "https://zenodo.org/api"
SUMS = "SHA256SUMS"
PROG = "pedall zenodo"

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


# ---------------------------------------------------------------------------------------------------------------
# The release: verified before anything is sent


@dataclass(frozen=True)
class Upload:
    path: Path
    size: int
    sha256: str
    md5: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Release:
    name: str  # pedall-<version>
    version: str
    zenodo: dict[str, Any]  # the release's .zenodo.json
    uploads: tuple[Upload, ...]
    absent: tuple[str, ...]  # expected files missing beside the release (the DuckDB file or its checksum)


def _refuse_if(bad: list[str], what: str) -> None:
    if bad:
        raise ReleaseError(f"{what} does not match its SHA256SUMS; refusing to deposit:\n  " + "\n  ".join(bad))


def _verify_folder(folder: Path) -> str:
    sums = folder / SUMS
    if not sums.is_file():
        raise ReleaseError(f"{sums} is missing: {folder} is not a pedall release folder")
    text = sums.read_text(encoding="utf-8")
    listed = parse_sums(text, str(sums))
    _refuse_if(_describe(mismatches(listed, lambda rel: sha256(folder / rel) if (folder / rel).is_file() else None)),
               str(folder))
    return text


def _describe(found: list[tuple[int, str, str]]) -> list[str]:
    return [f"{rel}: {'missing' if kind == 'missing' else 'sha256 differs'}" for _, rel, kind in found]


def _verify_zip(zpath: Path, name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Check the zip against the SHA256SUMS inside it; return that text, datapackage.json and .zenodo.json."""
    prefix = f"{name}/"
    try:
        with open_release_zip(zpath) as (zf, _):
            members = {i.filename for i in zf.infolist() if not i.is_dir()}
            if prefix + SUMS not in members:
                raise ReleaseError(f"{zpath} has no {prefix}{SUMS}: not the zip of {name}")
            text = zf.read(prefix + SUMS).decode("utf-8")
            listed = parse_sums(text, f"{zpath.name}:{prefix}{SUMS}")

            def digest_of(rel: str) -> str | None:
                if prefix + rel not in members:
                    return None
                with zf.open(prefix + rel) as fh:
                    return stream_digest(fh)

            bad = _describe(mismatches(listed, digest_of))
            # The zip is what gets published, so anything in it that SHA256SUMS does not vouch for is refused.
            bad += [f"{m}: not listed" for m in sorted(members - {prefix + r for r in listed} - {prefix + SUMS})]
            _refuse_if(bad, str(zpath))
            descriptor = json.loads(zf.read(prefix + "datapackage.json"))
            zen = json.loads(zf.read(prefix + ".zenodo.json"))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # CRC and deflate errors surface while reading
        raise ReleaseError(f"{zpath} is not a readable zip: {exc}") from exc
    except KeyError as exc:
        raise ReleaseError(f"{zpath} lacks {exc.args[0]}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{zpath}: unreadable metadata: {exc}") from exc
    return text, descriptor, zen


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ReleaseError(f"{path} is not a JSON object")
    return data


def _verify_duckdb(db: Path, sums: Path) -> None:
    if not sidecar_matches(db, sums):
        raise ReleaseError(f"{db.name} does not match {sums.name}; refusing to deposit")


def load_release(path: Path) -> Release:
    """Verify a release folder or zip and list the files to upload: the zip, the DuckDB file and its checksum,
    and the R package where it is beside them."""
    path = path.resolve()
    if path.is_dir():
        name, zpath = path.name, path.parent / f"{path.name}.zip"
        sums = _verify_folder(path)
        if not zpath.is_file():
            raise ReleaseError(f"{zpath} is missing: the zip is what gets deposited; rebuild with `make release`")
        zsums, _, _ = _verify_zip(zpath, name)
        if zsums != sums:
            raise ReleaseError(f"{zpath.name} holds a different SHA256SUMS than {path}: not this folder's zip")
        descriptor, zen = _read_json(path / "datapackage.json"), _read_json(path / ".zenodo.json")
    elif path.is_file() and path.suffix == ".zip":
        name, zpath = path.stem, path
        _, descriptor, zen = _verify_zip(zpath, name)
    else:
        raise ReleaseError(f"{path} is neither a release folder nor a release .zip")

    version = descriptor.get("version")
    if not isinstance(version, str) or not version:
        raise ReleaseError(f"{name}: datapackage.json has no version")
    if name != release_name(version):
        raise ReleaseError(f"{name} does not match datapackage.json's version {version!r}")
    if zen.get("version") not in (None, version):
        raise ReleaseError(f"{name}: .zenodo.json says version {zen.get('version')!r}, datapackage.json {version!r}")

    db, db_sums = zpath.parent / f"{name}.duckdb", zpath.parent / f"{name}.duckdb.sha256"
    if db.is_file() and db_sums.is_file():
        _verify_duckdb(db, db_sums)
    tarball = zpath.parent / tarball_name(version)  # the R package, written by every `pedall build`
    present = [p for p in (zpath, db, db_sums, tarball) if p.is_file()]
    uploads = tuple(Upload(p, p.stat().st_size, sha256(p), file_digest(p, "md5")) for p in present)
    absent = tuple(p.name for p in (db, db_sums) if not p.is_file())
    return Release(name, version, zen, uploads, absent)


def build_metadata(rel: Release, published: date) -> dict[str, Any]:
    """Deposit metadata: the release's .zenodo.json, with the version and date this deposit asserts."""
    meta = dict(rel.zenodo)
    meta.update(upload_type="dataset", version=rel.version, publication_date=published.isoformat())
    missing = [k for k in ("title", "creators", "description") if not meta.get(k)]
    if not (meta.get("license") or meta.get("access_right")):
        missing.append("license (or access_right)")
    if missing:
        raise ReleaseError(f"{rel.name}: .zenodo.json lacks {', '.join(missing)}")
    return meta


# ---------------------------------------------------------------------------------------------------------------
# The HTTP client


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


def _md5_of(checksum: object) -> str | None:
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


# ---------------------------------------------------------------------------------------------------------------
# The deposit


@dataclass
class Outcome:
    deposition_id: int | str | None = None
    html: str | None = None
    doi: str | None = None
    published: bool = False
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def _print_plan(rel: Release, meta: dict[str, Any], base_url: str, publish: bool, concept_id: str | None,
                resume: str | None, out: Out) -> None:
    out(f"dry run: nothing is sent to {base_url}")
    if resume:
        out(f"record: resume draft {resume} (files already there with the same md5 are kept)")
    elif concept_id:
        out(f"record: new version of published deposition {concept_id} (its inherited files are deleted)")
    else:
        out("record: new deposition (first version)")
    out("files:")
    for u in rel.uploads:
        out(f"  {u.name}  {u.size} bytes  sha256 {u.sha256}")
    for name in rel.absent:
        out(f"  ({name}: absent, not uploaded)")
    out("metadata:")
    out(json.dumps(meta, indent=2, ensure_ascii=False))
    out("then: publish" if publish else "then: leave the draft unpublished (no --publish)")


def deposit(release: Path | str, *, token: str | None, base_url: str, publish: bool, dry_run: bool,
            concept_id: str | None = None, out: Out = print, resume: str | None = None,
            publication_date: date | None = None, attempts: int = 5, retry_delay: float = 2.0) -> Outcome:
    """Deposit a release; raise ReleaseError (refused before any request) or ZenodoError (failed)."""
    rel = load_release(Path(release))
    meta = build_metadata(rel, publication_date or date.today())
    for name in rel.absent:
        out(f"note: {name} is absent beside {rel.name}; depositing the other files without it")
    if dry_run:
        _print_plan(rel, meta, base_url, publish, concept_id, resume, out)
        return Outcome()
    if not token:
        raise ZenodoError("no token: set ZENODO_TOKEN")
    with ZenodoClient(base_url, token, attempts=attempts, retry_delay=retry_delay, out=out) as client:
        return _deposit(client, rel, meta, publish=publish, concept_id=concept_id, resume=resume, out=out)


def _deposit(client: ZenodoClient, rel: Release, meta: dict[str, Any], *, publish: bool,
             concept_id: str | None, resume: str | None, out: Out) -> Outcome:
    res = Outcome()
    try:
        inherited = False
        if resume:
            draft = client.get(resume)
            if draft.get("submitted"):
                raise ZenodoError(f"deposition {resume} is already published (DOI {draft.get('doi')}); "
                                  "nothing to resume")
        elif concept_id:
            out(f"new version of deposition {concept_id}")
            latest = (client.new_version(concept_id).get("links") or {}).get("latest_draft")
            if not latest:
                raise ZenodoError(f"newversion of {concept_id} returned no links.latest_draft")
            res.deposition_id = latest.rstrip("/").rsplit("/", 1)[-1]  # known before the GET, in case it fails
            draft, inherited = client.get_url(latest), True
        else:
            draft = client.create()
        links = draft.get("links") or {}
        res.deposition_id, res.html = draft["id"], links.get("html")
        out(f"draft {res.deposition_id}: {res.html or '(no html link)'}")
        if not links.get("bucket"):
            raise ZenodoError(f"draft {res.deposition_id} has no links.bucket to upload to")
        _sync_files(client, rel, res, links["bucket"], fresh=not (resume or inherited), inherited=inherited, out=out)
        out(f"setting metadata (version {rel.version}, publication date {meta['publication_date']})")
        client.set_metadata(res.deposition_id, meta)
        if not publish:
            out(f"draft {res.deposition_id} is ready but NOT published (pass --publish); review it at {res.html}")
            return res
        done = client.publish(res.deposition_id)
    except ZenodoError as exc:
        exc.draft_id, exc.draft_html = res.deposition_id, res.html
        raise
    res.published = True
    res.doi = done.get("doi") or (done.get("metadata") or {}).get("doi")
    record = (done.get("links") or {}).get("record_html") or (done.get("links") or {}).get("html") or res.html
    out(f"published deposition {res.deposition_id}: DOI {res.doi}  https://doi.org/{res.doi}")
    if done.get("conceptdoi"):
        out(f"concept DOI (every version): {done['conceptdoi']}")
    out(f"record: {record}")
    out(f"next version: set ZENODO_CONCEPT_ID={res.deposition_id} (or pass --concept {res.deposition_id})")
    return res


def _sync_files(client: ZenodoClient, rel: Release, res: Outcome, bucket: str, *, fresh: bool, inherited: bool,
                out: Out) -> None:
    """Make the draft hold exactly the release's files, checking every upload's md5."""
    dep_id = res.deposition_id
    assert dep_id is not None
    wanted = {u.name: u for u in rel.uploads}
    for f in [] if fresh else client.files(dep_id):
        name = f.get("filename")
        u = wanted.get(name) if isinstance(name, str) else None
        if not inherited and u is not None and _md5_of(f.get("checksum")) == u.md5:
            res.skipped.append(u.name)
            continue
        client.delete_file(dep_id, f["id"])
        res.deleted.append(str(name))
        out(f"deleted {name} ({'inherited from the previous version' if inherited else 'not this release'})")
    for u in rel.uploads:
        if u.name in res.skipped:
            out(f"skip {u.name}: already uploaded (md5 {u.md5})")
            continue
        out(f"uploading {u.name} ({u.size} bytes, sha256 {u.sha256})")
        got = _md5_of((client.upload(bucket, u.path, u.name) or {}).get("checksum"))
        if got != u.md5:
            raise ZenodoError(f"{u.name}: Zenodo reports md5 {got}, the local file has md5 {u.md5}")
        res.uploaded.append(u.name)
    # A final look at the draft, so nothing is published beside a stale or missing file.
    held = {f.get("filename"): _md5_of(f.get("checksum")) for f in client.files(dep_id)}
    expected = {u.name: u.md5 for u in rel.uploads}
    if held != expected:
        raise ZenodoError(f"draft {dep_id} holds {sorted(map(str, held))}, expected {sorted(expected)} "
                          "with the local checksums")


# ---------------------------------------------------------------------------------------------------------------
# Command line


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _seconds(text: str) -> float:
    s = float(text)
    if s < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return s


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of `pedall zenodo`, for a standalone parser or a subparser of `pedall`."""
    ap.add_argument("release", type=Path, help="dist/pedall-<version> (the folder) or dist/pedall-<version>.zip")
    ap.add_argument("--publish", action="store_true", help="publish the deposit (default: leave a draft to review)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan; send nothing, need no token")
    ap.add_argument("--production", action="store_true", help=f"use {PRODUCTION_URL} (default: {SANDBOX_URL})")
    ap.add_argument("--base-url", default=None, help="API root to use instead (overrides --production)")
    ap.add_argument("--concept", default=None, metavar="ID",
                    help="make a new version of this deposition: the id of the concept's LATEST published "
                         "deposition (default: $ZENODO_CONCEPT_ID; unset: a new, first deposition)")
    ap.add_argument("--resume", default=None, metavar="DRAFT_ID",
                    help="continue an unpublished draft left by a failed run")
    ap.add_argument("--publication-date", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                    help="publication date in the metadata (default: today)")
    ap.add_argument("--max-attempts", type=_positive_int, default=5, metavar="N",
                    help="attempts per request on 429, 5xx or connection errors (default: 5)")
    ap.add_argument("--retry-delay", type=_seconds, default=2.0, metavar="SECONDS",
                    help="first backoff delay, doubled on each retry (default: 2)")


def _resume_command(args: argparse.Namespace, draft_id: int | str) -> str:
    cmd = ["pedall", "zenodo", str(args.release), "--resume", str(draft_id)]
    if args.publish:
        cmd.append("--publish")
    if args.base_url:
        cmd += ["--base-url", args.base_url]
    elif args.production:
        cmd.append("--production")
    if args.publication_date:
        cmd += ["--publication-date", args.publication_date.isoformat()]
    return shlex.join(cmd)


def _usage(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run `pedall zenodo` from parsed arguments; returns the exit code (0 done, 1 refused/failed, 2 usage)."""
    base_url = args.base_url or (PRODUCTION_URL if args.production else SANDBOX_URL)
    if args.concept and args.resume:
        return _usage("--concept and --resume exclude each other: a resumed draft already knows its concept")
    # The environment's concept is ignored on --resume, so the workflow's variable cannot get in the way.
    concept = None if args.resume else (args.concept or os.environ.get("ZENODO_CONCEPT_ID", "").strip() or None)
    for label, value in (("--concept/ZENODO_CONCEPT_ID", concept), ("--resume", args.resume)):
        if value is not None and not value.isdigit():
            return _usage(f"{label} must be a numeric deposition id, not {value!r}")
    try:
        check_base_url(base_url)
    except ValueError as exc:
        return _usage(str(exc))
    token = os.environ.get("ZENODO_TOKEN", "").strip() or None
    if not token and not args.dry_run:
        return _usage("set ZENODO_TOKEN to a Zenodo token with deposit:write and deposit:actions (or use --dry-run)")
    try:
        deposit(args.release, token=token, base_url=base_url, publish=args.publish, dry_run=args.dry_run,
                concept_id=concept, resume=args.resume, publication_date=args.publication_date,
                attempts=args.max_attempts, retry_delay=args.retry_delay)
    except ReleaseError as exc:
        print(f"{PROG}: refused: {exc}", file=sys.stderr)
        return 1
    except ZenodoError as exc:
        print(f"{PROG}: failed: {exc}", file=sys.stderr)
        if exc.publish_unknown:
            # Say only what is known: a resume would refuse a published deposition, and a new run would
            # create a second one, so the state must be looked at first.
            where = f" ({exc.draft_html})" if exc.draft_html else ""
            print(f"{PROG}: whether deposition {exc.draft_id} got published is unknown{where}: look at it before "
                  "any new run", file=sys.stderr)
            return 1
        if exc.draft_id is not None:
            where = f" ({exc.draft_html})" if exc.draft_html else ""
            print(f"{PROG}: draft {exc.draft_id} is left unpublished{where}", file=sys.stderr)
            print(f"{PROG}: resume with: {_resume_command(args, exc.draft_id)}", file=sys.stderr)
        print(f"{PROG}: nothing was published", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description="Deposit a built release on Zenodo (sandbox by default). "
                                 "The token is read from $ZENODO_TOKEN.")
    add_arguments(ap)
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:  # argparse exits on usage errors and --help; keep main's int contract
        return exc.code if isinstance(exc.code, int) else 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
