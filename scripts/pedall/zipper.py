"""Byte-reproducible zip archives: sorted entries, fixed dates and permissions."""

from __future__ import annotations

import zipfile
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_zip(folder: Path, dest: Path, exclude: set[str]) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() not in exclude)
    with zipfile.ZipFile(dest, "w") as zf:
        for p in files:
            info = zipfile.ZipInfo(f"{folder.name}/{p.relative_to(folder).as_posix()}", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the building machine
            zf.writestr(info, p.read_bytes(), compresslevel=9)
