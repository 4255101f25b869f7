"""Reshaping layers: ZeroPadding, Cropping (1D/2D/3D), RepeatVector, Permute, and the
shared spatial-layer helpers (UpSampling lives in :mod:`npkeras.layers.upsampling`).

Padding and cropping are each other's transpose: one writes the small array into a
window of a zero array, the other reads that window back, so each layer's backward is the
other's forward.
"""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, Layer

_DATA_FORMATS = ("channels_last", "channels_first")


def standardize_data_format(owner, data_format):
    """``data_format`` checked; None means "channels_last" (Keras's default image format)."""
    if data_format is None:
        return "channels_last"
    value = str(data_format).lower()
    if value not in _DATA_FORMATS:
        raise ValueError(
            f"{owner}: the `data_format` argument must be one of {_DATA_FORMATS}. "
            f"Received: data_format={data_format!r}"
        )
    return value


def spatial_axes(rank, data_format):
    """The ``rank`` spatial axes of a batch: after the batch axis, or after the channels."""
    first = 1 if data_format == "channels_last" else 2
    return tuple(range(first, first + rank))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def standardize_pairs(owner, name, value, rank):
    """An int, ``rank`` ints (symmetric) or ``rank`` pairs as ``rank`` (before, after)
    pairs of non-negative ints; a rank-1 layer also takes one (before, after) pair."""
    if _is_int(value):
        pairs = [(value, value)] * rank
    elif (
        isinstance(value, (list, tuple))
        and rank == 1
        and len(value) == 2
        and all(map(_is_int, value))
    ):
        pairs = [tuple(value)]
    elif isinstance(value, (list, tuple)) and len(value) == rank and all(map(_is_int, value)):
        pairs = [(v, v) for v in value]
    elif (
        isinstance(value, (list, tuple))
        and len(value) == rank
        and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(map(_is_int, p)) for p in value
        )
    ):
        pairs = [tuple(p) for p in value]
    else:
        pairs = None
    if pairs is None or any(v < 0 for p in pairs for v in p):
        shapes = (
            "an int or a tuple of 2 non-negative ints"
            if rank == 1
            else (f"an int, a tuple of {rank} ints or a tuple of {rank} tuples of 2 ints")
        )
        raise ValueError(
            f"{owner}: `{name}` must be {shapes} (non-negative). Received: {name}={value!r}"
        )
    return tuple(pairs)


def standardize_sizes(owner, name, value, rank):
    """An int or ``rank`` positive ints as a tuple of ``rank`` ints."""
    sizes = (
        (value,) * rank
        if _is_int(value)
        else tuple(value)
        if isinstance(value, (list, tuple))
        else ()
    )
    if len(sizes) != rank or not all(_is_int(s) and s > 0 for s in sizes):
        raise ValueError(
            f"{owner}: `{name}` must be a positive int or a tuple of {rank} positive ints. "
            f"Received: {name}={value!r}"
        )
    return sizes


def _windows(shape, axes, pairs):
    """The slices that select the inner window of ``shape`` trimmed by ``pairs`` on ``axes``."""
    index = [slice(None)] * len(shape)
    for axis, (before, after) in zip(axes, pairs):
        index[axis] = slice(before, shape[axis] - after)
    return tuple(index)


def _embed(small, big_shape, index):
    """A zero array of ``big_shape`` holding ``small`` at ``index``."""
    big = xp.zeros(big_shape, small.dtype)
    big[index] = small
    return big


class SpatialLayer(Layer):
    """What every 1D/2D/3D reshaping layer shares: the rank and the data format.
    Subclasses set ``rank``; the 1D ones take no ``data_format`` (as in Keras)."""

    rank = 1

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(self._owner, data_format)

    @property
    def _owner(self):
        return f"{type(self).__name__} layer '{self.name}'"

    def _axes(self):
        return spatial_axes(self.rank, self.data_format)

    def _check_rank(self, ndim):
        if ndim != self.rank + 2:
            raise ValueError(
                f"{self._owner} expects inputs of rank {self.rank + 2} (batch, "
                f"{self.rank} spatial axes, channels); received rank {ndim}."
            )

    def get_config(self):
        config = super().get_config()
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


class _ZeroPadding(SpatialLayer):
    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.padding = standardize_pairs(self._owner, "padding", padding, self.rank)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (before, after) in zip(self._axes(), self.padding):
            if shape[axis] is not None:
                shape[axis] += before + after
        return tuple(shape)

    def forward(self, x, training=False):
        self._check_rank(x.ndim)
        shape = self.compute_output_shape(x.shape)
        index = _windows(shape, self._axes(), self.padding)
        self.cache = index
        return _embed(x, shape, index)

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        return dy[self.cache] if ctx.need_input_grad else None

    def get_config(self):
        return {
            **super().get_config(),
            "padding": self.padding[0] if self.rank == 1 else self.padding,
        }


class _Cropping(SpatialLayer):
    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = standardize_pairs(self._owner, "cropping", cropping, self.rank)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (before, after) in zip(self._axes(), self.cropping):
            if shape[axis] is not None:
                if before + after >= shape[axis]:
                    raise ValueError(
                        f"{self._owner}: cropping {(before, after)} leaves nothing of an axis of "
                        f"size {shape[axis]} (input shape {tuple(input_shape)})."
                    )
                shape[axis] -= before + after
        return tuple(shape)

    def forward(self, x, training=False):
        self._check_rank(x.ndim)
        self.compute_output_shape(x.shape)
        index = _windows(x.shape, self._axes(), self.cropping)
        self.cache = (x.shape, index)
        return x[index]

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        shape, index = self.cache
        return _embed(dy, shape, index)

    def get_config(self):
        return {
            **super().get_config(),
            "cropping": self.cropping[0] if self.rank == 1 else self.cropping,
        }


