"""Pooling layers: MaxPooling1D/2D/3D and AveragePooling1D/2D/3D.

Windows are strided slices of the channels-last input, one per pool offset (4 for a
2x2 pool), each a whole-batch array operation; no loop over samples or pixels.
"""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers import conv_utils as cu
from npkeras.layers.base import DEFAULT_BACKWARD, Layer


class BasePooling(Layer):
    """Windowed pooling over ``rank`` spatial axes; see :class:`MaxPooling2D`."""

    rank = 0

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = f"{type(self).__name__} layer '{self.name}'"
        self.pool_size = cu.normalize_tuple(pool_size, self.rank, "pool_size", owner)
        self.strides = (
            cu.normalize_tuple(strides, self.rank, "strides", owner, allow_none=True)
            or self.pool_size
        )
        self.padding = cu.normalize_choice(padding, ("valid", "same"), "padding", owner)
        self.data_format = cu.normalize_data_format(data_format, owner)

    def _geometry(self, spatial):
        """Per axis: (pad before, pad after) and the output length; an unknown length
        (None, a symbolic shape) has unknown pads, found again on the real input."""
        pads = [
            None if n is None else cu.padding_amounts(n, k, s, 1, self.padding)
            for n, k, s in zip(spatial, self.pool_size, self.strides)
        ]
        out = tuple(
            cu.output_length(n, k, s, 1, self.padding)
            for n, k, s in zip(spatial, self.pool_size, self.strides)
        )
        return pads, out

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expects inputs of rank "
                f"{self.rank + 2}, but received input shape {tuple(input_shape)}."
            )
        spatial, channels = cu.spatial_and_channels(input_shape, self.data_format)
        _, out = self._geometry(spatial)
        if any(n is not None and n <= 0 for n in out):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}': the input shape "
                f"{tuple(input_shape)} is smaller than pool_size={self.pool_size} with "
                "padding='valid'. Use padding='same' or larger inputs."
            )
        return cu.with_channels(input_shape[0], out, channels, self.data_format)

    def forward(self, x, training=False):
        self.compute_output_shape(x.shape)
        x = cu.to_channels_last(x, self.data_format)
        pads, out = self._geometry(x.shape[1:-1])
        padded = cu.pad_spatial(x, pads, self.pad_value)
        y, state = self._pool(padded, pads, out, x.shape[1:-1])
        self.cache = (state, padded.shape, pads, out, x.shape[1:-1])
        return cu.from_channels_last(y, self.data_format)

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        need_input_grad, _, _ = cu.backward_flags(self, ctx)
        if not need_input_grad:
            return None
        state, padded_shape, pads, out, spatial = self.cache
        dy = cu.to_channels_last(dy, self.data_format)
        grad_at = self._offset_grad(dy, state)
        overlapping = any(k > s for k, s in zip(self.pool_size, self.strides))
        abutting = all(k == s for k, s in zip(self.pool_size, self.strides))
        # windows side by side write every element they cover: only the remainder they
        # leave at the far end of an axis (11 rows in windows of 2) needs zeros first
        grid = (xp.empty if abutting else xp.zeros)(padded_shape, dy.dtype)
        if abutting:
            for axis, (n, o, s) in enumerate(zip(padded_shape[1:-1], out, self.strides)):
                if n > o * s:
                    grid[(slice(None),) * (axis + 1) + (slice(o * s, None),)] = 0
        if self._compiled_grad(dy, state, grid):
            return cu.from_channels_last(grid[cu.interior(spatial, pads)], self.data_format)
        for k, (_, region) in enumerate(
            cu.offset_regions(out, self.pool_size, self.strides, (1,) * self.rank)
        ):
            if overlapping:  # an input may sit in several windows: add
                grid[region] += grad_at(k, None)
            else:  # each input in at most one window: write in place, no temporary
                grad_at(k, grid[region])
        return cu.from_channels_last(grid[cu.interior(spatial, pads)], self.data_format)

    def _compiled_grad(self, dy, state, grid) -> bool:
        """Write the input gradient into ``grid`` with a compiled kernel where one fits."""
        return False

    def _windows(self, padded, out):
        """(k, the whole-batch slice of every window's k-th element) for each offset k."""
        for k, (_, region) in enumerate(
            cu.offset_regions(out, self.pool_size, self.strides, (1,) * self.rank)
        ):
            yield k, padded[region]

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


