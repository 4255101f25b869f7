"""``Sequential``: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from npkeras import services
from npkeras.layers.base import (
    DEFAULT_BACKWARD,
    BackwardContext,
    Layer,
    accepts_argument,
    backward_takes_context,
    shape_fits,
)
from npkeras.layers.input_layer import InputLayer
from npkeras.layers.node import KerasTensor, format_shape
from npkeras.models.model import Model, makes_masks


class Sequential(Model):
    """A linear stack of layers.

    The input shape comes from an ``Input``/``InputLayer`` first entry, an
    ``input_shape=`` on the first layer, or the first data it sees.

    >>> import npkeras as keras
    >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"),
    ...                           keras.layers.Dense(1)])
    >>> model.output_shape
    (None, 1)
    """

    def __init__(self, layers=None, name: str | None = None, trainable: bool = True):
        self._stack: list = []
        self._input_layer = None
        self._layer_output_shapes: list = []
        super().__init__(name=name, trainable=trainable)
        for layer in layers or []:
            self.add(layer)

    @staticmethod
    def _default_name():
        return "sequential"

    _is_graph = False

    @property
    def _layers(self):
        return getattr(self, "_stack", [])

    # -- building the stack --------------------------------------------------------
    def add(self, layer) -> None:
        """Append a layer (or an ``Input`` to fix the input shape)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError(
                    f"Sequential model '{self.name}': an Input can only be the first entry."
                )
            self._input_layer = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a Layer instance; received {type(layer).__name__}: "
                f"{layer!r}."
            )
        if any(existing is layer for existing in self._stack):
            raise ValueError(f"Layer '{layer.name}' is already in Sequential model '{self.name}'.")
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(
                f"The name \"{layer.name}\" is used 2 times in Sequential model '{self.name}'. "
                "All layer names should be unique: pass another name= to one of them."
            )
        if (
            not self._stack
            and self._input_layer is None
            and layer._declared_input_shape is not None
        ):
            self._input_layer = InputLayer(shape=layer._declared_input_shape)
        self._stack.append(layer)
        self.built = False
        self._param_buffer = None
        if self._input_layer is not None:
            self.build(self._input_layer.input_shape_spec)
        if self.compiled:
            self.compiled = False

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise IndexError(f"Sequential model '{self.name}' has no layers to pop.")
        layer = self._stack.pop()
        self._layer_output_shapes = self._layer_output_shapes[: len(self._stack)]
        self._param_buffer = None
        self.compiled = False
        return layer

    def build(self, input_shape=None) -> None:
        """Build every layer for per-batch ``input_shape`` (batch axis first)."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(f"Sequential model '{self.name}' needs an input shape to build.")
            input_shape = self._input_layer.input_shape_spec
        input_shape = tuple(input_shape)
        if self._input_layer is None or self._input_layer.input_shape_spec[1:] != input_shape[1:]:
            self._input_layer = InputLayer(shape=input_shape[1:])
        shape = (None,) + input_shape[1:]
        shapes = []
        for layer in self._stack:
            if layer.built:
                layer.check_input_shape(shape)
            else:
                layer._maybe_build(shape)
            shape = layer.compute_output_shape(shape)
            shapes.append(shape)
        self._layer_output_shapes = shapes
        self.input_shape_spec = (None,) + input_shape[1:]
        self._takes_context = [backward_takes_context(layer) for layer in self._stack]
        self._takes_mask = [accepts_argument(layer.forward, "mask") for layer in self._stack]
        self._makes_masks = makes_masks(self._stack)
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)

    def _ensure_built_for(self, xs):
        if len(xs) != 1:
            raise ValueError(f"Sequential model '{self.name}' takes one input; received {len(xs)}.")
        x = xs[0]
        if not self._stack:
            raise ValueError(f"Sequential model '{self.name}' has no layers; add some first.")
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
            return
        expected = self.input_shape_spec
        if not shape_fits(expected, x.shape):
            first = self._stack[0]
            if len(expected) == 2 and x.ndim == 2:
                raise ValueError(
                    f"Layer '{first.name}' of Sequential model '{self.name}' expects inputs whose "
                    f"last dimension is {expected[-1]}, but received shape {tuple(x.shape)}."
                )
            raise ValueError(
                f"Sequential model '{self.name}' expects inputs of shape "
                f"{format_shape(expected)}, "
                f"but received an array of shape {tuple(x.shape)}."
            )

    # -- execution -----------------------------------------------------------------
    def _forward(self, inputs, training=False):
        x = inputs[0]
        caches = self._caches = [None] * len(self._stack)
        if self._makes_masks:  # Keras masks flow beside the values
            return self._forward_masked(x, training, caches)
        for i, layer in enumerate(self._stack):
            x = layer.forward(x, training=training)
            caches[i] = layer.cache
        return [x]

    def _forward_masked(self, x, training, caches):
        mask = None
        for i, layer in enumerate(self._stack):
            next_mask = layer.compute_mask(x, mask)
            if mask is not None and self._takes_mask[i]:
                x = layer.forward(x, training=training, mask=mask)
            else:
                x = layer.forward(x, training=training)
            caches[i] = layer.cache
            mask = next_mask
        self._output_masks = [mask]
        return [x]

    def _backward(self, output_grads, need_input_grads=False, fused=frozenset(), fresh=None):
        dy = output_grads[0]
        stack, caches, takes_context = self._stack, self._caches, self._takes_context
        for i in range(len(stack) - 1, -1, -1):
            layer = stack[i]
            layer.cache = caches[i]
            if takes_context[i]:
                ctx = BackwardContext.of(need_input_grads or i > 0, layer in fused, fresh)
                dy = layer.backward(dy, ctx)
            else:
                dy = layer.backward(dy)
        return [dy]

    def _context_driven_layers(self) -> set:
        driven = set()
        for layer, takes_context in zip(self._stack, self._takes_context):
            if isinstance(layer, Model):
                driven |= layer._context_driven_layers()
            elif takes_context:
                driven.add(layer)
        return driven

    def forward(self, x, training=False):
        outs = self._forward([x], training)
        self.cache = self._caches
        return outs[0]

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        self._caches = self.cache
        return self._backward([dy], need_input_grads=ctx.need_input_grad, fresh=ctx.fresh)[0]

    # -- names and shapes ----------------------------------------------------------
    @property
    def input_names(self):
        return [self._input_layer.name if self._input_layer is not None else "input_layer"]

    @property
    def output_names(self):
        return [self._stack[-1].name] if self._stack else ["output"]

    def _output_producers(self):
        return [self._stack[-1] if self._stack else None]

    def _require_built(self):
        if not self.built:
            raise ValueError(
                f"Sequential model '{self.name}' has not been built: its input shape is unknown. "
                "Add a keras.Input(shape=...) first, call build(input_shape), or fit it on data."
            )

    @property
    def inputs(self):
        self._require_built()
        return [self._input_layer.output]

    @property
    def outputs(self):
        self._require_built()
        return [KerasTensor(self._layer_output_shapes[-1])]

    @property
    def input_shape(self):
        self._require_built()
        return self.input_shape_spec

    @property
    def output_shape(self):
        self._require_built()
        return self._layer_output_shapes[-1]

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self) -> dict:
        return services.use("sequential_config")(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return services.use("sequential_from_config")(config, custom_objects)