class ZeroPadding1D(_ZeroPadding):
    """Adds zeros before and after the time axis: ``(batch, steps, features)`` ->
    ``(batch, before + steps + after, features)``.

    Args:
        padding: an int (both sides) or a (before, after) pair.

    >>> import numpy as np
    >>> ZeroPadding1D(1)(np.ones((1, 1, 2))).tolist()
    [[[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]
    """

    rank = 1

    def __init__(self, padding=1, **kwargs):
        super().__init__(padding, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Adds rows and columns of zeros around images ``(batch, rows, cols, channels)``.

    Args:
        padding: an int (the same before and after every spatial axis), 2 ints (symmetric
            per axis), or 2 (before, after) pairs.
        data_format: "channels_last" (default, ``(batch, *spatial, channels)``) or
            "channels_first" (``(batch, channels, *spatial)``).

    >>> import numpy as np
    >>> ZeroPadding2D(((1, 0), (0, 2)))(np.ones((1, 2, 2, 3))).shape
    (1, 3, 4, 3)
    """

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Adds zeros around volumes ``(batch, dim1, dim2, dim3, channels)``.

    Args:
        padding: an int (the same before and after every spatial axis), 3 ints (symmetric
            per axis), or 3 (before, after) pairs.
        data_format: "channels_last" (default, ``(batch, *spatial, channels)``) or
            "channels_first" (``(batch, channels, *spatial)``).

    >>> import numpy as np
    >>> ZeroPadding3D()(np.ones((1, 2, 2, 2, 3))).shape
    (1, 4, 4, 4, 3)
    """

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class Cropping1D(_Cropping):
    """Removes steps before and after the time axis: ``(batch, steps, features)`` ->
    ``(batch, steps - before - after, features)``.

    Args:
        cropping: an int (both sides) or a (before, after) pair.

    >>> import numpy as np
    >>> Cropping1D((1, 0))(np.arange(3.0).reshape(1, 3, 1)).tolist()
    [[[1.0], [2.0]]]
    """

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)


class Cropping2D(_Cropping):
    """Removes rows and columns at the borders of images ``(batch, rows, cols, channels)``.

    Args:
        cropping: an int (the same before and after every spatial axis), 2 ints (symmetric
            per axis), or 2 (before, after) pairs.
        data_format: "channels_last" (default, ``(batch, *spatial, channels)``) or
            "channels_first" (``(batch, channels, *spatial)``).

    >>> import numpy as np
    >>> Cropping2D(((1, 0), (1, 1)))(np.ones((1, 3, 4, 2))).shape
    (1, 2, 2, 2)
    """

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Removes the borders of volumes ``(batch, dim1, dim2, dim3, channels)``.

    Args:
        cropping: an int (the same before and after every spatial axis), 3 ints (symmetric
            per axis), or 3 (before, after) pairs.
        data_format: "channels_last" (default, ``(batch, *spatial, channels)``) or
            "channels_first" (``(batch, channels, *spatial)``).

    >>> import numpy as np
    >>> Cropping3D()(np.ones((1, 3, 3, 4, 2))).shape
    (1, 1, 1, 2, 2)
    """

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class RepeatVector(Layer):
    """Repeats a vector ``n`` times: ``(batch, features)`` -> ``(batch, n, features)``.

    Args:
        n: the number of repeats.

    >>> import numpy as np
    >>> RepeatVector(2)(np.array([[1.0, 2.0]])).tolist()
    [[[1.0, 2.0], [1.0, 2.0]]]
    """

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(n) or n <= 0:
            raise ValueError(
                f"Received an invalid value for `n` of RepeatVector layer '{self.name}', "
                f"expected a positive integer. Received: n={n!r}"
            )
        self.n = n

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x, training=False):
        if x.ndim != 2:
            raise ValueError(
                f"RepeatVector layer '{self.name}' expects inputs of rank 2 (batch, features); "
                f"received shape {x.shape}."
            )
        return xp.broadcast_to(x[:, None, :], (x.shape[0], self.n, x.shape[1])).copy()

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        return dy.sum(axis=1) if ctx.need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Permutes the axes after the batch axis: ``Permute((2, 1))`` swaps the two axes of
    ``(batch, a, b)``.

    Args:
        dims: a permutation of ``1 .. rank - 1`` (the batch axis is 0 and stays put).

    >>> import numpy as np
    >>> Permute((2, 1))(np.zeros((4, 2, 3))).shape
    (4, 3, 2)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                f"Invalid permutation argument `dims` for Permute layer '{self.name}'. The set "
                f"of indices in `dims` must be consecutive and start from 1. Received dims={dims}"
            )
        self.dims = dims
        self._inverse = (0,) + tuple(i + 1 for i in sorted(range(len(dims)), key=dims.__getitem__))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, x, training=False):
        if x.ndim != len(self.dims) + 1:
            raise ValueError(
                f"Permute layer '{self.name}' with dims={self.dims} expects inputs of rank "
                f"{len(self.dims) + 1}; received shape {x.shape}."
            )
        return xp.ascontiguousarray(x.transpose((0,) + self.dims))

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        return xp.ascontiguousarray(dy.transpose(self._inverse)) if ctx.need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}
