"""Mapping files: how a source export (often with Chinese headers) becomes canonical tables.

The format is documented in ``etl/README.md``. In short::

    name: cn_fsi
    encoding: auto              # default for every file (--encoding other than auto wins)
    delimiter: ","
    tables:
      claims:
        file: ["结算*.csv"]       # glob(s) relative to the data folder; all matches are read
        columns:
          claim_id: 结算ID                        # a source column
          person_id: [人员编号, 个人编号]          # the first one present in the header
          visit_type: {source: 医疗类别, map: {"11": outpatient, "21": inpatient}}
          start_time: {source: 结算时间, format: ["%Y%m%d%H%M%S", "%Y/%m/%d %H:%M"]}
          diagnosis_code: {source: 主诊断编码, pad: 3}
          total_amount: {expr: 'coalesce("医疗费总额", "费用总额")'}
          terminal_id: {value: "T01"}
      cards:                    # a list: alternatives, the first whose file exists wins
        - file: "医保卡*.csv"
          columns: {card_id: 卡号, person_id: 人员编号}
        - derive_from: claims   # distinct rows of the claims source, one per key
          key: card_id
          columns: {card_id: 凭证号, person_id: 人员编号}

Each column value is turned into SQL over the staged source columns (all text,
trimmed, empty as NULL): source | expr | value, then ``pad``, then ``map`` (with
``default``), then ``format``. A value a format cannot parse is kept as its raw text,
so validation rejects the row with that text in the reason (never silently NULL).
"""

from __future__ import annotations

import glob as globmod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ringfinder.errors import MappingError
from ringfinder.schema import TABLES, ColType

_UNSET: Any = object()
SPEC_KEYS = {"source", "expr", "value", "map", "default", "format", "pad"}
TABLE_KEYS = {"file", "columns", "encoding", "delimiter", "derive_from", "key", "where"}