class BaseMaxPooling(BasePooling):
    """Max over each window; the gradient goes to the first maximum (row-major order
    within the window) when several inputs tie, as PyTorch does."""

    pad_value = -math.inf

    def _compiled(self, *arrays) -> bool:
        """Whether the compiled kernels run this pooling: windows that do not overlap
        (strides == pool_size, Keras's default), offsets that fit in uint8."""
        return (
            self.strides == self.pool_size
            and math.prod(self.pool_size) <= 256
            and backend.kernels_accept(*arrays)
        )

    def _pool(self, padded, pads, out, spatial):
        if self._compiled(padded):  # one pass instead of 3 per offset (5.4 -> 1 ms, CNN)
            best = xp.empty((padded.shape[0],) + tuple(out) + (padded.shape[-1],), padded.dtype)
            index = xp.empty(best.shape, xp.uint8)
            backend.kernels.max_pool(
                cu.as_grid5(padded),
                cu.as_grid5(best),
                cu.as_grid5(index),
                *cu.padded3(self.pool_size),
            )
            return best, index
        best, index = None, None
        for k, window in self._windows(padded, out):
            if best is None:
                best = window.copy()
                index = xp.zeros(
                    best.shape, "uint8" if math.prod(self.pool_size) <= 256 else "int32"
                )
                continue
            # the offset of the maximum so far, first one on ties: offsets only grow, so the
            # last offset that was strictly better is max(k * better) (masked copies are 10x
            # slower than this arithmetic)
            better = xp.greater(window, best)
            xp.maximum(index, better.view(xp.uint8) * index.dtype.type(k), out=index)
            xp.maximum(best, window, out=best)
        return best, index

    def _compiled_grad(self, dy, index, grid) -> bool:
        if not (index.dtype == xp.uint8 and index.flags.c_contiguous and self._compiled(dy, grid)):
            return False
        backend.kernels.max_pool_grad(
            cu.as_grid5(dy), cu.as_grid5(index), cu.as_grid5(grid), *cu.padded3(self.pool_size)
        )
        return True

    def _offset_grad(self, dy, index):
        def grad_at(k, out):
            return xp.multiply(dy, index == k, out=out)

        return grad_at


class BaseAveragePooling(BasePooling):
    """Mean over each window. With padding='same' a window at the border divides by the
    number of real (non-padding) inputs it covers, as Keras does."""

    pad_value = 0.0

    def _inverse_counts(self, spatial, pads, out, dtype):
        """1 / (real inputs per window), shaped ``(1, *out, 1)``; a scalar for 'valid'.
        The count is a product over axes of the per-axis overlap with the input."""
        if self.padding == "valid":
            return 1.0 / math.prod(self.pool_size)
        inverse = xp.ones((1,) * (self.rank + 2), dtype)
        for axis, (n, (before, _), n_out, k, s) in enumerate(
            zip(spatial, pads, out, self.pool_size, self.strides)
        ):
            start = xp.arange(n_out) * s - before  # each window's first position, input coords
            count = xp.minimum(start + k, n) - xp.maximum(start, 0)
            shape = [1] * (self.rank + 2)
            shape[axis + 1] = n_out
            inverse = inverse / count.reshape(shape).astype(dtype)
        return inverse

    def _pool(self, padded, pads, out, spatial):
        total = None
        for _, window in self._windows(padded, out):
            if total is None:
                total = window.copy()
            else:
                total += window
        inverse = self._inverse_counts(spatial, pads, out, total.dtype)
        total *= inverse
        return total, inverse

    def _offset_grad(self, dy, inverse):
        share = dy * inverse  # every input of a window gets dy / count

        def grad_at(k, out):
            if out is None:
                return share
            out[...] = share

        return grad_at


_POOL_ARGS = """
    Args:
        pool_size: an int or {rank} ints, the window size (default 2).
        strides: an int, {rank} ints or None (default: ``pool_size``).
        padding: 'valid' (no padding) or 'same' (``ceil(n / stride)`` outputs, windows
            at the border use only the real inputs).
        data_format: 'channels_last' (default, ``(batch, {spatial}, channels)``) or
            'channels_first' (``(batch, channels, {spatial})``).
"""


class MaxPooling1D(BaseMaxPooling):
    """Max over windows of steps, ``(batch, steps, channels)``.
    {args}
    >>> import numpy as np
    >>> MaxPooling1D(2)(np.array([[[1.0], [3.0], [2.0], [0.0], [5.0]]])).tolist()
    [[[3.0], [2.0]]]
    """

    rank = 1


class MaxPooling2D(BaseMaxPooling):
    """Max over windows of images, ``(batch, height, width, channels)``.
    {args}
    >>> import numpy as np
    >>> MaxPooling2D()(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """

    rank = 2


class MaxPooling3D(BaseMaxPooling):
    """Max over windows of volumes, ``(batch, depth, height, width, channels)``.
    {args}
    >>> import numpy as np
    >>> MaxPooling3D(pool_size=2, padding="same")(np.zeros((1, 5, 4, 3, 2))).shape
    (1, 3, 2, 2, 2)
    """

    rank = 3


class AveragePooling1D(BaseAveragePooling):
    """Mean over windows of steps, ``(batch, steps, channels)``.
    {args}
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
    >>> AveragePooling1D(2, strides=1, padding="same")(x)[0, :, 0].tolist()
    [1.5, 2.5, 3.5, 4.5, 5.0]
    """

    rank = 1


class AveragePooling2D(BaseAveragePooling):
    """Mean over windows of images, ``(batch, height, width, channels)``.
    {args}
    >>> import numpy as np
    >>> AveragePooling2D()(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """

    rank = 2


class AveragePooling3D(BaseAveragePooling):
    """Mean over windows of volumes, ``(batch, depth, height, width, channels)``.
    {args}
    >>> import numpy as np
    >>> AveragePooling3D(pool_size=(1, 2, 2))(np.ones((1, 2, 4, 4, 3))).shape
    (1, 2, 2, 2, 3)
    """

    rank = 3


for _cls, _spatial in (
    (MaxPooling1D, "steps"),
    (AveragePooling1D, "steps"),
    (MaxPooling2D, "height, width"),
    (AveragePooling2D, "height, width"),
    (MaxPooling3D, "depth, height, width"),
    (AveragePooling3D, "depth, height, width"),
):
    _cls.__doc__ = _cls.__doc__.replace(
        "{args}", _POOL_ARGS.format(rank=_cls.rank, spatial=_spatial)
    )
