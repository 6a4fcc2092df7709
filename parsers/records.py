"""Batches of records in one JSON line: each line expanded into its records before the field mapping.

An OpenTelemetry collector's ``file`` exporter (and any OTLP/JSON dump) writes one export request a
line: ``{"resourceLogs":[{"resource":{...},"scopeLogs":[{"scope":{...},"logRecords":[{...},...]}]}]}``.
A format definition names where the records are, as a path whose ``[]`` segments are arrays to
expand: ``records = "resourceLogs[].scopeLogs[].logRecords[]"``. Each record becomes a JSON object of
its own, on the line it was written on, carrying the objects around it (``resource``, ``scope``), so
that the usual dotted-path mapping reads it (``resource.attributes.service.name``, ``scope.name``).

OTLP's key-value lists (``[{"key":"http.method","value":{"stringValue":"GET"}}]``) become objects
(``{"http.method":"GET"}``, addressed as ``attributes.http.method``) and its ``AnyValue`` wrappers
(``{"stringValue":...}``, ``{"intValue":...}``, ``kvlistValue``, ``arrayValue``) their value: a body of
``{"stringValue":"x"}`` reads as ``"x"``.

Everything runs as polars expressions over all lines: one JSON decode with a type learnt from a
bounded sample of lines (Python's json module reads the sample, never every line), an explode per
array, and one re-encoding of each record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl

#: The fields of OTLP's AnyValue: a struct of only these holds one value.
ANY_VALUE_FIELDS = frozenset({"stringValue", "boolValue", "intValue", "doubleValue", "bytesValue", "arrayValue",
                              "kvlistValue"})
#: Lines read to learn the records' type; a line of another shape makes the decode retry on all lines.
TYPE_SAMPLE = 500
_REC = "__rec"
_RAW = "__decoded"


@dataclass
class Expanded:
    """Units expanded into their records (``text`` now a record's JSON; ``line``, ``_key`` and ``_n``
    the unit's), the units that held no record (with a reason), and the count of records beyond the
    first of each unit."""

    records: pl.DataFrame
    empty: pl.DataFrame
    batched: int


def parse_path(path: str) -> list[tuple[str, bool]]:
    """``"a[].b.c[]"`` -> ``[("a", True), ("b", False), ("c", True)]``; the last segment must be an array."""
    out = []
    for seg in path.split("."):
        name, many = (seg[:-2], True) if seg.endswith("[]") else (seg, False)
        if not name or "[" in name or "]" in name:
            raise ValueError(f"bad records path {path!r}: segments are names, arrays marked with []")
        out.append((name, many))
    if not out or not out[-1][1]:
        raise ValueError(f"bad records path {path!r}: it must end with an array (name[])")
    return out


# --------------------------------------------------------------------------------------------
# the type of the lines, learnt from a sample


def _merge(a: object, b: object) -> object:
    """Merge two type sketches: dict (fields), list (element), "s" (scalar); None where they disagree."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge(out.get(k), v)
        return out
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0], b[0])]
    return a if a == b else "conflict"


def _sketch(value: object) -> object:
    if isinstance(value, dict):
        return {k: s for k, v in value.items() if (s := _sketch(v)) is not None}
    if isinstance(value, list):
        element = None
        for v in value:
            element = _merge(element, _sketch(v))
        return [element]
    return None if value is None else "s"


def _dtype(sketch: object) -> pl.DataType | None:
    """A polars type for the sketch: scalars as text (numbers too), fields that disagree left out."""
    if isinstance(sketch, dict):
        fields = {k: t for k, v in sketch.items() if (t := _dtype(v)) is not None}
        return pl.Struct(fields) if fields else None
    if isinstance(sketch, list):
        element = _dtype(sketch[0]) if sketch[0] is not None else pl.String
        return pl.List(element) if element is not None else None
    return pl.String if sketch == "s" else None


def learn_type(text: pl.Series) -> pl.DataType | None:
    sketch: object = None
    for raw in text.to_list():
        try:
            obj = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if isinstance(obj, dict):
            sketch = _merge(sketch, _sketch(obj))
    return _dtype(sketch) if isinstance(sketch, dict) else None


def _decode(units: pl.DataFrame) -> pl.DataFrame | None:
    """Decode every unit once; the type comes from a sample, then from every line if the sample misled."""
    text = pl.col("text")
    for sample in (units["text"].head(TYPE_SAMPLE), units["text"]):
        dtype = learn_type(sample)
        if dtype is None:
            return None
        for attempt in (text, pl.when(text.str.json_path_match("$").is_not_null()).then(text)):
            try:
                return units.with_columns(attempt.str.json_decode(dtype).alias(_RAW))
            except pl.exceptions.PolarsError:
                continue
        if sample.len() == units.height:
            break
    return None


# --------------------------------------------------------------------------------------------
# JSON text of a decoded value, OTLP's lists and wrappers unwrapped