def qident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def qlit(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _lit(value: Any) -> str:
    return "CAST(NULL AS VARCHAR)" if value is None else qlit(str(value))


def clean_sql(col: str) -> str:
    """Trimmed text, empty as NULL (for expression results; staged values are trimmed)."""
    ws = qlit(" \t\r\n\u3000\u00a0")
    return f"nullif(trim({col}, {ws}), '')"


@dataclass(frozen=True)
class ColumnSpec:
    """Where one canonical column comes from."""

    column: str
    source: tuple[str, ...] = ()
    expr: str | None = None
    value: Any = _UNSET
    map: dict[str, str | None] | None = None
    default: Any = _UNSET
    formats: tuple[str, ...] = ()
    pad: int | None = None

    def resolve(self, header: list[str]) -> str | None:
        """The first source column present in ``header`` (case-insensitive), or None."""
        lows = {h.lower(): h for h in header}
        for s in self.source:
            if s in header:
                return s
            if s.lower() in lows:
                return lows[s.lower()]
        return None

    def sql(self, coltype: ColType, present: str | None) -> str:
        """SQL (over cleaned source columns named as in the header) for this column."""
        if self.source:
            base = qident(present) if present is not None else "CAST(NULL AS VARCHAR)"
        elif self.expr is not None:
            base = clean_sql(f"CAST(({self.expr}) AS VARCHAR)")
        else:
            base = "CAST(NULL AS VARCHAR)" if self.value is None else qlit(str(self.value))
        v = base
        if self.pad:
            v = (
                f"(CASE WHEN regexp_full_match({v}, '[0-9]+') AND length({v}) < {self.pad} "
                f"THEN lpad({v}, {self.pad}, '0') ELSE {v} END)"
            )
        if self.map is not None or self.default is not _UNSET:
            # default: for empty values and codes not in the map; without one, an
            # unknown code stays as it is (validation then names it)
            dflt = None if self.default is _UNSET else _lit(self.default)
            whens = "".join(
                f" WHEN {qlit(k)} THEN {_lit(val)}" for k, val in (self.map or {}).items()
            )
            v = f"(CASE {v}{whens} ELSE {dflt if dflt is not None else v} END)"
        if self.formats:
            out = "%Y-%m-%d %H:%M:%S" if coltype is ColType.DATETIME else "%Y-%m-%d"
            fmts = "[" + ", ".join(qlit(f) for f in self.formats) + "]"
            v = f"coalesce(strftime(try_strptime({v}, {fmts}), {qlit(out)}), {v})"
        return v


@dataclass(frozen=True)
class TableSource:
    """One way to obtain a canonical table: files, or distinct rows of another source."""

    table: str
    columns: dict[str, ColumnSpec]
    files: tuple[str, ...] = ()
    derive_from: str | None = None
    key: str | None = None
    where: str | None = None
    encoding: str | None = None
    delimiter: str = ","
    identity: bool = False  # canonical file, canonical column names


@dataclass(frozen=True)
class Mapping:
    name: str
    path: Path
    description: str = ""
    encoding: str | None = None
    delimiter: str = ","
    tables: dict[str, tuple[TableSource, ...]] = field(default_factory=dict)


def identity_source(table: str) -> TableSource:
    """The canonical ``<table>.csv|parquet`` with canonical column names."""
    cols = {c: ColumnSpec(c, source=(c,)) for c in TABLES[table].column_names}
    return TableSource(table, cols, files=(f"{table}.csv", f"{table}.parquet"), identity=True)


def resolve_mapping_path(mapping: str | Path) -> Path:
    """A shipped mapping name (``cn_fsi``) or a path to a YAML file."""
    from ringfinder.resources import resource_dir

    text = str(mapping)
    as_path = Path(text).expanduser()
    if as_path.suffix.lower() in (".yaml", ".yml") or "/" in text or as_path.is_file():
        if not as_path.is_file():
            raise MappingError(f"mapping file {as_path} not found")
        return as_path
    folder = resource_dir("etl") / "mappings"
    path = folder / f"{text}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in folder.glob("*.yaml"))
        raise MappingError(
            f"no shipped mapping named {text!r} (shipped: {', '.join(names) or 'none'}); "
            "or give a path to a YAML file"
        )
    return path


def load_mapping(mapping: str | Path) -> Mapping:
    """Parse and check a mapping file (MappingError names what is wrong)."""
    path = resolve_mapping_path(mapping)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot read the mapping: {exc}") from None
    return parse_mapping(doc, path)


def _err(path: Path, where: str, msg: str) -> MappingError:
    return MappingError(f"{path.name}: {where}: {msg}")


def parse_mapping(doc: Any, path: Path) -> Mapping:
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
        raise MappingError(f"{path.name}: a mapping needs a 'tables:' section")
    unknown = set(doc) - {"name", "description", "encoding", "delimiter", "tables"}
    if unknown:
        raise _err(path, "top level", f"unknown keys {sorted(unknown)}")
    delimiter = str(doc.get("delimiter", ","))
    encoding = doc.get("encoding")
    tables: dict[str, tuple[TableSource, ...]] = {}
    for tname, tdoc in doc["tables"].items():
        if tname not in TABLES:
            raise _err(path, f"table {tname!r}", f"not a canonical table ({', '.join(TABLES)})")
        docs = tdoc if isinstance(tdoc, list) else [tdoc]
        if not docs:
            raise _err(path, f"table {tname!r}", "no source given")
        tables[tname] = tuple(_parse_source(path, tname, a, delimiter, encoding) for a in docs)
    for tname, alts in tables.items():
        for src in alts:
            if src.derive_from is None:
                continue
            base = tables.get(src.derive_from)
            if not base or not any(a.files for a in base):
                raise _err(
                    path,
                    f"table {tname!r}",
                    f"derive_from {src.derive_from!r}: that table has no file source here",
                )
    return Mapping(
        name=str(doc.get("name") or path.stem),
        path=path,
        description=str(doc.get("description") or ""),
        encoding=encoding,
        delimiter=delimiter,
        tables=tables,
    )


def _parse_source(
    path: Path, tname: str, tdoc: Any, delimiter: str, encoding: str | None
) -> TableSource:
    where = f"table {tname!r}"
    if not isinstance(tdoc, dict):
        raise _err(path, where, "expected a mapping with file/derive_from and columns")
    unknown = set(tdoc) - TABLE_KEYS
    if unknown:
        raise _err(path, where, f"unknown keys {sorted(unknown)}")
    files = tdoc.get("file")
    files_t = tuple(files) if isinstance(files, list) else (files,) if files else ()
    derive = tdoc.get("derive_from")
    if bool(files_t) == bool(derive):
        raise _err(path, where, "give exactly one of 'file' and 'derive_from'")
    if tdoc.get("where") and not derive:
        raise _err(path, where, "'where' is only for derived tables (file rows are never dropped)")
    table = TABLES[tname]
    cdoc = tdoc.get("columns")
    if not isinstance(cdoc, dict) or not cdoc:
        raise _err(path, where, "needs 'columns:'")
    columns: dict[str, ColumnSpec] = {}
    for cname, spec in cdoc.items():
        if cname not in table.column_names:
            raise _err(
                path,
                f"{where} column {cname!r}",
                f"not a column of {tname} ({', '.join(table.column_names)})",
            )
        columns[cname] = _parse_spec(path, f"{where} column {cname!r}", cname, spec)
    missing = [c for c in table.required_columns if c not in columns]
    if missing:
        raise _err(path, where, f"required columns not mapped: {', '.join(missing)}")
    key = tdoc.get("key")
    if derive:
        key = key or table.key[0]
        if key not in columns:
            raise _err(path, where, f"key {key!r} is not mapped")
    return TableSource(
        table=tname,
        columns=columns,
        files=tuple(str(f) for f in files_t),
        derive_from=str(derive) if derive else None,
        key=key,
        where=tdoc.get("where"),
        encoding=tdoc.get("encoding", encoding),
        delimiter=str(tdoc.get("delimiter", delimiter)),
    )


def _parse_spec(path: Path, where: str, cname: str, spec: Any) -> ColumnSpec:
    if isinstance(spec, str | int):
        return ColumnSpec(cname, source=(str(spec),))
    if isinstance(spec, list) and spec and all(isinstance(s, str | int) for s in spec):
        return ColumnSpec(cname, source=tuple(str(s) for s in spec))
    if not isinstance(spec, dict):
        raise _err(path, where, "expected a source column name, a list of names or a mapping")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise _err(path, where, f"unknown keys {sorted(unknown)} (allowed: {sorted(SPEC_KEYS)})")
    kinds = [k for k in ("source", "expr", "value") if k in spec]
    if len(kinds) != 1:
        raise _err(path, where, "give exactly one of 'source', 'expr' and 'value'")
    source = spec.get("source")
    sources: tuple[str, ...] = ()
    if source is not None:
        sources = tuple(str(s) for s in source) if isinstance(source, list) else (str(source),)
    vmap = spec.get("map")
    if vmap is not None:
        if not isinstance(vmap, dict):
            raise _err(path, where, "'map' must be a mapping of source code to value")
        vmap = {str(k): (None if v is None else str(v)) for k, v in vmap.items()}
    fmts = spec.get("format") or ()
    fmts = tuple(str(f) for f in fmts) if isinstance(fmts, list) else (str(fmts),)
    pad = spec.get("pad")
    if pad is not None and (not isinstance(pad, int) or isinstance(pad, bool) or pad < 1):
        raise _err(path, where, "'pad' must be a positive whole number")
    return ColumnSpec(
        cname,
        source=sources,
        expr=str(spec["expr"]) if "expr" in spec else None,
        value=spec["value"] if "value" in spec else _UNSET,
        map=vmap,
        default=spec["default"] if "default" in spec else _UNSET,
        formats=fmts,
        pad=pad,
    )


def match_files(data_dir: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Files in ``data_dir`` matching the first pattern that matches anything (sorted)."""
    for pat in patterns:
        hits = sorted(
            Path(p)
            for p in globmod.glob(globmod.escape(str(data_dir)) + "/" + pat)
            if Path(p).is_file()
        )
        if hits:
            return hits
    return []
