"""Reading CSV files into feature and target arrays, with clear errors for bad data."""

from __future__ import annotations

import csv
import io
import math
import os
from typing import NamedTuple

from npkeras import backend
from npkeras.backend import host_xp


class DataError(ValueError):
    """The CSV data cannot be used as asked (missing column, text where numbers belong...)."""


class Table(NamedTuple):
    """Features as a float array, the target column's raw values, and the column names."""

    features: object
    target: object
    feature_names: list
    target_name: str | None


def _read_rows(path) -> tuple[list, list]:
    """(header, [(line number, row)]) of a UTF-8 CSV file, strictly: undecodable bytes,
    an unterminated quote, rows with more or fewer fields than the header, and unnamed
    or duplicate column names are refused with the line they are on. Blank lines are
    skipped."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: '{path}'.")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(
            f"'{path}' is not UTF-8 text: byte 0x{data[err.start]:02x} on line {line} "
            "cannot be decoded. Save the file as UTF-8."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for row in reader:
            if row:
                rows.append((reader.line_num, row))
    except csv.Error as err:
        raise DataError(
            f"'{path}' is not valid CSV at line {reader.line_num}: {err} (an unterminated quote?)."
        ) from None
    if not rows:
        raise DataError(f"'{path}' is empty: it has no header and no rows.")
    header = [name.strip() for name in rows[0][1]]
    for i, name in enumerate(header):
        if not name:
            raise DataError(f"'{path}' column {i + 1} has no name in the header row.")
        if header.index(name) != i:
            raise DataError(
                f"'{path}' has two columns named '{name}' (columns "
                f"{header.index(name) + 1} and {i + 1}); column names must be unique."
            )
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(
                f"'{path}' line {line} has {len(row)} fields; the header has {len(header)}."
            )
    return header, rows[1:]


def _read_columns(path) -> tuple[list, dict, list]:
    """(column names, {name: list of numbers or raw text cells}, line numbers of the rows)."""
    header, rows = _read_rows(path)
    columns = {name: [_number_or_text(row[i]) for _, row in rows] for i, name in enumerate(header)}
    return header, columns, [line for line, _ in rows]


def csv_columns(path) -> list:
    """The header row of a CSV file (checked as :func:`load_csv` checks it)."""
    return _read_rows(path)[0]


def _number_or_text(cell: str):
    if cell.strip() == "":
        return float("nan")
    try:
        return float(cell)
    except ValueError:
        return cell


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) or type(v).__module__ == "numpy"


def load_csv(path, target: str | None = "target", features: list | None = None) -> Table:
    """Read ``path``: every column but ``target`` (or the listed ``features``) as float features.

    Raises :class:`DataError` for a file that is not UTF-8 CSV with one header row
    (unterminated quote, rows of the wrong length, unnamed or duplicate columns), an
    empty file, a missing target column (listing the columns), a non-numeric feature
    column, or missing, NaN, infinite or out-of-range numbers (naming lines and columns).
    """
    names, columns, lines = _read_columns(path)
    n_rows = len(lines)
    if n_rows == 0:
        raise DataError(f"'{path}' has a header but no data rows.")
    if target is not None and target not in columns:
        raise DataError(f"'{path}' has no column '{target}'. Columns are: {', '.join(names)}.")
    feature_names = list(features) if features is not None else [n for n in names if n != target]
    missing = [n for n in feature_names if n not in columns]
    if missing:
        raise DataError(
            f"'{path}' lacks the feature column(s) {missing}. Columns are: {', '.join(names)}."
        )
    if not feature_names:
        raise DataError(f"'{path}' has no feature columns besides the target '{target}'.")
    for name in feature_names:
        texts = [v for v in columns[name] if not _is_number(v)]
        if texts:
            raise DataError(
                f"Feature column '{name}' of '{path}' is not numeric (e.g. {texts[0]!r:.40}). "
                "Encode it as numbers first, for categories one 0/1 column per value (one-hot)."
            )
    x = _finite(
        host_xp.asarray([columns[n] for n in feature_names], dtype="float64").T,
        feature_names,
        lines,
        path,
    )
    y = None
    if target is not None:
        raw = columns[target]
        if all(_is_number(v) for v in raw):
            y = host_xp.asarray(raw, dtype="float64")
            _finite(y[:, None], [target], lines, path)
        else:
            empty = [line for line, v in zip(lines, raw) if isinstance(v, float) and math.isnan(v)]
            if empty:
                raise DataError(
                    f"Target column '{target}' of '{path}' has empty or NaN cells at line(s) "
                    f"{', '.join(map(str, empty[:10]))}. Fill or drop them first."
                )
            y = host_xp.asarray([str(v) for v in raw])
    return Table(x.astype(backend.floatx()), y, feature_names, target)


def _finite(values, names: list, lines: list, path):
    """``values`` (rows, columns); refuses empty cells, NaN, infinities and numbers that
    do not fit the float type the model computes in (naming columns and lines)."""
    with host_xp.errstate(over="ignore", invalid="ignore"):
        bad = ~host_xp.isfinite(values.astype(backend.floatx()))
    if bad.any():
        rows = [lines[i] for i in host_xp.nonzero(bad.any(axis=1))[0].tolist()]
        cols = [names[i] for i in host_xp.nonzero(bad.any(axis=0))[0].tolist()]
        raise DataError(
            f"'{path}' has missing or non-finite values (empty, NaN, inf or too large for "
            f"{backend.floatx()}) in column(s) {', '.join(cols)} at line(s) "
            f"{', '.join(map(str, rows[:10]))}{' ...' if len(rows) > 10 else ''}. "
            "Fill or drop them first."
        )
    return values


def is_whole_number_column(values) -> bool:
    return (
        values.dtype.kind == "f"
        and bool(host_xp.all(host_xp.isfinite(values)))
        and bool(host_xp.all(values == host_xp.round(values)))
    )
