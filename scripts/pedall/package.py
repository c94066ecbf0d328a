"""Read datapackage.json and the Table Schemas: the single source of truth for every table.

Everything else (the Table Schema checks, frictionless's descriptor check, Parquet and DuckDB types, the data
dictionary) is derived from the objects defined here.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .problems import UserError


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    description: str
    required: bool = False
    unique: bool = False
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None

    @classmethod
    def from_descriptor(cls, d: dict[str, Any]) -> Field:
        c = d.get("constraints", {})
        enum = c.get("enum")
        return cls(
            name=d["name"],
            type=d.get("type", "string"),
            description=d.get("description", ""),
            required=bool(c.get("required", False)),
            unique=bool(c.get("unique", False)),
            enum=tuple(enum) if enum else None,
            pattern=c.get("pattern"),
            minimum=c.get("minimum"),
            maximum=c.get("maximum"),
        )


@dataclass(frozen=True)
class ForeignKey:
    fields: tuple[str, ...]
    resource: str
    reference_fields: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    description: str
    path: str  # relative to the package root
    schema_path: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    schema: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


@dataclass(frozen=True)
class Package:
    root: Path
    descriptor: dict[str, Any]
    tables: dict[str, Table]

    @property
    def version(self) -> str:
        return str(self.descriptor["version"])

    def creation_order(self) -> list[Table]:
        """Tables ordered so that every table comes after the tables its foreign keys reference."""
        done: list[str] = []
        pending = list(self.tables)
        while pending:
            for name in pending:
                deps = {fk.resource for fk in self.tables[name].foreign_keys} - {name}
                if deps <= set(done):
                    done.append(name)
                    pending.remove(name)
                    break
            else:
                raise ValueError(f"foreign keys form a cycle among {pending}")
        return [self.tables[n] for n in done]


class PackageError(UserError):
    """datapackage.json or a Table Schema cannot be read or lacks what every command relies on."""


def _json(root: Path, rel: str) -> Any:
    try:
        return json.loads((root / rel).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PackageError(f"{rel}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PackageError(f"{rel}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise PackageError(f"{rel}: not valid JSON: {exc}") from None


def load_package(root: Path | str) -> Package:
    """The package at root; PackageError (one line, naming the file) if its descriptors are unusable."""
    root = Path(root)
    try:
        return _load(root)
    except PackageError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise PackageError(f"datapackage.json or a Table Schema lacks a required property ({exc!r}): "
                           "run `frictionless validate datapackage.json` for details") from None


def _load(root: Path) -> Package:
    descriptor = _json(root, "datapackage.json")
    tables: dict[str, Table] = {}
    schemas = {res["name"]: _json(root, res["schema"]) for res in descriptor["resources"]}
    for name, schema in schemas.items():
        schemas[name] = _enums_from(schema, schemas, name)
    for res in descriptor["resources"]:
        schema_ref = res["schema"]
        schema = schemas[res["name"]]
        fks = tuple(
            ForeignKey(
                fields=tuple(_as_list(fk["fields"])),
                resource=fk["reference"]["resource"],
                reference_fields=tuple(_as_list(fk["reference"]["fields"])),
            )
            for fk in schema.get("foreignKeys", [])
        )
        tables[res["name"]] = Table(
            name=res["name"],
            title=res.get("title", res["name"]),
            description=res.get("description", ""),
            path=res["path"],
            schema_path=schema_ref,
            fields=tuple(Field.from_descriptor(f) for f in schema["fields"]),
            primary_key=tuple(_as_list(schema["primaryKey"])),
            foreign_keys=fks,
            schema=schema,
        )
    return Package(root=root, descriptor=descriptor, tables=tables)


def _enums_from(schema: dict[str, Any], schemas: dict[str, Any], name: str) -> dict[str, Any]:
    """Resolve `"enumFrom": "table.column"`: a field that takes another table's enumeration gets a copy
    of it here, at load time (after the values of its own enumeration, if it has one), so that the
    enumeration is written once and every reader (checks, DuckDB and Parquet types, the release's
    inline schemas) sees it whole."""
    if not any("enumFrom" in f for f in schema["fields"]):
        return schema
    schema = copy.deepcopy(schema)
    for f in schema["fields"]:
        if "enumFrom" not in f:
            continue
        table, _, column = str(f["enumFrom"]).partition(".")
        source = next((g for g in schemas.get(table, {}).get("fields", []) if g["name"] == column), None)
        if source is None or "enum" not in source.get("constraints", {}):
            raise PackageError(f"{name}: field {f['name']}: enumFrom {f['enumFrom']!r} names no enumerated field")
        own = list(f.get("constraints", {}).get("enum", []))  # values of its own come first
        f.setdefault("constraints", {})["enum"] = own + [v for v in source["constraints"]["enum"] if v not in own]
    return schema


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
