"""`pedall zenodo` against a local fake of the Zenodo deposit API (tests/zenodo_fake.py).

Each test builds a small fake release in tmp_path, independent of the real build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import socket
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pedall import zenodo
from zenodo_fake import FakeZenodo

TOKEN = "tok-S3CRET-4f0c9e"  # distinctive, so a leak anywhere in the output is easy to catch
EXPIRED = "tok-EXPIRED-77aa01"
PUB_DATE = "2026-01-02"
Run = Callable[..., tuple[int, str]]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def write_zip(folder: Path, dest: Path, replace: dict[str, bytes] | None = None) -> None:
    """The release zip: every file but pedall.duckdb, under '<folder name>/'; `replace` swaps member bytes."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder).as_posix()
            if p.is_file() and rel != "pedall.duckdb":
                zf.writestr(f"{folder.name}/{rel}", (replace or {}).get(rel, p.read_bytes()))


def make_release(dist: Path, version: str = "9.9.9") -> Path:
    name = f"pedall-{version}"
    folder = dist / name
    (folder / "data").mkdir(parents=True)
    zen = {"upload_type": "dataset", "title": "pedall test release", "version": version,
           "creators": [{"name": "Curator, Test"}], "description": "A tiny fake release.",
           "license": "cc-by-4.0", "keywords": ["test"],
           "related_identifiers": [{"identifier": "10.69898/jhtm.35.2025.277933", "relation": "isDerivedFrom",
                                    "scheme": "doi",
                                    "resource_type": "publication-article"}]}
    # Complete enough to pass every check of `pedall check-release`, which pedall zenodo runs first.
    cff = (f'cff-version: 1.2.0\nmessage: "Cite this version."\ntype: dataset\ntitle: "pedall test release"\n'
           f'version: "{version}"\nauthors:\n  - name: "Curator, Test"\n')
    files = {"datapackage.json": json.dumps({"name": "pedall", "version": version, "resources": []}),
             ".zenodo.json": json.dumps(zen), "README.md": f"# pedall {version}\n",
             "CITATION.cff": cff, "CHANGELOG.md": f"# Changelog\n\n## [{version}]\n\n- A fake release.\n",
             "data/studies.csv": f"study_id,title\nS1,ELIANA {version}\n"}
    for rel, text in files.items():
        (folder / rel).write_text(text, encoding="utf-8")
    (folder / "SHA256SUMS").write_text(
        "".join(f"{_sha((folder / r).read_bytes())}  {r}\n" for r in sorted(files)), encoding="utf-8")
    (folder / "pedall.duckdb").write_bytes(b"DUCK" * 64)  # in the folder, but neither in the zip nor the sums
    write_zip(folder, dist / f"{name}.zip")
    db = dist / f"{name}.duckdb"
    db.write_bytes(b"DUCKDB" + version.encode() * 500)
    (dist / f"{name}.duckdb.sha256").write_text(f"{_sha(db.read_bytes())}  {db.name}\n", encoding="utf-8")
    return folder


