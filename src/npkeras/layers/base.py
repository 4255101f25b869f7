"""The layer protocol every npkeras layer follows.

A layer holds its weights by name in ``params`` and their gradients in ``grads``.
``build(input_shape)`` creates the weights on first use; ``forward(x, training)``
computes the output and keeps what the backward pass needs in ``self.cache``;
``backward(dy)`` adds dL/dweights into ``grads`` and returns dL/dx. ``backward`` never
changes ``params``: optimizers update them in place, so a model can pack every weight
into one contiguous buffer (see :mod:`npkeras.models.parameters`) without the layer
noticing.
"""

from __future__ import annotations

import math

from npkeras import backend, initializers, regularizers
from npkeras.backend import xp
from npkeras.utils.naming import to_snake_case, unique_name


def _format_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def shape_fits(expected, shape) -> bool:
    """True when ``shape`` has ``expected``'s rank and matches every known dimension
    after the batch axis (``None`` matches anything)."""
    return len(shape) == len(expected) and all(
        e is None or d is None or e == d for e, d in zip(expected[1:], shape[1:]))


class BackwardContext:
    """What the engine asks of one ``backward`` call; it travels with the call, never on
    the layer, so a layer shared by several models (or used twice in one) stays correct.

    Args:
        need_input_grad: False when no one reads dL/dx (the first layer of a model); the
            layer may then skip computing it and return ``None``.
        fused_activation: ``dy`` is already dL/d(pre-activation) (softmax or sigmoid fused
            into the cross-entropy), so the layer skips its activation's derivative.
        fresh: the set of layers whose gradients hold nothing yet this step; a layer in it
            may overwrite its gradients instead of adding to them (see :meth:`take_fresh`).
    """

    __slots__ = ("need_input_grad", "fused_activation", "fresh")

    def __init__(self, need_input_grad: bool = True, fused_activation: bool = False, fresh=None):
        self.need_input_grad = need_input_grad
        self.fused_activation = fused_activation
        self.fresh = fresh

    def take_fresh(self, layer) -> bool:
        """True (once per step) when ``layer`` may overwrite its gradients rather than add."""
        fresh = self.fresh
        if fresh is not None and layer in fresh:
            fresh.discard(layer)
            return True
        return False


#: the context of a plain ``layer.backward(dy)``: input gradient wanted, gradients added
DEFAULT_BACKWARD = BackwardContext()


