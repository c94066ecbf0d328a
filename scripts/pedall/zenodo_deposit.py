"""The deposit workflow: a new deposition, a new version of a published one, or a resumed draft;
files synchronised with md5 checks; metadata set; published only when asked.

Once a draft exists, any failure names it (ZenodoError.draft_id), so the command line can print how to
resume it; a resumed run keeps the files already uploaded with the same checksum.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .zenodo_client import Out, ZenodoClient, ZenodoError, md5_of
from .zenodo_release import Release, build_metadata, load_release


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
        if not inherited and u is not None and md5_of(f.get("checksum")) == u.md5:
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
        got = md5_of((client.upload(bucket, u.path, u.name) or {}).get("checksum"))
        if got != u.md5:
            raise ZenodoError(f"{u.name}: Zenodo reports md5 {got}, the local file has md5 {u.md5}")
        res.uploaded.append(u.name)
    # A final look at the draft, so nothing is published beside a stale or missing file.
    held = {f.get("filename"): md5_of(f.get("checksum")) for f in client.files(dep_id)}
    expected = {u.name: u.md5 for u in rel.uploads}
    if held != expected:
        raise ZenodoError(f"draft {dep_id} holds {sorted(map(str, held))}, expected {sorted(expected)} "
                          "with the local checksums")
