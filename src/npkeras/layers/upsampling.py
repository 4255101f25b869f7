"""UpSampling1D/2D/3D: nearest (repeat) and, in 2D, bilinear upsampling."""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD
from npkeras.layers.reshaping import SpatialLayer, standardize_sizes


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


class _UpSampling(SpatialLayer):
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