class Layer:
    """Base class of all layers.

    Args:
        name: unique name; defaults to the snake-case class name, numbered (``dense_1``).
        trainable: whether the optimizer updates this layer's weights.
        input_shape: per-sample shape, for the first layer of a ``Sequential``.
        input_dim: shorthand for ``input_shape=(input_dim,)``.
    """

    #: whether ``backward`` honours ``grads_fresh`` by overwriting every gradient it owns
    #: on its first call of a step (so the engine need not zero the gradients first)
    supports_fresh_grads = False

    def __init__(self, name: str | None = None, trainable: bool = True, dtype: str | None = None,
                 input_shape=None, input_dim: int | None = None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s): {', '.join(sorted(kwargs))}."
            )
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"A layer name must be a non-empty string without '/'; received name={name!r}.")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.trainable = bool(trainable)
        self.dtype = dtype
        self.params: dict = {}
        self.grads: dict = {}
        self._weight_specs: dict = {}
        self.built = False
        self.cache = None
        #: set by the engine: False when no one needs dL/dx (the first layer of a model)
        self.input_grad_needed = True
        #: set by the engine: ``backward`` receives dL/d(pre-activation) directly
        self.fused_activation_grad = False
        #: set by the engine at each step when ``supports_fresh_grads``: overwrite, don't add
        self.grads_fresh = False
        self.input_shape_spec = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._declared_input_shape = tuple(input_shape) if input_shape is not None else None
        self._inbound_nodes: list = []

    # -- weights -------------------------------------------------------------------
    def add_weight(self, name: str, shape, initializer="glorot_uniform", trainable: bool = True,
                   regularizer=None, dtype=None):
        """Create weight ``name`` of ``shape``; returns the array."""
        init = initializers.get(initializer)
        shape = tuple(int(d) for d in shape)
        dtype = dtype or self.dtype or backend.floatx()
        if initializers.draws_skipped():  # loading: zeros, counted against the file's weights
            value = initializers.skipped_draw(shape, dtype)
        else:
            value = init(shape, dtype)
        self.params[name] = value
        self.grads[name] = xp.zeros_like(value)
        self._weight_specs[name] = {"trainable": bool(trainable),
                                    "regularizer": regularizers.get(regularizer)}
        return value

    def _weight_is_trainable(self, name):
        return self.trainable and self._weight_specs[name]["trainable"]

    @property
    def weights(self) -> list:
        return list(self.params.values())

    @property
    def trainable_weights(self) -> list:
        return [v for k, v in self.params.items() if self._weight_is_trainable(k)]

    @property
    def non_trainable_weights(self) -> list:
        return [v for k, v in self.params.items() if not self._weight_is_trainable(k)]

    def count_params(self) -> int:
        """Total number of scalars in the layer's weights."""
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has not been built yet, so it has no weights to count. "
                "Call it on data or build it with an input shape first."
            )
        return int(sum(math.prod(v.shape) for v in self.params.values()))

    def get_weights(self) -> list:
        """Copies of the weights in creation order (Keras order: kernel, then bias)."""
        return [backend.to_numpy(v).copy() for v in self.params.values()]

    def set_weights(self, weights) -> None:
        """Overwrite the weights in place with arrays of the same shapes."""
        weights = list(weights)
        if len(weights) != len(self.params):
            raise ValueError(
                f"Layer '{self.name}' expects {len(self.params)} weight array(s) "
                f"({', '.join(self.params) or 'none'}), but received {len(weights)}."
            )
        for (name, current), new in zip(self.params.items(), weights):
            new = xp.asarray(new)
            if new.shape != current.shape:
                raise ValueError(
                    f"Layer '{self.name}' weight '{name}' has shape {current.shape}, but the "
                    f"array provided has shape {new.shape}."
                )
            current[...] = new

    def regularization_loss(self) -> float:
        """Sum of the weight penalties of this layer."""
        total = 0.0
        for name, spec in self._weight_specs.items():
            if spec["regularizer"] is not None:
                total += spec["regularizer"](self.params[name])
        return total

    def add_regularization_grads(self) -> None:
        for name, spec in self._weight_specs.items():
            if spec["regularizer"] is not None and self._weight_is_trainable(name):
                self.grads[name] += spec["regularizer"].grad(self.params[name])

    # -- lifecycle -----------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis first, may be None)."""
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self.input_shape_spec = input_shape
            self.build(input_shape)
            self.built = True

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape``; the default keeps the shape."""
        return input_shape

    def check_input_shape(self, shape) -> None:
        """Raise a ValueError when ``shape`` differs from the built input shape."""
        spec = self.input_shape_spec
        if spec is None or isinstance(spec, list):
            return
        if not shape_fits(spec, shape):
            if len(spec) == 2 and len(shape) >= 2 and spec[-1] != shape[-1]:
                raise ValueError(
                    f"Layer '{self.name}' expects inputs whose last dimension is {spec[-1]}, "
                    f"but received shape {tuple(shape)}."
                )
            raise ValueError(
                f"Layer '{self.name}' expects inputs of shape {_format_shape(spec)}, but "
                f"received shape {tuple(shape)}."
            )

    def forward(self, x, training: bool = False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def zero_grads(self) -> None:
        for g in self.grads.values():
            g.fill(0)
        self.grads_fresh = False

    def __call__(self, inputs, training: bool = False):
        """Apply the layer to arrays, or to symbolic ``Input`` tensors to build a graph."""
        spec = self.input_shape_spec
        if (type(inputs) is xp.ndarray and inputs.ndim == 2 and type(spec) is tuple and len(spec) == 2
                and inputs.shape[1] == spec[1] and inputs.dtype == backend.floatx()):
            return self.forward(inputs, training=training)  # built, right shape and type: no checks left
        from npkeras.layers.input_layer import KerasTensor, call_symbolic

        first = inputs[0] if isinstance(inputs, (list, tuple)) and inputs else inputs
        if isinstance(first, KerasTensor):
            return call_symbolic(self, inputs)
        if isinstance(inputs, (list, tuple)):
            arrays = [backend.as_float_array(v, "inputs") for v in inputs]
            shapes = [tuple(a.shape) for a in arrays]
            self._maybe_build(shapes)
            return self.forward(arrays, training=training)
        x = backend.as_float_array(inputs, "inputs")
        if not self.built:
            self._maybe_build((None,) + tuple(x.shape[1:]))
        else:
            self.check_input_shape(x.shape)
        return self.forward(x, training=training)

    # -- config --------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable}
        if self.dtype is not None:
            config["dtype"] = self.dtype
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
