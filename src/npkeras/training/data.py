"""Turning what users pass to fit/evaluate/predict into lists of arrays and batches.

Accepted: NumPy arrays, lists/tuples of arrays (one per model input or output), dicts
keyed by input/output name, pandas DataFrames and Series, and Python iterables or
generators that yield ``(x, y)`` or ``(x, y, sample_weight)`` batches.

Inputs become the float type, except text (arrays of ``str``, ``bytes`` or such objects),
which stays text on the host for the layers that read it (``TextVectorization``,
``StringLookup``), and integers fed to an integer-typed ``Input`` whose layers take
integers (``Embedding``, lookups), which stay integers (no float rounding of large ids).
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from npkeras import backend
from npkeras.backend import xp
from npkeras.ops.tape import value_of


class InputKind(NamedTuple):
    """What a model declares about one input, for converting the data fed to it.

    Attributes:
        dtype: the ``keras.Input`` dtype ("float32", "int64", "string", ...).
        raw: every layer reading the input takes raw data (text, integers) unconverted.
        label: the input in messages ("input 'text' of model 'classifier'").
        shape: the input's shape, batch axis first.
    """

    dtype: str
    raw: bool
    label: str
    shape: tuple


def holds_strings(array) -> bool:
    """Whether ``array`` holds text: ``str``/``bytes`` items, or Python objects that are."""
    kind = array.dtype.kind
    if kind in "US":
        return True
    return kind == "O" and array.size > 0 and isinstance(array.flat[0], (str, bytes))


def text_array(value):
    """``value`` as a host NumPy array when it holds text, else None."""
    value = value_of(value)
    if is_pandas(value):
        value = value.to_numpy()
    if isinstance(value, xp.ndarray) and not isinstance(value, backend.host_xp.ndarray):
        return None  # a device array: numbers
    try:
        array = backend.host_xp.asarray(value)
    except (TypeError, ValueError):
        return None
    return array if holds_strings(array) else None


def _matching_rank(array, shape):
    """``array`` with a trailing axis of 1 added or dropped when that makes its rank the
    input's (Keras feeds ``(n,)`` data to ``Input(shape=(1,))`` and back)."""
    if array.ndim == len(shape) - 1 and shape[-1] == 1:
        return array[..., None]
    if array.ndim == len(shape) + 1 and array.ndim > 1 and array.shape[-1] == 1:
        return array[..., 0]
    return array


def _input_array(value, what, kind):
    """One model input's data as the array its layers take (see the module docstring)."""
    if is_pandas(value):
        value = value.to_numpy()
    text = text_array(value)
    if text is not None:
        if kind is not None and kind.dtype != "string" and not kind.raw:
            raise TypeError(
                f"`{what}` holds strings (dtype {text.dtype}, shape {text.shape}), but "
                f"{kind.label} takes {kind.dtype} numbers. Declare the input with "
                "keras.Input(..., dtype=\"string\") and turn the text into numbers inside "
                "the model (TextVectorization, StringLookup), or convert it to numbers first."
            )
        return text if kind is None else _matching_rank(text, kind.shape)
    if kind is None:
        return backend.as_float_array(value, what)
    if kind.dtype == "string":
        shown = getattr(value, "dtype", type(value).__name__)
        raise TypeError(
            f"`{what}` holds numbers ({shown}), but {kind.label} takes strings "
            "(dtype=\"string\"). Pass the text itself, or declare the input with a "
            "numeric dtype."
        )
    array = xp.asarray(value_of(value)) if kind.raw else None
    if array is not None and array.dtype.kind in "biu" and kind.dtype.startswith(
        ("int", "uint", "bool")
    ):
        array = array.astype(kind.dtype, copy=False)  # ids stay exact integers
    else:
        array = backend.as_float_array(value, what)
    return _matching_rank(array, kind.shape)


def is_pandas(obj) -> bool:
    module = type(obj).__module__
    return module == "pandas" or module.startswith("pandas.")


def is_batch_iterable(obj) -> bool:
    """True for generators and other iterables that are not array-like data."""
    if (
        obj is None
        or isinstance(obj, (xp.ndarray, backend.host_xp.ndarray, list, tuple, dict, str, bytes))
        or is_pandas(obj)
    ):
        return False
    return hasattr(obj, "__iter__") or hasattr(obj, "__next__")


def _one_array(value, what, float_data):
    if is_pandas(value):
        value = value.to_numpy()
    if float_data:
        return backend.as_float_array(value, what)
    arr = xp.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"`{what}` must be numeric, but received dtype {arr.dtype} with shape {arr.shape}. "
            "Map string labels to integers first."
        )
    if arr.dtype.kind == "f" and arr.dtype != backend.floatx():
        arr = arr.astype(backend.floatx())
    return arr


def to_array_list(data, names, what, float_data=True, kinds=None):
    """A list with one array per name; ``data`` is an array, a list or a dict by name.

    ``kinds``, for a model's inputs: per name an :class:`InputKind`, or None where the
    model declares nothing (text then passes, numbers become floats).
    """
    if data is None:
        return None

    def one(value, i, label):
        if kinds is None:
            return _one_array(value, label, float_data)
        return _input_array(value, label, kinds[i])

    if isinstance(data, dict):
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(
                f"`{what}` is a dict, but it has no entry for {missing}; it has keys "
                f"{sorted(data)} and the model expects {names}."
            )
        return [one(data[n], i, f"{what}['{n}']") for i, n in enumerate(names)]
    if isinstance(data, (list, tuple)) and len(names) > 1:
        if len(data) != len(names):
            raise ValueError(
                f"The model has {len(names)} {what} entries ({names}), but received a list of "
                f"{len(data)} arrays."
            )
        return [one(d, i, f"{what}[{i}]") for i, d in enumerate(data)]
    if isinstance(data, (list, tuple)) and len(data) == 1 and not _looks_like_rows(data):
        data = data[0]
    return [one(data, 0, what)]


