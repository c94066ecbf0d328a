"""A data problem, reported as `file:row: column: message [rule]`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    row: int  # CSV line number (the header is line 1); 0 for whole-file problems
    column: str
    message: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.column}: {self.message} [{self.rule}]"


def shown(value: object, limit: int = 60) -> str:
    """A cell as it can appear inside one problem line: control characters escaped, long text cut."""
    text = str(value)
    cut = len(text) > limit
    text = text[:limit].encode("unicode_escape").decode("ascii") if any(not c.isprintable() for c in text[:limit]) \
        else text[:limit]
    return text + (f"… ({len(str(value))} characters)" if cut else "")


def csv_line(index: int) -> int:
    """Line number in the CSV file of the data row at 0-based position `index`."""
    return index + 2


class DataInvalid(Exception):
    """Raised when the data fail validation; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} data problem(s)")


class UserError(Exception):
    """A failure the user can fix (bad input, missing file, refused release): one line, exit 1."""


class PoolError(UserError):
    """A pooled analysis cannot be answered from the data (unknown measure, nothing to pool, ...)."""


class QueryError(UserError):
    """SQL that the database rejects, or a file that is not a database."""


class UsageError(Exception):
    """The command was asked for something it cannot do as given (exit 2)."""
