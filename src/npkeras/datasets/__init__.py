"""Small data sets and CSV loading."""

from npkeras.datasets import numbers
from npkeras.datasets.tabular import DataError, Table, load_csv

__all__ = ["numbers", "load_csv", "Table", "DataError"]
