"""BaseSpatialConv: what every convolution layer shares (arguments, data format, bias,
activation, activity penalty); subclasses supply only the linear map and its adjoint."""

from __future__ import annotations

from npkeras import activations, backend, constraints, initializers, regularizers
from npkeras.layers import activation_functions
from npkeras.layers import conv_utils as cu
from npkeras.layers.base import DEFAULT_BACKWARD, Layer


class BaseSpatialConv(Layer):
    """Base of the convolution layers; not used directly.

    Subclasses set ``rank`` (number of spatial axes) and define ``_output_channels``,
    ``_output_spatial``, ``_linear_forward`` and ``_linear_backward`` on channels-last
    arrays; this class converts data formats, adds the bias and applies the activation.
    """

    rank = 0
    supports_fresh_grads = True
    #: the ``<name>_constraint`` arguments the layer takes, as in Keras (Conv: kernel and
    #: bias; depthwise and separable layers name their kernels)
    constraint_arguments = ("kernel", "bias")
    allowed_padding = ("valid", "same")

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias: bool = True,
        bias_initializer="zeros",
        bias_regularizer=None,
        activity_regularizer=None,
        **kwargs,
    ):
        given = {name: kwargs.pop(f"{name}_constraint", None) for name in self.constraint_arguments}
        super().__init__(**kwargs)
        owner = self._owner()
        self.kernel_size = cu.normalize_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = cu.normalize_tuple(strides, self.rank, "strides", owner)
        self.padding = cu.normalize_choice(padding, self.allowed_padding, "padding", owner)
        self.data_format = cu.normalize_data_format(data_format, owner)
        self.dilation_rate = cu.normalize_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{owner}: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self.activation = activation_functions.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._weight_constraints = {name: constraints.get(value) for name, value in given.items()}
        self._is_linear = isinstance(self.activation, activations.Linear)
        # elementwise activations run on the channels-last rows; one along an axis
        # (softmax) runs on the output in its data format, over the axis Keras uses
        self._activation_on_rows = (
            self.data_format == "channels_last" or getattr(self.activation, "axis", None) is None
        )

    def _owner(self) -> str:
        return f"{type(self).__name__} layer '{self.name}'"

    # -- shapes ----------------------------------------------------------------------
    def _input_channels(self, input_shape) -> int:
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{self._owner()} expects inputs of rank {self.rank + 2} (batch, "
                f"{self.rank} spatial axes and channels), but received input shape "
                f"{tuple(input_shape)}."
            )
        _, channels = cu.spatial_and_channels(input_shape, self.data_format)
        if channels is None:
            raise ValueError(
                f"{self._owner()} needs a known channel dimension; received input shape "
                f"{tuple(input_shape)}."
            )
        return channels

    def _output_spatial(self, spatial):
        return tuple(
            cu.output_length(n, k, s, d, self.padding)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def compute_output_shape(self, input_shape):
        channels = self._input_channels(input_shape)
        spatial, _ = cu.spatial_and_channels(input_shape, self.data_format)
        out = self._output_spatial(spatial)
        if any(n is not None and n <= 0 for n in out):
            raise ValueError(
                f"{self._owner()}: the input shape {tuple(input_shape)} is too small for "
                f"kernel_size={self.kernel_size}, dilation_rate={self.dilation_rate} with "
                f"padding='{self.padding}' (computed output spatial shape {out}). Use "
                "padding='same' or larger inputs."
            )
        return cu.with_channels(
            input_shape[0], out, self._output_channels(channels), self.data_format
        )

    def _add_bias(self, filters):
        if self.use_bias:
            self.add_weight(
                "bias",
                (filters,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self._weight_constraints["bias"],
            )

    # -- forward and backward ----------------------------------------------------------
    def forward(self, x, training=False):
        cu.prepare_blas()
        x_cl = cu.to_channels_last(x, self.data_format)
        if any(n <= 0 for n in self._output_spatial(x_cl.shape[1:-1])):
            self.compute_output_shape(x.shape)  # raises the too-small error
        z, out_spatial, linear_cache = self._linear_forward(x_cl)  # z: (rows, filters)
        bias = self.params["bias"] if self.use_bias else None
        if not self._activation_on_rows:  # softmax over the output's last axis, as Keras
            if bias is not None:
                z += bias
            y = self.activation(self._to_output(z, out_spatial))
        elif self.activation.apply_inplace is not None:
            y = self.activation.apply_inplace(z, bias)  # its gradient needs only y
            z = None
        else:
            if bias is not None:
                z += bias
            y = z if self._is_linear else self.activation(z)
        self.cache = (linear_cache, z, y, out_spatial)
        out = self._to_output(y, out_spatial) if self._activation_on_rows else y
        if self.activity_regularizer is not None:
            self.activity_loss = self.activity_regularizer(out)
        return out

    def preactivation(self):
        """The pre-activation of the last forward call, in the output's layout (logits)."""
        _, z, _, out_spatial = self.cache
        return None if z is None else self._to_output(z, out_spatial)

    def _to_output(self, rows, out_spatial):
        """``(batch * prod(out), channels)`` rows as an output in the layer's data format."""
        return cu.from_channels_last(
            rows.reshape((-1,) + out_spatial + (rows.shape[-1],)), self.data_format
        )

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        linear_cache, z, y, out_spatial = self.cache
        need_input_grad, fused, fresh = cu.backward_flags(self, ctx)
        if self.activity_regularizer is not None:  # an elementwise penalty of the output
            y_out = self._to_output(y, out_spatial) if self._activation_on_rows else y
            dy = dy + self.activity_regularizer.grad(y_out)
        if self._activation_on_rows:
            dy = cu.to_channels_last(dy, self.data_format).reshape(y.shape)
            dz = dy if (self._is_linear or fused) else self.activation.grad(dy, z, y)
        else:
            if not fused:
                dy = self.activation.grad(dy, self._to_output(z, out_spatial), y)
            dz = cu.to_channels_last(dy, self.data_format).reshape(z.shape)
        if self.trainable and self.use_bias:
            bias_grad = backend.column_sum(dz)  # ones @ dz: a BLAS product, not a reduction
            cu.store_grad(self, "bias", bias_grad, fresh)
        dx = self._linear_backward(dz, linear_cache, need_input_grad, fresh)
        return None if dx is None else cu.from_channels_last(dx, self.data_format)

    def _linear_forward(self, x):
        raise NotImplementedError

    def _linear_backward(self, dz, linear_cache, need_input_grad, fresh):
        raise NotImplementedError

    def _output_channels(self, in_channels):
        raise NotImplementedError

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activation_functions.serialize(self.activation, self._owner()),
            "use_bias": self.use_bias,
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **{
                f"{name}_constraint": constraints.serialize(constraint)
                for name, constraint in self._weight_constraints.items()
            },
        }
