"""Core layers: Dense, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

import math

from npkeras import activations, backend, constraints, initializers, regularizers
from npkeras.backend import xp
from npkeras.layers import activation_functions
from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer


def _positive_int(owner, name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int,))
        and not (hasattr(value, "is_integer") and float(value).is_integer())
    ):
        raise ValueError(
            f"Received an invalid value for `{name}` of {owner}, expected a positive integer. "
            f"Received: {name}={value!r}"
        )
    if int(value) <= 0:
        raise ValueError(
            f"Received an invalid value for `{name}` of {owner}, expected a positive integer. "
            f"Received: {name}={value!r}"
        )
    return int(value)


class Dense(Layer):
    """Fully connected layer: ``y = activation(x @ kernel + bias)``.

    Args:
        units: number of outputs.
        activation: name, :class:`~npkeras.activations.Activation` or a function written
            with ``keras.ops``; default linear.
        use_bias: add a bias vector.
        kernel_initializer, bias_initializer: initializers (glorot_uniform, zeros).
        kernel_regularizer, bias_regularizer: weight penalties.
        activity_regularizer: penalty on the layer's output.
        kernel_constraint, bias_constraint: projections applied after every optimizer
            step (``MaxNorm``, ``NonNeg``, ...).

    Shapes: input ``(batch, ..., input_dim)``, output ``(batch, ..., units)``;
    kernel ``(input_dim, units)``, bias ``(units,)``.

    >>> import numpy as np
    >>> layer = Dense(2, kernel_initializer="ones")
    >>> layer(np.array([[1.0, 2.0, 3.0]])).tolist()
    [[6.0, 6.0]]
    """

    supports_masking = True  # the mask passes through, as in Keras

    supports_fresh_grads = True

    def __init__(
        self,
        units,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _positive_int(f"Dense layer '{self.name}'", "units", units)
        self.activation = activation_functions.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._is_linear = isinstance(self.activation, activations.Linear)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Dense layer '{self.name}' needs a known last input dimension; received "
                f"input shape {tuple(input_shape)}."
            )
        self.add_weight(
            "kernel",
            (input_dim, self.units),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.add_weight(
                "bias",
                (self.units,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    @property
    def kernel(self):
        """The kernel :class:`~npkeras.Variable`, ``(input_dim, units)``."""
        return self._variables["kernel"]

    @property
    def bias(self):
        """The bias :class:`~npkeras.Variable` (None without ``use_bias``)."""
        return self._variables.get("bias")

    def forward(self, x, training=False):
        # np.dot: a third of matmul's call cost on small arrays, but no BLAS path above 2-D
        # (10x slower there), so (batch, ..., features) is folded to rows first
        if x.ndim > 2:
            z = backend.dot_blocked(x.reshape(-1, x.shape[-1]), self.params["kernel"])
            z = z.reshape(x.shape[:-1] + z.shape[-1:])
        else:
            z = xp.dot(x, self.params["kernel"])
        bias = self.params["bias"] if self.use_bias else None
        if self.activation.apply_inplace is not None:
            y = self.activation.apply_inplace(z, bias)  # its gradient needs only y: z is not kept
            z = None
        else:
            if bias is not None:
                z += bias
            y = z if self._is_linear else self.activation(z)
        self.cache = (x, z, y)
        if self.activity_regularizer is not None:
            self.activity_loss = self.activity_regularizer(y)
        return y

    def preactivation(self):
        """The pre-activation ``x @ kernel + bias`` of the last forward call (logits)."""
        return self.cache[1]

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        x, z, y = self.cache
        if self.activity_regularizer is not None:
            dy = dy + self.activity_regularizer.grad(y)
        dz = dy if (self._is_linear or ctx.fused_activation) else self.activation.grad(dy, z, y)
        if dz.ndim != 2:  # (batch, ..., units): fold the middle axes into the batch
            x, dz = x.reshape(-1, x.shape[-1]), dz.reshape(-1, dz.shape[-1])
        if self._trainable:
            # dL/dW = x.T @ dz; block sums only where BLAS runs one thread (see dot_blocked)
            blocked = backend.one_blas_thread
            fresh = ctx.fresh  # ctx.take_fresh(self), inlined: this runs every step
            if fresh is not None and self in fresh:  # first contribution: write, no zeroing
                fresh.discard(self)
                if blocked:
                    backend.dot_blocked(x.T, dz, out=self.grads["kernel"])
                else:
                    backend.dot_into(x.T, dz, self.grads["kernel"])
                if self.use_bias:
                    backend.column_sum(dz, out=self.grads["bias"])
            else:
                self.grads["kernel"] += backend.dot_blocked(x.T, dz) if blocked else x.T @ dz
                if self.use_bias:
                    self.grads["bias"] += backend.column_sum(dz)
        if not ctx.need_input_grad:
            return None
        kernel_t = self.params["kernel"].T  # dL/dx = dz @ W.T
        dx = backend.dot_blocked(dz, kernel_t) if backend.one_blas_thread else xp.dot(dz, kernel_t)
        return dx if dy.ndim == 2 else dx.reshape(dy.shape[:-1] + (x.shape[-1],))

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activation_functions.serialize(
                self.activation, f"Dense layer '{self.name}'"
            ),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class Activation(Layer):
    """Applies an activation function: ``Activation('relu')``.

    Args:
        activation: a name, an :class:`~npkeras.activations.Activation`, or any function
            of one tensor written with ``keras.ops`` (see
            :mod:`npkeras.layers.activation_functions`: ``keras.ops`` activations keep
            their hand-written derivative, other functions are differentiated by the tape;
            a lambda cannot be saved).

    Shapes: any; output like the input.

    >>> import numpy as np
    >>> Activation("relu")(np.array([[-1.0, 1.0]])).tolist()
    [[0.0, 1.0]]
    >>> from npkeras import ops
    >>> Activation(lambda x: ops.square(x) + 1.0)(np.array([[2.0]])).tolist()
    [[5.0]]
    """

    supports_masking = True  # the mask passes through, as in Keras

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation_functions.get(activation)

    def forward(self, x, training=False):
        y = self.activation(x)
        self.cache = (x, y)
        return y

    def preactivation(self):
        return self.cache[0]

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        if ctx.fused_activation:
            return dy
        x, y = self.cache
        return self.activation.grad(dy, x, y)

    def get_config(self):
        return {
            **super().get_config(),
            "activation": activation_functions.serialize(
                self.activation, f"Activation layer '{self.name}'"
            ),
        }


class Dropout(Layer):
    """Inverted dropout: while training, zero a ``rate`` fraction and scale the rest by 1/(1-rate).

    Args:
        rate: fraction of inputs to drop, in [0, 1).
        noise_shape: shape of the mask (None entries follow the input), for shared masks.
        seed: own random seed; default draws from the backend generator.

    >>> import numpy as np
    >>> Dropout(0.5)(np.ones((1, 4))).tolist()   # inference: identity
    [[1.0, 1.0, 1.0, 1.0]]
    """

    supports_masking = True  # the mask passes through, as in Keras

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(
                f"Received an invalid value for `rate` of Dropout layer '{self.name}', expected "
                f"a float in [0, 1). Received: rate={rate}"
            )
        self.rate = rate
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        self.seed = seed
        self._rng = None if seed is None else xp.random.default_rng(seed)

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self.cache = None
            return x
        shape = x.shape
        if self.noise_shape is not None:
            shape = tuple(d if n is None else n for n, d in zip(self.noise_shape, x.shape))
        rng = self._rng if self._rng is not None else backend.rng()
        keep = 1.0 - self.rate
        mask = (
            rng.random(
                shape, dtype=x.dtype if x.dtype.kind == "f" and x.dtype.itemsize >= 4 else "float64"
            )
            < keep
        )
        mask = mask.astype(x.dtype) / keep
        self.cache = mask
        return x * mask

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return dy if self.cache is None else dy * self.cache

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": list(self.noise_shape) if self.noise_shape else None,
            "seed": self.seed,
        }


class Flatten(Layer):
    """Flattens every axis but the batch axis: ``(batch, a, b) -> (batch, a * b)``."""

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def forward(self, x, training=False):
        self.cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return dy.reshape(self.cache)


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(
            d == 0 or d < -1 for d in self.target_shape
        ):
            raise ValueError(
                f"Reshape layer '{self.name}' target_shape may hold positive sizes and at most "
                f"one -1; received target_shape={self.target_shape}."
            )

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        total = math.prod(rest)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if total % known:
                raise ValueError(self._mismatch(input_shape))
            shape = tuple(total // known if d == -1 else d for d in self.target_shape)
        else:
            if known != total:
                raise ValueError(self._mismatch(input_shape))
            shape = self.target_shape
        return (input_shape[0],) + shape

    def _mismatch(self, input_shape):
        return (
            f"Reshape layer '{self.name}' cannot reshape inputs of shape {tuple(input_shape)} "
            f"to target_shape={self.target_shape}: the sizes differ."
        )

    def forward(self, x, training=False):
        self.cache = x.shape
        try:
            return x.reshape((x.shape[0],) + self.target_shape)
        except ValueError:
            raise ValueError(self._mismatch((None,) + x.shape[1:])) from None

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return dy.reshape(self.cache)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
