"""An in-memory fake of the Zenodo deposit REST API, served on 127.0.0.1 for the tests.

It implements the documented calls `pedall zenodo` makes (https://developers.zenodo.org): create, get and
update depositions, list and delete their files, upload through the bucket API, newversion and publish. It
checks the Bearer token, validates metadata the way Zenodo requires, records every request, and can inject
faults: a 500 on the Nth bucket PUT (once, or for every later PUT of that file), a 429 with Retry-After,
a wrong checksum in an upload response, a 5xx on publish (after publishing or not) and 503 on GETs. It
is a model of the documentation, not of the live service.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

MAX_BODY = 64 << 20  # bounded: a larger upload gets 413 rather than filling memory
Reply = tuple[int, Any, dict[str, str]]


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Deposition:
    id: int
    concept: int
    bucket: str
    metadata: dict[str, Any] = field(default_factory=dict)
    metadata_set: bool = False
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # filename -> file entry, in upload order
    blobs: dict[str, bytes] = field(default_factory=dict)
    submitted: bool = False
    doi: str | None = None
    latest_draft: int | None = None  # set on a published deposition by newversion


REQUIRED = ("title", "upload_type", "description", "creators", "version")
UPLOAD_TYPES = {"publication", "poster", "presentation", "dataset", "image", "video", "software", "lesson",
                "physicalobject", "other"}


def validate_metadata(meta: Any) -> list[dict[str, str]]:
    """Zenodo-like validation errors for a deposit's metadata (empty when valid)."""
    if not isinstance(meta, dict):
        return [{"field": "metadata", "message": "Missing or invalid metadata object."}]
    errors = [{"field": f"metadata.{k}", "message": "Field is required."} for k in REQUIRED if not meta.get(k)]
    if not (meta.get("license") or meta.get("access_right")):
        errors.append({"field": "metadata.license", "message": "license or access_right is required."})
    if meta.get("upload_type") and meta["upload_type"] not in UPLOAD_TYPES:
        errors.append({"field": "metadata.upload_type", "message": "Invalid upload type."})
    creators = meta.get("creators")
    if creators is not None and not (isinstance(creators, list) and all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"] for c in creators)):
        errors.append({"field": "metadata.creators", "message": "Each creator needs a name."})
    if "publication_date" in meta:
        try:
            date.fromisoformat(str(meta["publication_date"]))
        except ValueError:
            errors.append({"field": "metadata.publication_date", "message": "Not a valid date."})
    return errors


class FakeZenodo:
    """Start with `with FakeZenodo() as fake:`; point the client at `fake.base_url`."""

    def __init__(self, token: str = "valid-token", expired_token: str = "expired-token") -> None:
        self.token, self.expired_token = token, expired_token
        self.requests: list[Recorded] = []
        self.depositions: dict[int, Deposition] = {}
        self._buckets: dict[str, int] = {}
        self._next_id = 1000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.clear_faults()

    # -- faults ------------------------------------------------------------------------------------------------

    def clear_faults(self) -> None:
        self._puts = 0  # bucket PUTs so far, failed ones included
        self._fail_nth: int | None = None
        self._fail_always = False
        self._failing_key: str | None = None
        self._bad_checksum_nth: int | None = None
        self._throttle: list[tuple[str, str]] = []  # (path fragment, Retry-After) for pending 429s
        self._publish_faults: list[tuple[int, bool]] = []  # (status, act first) for the next publish calls
        self._get_faults = 0  # deposition GETs still to answer with 503

    def fail_bucket_put(self, nth: int, *, always: bool = False) -> None:
        """Answer the nth bucket PUT from now with 500; with `always`, every later PUT of that file too."""
        self._fail_nth, self._fail_always, self._failing_key = self._puts + nth, always, None

    def corrupt_checksum(self, nth: int) -> None:
        """Store the nth bucket PUT from now but report a wrong md5 for it."""
        self._bad_checksum_nth = self._puts + nth

    def throttle_once(self, path_fragment: str = "", retry_after: str = "0") -> None:
        """Answer the next request whose path contains `path_fragment` with 429 and this Retry-After."""
        self._throttle.append((path_fragment, retry_after))

    def fail_publish(self, status: int = 502, *, acted: bool, times: int = 1) -> None:
        """Answer the next `times` publish calls with `status`; with `acted`, after publishing all the same
        (a gateway error in front of a server that did the work)."""
        self._publish_faults += [(status, acted)] * times

    def fail_get(self, times: int) -> None:
        """Answer the next `times` deposition GETs with 503."""
        self._get_faults = times

    # -- life cycle --------------------------------------------------------------------------------------------

    def start(self) -> FakeZenodo:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)  # port 0: the OS picks a free port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-zenodo", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeZenodo:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api"

    # -- queries for tests -------------------------------------------------------------------------------------

    def calls(self, method: str | None = None, pattern: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if (method is None or r.method == method) and re.search(pattern, r.path)]

    def files_of(self, dep_id: int) -> dict[str, str]:
        """filename -> md5 of the files a deposition holds."""
        with self._lock:
            return {name: f["checksum"] for name, f in self.depositions[dep_id].files.items()}

    # -- the API -----------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, authorization: str | None, body: bytes) -> Reply:
        with self._lock:
            status, payload, headers = self._route(method, path, authorization, body)
            self.requests.append(Recorded(method, path, authorization, body, status))
        return status, payload, headers

    def _route(self, method: str, raw_path: str, authorization: str | None, body: bytes) -> Reply:
        path = urlsplit(raw_path).path
        token = authorization[len("Bearer "):] if authorization and authorization.startswith("Bearer ") else None
        if token is None:
            return _error(401, "The server could not verify that you are authorized to access the URL requested.")
        if token == self.expired_token:
            return _error(401, "The access token provided is expired, revoked, malformed, or invalid.")
        if token != self.token:
            return _error(401, "The access token provided is invalid.")
        for i, (fragment, retry_after) in enumerate(self._throttle):
            if fragment in path:
                del self._throttle[i]
                return 429, {"status": 429, "message": "Too many requests."}, {"Retry-After": retry_after}
        data: Any = None
        if body and not path.startswith("/api/files/"):
            try:
                data = json.loads(body)
            except ValueError:
                return _error(400, "Request body is not valid JSON.")
        routes: list[tuple[str, str, Any]] = [
            ("POST", r"/api/deposit/depositions", self._create),
            ("GET", r"/api/deposit/depositions/(\d+)", self._get),
            ("PUT", r"/api/deposit/depositions/(\d+)", self._update),
            ("GET", r"/api/deposit/depositions/(\d+)/files", self._list_files),
            ("DELETE", r"/api/deposit/depositions/(\d+)/files/([\w-]+)", self._delete_file),
            ("POST", r"/api/deposit/depositions/(\d+)/actions/publish", self._publish),
            ("POST", r"/api/deposit/depositions/(\d+)/actions/newversion", self._newversion),
            ("PUT", r"/api/files/([\w-]+)/([^/]+)", self._bucket_put),
        ]
        for m, pattern, fn in routes:
            match = re.fullmatch(pattern, path)
            if match and m == method:
                return fn(*match.groups(), data=data, body=body)
        return _error(404 if not any(re.fullmatch(p, path) for _, p, _ in routes) else 405, "Not found.")

    def _dep(self, dep_id: str) -> Deposition | None:
        return self.depositions.get(int(dep_id))

    def _json(self, d: Deposition) -> dict[str, Any]:
        api, html = f"{self.base_url}/deposit/depositions/{d.id}", f"{self.origin}/deposit/{d.id}"
        links = {"self": api, "html": html, "files": f"{api}/files", "publish": f"{api}/actions/publish",
                 "newversion": f"{api}/actions/newversion"}
        if not d.submitted:
            links["bucket"] = f"{self.base_url}/files/{d.bucket}"
        else:
            links["record_html"] = f"{self.origin}/records/{d.id}"
        if d.latest_draft is not None:
            links["latest_draft"] = f"{self.base_url}/deposit/depositions/{d.latest_draft}"
        out: dict[str, Any] = {"id": d.id, "conceptrecid": str(d.concept), "submitted": d.submitted,
                               "state": "done" if d.submitted else "unsubmitted",
                               "metadata": copy.deepcopy(d.metadata), "links": links,
                               "files": [self._file_json(d, f) for f in d.files.values()]}
        if d.doi:
            out |= {"doi": d.doi, "doi_url": f"https://doi.org/{d.doi}", "conceptdoi": f"10.5072/zenodo.{d.concept}"}
        return out

    def _file_json(self, d: Deposition, f: dict[str, Any]) -> dict[str, Any]:
        return {**f, "links": {"self": f"{self.base_url}/deposit/depositions/{d.id}/files/{f['id']}",
                               "download": f"{self.base_url}/files/{d.bucket}/{f['filename']}"}}

    def _new(self, concept: int | None = None) -> Deposition:
        self._next_id += 1
        d = Deposition(self._next_id, concept or self._next_id, uuid.uuid4().hex)
        self.depositions[d.id], self._buckets[d.bucket] = d, d.id
        return d

    def _create(self, *, data: Any, body: bytes) -> Reply:
        d = self._new()
        if isinstance(data, dict) and data.get("metadata"):
            d.metadata = data["metadata"]
        return 201, self._json(d), {}

    def _get(self, dep_id: str, *, data: Any, body: bytes) -> Reply:
        if self._get_faults:
            self._get_faults -= 1
            return _error(503, "Service unavailable (injected).")
        d = self._dep(dep_id)
        return (200, self._json(d), {}) if d else _error(404, "Deposition not found.")

    def _update(self, dep_id: str, *, data: Any, body: bytes) -> Reply:
        d = self._dep(dep_id)
        if d is None:
            return _error(404, "Deposition not found.")
        if d.submitted:
            return _error(400, "Published depositions cannot be edited without the edit action.")
        meta = data.get("metadata") if isinstance(data, dict) else None
        errors = validate_metadata(meta)
        if errors:
            return 400, {"status": 400, "message": "Validation error.", "errors": errors}, {}
        d.metadata, d.metadata_set = copy.deepcopy(meta), True
        return 200, self._json(d), {}

    def _list_files(self, dep_id: str, *, data: Any, body: bytes) -> Reply:
        d = self._dep(dep_id)
        return (200, [self._file_json(d, f) for f in d.files.values()], {}) if d else _error(404, "Not found.")

    def _delete_file(self, dep_id: str, file_id: str, *, data: Any, body: bytes) -> Reply:
        d = self._dep(dep_id)
        if d is None:
            return _error(404, "Deposition not found.")
        if d.submitted:
            return _error(400, "Files of a published deposition cannot be deleted.")
        for name, f in d.files.items():
            if f["id"] == file_id:
                del d.files[name], d.blobs[name]
                return 204, None, {}
        return _error(404, "File not found.")

    def _publish(self, dep_id: str, *, data: Any, body: bytes) -> Reply:
        if self._publish_faults:
            status, acted = self._publish_faults.pop(0)
            if acted:
                self._publish(dep_id, data=data, body=body)
            return _error(status, "Bad gateway (injected).")
        d = self._dep(dep_id)
        if d is None:
            return _error(404, "Deposition not found.")
        problems = []
        if d.submitted:
            problems.append("Deposition is already published.")
        if not d.metadata_set or validate_metadata(d.metadata):
            problems.append("Missing or invalid metadata.")
        if not d.files:
            problems.append("Minimum one file must be provided.")
        if problems:
            return _error(400, " ".join(problems))
        d.submitted, d.doi = True, f"10.5072/zenodo.{d.id}"
        for other in self.depositions.values():  # the concept's latest_draft link is spent once published
            if other.concept == d.concept and other.latest_draft == d.id:
                other.latest_draft = None
        return 202, self._json(d), {}

    def _newversion(self, dep_id: str, *, data: Any, body: bytes) -> Reply:
        d = self._dep(dep_id)
        if d is None:
            return _error(404, "Deposition not found.")
        published = [o.id for o in self.depositions.values() if o.concept == d.concept and o.submitted]
        if not d.submitted or d.id != max(published):
            # As documented: the id must be that of the latest published version.
            return _error(400, "The id used for a new version must be that of the latest published version.")
        if d.latest_draft is None:  # repeated calls return the same draft while it is unpublished
            new = self._new(concept=d.concept)
            new.metadata = {k: v for k, v in d.metadata.items() if k not in ("doi", "publication_date")}
            for name, f in d.files.items():
                new.files[name] = {**f, "id": uuid.uuid4().hex}
                new.blobs[name] = d.blobs[name]
            d.latest_draft = new.id
        return 201, self._json(d), {}

    def _bucket_put(self, bucket: str, key: str, *, data: Any, body: bytes) -> Reply:
        key = unquote(key)
        self._puts += 1
        if self._puts == self._fail_nth:
            self._failing_key = key
            return _error(500, "Internal server error (injected).")
        if self._fail_always and key == self._failing_key:
            return _error(500, "Internal server error (injected, always).")
        dep_id = self._buckets.get(bucket)
        if dep_id is None:
            return _error(404, "Bucket not found.")
        d = self.depositions[dep_id]
        if d.submitted:
            return _error(400, "Bucket is locked: the deposition is published.")
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        reported = hashlib.md5(body + b"!", usedforsecurity=False).hexdigest() \
            if self._puts == self._bad_checksum_nth else md5
        old = d.files.get(key)
        d.files[key] = {"id": old["id"] if old else uuid.uuid4().hex, "filename": key, "filesize": len(body),
                        "checksum": md5}
        d.blobs[key] = body
        return 201, {"key": key, "size": len(body), "checksum": f"md5:{reported}",
                     "mimetype": "application/octet-stream", "version_id": uuid.uuid4().hex,
                     "links": {"self": f"{self.base_url}/files/{bucket}/{key}"}}, {}


def _error(status: int, message: str) -> Reply:
    return status, {"status": status, "message": message}, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck connection never blocks teardown
    request_queue_size = 16


class _Handler(BaseHTTPRequestHandler):
    fake: FakeZenodo
    timeout = 10  # seconds a connection may stay idle, so a broken client cannot hold a thread for ever

    def _serve(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._reply(411, {"status": 411, "message": "Content-Length required."}, {})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self._reply(413, {"status": 413, "message": "Request entity too large."}, {})
        body = self.rfile.read(length) if length else b""  # read fully first, so errors never cut the upload
        self._reply(*self.fake.handle(self.command, self.path, self.headers.get("Authorization"), body))

    def _reply(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the requests are recorded in FakeZenodo.requests instead
