"""Convolution layers: Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D.

All share one N-d core (:mod:`npkeras.layers.conv_utils`): the forward pass is one
matrix product per group on the patch matrix ``(batch * out_pixels, k * channels)``;
the kernel gradient is ``cols.T @ dz``, the input gradient ``dz @ kernel.T`` added back
onto the input grid, one product per kernel offset.
Kernels use Keras's layouts: ``(*kernel_size, in_channels / groups, filters)``.
"""

from __future__ import annotations

from npkeras import initializers, regularizers
from npkeras.backend import xp
from npkeras.layers import conv_utils as cu
from npkeras.layers.conv_base import BaseSpatialConv
from npkeras.layers.core import _positive_int


class BaseConv(BaseSpatialConv):
    """N-d convolution (cross-correlation, as in Keras), grouped when ``groups > 1``.

    Subclasses: :class:`Conv1D`, :class:`Conv2D`, :class:`Conv3D`.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
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
        self.groups = _positive_int(self._owner(), "groups", groups)
        if self.filters % self.groups:
            raise ValueError(
                f"{self._owner()}: the number of filters must be evenly divisible by the "
                f"number of groups. Received: groups={self.groups}, filters={self.filters}"
            )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(
                f"{self._owner()}: the number of input channels must be evenly divisible by "
                f"the number of groups. Received groups={self.groups}, but the input has "
                f"{channels} channels (full input shape is {tuple(input_shape)})."
            )
        self.add_weight(
            "kernel",
            self.kernel_size + (channels // self.groups, self.filters),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self._weight_constraints["kernel"],
        )
        self._add_bias(self.filters)

    def _output_channels(self, in_channels):
        return self.filters

    # the kernel as (groups, prod(k) * in/groups, filters/groups), and back
    def _kernel_groups(self):
        return self.groups, cu.grouped_kernel(self.params["kernel"], self.groups)

    def _store_kernel_grad(self, grouped_grad, fresh):
        cu.store_grad(self, "kernel", grouped_grad.transpose(1, 0, 2), fresh)

    def _linear_forward(self, x):
        groups, kernel = self._kernel_groups()
        pads = [
            cu.padding_amounts(n, k, s, d, self.padding)
            for n, k, s, d in zip(x.shape[1:-1], self.kernel_size, self.strides, self.dilation_rate)
        ]
        padded = cu.pad_spatial(x, pads)
        out_spatial = self._output_spatial(x.shape[1:-1])
        cols = cu.im2col(
            padded, out_spatial, self.kernel_size, self.strides, self.dilation_rate, groups
        )
        z = cu.ungroup_rows(xp.matmul(cols, kernel))  # (rows, filters)
        return z, out_spatial, (cols, x.shape, padded.shape, pads)

    def _linear_backward(self, dz, cache, need_input_grad, fresh):
        cols, x_shape, padded_shape, pads = cache
        groups, kernel = self._kernel_groups()
        dz_groups = cu.group_rows(dz, groups)
        if self.trainable:
            self._store_kernel_grad(xp.matmul(cols.transpose(0, 2, 1), dz_groups), fresh)
        if not need_input_grad:
            return None
        out_spatial = self._output_spatial(x_shape[1:-1])
        # dL/dx: dz @ kernel.T added where each tap read x, one product per first-axis offset
        slabs = kernel.reshape((groups, self.kernel_size[0], -1, kernel.shape[-1]))
        dpadded = cu.scatter_products(
            dz_groups,
            [slabs[:, i].transpose(0, 2, 1) for i in range(slabs.shape[1])],
            padded_shape,
            out_spatial,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
        )
        return dpadded[cu.interior(x_shape[1:-1], pads)]

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "groups": self.groups,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
        }


_CONV_ARGS = """
    Args:
        filters: number of output channels.
        kernel_size: an int or a tuple of {rank} ints, the window size.
        strides: an int or {rank} ints (default 1); strides > 1 exclude dilation > 1.
        padding: 'valid' (no padding) or 'same' (``ceil(n / stride)`` outputs, the odd
            extra zero after){causal}.
        data_format: 'channels_last' (default, ``(batch, {spatial}, channels)``) or
            'channels_first' (``(batch, channels, {spatial})``).
        dilation_rate: an int or {rank} ints, the spacing of the kernel taps.
        groups: split channels into this many independent groups (divides both the
            input channels and ``filters``).
        activation: applied to the output; default linear.
        use_bias: add a bias vector ``(filters,)``.
        kernel_initializer, bias_initializer: 'glorot_uniform' and 'zeros' by default.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties.
        kernel_constraint, bias_constraint: projections after every optimizer step.

    Kernel shape: ``(*kernel_size, in_channels / groups, filters)``, Keras's layout.
