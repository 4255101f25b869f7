"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

A transposed convolution is the adjoint of a convolution: every input pixel ``i`` adds
``x[i] @ kernel[k].T`` at output position ``i * stride + k * dilation``, then the full
result is cropped to Keras's output size. So its forward pass is a convolution's
input gradient (:func:`scatter_products`) and its input gradient is a convolution's
forward pass (:func:`im2col`, one matrix product).
"""

from __future__ import annotations

import math

from npkeras import initializers, regularizers
from npkeras.backend import xp
from npkeras.layers import conv_utils as cu
from npkeras.layers.conv_base import BaseSpatialConv
from npkeras.layers.core import _positive_int


def transpose_crop(
    size: int, kernel: int, stride: int, dilation: int, padding: str, output_padding
):
    """(crop before, output length) of one axis, as Keras computes them.

    The uncropped result has ``(size - 1) * stride + extent`` positions; Keras (its
    JAX backend's padding rule) pads the stride-dilated input by ``left`` before a
    convolution with the flipped kernel, which amounts to dropping ``extent - 1 - left``
    leading positions here.
    """
    extent = cu.effective_size(kernel, dilation)
    if padding == "valid":  # left = extent - 1: nothing dropped
        extra = max(extent, stride) - extent if output_padding is None else output_padding
        return 0, (size - 1) * stride + extent + extra
    pad_total = (
        stride + extent - 2 if output_padding is None else extent + extent % 2 - 2 + output_padding
    )
    left = min(pad_total // 2 + pad_total % 2, extent - 1)
    return extent - 1 - left, (size - 1) * stride + pad_total - extent + 2


class BaseConvTranspose(BaseSpatialConv):
    """N-d transposed convolution; see :class:`Conv2DTranspose`."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        **kwargs,
    ):
        super().__init__(
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            bias_initializer,
            bias_regularizer,
            activity_regularizer,
            **kwargs,
        )
        self.filters = _positive_int(self._owner(), "filters", filters)
        self.output_padding = self._check_output_padding(output_padding)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def _check_output_padding(self, output_padding):
        if output_padding is None:
            return None
        values = (
            (output_padding,) * self.rank if isinstance(output_padding, int) else output_padding
        )
        values = tuple(values) if isinstance(values, (list, tuple)) else ()
        if len(values) != self.rank or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v for v in values
        ):
            raise ValueError(
                f"Received an invalid value for `output_padding` of {self._owner()}, expected "
                f"None, an integer or a tuple of {self.rank} non-negative integers. Received: "
                f"output_padding={output_padding!r}"
            )
        if any(p >= s for p, s in zip(values, self.strides)):
            raise ValueError(
                f"{self._owner()}: each `output_padding` must be smaller than its stride. "
                f"Received: output_padding={values}, strides={self.strides}"
            )
        return values

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.add_weight(
            "kernel",
            self.kernel_size + (self.filters, channels),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self._weight_constraints["kernel"],
        )
        self._add_bias(self.filters)

    def _output_channels(self, in_channels):
        return self.filters

    def _crops(self, spatial):
        """(crop before, output length) per axis; the length is None where the size is."""
        paddings = self.output_padding or (None,) * self.rank
        return [
            (0, None) if n is None else transpose_crop(n, k, s, d, self.padding, p)
            for n, k, s, d, p in zip(
                spatial, self.kernel_size, self.strides, self.dilation_rate, paddings
            )
        ]

    def _output_spatial(self, spatial):
        return tuple(length for _, length in self._crops(spatial))

    def _grid(self, spatial):
        """The uncropped grid every window lands in, large enough for the crop too, and
        the (before, after) padding that places the output inside it."""
        grid, pads = [], []
        for n, k, s, d, (crop, length) in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate, self._crops(spatial)
        ):
            size = max((n - 1) * s + cu.effective_size(k, d), crop + length)
            grid.append(size)
            pads.append((crop, size - crop - length))
        return tuple(grid), pads

    def _kernel_matrix(self):
        return self.params["kernel"].reshape(-1, self.params["kernel"].shape[-1])  # (k*f, in)

    def _linear_forward(self, x):
        spatial = x.shape[1:-1]
        grid, pads = self._grid(spatial)
        rows = x.reshape(1, math.prod(x.shape[:-1]), -1)
        # per tap: x @ kernel[tap].T (in -> filters) added at i * stride + tap * dilation;
        # slab i holds the taps whose first-axis offset is i, as (in, taps * filters)
        slabs = self.params["kernel"].reshape(self.kernel_size[0], -1, x.shape[-1])
        full = cu.scatter_products(
            rows,
            [slabs[i].T[None] for i in range(slabs.shape[0])],
            (x.shape[0],) + grid + (self.filters,),
            spatial,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
        )
        out = xp.ascontiguousarray(full[cu.interior(self._output_spatial(spatial), pads)])
        return out.reshape(-1, self.filters), out.shape[1:-1], x

    def _linear_backward(self, dz, x, need_input_grad, fresh):
        spatial = x.shape[1:-1]
        _, pads = self._grid(spatial)
        dout = dz.reshape((x.shape[0],) + self._output_spatial(spatial) + (self.filters,))
        dfull = cu.pad_spatial(dout, pads)  # zeros where the crop dropped positions
        dcols = cu.im2col(dfull, spatial, self.kernel_size, self.strides, self.dilation_rate)[0]
        x_rows = x.reshape(dcols.shape[0], -1)
        if self.trainable:
            cu.store_grad(self, "kernel", xp.dot(dcols.T, x_rows), fresh)  # (k*f, in)
        if not need_input_grad:
            return None
        return xp.dot(dcols, self._kernel_matrix()).reshape(x.shape)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "output_padding": None if self.output_padding is None else list(self.output_padding),
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
        }


class Conv1DTranspose(BaseConvTranspose):
    """1-D transposed convolution over ``(batch, steps, channels)``.

    Args: as :class:`Conv2DTranspose`, with one spatial axis.

    >>> import numpy as np
    >>> Conv1DTranspose(2, 3, strides=2)(np.zeros((1, 4, 3))).shape
    (1, 9, 2)
    """

    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    """2-D transposed convolution ("deconvolution"), the adjoint of :class:`Conv2D`.

    Args:
        filters: number of output channels.
        kernel_size, strides, dilation_rate: ints or pairs, as :class:`Conv2D`.
        padding: 'valid' (output ``(n - 1) * s + max(k, s)``) or 'same' (output ``n * s``).
        output_padding: None or ints below the strides: the output becomes
            ``(n - 1) * s + k + output_padding`` ('valid') or ``(n - 1) * s + k % 2 +
            output_padding`` ('same'), as in Keras.
        data_format: 'channels_last' (default) or 'channels_first'.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as
            :class:`Conv2D`.

    Kernel shape: ``(kh, kw, filters, in_channels)``, Keras's layout.

    >>> import numpy as np
    >>> Conv2DTranspose(4, 3, strides=2, padding="same")(np.zeros((1, 5, 5, 2))).shape
    (1, 10, 10, 4)
    """

    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    """3-D transposed convolution over ``(batch, depth, height, width, channels)``.

    Args: as :class:`Conv2DTranspose`, with three spatial axes.

    >>> import numpy as np
    >>> Conv3DTranspose(2, 2, strides=2)(np.zeros((1, 2, 3, 4, 1))).shape
    (1, 4, 6, 8, 2)
    """

    rank = 3
