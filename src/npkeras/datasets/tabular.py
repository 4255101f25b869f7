"""Reading CSV files into feature and target arrays, with clear errors for bad data."""

from __future__ import annotations

import csv
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


def _read_columns(path) -> tuple[list, dict]:
    """(column names, {name: list of raw cell strings or numbers})."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: '{path}'.")
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise DataError(f"'{path}' is empty: it has no header and no rows.") from None
        return [str(c) for c in frame.columns], {str(c): frame[c].tolist() for c in frame.columns}
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise DataError(f"'{path}' is empty: it has no header and no rows.")
    header, body = rows[0], rows[1:]
    columns = {name: [] for name in header}
    for line_no, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"'{path}' line {line_no} has {len(row)} fields; the header has {len(header)}.")
        for name, cell in zip(header, row):
            columns[name].append(_number_or_text(cell))
    return header, columns


def csv_columns(path) -> list:
    """The header row of a CSV file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: '{path}'.")
    with open(path, newline="") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise DataError(f"'{path}' is empty: it has no header and no rows.")
    return [h.strip() for h in header]


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

    Raises :class:`DataError` for an empty file, a missing target column (listing the
    columns), a non-numeric feature column, or missing values (naming rows and columns).
    Uses pandas when installed and the csv module otherwise.
    """
    names, columns = _read_columns(path)
    n_rows = len(next(iter(columns.values()))) if columns else 0
    if n_rows == 0:
        raise DataError(f"'{path}' has a header but no data rows.")
    if target is not None and target not in columns:
        raise DataError(f"'{path}' has no column '{target}'. Columns are: {', '.join(names)}.")
    feature_names = list(features) if features is not None else [n for n in names if n != target]
    missing = [n for n in feature_names if n not in columns]
    if missing:
        raise DataError(f"'{path}' lacks the feature column(s) {missing}. Columns are: {', '.join(names)}.")
    if not feature_names:
        raise DataError(f"'{path}' has no feature columns besides the target '{target}'.")
    for name in feature_names:
        texts = [v for v in columns[name] if not _is_number(v)]
        if texts:
            raise DataError(
                f"Feature column '{name}' of '{path}' is not numeric (e.g. {texts[0]!r}). "
                "Encode it as numbers first, for categories one 0/1 column per value (one-hot)."
            )
    x = host_xp.asarray([columns[n] for n in feature_names], dtype="float64").T
    bad = host_xp.isnan(x)
    if bad.any():
        rows = sorted(set((host_xp.nonzero(bad.any(axis=1))[0] + 2).tolist()))
        cols = [feature_names[i] for i in sorted(set(host_xp.nonzero(bad.any(axis=0))[0].tolist()))]
        raise DataError(
            f"'{path}' has missing or NaN values in column(s) {', '.join(cols)} at line(s) "
            f"{', '.join(map(str, rows[:10]))}{' ...' if len(rows) > 10 else ''}. Fill or drop them first."
        )
    y = None
    if target is not None:
        raw = columns[target]
        if all(_is_number(v) for v in raw):
            y = host_xp.asarray(raw, dtype="float64")
            if host_xp.isnan(y).any():
                rows = (host_xp.nonzero(host_xp.isnan(y))[0] + 2).tolist()
                raise DataError(f"Target column '{target}' of '{path}' has missing values at line(s) {rows[:10]}.")
        else:
            y = host_xp.asarray([str(v) for v in raw])
    return Table(x.astype(backend.floatx()), y, feature_names, target)


def is_whole_number_column(values) -> bool:
    return values.dtype.kind == "f" and bool(host_xp.all(host_xp.isfinite(values))) and bool(
        host_xp.all(values == host_xp.round(values)))

