"""Reshaping layers: ZeroPadding, Cropping, UpSampling (1D/2D/3D), RepeatVector, Permute.

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
    elif isinstance(value, (list, tuple)) and rank == 1 and len(value) == 2 and all(map(_is_int, value)):
        pairs = [tuple(value)]
    elif isinstance(value, (list, tuple)) and len(value) == rank and all(map(_is_int, value)):
        pairs = [(v, v) for v in value]
    elif isinstance(value, (list, tuple)) and len(value) == rank and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(map(_is_int, p)) for p in value):
        pairs = [tuple(p) for p in value]
    else:
        pairs = None
    if pairs is None or any(v < 0 for p in pairs for v in p):
        shapes = "an int or a tuple of 2 non-negative ints" if rank == 1 else (
            f"an int, a tuple of {rank} ints or a tuple of {rank} tuples of 2 ints")
        raise ValueError(
            f"{owner}: `{name}` must be {shapes} (non-negative). Received: {name}={value!r}"
        )
    return tuple(pairs)


def standardize_sizes(owner, name, value, rank):
    """An int or ``rank`` positive ints as a tuple of ``rank`` ints."""
    sizes = (value,) * rank if _is_int(value) else tuple(value) if isinstance(value, (list, tuple)) else ()
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


class _Spatial(Layer):
    """What every 1D/2D/3D reshaping layer shares: the rank and the data format."""

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


class _ZeroPadding(_Spatial):
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
        return {**super().get_config(), "padding": self.padding[0] if self.rank == 1 else self.padding}


class _Cropping(_Spatial):
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
        return {**super().get_config(), "cropping": self.cropping[0] if self.rank == 1 else self.cropping}


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


def _linear_resize_matrix(n, factor, dtype):
    """The ``(n * factor, n)`` matrix of bilinear upsampling along one axis, with
    half-pixel centres (TensorFlow/JAX ``resize``, torch ``align_corners=False``):
    output i samples input position ``(i + 0.5) / factor - 0.5``, clamped to the edges."""
    out = xp.arange(n * factor)
    source = xp.clip((out + 0.5) / factor - 0.5, 0, n - 1)
    low = xp.floor(source).astype(xp.intp)
    high = xp.minimum(low + 1, n - 1)
    weight_high = source - low
    matrix = xp.zeros((n * factor, n), dtype)
    matrix[out, low] += 1.0 - weight_high
    matrix[out, high] += weight_high
    return matrix


def _apply_along(matrix, x, axis):
    """``matrix @ x`` along ``axis`` of ``x``."""
    return xp.moveaxis(xp.tensordot(matrix, x, axes=(1, axis)), 0, axis)


class _UpSampling(_Spatial):
    _INTERPOLATIONS = ("nearest",)

    def __init__(self, size, data_format, interpolation, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.size = standardize_sizes(self._owner, "size", size, self.rank)
        if interpolation not in self._INTERPOLATIONS:
            raise ValueError(
                f"{self._owner}: `interpolation` must be one of {self._INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, factor in zip(self._axes(), self.size):
            if shape[axis] is not None:
                shape[axis] *= factor
        return tuple(shape)

    def _blocks(self, shape):
        """``shape`` with a size-``factor`` axis after each spatial axis (nearest's blocks),
        and those new axes' positions."""
        blocks, new_axes = [], []
        for axis, n in enumerate(shape):
            blocks.append(n)
            if axis in self._axes():
                blocks.append(self.size[self._axes().index(axis)])
                new_axes.append(len(blocks) - 1)
        return tuple(blocks), tuple(new_axes)

    def forward(self, x, training=False):
        self._check_rank(x.ndim)
        self.cache = x.shape
        if self.interpolation == "bilinear":
            for axis, factor in zip(self._axes(), self.size):
                x = _apply_along(_linear_resize_matrix(x.shape[axis], factor, x.dtype), x, axis)
            return x
        # nearest: every input value fills a factor-sized block, one broadcast copy
        blocks, new_axes = self._blocks(x.shape)
        spread = xp.expand_dims(x, new_axes)
        return xp.broadcast_to(spread, blocks).reshape(self.compute_output_shape(x.shape))

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        shape = self.cache
        if self.interpolation == "bilinear":
            for axis, factor in zip(self._axes(), self.size):
                dy = _apply_along(_linear_resize_matrix(shape[axis], factor, dy.dtype).T, dy, axis)
            return dy
        blocks, new_axes = self._blocks(shape)
        return dy.reshape(blocks).sum(axis=new_axes)  # each input got its block's gradients

    def get_config(self):
        config = {**super().get_config(), "size": self.size[0] if self.rank == 1 else self.size}
        if self.rank == 2:
            config["interpolation"] = self.interpolation
        return config


class UpSampling1D(_UpSampling):
    """Repeats each timestep ``size`` times: ``(batch, steps, features)`` ->
    ``(batch, steps * size, features)``.

    Args:
        size: the repeat factor.

    >>> import numpy as np
    >>> UpSampling1D(2)(np.array([[[1.0], [2.0]]])).tolist()
    [[[1.0], [1.0], [2.0], [2.0]]]
    """

    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size, None, "nearest", **kwargs)


class UpSampling2D(_UpSampling):
    """Scales images up by ``size``: ``(batch, rows, cols, channels)`` ->
    ``(batch, rows * size[0], cols * size[1], channels)``.

    Args:
        size: an int or 2 ints, the row and column factors.
        data_format: "channels_last" (default) or "channels_first".
        interpolation: "nearest" (repeat) or "bilinear" (half-pixel centres, edges
            clamped, as Keras's ``ops.image.resize``).

    >>> import numpy as np
    >>> UpSampling2D(2, interpolation="bilinear")(np.array([[[[0.0], [4.0]]]]))[0, 0, :, 0].tolist()
    [0.0, 1.0, 3.0, 4.0]
    """

    rank = 2
    _INTERPOLATIONS = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, data_format, interpolation, **kwargs)


class UpSampling3D(_UpSampling):
    """Repeats each voxel: ``(batch, d1, d2, d3, channels)`` -> ``(batch, d1 * size[0],
    d2 * size[1], d3 * size[2], channels)``.

    Args:
        size: an int or 3 ints.
        data_format: "channels_last" (default) or "channels_first".

    >>> import numpy as np
    >>> UpSampling3D()(np.ones((1, 1, 2, 3, 4))).shape
    (1, 2, 4, 6, 4)
    """

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, "nearest", **kwargs)


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
        self._inverse = (0,) + tuple(int(i) + 1 for i in xp.argsort(dims))

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
