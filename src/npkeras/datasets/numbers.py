"""The tutorial's data set: three integer features and ``target = x + 2y + 3z``.

>>> x, y = make(5, 0, 100, seed=0)
>>> x.shape, bool((y == x @ [1, 2, 3]).all())
((5, 3), True)
"""

from __future__ import annotations

import csv
import os

from npkeras.backend import host_xp
from npkeras.datasets.tabular import load_csv

COEFFICIENTS = (1, 2, 3)
COLUMNS = ("x", "y", "z", "target")


def make(n: int = 10000, low: int = 0, high: int = 100, seed: int | None = None):
    """(features, target): ``n`` rows of integers drawn uniformly from [low, high)."""
    if n < 1:
        raise ValueError(f"`n` must be a positive integer; received n={n}.")
    if high <= low:
        raise ValueError(f"`high` must exceed `low`; received low={low}, high={high}.")
    rng = host_xp.random.default_rng(seed)
    x = rng.integers(low, high, size=(n, 3))
    return x, x @ host_xp.asarray(COEFFICIENTS)


def write_csv(path, x, y) -> str:
    """Write features and target as ``x,y,z,target`` columns; returns the path."""
    path = os.fspath(path)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for row, target in zip(x.tolist(), y.tolist()):
            writer.writerow(row + [target])
    return path


__all__ = ["make", "write_csv", "load_csv", "COEFFICIENTS"]
