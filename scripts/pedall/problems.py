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


def csv_line(index: int) -> int:
    """Line number in the CSV file of the data row at 0-based position `index`."""
    return index + 2


class DataInvalid(Exception):
    """Raised when the data fail validation; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} data problem(s)")


class PoolError(Exception):
    """A pooled analysis cannot be answered from the data (unknown measure, nothing to pool, ...)."""