"""


class Conv1D(BaseConv):
    """1-D convolution over ``(batch, steps, channels)``.
    {args}
    >>> import numpy as np
    >>> layer = Conv1D(2, 3, kernel_initializer="ones")
    >>> layer(np.ones((1, 5, 1))).tolist()
    [[[3.0, 3.0], [3.0, 3.0], [3.0, 3.0]]]
    """

    rank = 1
    allowed_padding = ("valid", "same", "causal")


class Conv2D(BaseConv):
    """2-D convolution over images ``(batch, height, width, channels)``.
    {args}
    >>> import numpy as np
    >>> Conv2D(4, 3, padding="same")(np.zeros((2, 8, 8, 3))).shape
    (2, 8, 8, 4)
    """

    rank = 2


class Conv3D(BaseConv):
    """3-D convolution over volumes ``(batch, depth, height, width, channels)``.
    {args}
    >>> import numpy as np
    >>> Conv3D(2, 3, strides=2)(np.zeros((1, 7, 7, 7, 1))).shape
    (1, 3, 3, 3, 2)
    """

    rank = 3


for _cls, _spatial in (
    (Conv1D, "steps"),
    (Conv2D, "height, width"),
    (Conv3D, "depth, height, width"),
):
    _cls.__doc__ = _cls.__doc__.replace(
        "{args}",
        _CONV_ARGS.format(
            rank=_cls.rank,
            spatial=_spatial,
            causal=", or 'causal' (zeros only before: output t sees inputs up to t)"
            if _cls is Conv1D
            else "",
        ),
    )


class BaseDepthwiseConv(BaseConv):
    """Depthwise convolution: each input channel convolved with its own
    ``depth_multiplier`` filters (a grouped convolution with one group per channel).

    Kernel ``(*kernel_size, in_channels, depth_multiplier)``; output channel
    ``c * depth_multiplier + m`` comes from input channel c.
    """

    constraint_arguments = ("depthwise", "bias")

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias: bool = True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        **kwargs,
    ):
        super().__init__(
            1,
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            1,
            activation,
            use_bias,
            depthwise_initializer,
            bias_initializer,
            depthwise_regularizer,
            bias_regularizer,
            activity_regularizer,
            **kwargs,
        )
        self.depth_multiplier = _positive_int(self._owner(), "depth_multiplier", depth_multiplier)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.add_weight(
            "kernel",
            self.kernel_size + (channels, self.depth_multiplier),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self._weight_constraints["depthwise"],
        )
        self._add_bias(channels * self.depth_multiplier)

    def _output_channels(self, in_channels):
        return in_channels * self.depth_multiplier

    def _kernel_groups(self):
        kernel = self.params[
            "kernel"
        ]  # (*k, c, m) read as (*k, 1, c * m): group c is filters c*m..
        channels = kernel.shape[-2]
        return channels, cu.grouped_kernel(kernel.reshape(self.kernel_size + (1, -1)), channels)

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups"):
            del config[key]
        config["depth_multiplier"] = self.depth_multiplier
        config["depthwise_initializer"] = config.pop("kernel_initializer")
        config["depthwise_regularizer"] = config.pop("kernel_regularizer")
        return config


class DepthwiseConv1D(BaseDepthwiseConv):
    """1-D depthwise convolution over ``(batch, steps, channels)``.

    Args: as :class:`DepthwiseConv2D`, with one spatial axis.

    >>> import numpy as np
    >>> DepthwiseConv1D(3, depth_multiplier=2)(np.zeros((1, 6, 4))).shape
    (1, 4, 8)
    """

    rank = 1
    allowed_padding = ("valid", "same", "causal")


class DepthwiseConv2D(BaseDepthwiseConv):
    """2-D depthwise convolution: one ``kernel_size`` filter per input channel and multiplier.

    Args:
        kernel_size, strides, padding, data_format, dilation_rate: as :class:`Conv2D`.
        depth_multiplier: output channels per input channel.
        activation, use_bias: as :class:`Conv2D`.
        depthwise_initializer, bias_initializer: 'glorot_uniform' and 'zeros'.
        depthwise_regularizer, bias_regularizer, activity_regularizer: penalties.
        depthwise_constraint, bias_constraint: projections after every optimizer step.

    Shapes: input ``(batch, h, w, c)``, output ``(batch, h', w', c * depth_multiplier)``;
    kernel ``(kh, kw, c, depth_multiplier)``, bias ``(c * depth_multiplier,)``.

    >>> import numpy as np
    >>> DepthwiseConv2D(3, padding="same")(np.zeros((1, 5, 5, 3))).shape
    (1, 5, 5, 3)
    """

    rank = 2


class BaseSeparableConv(BaseDepthwiseConv):
    """Depthwise convolution followed by a pointwise (1x1) convolution to ``filters``.

    Weights in Keras's order: ``depthwise_kernel (*k, c, depth_multiplier)``,
    ``pointwise_kernel (*ones, c * depth_multiplier, filters)``, ``bias (filters,)``.
    """

    constraint_arguments = ("depthwise", "pointwise", "bias")

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias: bool = True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        **kwargs,
    ):
        super().__init__(
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            depthwise_initializer,
            bias_initializer,
            depthwise_regularizer,
            bias_regularizer,
            activity_regularizer,
            **kwargs,
        )
        self.filters = _positive_int(self._owner(), "filters", filters)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.add_weight(
            "depthwise_kernel",
            self.kernel_size + (channels, self.depth_multiplier),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self._weight_constraints["depthwise"],
        )
        self.add_weight(
            "pointwise_kernel",
            (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self._weight_constraints["pointwise"],
        )
        self._add_bias(self.filters)

    def _output_channels(self, in_channels):
        return self.filters

    def _kernel_groups(self):
        kernel = self.params["depthwise_kernel"]
        channels = kernel.shape[-2]
        return channels, cu.grouped_kernel(kernel.reshape(self.kernel_size + (1, -1)), channels)

    def _store_kernel_grad(self, grouped_grad, fresh):
        cu.store_grad(self, "depthwise_kernel", grouped_grad.transpose(1, 0, 2), fresh)

    def _pointwise(self):
        kernel = self.params["pointwise_kernel"]
        return kernel.reshape(kernel.shape[-2], kernel.shape[-1])

    def _linear_forward(self, x):
        depthwise, out_spatial, depthwise_cache = super()._linear_forward(x)
        return xp.dot(depthwise, self._pointwise()), out_spatial, (depthwise, depthwise_cache)

    def _linear_backward(self, dz, cache, need_input_grad, fresh):
        depthwise, depthwise_cache = cache
        if self.trainable:
            cu.store_grad(self, "pointwise_kernel", xp.dot(depthwise.T, dz), fresh)
        ddepthwise = xp.dot(dz, self._pointwise().T)
        return super()._linear_backward(ddepthwise, depthwise_cache, need_input_grad, fresh)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
        }


class SeparableConv1D(BaseSeparableConv):
    """1-D separable convolution: a depthwise then a pointwise convolution.

    Args: as :class:`SeparableConv2D`, with one spatial axis.

    >>> import numpy as np
    >>> SeparableConv1D(4, 3, padding="causal")(np.zeros((2, 6, 3))).shape
    (2, 6, 4)
    """

    rank = 1
    allowed_padding = ("valid", "same", "causal")


class SeparableConv2D(BaseSeparableConv):
    """2-D separable convolution: a depthwise then a pointwise (1x1) convolution.

    Args:
        filters: output channels of the pointwise step.
        kernel_size, strides, padding, data_format, dilation_rate: as :class:`Conv2D`
            (they apply to the depthwise step).
        depth_multiplier: depthwise output channels per input channel.
        activation, use_bias: as :class:`Conv2D`.
        depthwise_initializer, pointwise_initializer, bias_initializer: initializers.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer,
            activity_regularizer: penalties.
        depthwise_constraint, pointwise_constraint, bias_constraint: projections after
            every optimizer step.

    Weights: ``depthwise_kernel (kh, kw, c, m)``, ``pointwise_kernel (1, 1, c * m,
    filters)``, ``bias (filters,)``.

    >>> import numpy as np
    >>> layer = SeparableConv2D(8, 3)
    >>> layer(np.zeros((1, 6, 6, 3))).shape, layer.count_params()
    ((1, 4, 4, 8), 59)
    """

    rank = 2
