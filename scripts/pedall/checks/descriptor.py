"""The descriptors themselves (datapackage.json and each Table Schema), judged by frictionless."""

from __future__ import annotations

from ..package import Package
from ..problems import Problem


def check(pkg: Package) -> list[Problem]:
    # Imported here: frictionless is slow to import and only this check needs it.
    import frictionless

    problems = [Problem("datapackage.json", 0, "-", e.message, e.type)
                for e in frictionless.Package.validate_descriptor(pkg.descriptor).errors]
    for table in pkg.tables.values():
        for e in frictionless.Schema.validate_descriptor(table.schema).errors:
            problems.append(Problem(table.schema_path, 0, "-", e.message, e.type))
    return problems