def _quoted(expr: pl.Expr) -> pl.Expr:
    """A value as JSON text (a string quoted and escaped), by encoding it in a one-field object."""
    return pl.when(expr.is_not_null()).then(
        pl.struct(expr.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}"))


def _is_kv_list(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct) and \
        {f.name for f in dtype.inner.fields} == {"key", "value"}


def _is_any_value(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Struct) and bool(dtype.fields) and {f.name for f in dtype.fields} <= ANY_VALUE_FIELDS


def _needs_rewrite(dtype: pl.DataType) -> bool:
    if _is_kv_list(dtype) or _is_any_value(dtype):
        return True
    if isinstance(dtype, pl.Struct):
        return any(_needs_rewrite(f.dtype) for f in dtype.fields)
    if isinstance(dtype, pl.List):
        return _needs_rewrite(dtype.inner)
    return False


def to_json(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """JSON text of a value of ``dtype``; null fields are left out."""
    if not _needs_rewrite(dtype):
        return _quoted(expr)
    if _is_kv_list(dtype):
        assert isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)
        value_type = next(f.dtype for f in dtype.inner.fields if f.name == "value")
        el = pl.element()
        pair = pl.concat_str(_quoted(el.struct.field("key")), pl.lit(":"),
                             to_json(el.struct.field("value"), value_type).fill_null("null"))
        # An empty list is no object at all (OTLP writes "attributes":[] for none).
        text = pl.concat_str(pl.lit("{"), expr.list.eval(pair).list.join(","), pl.lit("}"))
        return pl.when(expr.list.len() > 0).then(text)
    if _is_any_value(dtype):
        assert isinstance(dtype, pl.Struct)
        values = []
        for f in dtype.fields:
            value = expr.struct.field(f.name)
            # kvlistValue and arrayValue hold their members under "values".
            if f.name in ("kvlistValue", "arrayValue") and isinstance(f.dtype, pl.Struct) and \
                    "values" in f.dtype.to_schema():
                values.append(to_json(value.struct.field("values"), f.dtype.to_schema()["values"]))
            else:
                values.append(to_json(value, f.dtype))
        return pl.coalesce(values)
    if isinstance(dtype, pl.List):
        items = pl.element()
        return pl.concat_str(pl.lit("["), expr.list.eval(to_json(items, dtype.inner).fill_null("null")).list.join(","),
                             pl.lit("]"))
    assert isinstance(dtype, pl.Struct)
    return _object([(f.name, expr.struct.field(f.name), f.dtype) for f in dtype.fields])


def _object(members: list[tuple[str, pl.Expr, pl.DataType]]) -> pl.Expr:
    pieces = [pl.when(value.is_not_null()).then(pl.concat_str(pl.lit(json.dumps(name) + ":"), to_json(value, dtype)))
              for name, value, dtype in members]
    body = pl.concat_list(pieces).list.drop_nulls().list.join(",") if pieces else pl.lit("")
    return pl.concat_str(pl.lit("{"), body, pl.lit("}"))


# --------------------------------------------------------------------------------------------
# expansion


def expand(units: pl.DataFrame, path: str) -> Expanded:
    """Each JSON unit (``line``, ``text``, ``_n``, ``_key``, ...) as its records, one row each.

    A record's text holds its own keys and, under their own names, the keys of the objects it sits
    in (``resource``, ``scope``) unless it has a key of that name. A unit with no record under the
    path (an empty batch, another kind of object, text that is not JSON) is returned in ``empty``.
    """
    steps = parse_path(path)
    none = Expanded(units.head(0), units.with_columns(pl.lit(f"no records under {path}").alias("reason")), 0)
    first = steps[0][0]
    holds = pl.col("text").str.contains(f'"{first}"', literal=True)
    decoded = _decode(units.filter(holds)) if units.select(holds.any()).item() else None
    if decoded is None:
        return none
    dtype = decoded.schema[_RAW]
    frame = decoded.with_columns(pl.col(_RAW).alias(_REC))
    context: list[tuple[str, str, pl.DataType]] = []  # (key name, column, type) of enclosing objects' keys
    current = dtype
    for depth, (name, many) in enumerate(steps):
        if not isinstance(current, pl.Struct) or name not in current.to_schema():
            return none
        fields = current.to_schema()
        for key, typ in fields.items():
            if key != name and depth > 0:
                column = f"__ctx{depth}_{key}"
                frame = frame.with_columns(pl.col(_REC).struct.field(key).alias(column))
                context.append((key, column, typ))
        frame = frame.with_columns(pl.col(_REC).struct.field(name).alias(_REC))
        current = fields[name]
        if many:
            if not isinstance(current, pl.List):
                return none
            frame = frame.explode(_REC)
            current = current.inner
    if not isinstance(current, pl.Struct):
        return none
    own = {f.name for f in current.fields}
    members = [(f.name, pl.col(_REC).struct.field(f.name), f.dtype) for f in current.fields]
    # The innermost enclosing object wins a name clash (a scope's attributes over a resource's).
    seen = set(own)
    for key, column, typ in reversed(context):
        if key not in seen:
            members.append((key, pl.col(column), typ))
            seen.add(key)
    has = pl.col(_REC).is_not_null()
    frame = frame.with_columns(pl.when(has).then(_object(members)).alias("__text"), has.alias("__has"))
    got = frame.filter("__has").group_by("_key").len()
    records = frame.filter("__has").with_columns(pl.col("__text").alias("text"))
    records = records.select(units.columns)
    empty_keys = units.join(got.select("_key"), on="_key", how="anti")
    empty = empty_keys.with_columns(pl.lit(f"no records under {path}").alias("reason"))
    batched = int((got["len"] - 1).sum()) if got.height else 0
    return Expanded(records, empty, batched)