def upload_names(folder: Path) -> list[str]:
    return [f"{folder.name}.zip", f"{folder.name}.duckdb", f"{folder.name}.duckdb.sha256"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment must not intercept calls to the local fake; no stray Zenodo settings.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                "ZENODO_TOKEN", "ZENODO_CONCEPT_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def fake() -> Iterator[FakeZenodo]:
    with FakeZenodo(token=TOKEN, expired_token=EXPIRED) as server:
        yield server


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    d = tmp_path / "dist"
    d.mkdir()
    return d


@pytest.fixture
def rel(dist: Path) -> Path:
    return make_release(dist)


@pytest.fixture
def run(fake: FakeZenodo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> Run:
    """Run the command against the fake; return (exit code, stdout + stderr + log records)."""
    caplog.set_level(logging.DEBUG)  # urllib3's debug log included: the token must not be there either

    def _run(*args: str, token: str | None = TOKEN, base: bool = True) -> tuple[int, str]:
        if token is None:
            monkeypatch.delenv("ZENODO_TOKEN", raising=False)
        else:
            monkeypatch.setenv("ZENODO_TOKEN", token)
        extra = ["--base-url", fake.base_url] if base else []
        code = zenodo.main([*args, *extra, "--retry-delay", "0", "--publication-date", PUB_DATE])
        captured = capsys.readouterr()
        output = captured.out + captured.err + caplog.text
        caplog.clear()
        assert TOKEN not in output and EXPIRED not in output, "the token leaked into the output"
        return code, output

    return _run


def only_deposition(fake: FakeZenodo) -> int:
    assert len(fake.depositions) == 1, fake.depositions
    return next(iter(fake.depositions))


def assert_holds_release(fake: FakeZenodo, dep_id: int, folder: Path) -> None:
    dist = folder.parent
    assert fake.files_of(dep_id) == {n: _md5(dist / n) for n in upload_names(folder)}
    d = fake.depositions[dep_id]
    assert {n: d.blobs[n] for n in d.blobs} == {n: (dist / n).read_bytes() for n in upload_names(folder)}


# 1 -----------------------------------------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_sends_nothing(run: Run, fake: FakeZenodo, rel: Path) -> None:
    code, out = run(str(rel), "--dry-run", "--publish")
    assert code == 0, out
    assert fake.requests == []
    assert "new deposition" in out
    for name in upload_names(rel):
        p = rel.parent / name
        assert f"{name}  {p.stat().st_size} bytes  sha256 {_sha(p.read_bytes())}" in out
    assert '"version": "9.9.9"' in out and f'"publication_date": "{PUB_DATE}"' in out
    assert '"upload_type": "dataset"' in out and "then: publish" in out


def test_dry_run_needs_no_token_and_runs_as_a_module(rel: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZENODO_")}
    proc = subprocess.run([sys.executable, "-m", "pedall.zenodo", str(rel.parent / f"{rel.name}.zip"),
                           "--dry-run", "--concept", "42"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "new version of published deposition 42" in proc.stdout and "nothing is sent" in proc.stdout


def test_without_token_is_a_usage_error(run: Run, fake: FakeZenodo, rel: Path) -> None:
    code, out = run(str(rel), token=None)
    assert code == 2 and "ZENODO_TOKEN" in out
    assert fake.requests == []


def test_bad_ids_and_plain_http_are_usage_errors(run: Run, fake: FakeZenodo, rel: Path) -> None:
    assert run(str(rel), "--concept", "../1")[0] == 2
    assert run(str(rel), "--concept", "1", "--resume", "2")[0] == 2
    code, out = run(str(rel), "--base-url", "http://zenodo.example.org/api", base=False)
    assert code == 2 and "https" in out
    assert fake.requests == []


# 2, 3 --------------------------------------------------------------------------------------------------------


def test_first_deposition_without_publish(run: Run, fake: FakeZenodo, rel: Path) -> None:
    code, out = run(str(rel))
    assert code == 0, out
    dep_id = only_deposition(fake)
    assert_holds_release(fake, dep_id, rel)
    d = fake.depositions[dep_id]
    assert not d.submitted and d.doi is None
    assert d.metadata["version"] == "9.9.9" and d.metadata["publication_date"] == PUB_DATE
    assert d.metadata["upload_type"] == "dataset" and d.metadata["title"] == "pedall test release"
    assert d.metadata["creators"] == [{"name": "Curator, Test"}] and d.metadata["license"] == "cc-by-4.0"
    assert fake.calls("POST", "/actions/publish") == []
    assert "NOT published" in out
    assert {r.authorization for r in fake.requests} == {f"Bearer {TOKEN}"}
    first = fake.requests[0]
    assert (first.method, first.path, first.json()) == ("POST", "/api/deposit/depositions", {})
    assert [r.path.rsplit("/", 1)[-1] for r in fake.calls("PUT", "^/api/files/")] == upload_names(rel)


def test_first_deposition_with_publish_prints_the_doi(run: Run, fake: FakeZenodo, rel: Path) -> None:
    code, out = run(str(rel), "--publish")
    assert code == 0, out
    dep_id = only_deposition(fake)
    assert fake.depositions[dep_id].submitted
    assert_holds_release(fake, dep_id, rel)
    assert f"DOI 10.5072/zenodo.{dep_id}" in out
    assert f"ZENODO_CONCEPT_ID={dep_id}" in out
    # metadata is set before the publish call
    order = [(r.method, r.path) for r in fake.requests if r.method in ("PUT", "POST") and "/files/" not in r.path]
    assert order[-2:] == [("PUT", f"/api/deposit/depositions/{dep_id}"),
                          ("POST", f"/api/deposit/depositions/{dep_id}/actions/publish")]


def test_zip_given_instead_of_folder(run: Run, fake: FakeZenodo, rel: Path) -> None:
    code, out = run(str(rel.parent / f"{rel.name}.zip"), "--publish")
    assert code == 0, out
    assert_holds_release(fake, only_deposition(fake), rel)


def test_absent_duckdb_uploads_the_rest_and_says_so(run: Run, fake: FakeZenodo, rel: Path) -> None:
    (rel.parent / f"{rel.name}.duckdb").unlink()
    code, out = run(str(rel), "--publish")
    assert code == 0, out
    assert f"{rel.name}.duckdb is absent" in out
    assert set(fake.files_of(only_deposition(fake))) == {f"{rel.name}.zip", f"{rel.name}.duckdb.sha256"}


# 4 -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["flag", "env"])
def test_new_version_replaces_inherited_files(run: Run, fake: FakeZenodo, dist: Path, rel: Path,
                                              monkeypatch: pytest.MonkeyPatch, via: str) -> None:
    assert run(str(rel), "--publish")[0] == 0
    first = only_deposition(fake)
    fake.requests.clear()
    nxt = make_release(dist, "9.9.10")
    if via == "env":
        monkeypatch.setenv("ZENODO_CONCEPT_ID", str(first))
    code, out = run(str(nxt), "--publish", *(["--concept", str(first)] if via == "flag" else []))
    assert code == 0, out
    assert fake.calls("POST")[0].path == f"/api/deposit/depositions/{first}/actions/newversion"
    draft = max(fake.depositions)
    assert draft != first and fake.depositions[draft].concept == fake.depositions[first].concept
    deleted = fake.calls("DELETE", f"^/api/deposit/depositions/{draft}/files/")
    assert len(deleted) == 3 and all(r.status == 204 for r in deleted)
    assert_holds_release(fake, draft, nxt)
    assert fake.depositions[draft].submitted and f"DOI 10.5072/zenodo.{draft}" in out
    assert fake.depositions[draft].metadata["version"] == "9.9.10"
    assert_holds_release(fake, first, rel)  # the published first version is untouched


def test_new_version_of_an_unknown_deposition_fails(run: Run, fake: FakeZenodo, rel: Path) -> None:
    code, out = run(str(rel), "--publish", "--concept", "999999")
    assert code == 1 and "404" in out and "nothing was published" in out
    assert not fake.depositions


# 5 -----------------------------------------------------------------------------------------------------------


def test_expired_token_is_not_retried(run: Run, fake: FakeZenodo, rel: Path) -> None:
    code, out = run(str(rel), "--publish", token=EXPIRED)
    assert code == 1
    assert "token" in out.lower() and "invalid or expired" in out
    assert [(r.method, r.status) for r in fake.requests] == [("POST", 401)]
    assert "retry" not in out


# 6 -----------------------------------------------------------------------------------------------------------


def test_failed_upload_leaves_a_draft_that_resumes(run: Run, fake: FakeZenodo, rel: Path) -> None:
    fake.fail_bucket_put(2, always=True)  # the .duckdb file never gets through
    code, out = run(str(rel), "--publish", "--max-attempts", "3")
    assert code == 1
    dep_id = only_deposition(fake)
    assert f"draft {dep_id} is left unpublished" in out and f"--resume {dep_id}" in out
    assert fake.calls("POST", "/actions/publish") == [] and not fake.depositions[dep_id].submitted
    puts = fake.calls("PUT", "^/api/files/")
    assert [r.status for r in puts] == [201, 500, 500, 500]
    assert set(fake.files_of(dep_id)) == {f"{rel.name}.zip"}

    # Resume with the printed command, the fault gone: only the missing files go up.
    fake.clear_faults()
    fake.requests.clear()
    line = next(ln for ln in out.splitlines() if "resume with: " in ln)
    argv = shlex.split(line.split("resume with: ", 1)[1])
    assert argv[:2] == ["pedall", "zenodo"] and "--publish" in argv
    code, out = run(*argv[2:], base=False)
    assert code == 0, out
    assert [r.path.rsplit("/", 1)[-1] for r in fake.calls("PUT", "^/api/files/")] == upload_names(rel)[1:]
    assert fake.calls("POST", "^/api/deposit/depositions$") == []  # no second deposition
    assert f"skip {rel.name}.zip" in out
    assert fake.depositions[dep_id].submitted and f"DOI 10.5072/zenodo.{dep_id}" in out
    assert_holds_release(fake, dep_id, rel)


def test_resume_replaces_a_file_with_a_different_checksum(run: Run, fake: FakeZenodo, rel: Path) -> None:
    fake.corrupt_checksum(1)  # the server stores the zip but reports a wrong md5
    code, out = run(str(rel), "--publish")
    assert code == 1 and "md5" in out and "nothing was published" in out
    dep_id = only_deposition(fake)
    assert not fake.depositions[dep_id].submitted and len(fake.calls("PUT", "^/api/files/")) == 1
    # Stand-in for a really damaged upload: the stored zip's checksum differs from the local one.
    fake.depositions[dep_id].files[f"{rel.name}.zip"]["checksum"] = "0" * 32
    fake.requests.clear()
    code, out = run(str(rel), "--resume", str(dep_id), "--publish")
    assert code == 0, out
    assert len(fake.calls("DELETE")) == 1
    assert [r.path.rsplit("/", 1)[-1] for r in fake.calls("PUT", "^/api/files/")] == upload_names(rel)
    assert_holds_release(fake, dep_id, rel)


def test_resume_of_a_published_deposition_is_refused(run: Run, fake: FakeZenodo, rel: Path) -> None:
    assert run(str(rel), "--publish")[0] == 0
    dep_id = only_deposition(fake)
    code, out = run(str(rel), "--resume", str(dep_id), "--publish")
    assert code == 1 and "already published" in out


# 7 -----------------------------------------------------------------------------------------------------------


def test_transient_500_and_429_are_retried(run: Run, fake: FakeZenodo, rel: Path) -> None:
    fake.fail_bucket_put(2)  # once
    fake.throttle_once("/api/files/", retry_after="0")
    code, out = run(str(rel), "--publish")
    assert code == 0, out
    statuses = [r.status for r in fake.calls("PUT", "^/api/files/")]
    assert sorted(statuses) == [201, 201, 201, 429, 500]
    assert "HTTP 429" in out and "HTTP 500" in out
    dep_id = only_deposition(fake)
    assert fake.depositions[dep_id].submitted
    assert_holds_release(fake, dep_id, rel)


def test_backoff_doubles_and_honours_retry_after(fake: FakeZenodo, rel: Path) -> None:
    slept: list[float] = []
    fake.throttle_once("/api/deposit/depositions", retry_after="3")
    client = zenodo.ZenodoClient(fake.base_url, TOKEN, attempts=4, retry_delay=0.5, sleep=slept.append,
                                 out=lambda _: None)
    draft = client.create()
    assert slept == [3.0]
    fake.fail_bucket_put(1, always=True)
    with pytest.raises(zenodo.ZenodoError, match="gave up after 4 attempts"):
        client.upload(draft["links"]["bucket"], rel / "README.md", "README.md")
    assert slept == [3.0, 0.5, 1.0, 2.0]
    client.close()


def test_connection_errors_are_retried_then_reported(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slept: list[float] = []
    client = zenodo.ZenodoClient(f"http://127.0.0.1:{port}/api", TOKEN, attempts=3, retry_delay=0, sleep=slept.append,
                                 out=lambda _: None)
    with pytest.raises(zenodo.ZenodoError, match="ConnectionError") as err:
        client.create()
    assert len(slept) == 2 and TOKEN not in str(err.value)
    client.close()


def test_links_to_another_host_get_no_token(fake: FakeZenodo) -> None:
    client = zenodo.ZenodoClient(fake.base_url, TOKEN, attempts=1, out=lambda _: None)
    with pytest.raises(zenodo.ZenodoError, match="refusing to send the token"):
        client.get_url("https://evil.example.org/api/deposit/depositions/1")
    assert fake.requests == []
    client.close()


# 8 -----------------------------------------------------------------------------------------------------------


def test_altered_release_file_is_refused_before_any_request(run: Run, fake: FakeZenodo, rel: Path) -> None:
    csv = rel / "data" / "studies.csv"
    data = bytearray(csv.read_bytes())
    data[-3] ^= 0x01  # one flipped bit
    csv.write_bytes(bytes(data))
    code, out = run(str(rel), "--publish")
    assert code == 1 and "refused" in out and "data/studies.csv does not match its checksum" in out
    assert fake.requests == []


def test_missing_listed_file_is_refused(run: Run, fake: FakeZenodo, rel: Path) -> None:
    (rel / "README.md").unlink()
    code, out = run(str(rel), "--publish")
    assert code == 1 and "README.md is missing" in out
    assert fake.requests == []


@pytest.mark.parametrize("given", ["zip", "folder"])
def test_zip_with_an_altered_member_is_refused(run: Run, fake: FakeZenodo, rel: Path, given: str) -> None:
    # The folder stays intact; only the zip (what would be uploaded) has one changed byte in a member.
    zpath = rel.parent / f"{rel.name}.zip"
    readme = (rel / "README.md").read_bytes()
    write_zip(rel, zpath, replace={"README.md": readme[:-2] + b"?" + readme[-1:]})
    code, out = run(str(zpath if given == "zip" else rel), "--publish")
    assert code == 1 and "README.md does not match its checksum" in out
    assert fake.requests == []


def test_corrupt_zip_bytes_are_refused(run: Run, fake: FakeZenodo, rel: Path) -> None:
    zpath = rel.parent / f"{rel.name}.zip"
    data = bytearray(zpath.read_bytes())
    data[60] ^= 0xFF  # inside the first member's compressed data
    zpath.write_bytes(bytes(data))
    code, out = run(str(zpath), "--publish")
    assert code == 1 and "refused" in out
    assert fake.requests == []


def test_unlisted_file_in_zip_is_refused(run: Run, fake: FakeZenodo, rel: Path) -> None:
    with zipfile.ZipFile(rel.parent / f"{rel.name}.zip", "a") as zf:
        zf.writestr(f"{rel.name}/extra.txt", "not in SHA256SUMS")
    code, out = run(str(rel), "--publish")
    assert code == 1 and "extra.txt is not listed in SHA256SUMS" in out
    assert fake.requests == []


def test_folder_without_its_zip_is_refused(run: Run, fake: FakeZenodo, rel: Path) -> None:
    (rel.parent / f"{rel.name}.zip").unlink()
    code, out = run(str(rel), "--publish")
    assert code == 1 and f"{rel.name}.zip is missing" in out
    assert fake.requests == []


def test_duckdb_not_matching_its_checksum_is_refused(run: Run, fake: FakeZenodo, rel: Path) -> None:
    (rel.parent / f"{rel.name}.duckdb").write_bytes(b"something else")
    code, out = run(str(rel), "--publish")
    assert code == 1 and ".duckdb does not match" in out
    assert fake.requests == []


# Publishing after an ambiguous answer: the state is read back, never published twice, and the command
# reports what is true.

PUBLISH = r"/actions/publish$"


def test_publish_that_succeeded_behind_a_502_is_reported_as_published(run: Run, fake: FakeZenodo,
                                                                        rel: Path) -> None:
    fake.fail_publish(502, acted=True)
    code, out = run(str(rel), "--publish")
    assert code == 0, out
    dep_id = only_deposition(fake)
    assert fake.depositions[dep_id].submitted
    assert len(fake.calls("POST", PUBLISH)) == 1  # read back instead of sent again
    assert fake.calls("GET", rf"/depositions/{dep_id}$")
    assert "read back: it IS published" in out and f"DOI 10.5072/zenodo.{dep_id}" in out
    assert "nothing was published" not in out


def test_publish_that_did_not_happen_is_sent_again_after_reading_back(run: Run, fake: FakeZenodo,
                                                                       rel: Path) -> None:
    fake.fail_publish(502, acted=False)
    code, out = run(str(rel), "--publish")
    assert code == 0, out
    dep_id = only_deposition(fake)
    assert fake.depositions[dep_id].submitted
    assert [r.status for r in fake.calls("POST", PUBLISH)] == [502, 202]
    assert "is not published" in out


def test_publish_failing_every_time_says_nothing_was_published_and_is_true(run: Run, fake: FakeZenodo,
                                                                           rel: Path) -> None:
    fake.fail_publish(502, acted=False, times=99)
    code, out = run(str(rel), "--publish", "--max-attempts", "3")
    assert code == 1
    dep_id = only_deposition(fake)
    assert not fake.depositions[dep_id].submitted
    assert len(fake.calls("POST", PUBLISH)) == 3
    assert "NOT published" in out and "nothing was published" in out and "--resume" in out


def test_unknown_state_is_reported_as_unknown(run: Run, fake: FakeZenodo, rel: Path) -> None:
    fake.fail_publish(502, acted=True)
    fake.fail_get(99)  # and the read-back never gets through
    code, out = run(str(rel), "--publish", "--max-attempts", "2")
    assert code == 1
    assert fake.depositions[only_deposition(fake)].submitted  # it was, in fact, published
    assert "unknown" in out and "nothing was published" not in out and "left unpublished" not in out
    assert len(fake.calls("POST", PUBLISH)) == 1


def test_a_plain_refusal_is_not_retried(run: Run, fake: FakeZenodo, rel: Path) -> None:
    fake.fail_publish(400, acted=False)
    code, out = run(str(rel), "--publish")
    assert code == 1
    assert len(fake.calls("POST", PUBLISH)) == 1 and not fake.calls("GET", r"/depositions/\d+$")
    assert "nothing was published" in out


def test_the_r_package_beside_the_release_is_uploaded(rel: Path) -> None:
    tarball = rel.parent / f"pedall_{rel.name.removeprefix('pedall-')}.tar.gz"
    assert [u.path.name for u in zenodo.load_release(rel).uploads] == upload_names(rel)
    tarball.write_bytes(b"an R source package")
    assert [u.path.name for u in zenodo.load_release(rel).uploads] == [*upload_names(rel), tarball.name]
