"""Read one CSV file into text columns, whatever its bytes: damage becomes problems, never exceptions.

A clean file is parsed by pyarrow (multi-threaded, no Python per row). Anything the fast reader
cannot vouch for (a decoding failure, a wrong number of cells, an odd number of quote characters)
is read again by Python's csv module in strict mode, which knows the record number of each
fault; that slow path runs only on damaged files, which are small or about to be fixed.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pacsv

from .problems import Problem


@dataclass
class TextTable:
    """Cells as text. Row i of `columns` is CSV record `i + 2` unless `structural` is set."""

    path: str
    header: list[str]
    columns: list[pa.Array | pa.ChunkedArray]  # one string column per header position, equal lengths
    problems: list[Problem] = field(default_factory=list)
    structural: bool = False  # rows were lost or misaligned: types and row numbers cannot be trusted

    @property
    def num_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def column(self, name: str) -> pa.Array | pa.ChunkedArray:
        return self.columns[self.header.index(name)]


_CONTENT = re.compile(rb"[^\r\n\t \xef\xbb\xbf]")


def read(path: str, data: bytes) -> TextTable:
    """Parse `data` (the bytes of `path`, relative to the package root for messages)."""
    if not _CONTENT.search(data):
        return TextTable(path, [], [], [Problem(path, 1, "-", "file is empty: it needs at least its header row",
                                                "empty-file")], structural=True)
    # The fast path needs no copy of the data: pyarrow checks UTF-8 itself, and a BOM, a NUL byte or
    # an odd number of quotes sends the file to the careful reader.
    if not data.startswith(codecs.BOM_UTF8) and b"\x00" not in data and data.count(b'"') % 2 == 0:
        table = _fast(path, data)
        if table is not None:
            return table
    problems = _byte_problems(path, data)
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if b"\x00" in data:
        data = data.replace(b"\x00", b"")  # reported above; removed so that the rest can still be checked
    table = _slow(path, data.decode("utf-8", errors="replace"))
    table.problems[:0] = problems
    # Text that is not UTF-8 has no reliable cells: checking the replacement characters would
    # only echo the one fault.
    table.structural = table.structural or any(p.rule == "encoding-error" for p in problems)
    return table


def _byte_problems(path: str, data: bytes) -> list[Problem]:
    out = []
    if data.startswith(codecs.BOM_UTF8):
        out.append(Problem(path, 1, "-", "file starts with a byte-order mark: save it as UTF-8 without BOM",
                           "utf8-no-bom"))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        out.append(Problem(path, line, "-", f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}"
                           " (row given as the line of the file)", "encoding-error"))
    nul = data.find(b"\x00")
    if nul >= 0:
        count = data.count(b"\x00")
        out.append(Problem(path, data.count(b"\n", 0, nul) + 1, "-",
                           f"NUL byte at offset {nul} ({count} in the file)", "no-nul-bytes"))
    return out


def _header(data: bytes) -> list[str] | None:
    # The header is parsed alone so that every data column can be read as text by name.
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).rstrip(b"\r")
    if b'"' in first and first.count(b'"') % 2:
        return None  # a quoted newline in the header: leave it to the careful reader
    try:
        return next(csv.reader([first.decode("utf-8")], strict=True), [])
    except (UnicodeDecodeError, csv.Error):
        return None


def _fast(path: str, data: bytes) -> TextTable | None:
    header = _header(data)
    if not header:
        return None
    names = [f"c{i}" for i in range(len(header))]
    try:
        # No invalid_row_handler: pyarrow would decode a bad row's text for it, and a row that is
        # not UTF-8 then prints an "Exception ignored" traceback. A wrong cell count simply fails here.
        tbl = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowException, ValueError, OSError):
        return None  # a wrong cell count, invalid UTF-8, a row longer than a parse block: the careful reader
    columns = [tbl.column(n) for n in names]  # chunked as read: combining would copy every string
    table = TextTable(path, header, columns)
    _blank_rows_fast(table)
    return table


def _blank_rows_fast(table: TextTable) -> None:
    # pyarrow turns an empty line into a row of empty cells; a row of nothing but empty cells is a
    # blank row however it was written.
    import pyarrow.compute as pc

    blank = None
    for col in table.columns:
        empty = pc.equal(pc.utf8_length(col), 0)
        blank = empty if blank is None else pc.and_(blank, empty)
    if blank is None or not pc.any(blank).as_py():
        return
    for i in pc.indices_nonzero(blank).to_pylist():
        table.problems.append(Problem(table.path, i + 2, "-", "blank row", "blank-row"))
    table.structural = True


def _slow(path: str, text: str) -> TextTable:
    csv.field_size_limit(sys.maxsize)  # a 10 MB cell is valid CSV; the schema decides whether it is valid data
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    header: list[str] = []
    rows: list[list[str]] = []
    structural = False
    record = 0
    try:
        for record, cells in enumerate(reader, start=1):
            if record == 1:
                header = cells
                continue
            if not cells or all(c == "" for c in cells):
                problems.append(Problem(path, record, "-", "blank row", "blank-row"))
                structural = True
            elif len(cells) != len(header):
                problems.append(_cell_count(path, record, header, cells))
                structural = True
            else:
                rows.append(cells)
    except csv.Error as exc:
        problems.append(Problem(path, record + 1, "-", f"cannot parse the CSV from here on: {exc}"
                                " (an unbalanced quote?)", "csv-syntax"))
        structural = True
    if not header:
        problems.append(Problem(path, 1, "-", "no header row", "empty-file"))
        return TextTable(path, [], [], problems, structural=True)
    columns = [pa.array([r[i] for r in rows], type=pa.string()) for i in range(len(header))]
    return TextTable(path, header, columns, problems, structural)


def _cell_count(path: str, record: int, header: list[str], cells: list[str]) -> Problem:
    n, want = len(cells), len(header)
    if n < want:
        return Problem(path, record, header[n] or "-", f"row has {n} cells, the header {want}: cells from "
                       f"{header[n]!r} on are missing", "missing-cell")
    return Problem(path, record, "-", f"row has {n} cells, the header {want}: {n - want} extra cell(s)",
                   "extra-cell")
