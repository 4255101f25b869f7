"""Utilities: seeding, label encoding and data helpers."""

from __future__ import annotations

import random

from npkeras import backend
from npkeras.backend import xp
from npkeras.utils import summary, trace  # noqa: F401 - they provide model.summary/trace_step
from npkeras.utils.directory_datasets import (  # noqa: F401 (keras.utils names)
    image_dataset_from_directory,
    text_dataset_from_directory,
)
from npkeras.utils.gradcheck import GradientCheck, check_gradients  # noqa: F401 - public names
from npkeras.utils.gradient_flow import plot_gradient_flow  # noqa: F401 - matplotlib loads on use
from npkeras.utils.plots import (  # noqa: F401
    plot_activations,
    plot_history,
    plot_model,
    plot_predictions,
)
from npkeras.utils.trace import plot_trace  # noqa: F401


def set_random_seed(seed: int) -> None:
    """Seed every random source npkeras uses (and Python's and NumPy's global ones).

    The same seed and the same calls give bit-identical weights and training runs on
    one machine.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer; received seed={seed!r}.")
    random.seed(seed)
    backend.set_seed(seed)


def to_categorical(y, num_classes: int | None = None, dtype: str | None = None):
    """One-hot rows from integer labels: shape (n,) -> (n, num_classes).

    >>> to_categorical([0, 2], 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    labels = xp.asarray(y)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.dtype.kind == "f" and labels.size and not bool((labels == xp.round(labels)).all()):
        raise ValueError("to_categorical expects integer labels; received fractional values.")
    labels = labels.astype("int64")
    low, high = (
        (int(v) for v in backend.to_numpy([labels.min(), labels.max()])) if labels.size else (0, -1)
    )
    if low < 0:
        raise ValueError(f"to_categorical expects labels >= 0; received {low}.")
    top = high + 1
    num_classes = top if num_classes is None else int(num_classes)
    if top > num_classes:
        raise ValueError(f"Label {top - 1} does not fit num_classes={num_classes}.")
    out = xp.zeros(labels.shape + (num_classes,), dtype=dtype or backend.floatx())
    xp.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out


def normalize(x, axis: int = -1, order: int = 2):
    """Rows scaled to unit ``order``-norm along ``axis`` (zero rows stay zero).

    >>> print(normalize([[3.0, 4.0]]))
    [[0.6 0.8]]
    """
    arr = backend.as_float_array(x, "x")
    norm = xp.linalg.norm(arr, ord=order, axis=axis, keepdims=True)
    return arr / xp.where(norm == 0, 1, norm)


def split_dataset(*arrays, left_size=None, right_size=None, shuffle: bool = False, seed=None):
    """Split arrays by rows into (left, right) parts, like scikit-learn's train_test_split.

    ``left_size``/``right_size`` are fractions (0-1) or counts; the default is 0.8 / 0.2.
    Returns ``((left_a, left_b, ...), (right_a, right_b, ...))``. As in Keras, one tuple
    of arrays may be passed as the data set: ``split_dataset((x, y), left_size=0.8)``.

    >>> (xl,), (xr,) = split_dataset(list(range(10)), left_size=0.7)
    >>> len(xl), len(xr)
    (7, 3)
    """
    if len(arrays) == 1 and isinstance(arrays[0], tuple):
        arrays = arrays[0]
    if not arrays:
        raise ValueError("split_dataset needs at least one array.")
    arrays = [xp.asarray(a.to_numpy() if hasattr(a, "to_numpy") else a) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            f"split_dataset needs arrays with the same number of rows; received "
            f"{[len(a) for a in arrays]}."
        )

    def count(size):
        if size is None:
            return None
        if isinstance(size, float):
            if not 0.0 < size < 1.0:
                raise ValueError(f"A fractional split size must be in (0, 1); received {size}.")
            return int(round(size * n))
        return int(size)

    left, right = count(left_size), count(right_size)
    if left is None and right is None:
        left = int(round(0.8 * n))
    elif left is None:
        left = n - right
    if not 0 <= left <= n:
        raise ValueError(f"left_size={left_size} does not fit {n} rows.")
    index = xp.arange(n)
    if shuffle:
        index = backend.permutation(n, xp.random.default_rng(seed) if seed is not None else None)
    lidx, ridx = index[:left], index[left:]
    return tuple(a[lidx] for a in arrays), tuple(a[ridx] for a in arrays)


from npkeras.utils.datasets import (  # noqa: E402,F401 - keras.utils names
    PyDataset,
    Sequence,
    timeseries_dataset_from_array,
)
from npkeras.utils.image_utils import (  # noqa: E402,F401 - keras.utils names
    array_to_img,
    img_to_array,
    load_img,
    save_img,
)
from npkeras.utils.sequences import pad_sequences  # noqa: E402,F401
