"""File checksums and SHA256SUMS files, kept free of heavy imports so every command can use them.

One reader of the sha256sum format serves the build's records, `pedall check-release` and
`pedall zenodo`, so the three agree on what a valid listing is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .metadata import ReleaseError

_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")  # sha256sum's text and binary forms


def stream_digest(fh: BinaryIO, algo: str = "sha256") -> str:
    h = hashlib.new(algo, usedforsecurity=False) if algo == "md5" else hashlib.new(algo)
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def file_digest(path: Path, algo: str = "sha256") -> str:
    with path.open("rb") as fh:
        return stream_digest(fh, algo)


def sha256(path: Path) -> str:
    return file_digest(path, "sha256")


def parse_sums(text: str, where: str) -> dict[str, tuple[int, str]]:
    """relative path -> (line number, lowercase sha256); refuses malformed lines and unsafe paths."""
    listed: dict[str, tuple[int, str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _SUM_LINE.match(line)
        rel = PurePosixPath(m.group(2)) if m else None
        if m is None or rel is None or rel.is_absolute() or ".." in rel.parts:
            raise ReleaseError(f"{where}: line {n} is not '<sha256>  <relative path>': {line!r}")
        listed[m.group(2)] = (n, m.group(1).lower())
    if not listed:
        raise ReleaseError(f"{where} lists no files")
    return listed


def mismatches(listed: dict[str, tuple[int, str]],
               digest_of: Callable[[str], str | None]) -> list[tuple[int, str, str]]:
    """(line, path, 'missing' | 'differs') for every listed file absent or not matching its digest.

    digest_of returns the sha256 of a listed path, or None when it is absent.
    """
    out = []
    for rel, (n, want) in listed.items():
        got = digest_of(rel)
        if got is None:
            out.append((n, rel, "missing"))
        elif got != want:
            out.append((n, rel, "differs"))
    return out


def sidecar_matches(path: Path, sums: Path) -> bool:
    """Whether a single-file checksum file (`<sha256>  <name>`) matches the file."""
    words = sums.read_text(encoding="utf-8").split()
    return bool(words) and words[0].lower() == sha256(path)