_SCALARS = (int, float, str, bytes)


def _looks_like_rows(data):
    """Whether a one-item list is one sample (a number, a string, a row of them) rather
    than a list holding the model's only array."""
    first = data[0]
    return isinstance(first, _SCALARS) or (
        isinstance(first, (list, tuple)) and first and isinstance(first[0], _SCALARS)
    )


def check_counts(xs, ys=None, sws=None) -> int:
    """The number of samples; a ValueError when the arrays disagree or are empty."""
    for a in xs:
        if a.ndim == 0:
            raise ValueError(f"`x` must have a batch axis; received a scalar of shape {a.shape}.")
    counts = {f"x[{i}]" if len(xs) > 1 else "x": len(a) for i, a in enumerate(xs)}
    for i, a in enumerate(ys or []):
        counts[f"y[{i}]" if len(ys) > 1 else "y"] = len(a)
    for a in sws or []:
        if a is not None:
            counts["sample_weight"] = len(a)
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise ValueError(
            f"Data cardinality is ambiguous: x and y must have the same number of samples, "
            f"but received {detail}."
        )
    n = next(iter(counts.values()))
    if n == 0:
        raise ValueError("The data set is empty: x has 0 samples. Pass at least one sample.")
    return n


def check_batch_size(batch_size) -> int:
    if batch_size is None:
        return 32
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(
            f"`batch_size` must be a positive integer; received batch_size={batch_size!r}."
        )
    return int(batch_size)


def check_finite(arrays, what: str) -> None:
    """Refuse NaN or infinity in float data, naming the array, the first bad row and column.

    Two vectorised passes (min and max propagate NaN and show infinities) and no
    temporary; the cell is looked up only once something is wrong.
    """
    for i, a in enumerate(arrays or []):
        if a is None or a.dtype.kind != "f" or a.size == 0:
            continue
        if math.isfinite(backend.to_float(a.min())) and math.isfinite(backend.to_float(a.max())):
            continue
        name = f"{what}[{i}]" if len(arrays) > 1 else what
        bad = xp.argwhere(~xp.isfinite(a))[0]
        row, column = int(bad[0]), tuple(int(c) for c in bad[1:])
        where = f"row {row}" + (
            f", column {column[0] if len(column) == 1 else column}" if column else ""
        )
        raise ValueError(
            f"`{name}` holds a non-finite value ({a[tuple(bad)]}) at {where}: training on it "
            "would turn the weights into NaN. Remove or impute such rows first (for example "
            "with np.nan_to_num or a mean imputation)."
        )


def rows(arrays_list, index):
    """Rows ``index`` of every array in each list of ``arrays_list`` (None stays None):
    views for a slice, one ``take`` per array for row indices."""
    if isinstance(index, slice):
        return [None if arrays is None else [None if a is None else a[index] for a in arrays]
                for arrays in arrays_list]
    return [
        None if arrays is None else [None if a is None else a.take(index, axis=0) for a in arrays]
        for arrays in arrays_list
    ]


def split_tail(arrays, n, fraction):
    """(head, tail) where tail is the last ``fraction`` of the ``n`` samples, as Keras does."""
    cut = int(math.floor(n * (1.0 - fraction)))
    if cut <= 0 or cut >= n:
        raise ValueError(
            f"validation_split={fraction} of {n} samples leaves {cut} for training and "
            f"{n - cut} for validation; each needs at least one. Use a larger data set or "
            "another validation_split, or pass validation_data."
        )
    return [None if a is None else a[:cut] for a in arrays], [
        None if a is None else a[cut:] for a in arrays
    ]


def class_weights_to_sample_weights(y, class_weight):
    """Per-sample weights from ``{class: weight}`` and labels (sparse or one-hot)."""
    y = backend.to_numpy(y)
    labels = y.argmax(axis=-1) if (y.ndim > 1 and y.shape[-1] > 1) else y.reshape(len(y), -1)[:, 0]
    labels = labels.round().astype("int64")
    table = {int(k): float(v) for k, v in class_weight.items()}
    missing = sorted(set(labels.tolist()) - set(table))
    if missing:
        raise ValueError(
            f"`class_weight` has no weight for class(es) {missing[:10]}; it covers {sorted(table)}."
        )
    lookup = xp.zeros(max(table) + 1, dtype=backend.floatx())
    for k, v in table.items():
        lookup[k] = v
    return lookup[backend.to_device(labels)]


def unpack_batch(batch, step):
    """(x, y, sample_weight) from one item of a batch iterable, with a clear error."""
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return tuple(batch) + ((None,) if len(batch) == 2 else ())
    if isinstance(batch, (tuple, list)) and len(batch) == 1:
        return batch[0], None, None
    shape = getattr(batch, "shape", None)
    raise ValueError(
        f"A data generator must yield (x, y) or (x, y, sample_weight) tuples; batch {step} "
        f"was a {type(batch).__name__}" + (f" of shape {shape}" if shape is not None else "") + "."
    )
