"""``Sequential``: a plain stack of layers, each feeding the next.

Once its input shape is known, a Sequential model calls its layers on a ``keras.Input``
and becomes a graph like any functional model (as Keras 3's does): summary, plotting,
saving and the training step read that one graph, which runs as a loop over its layers.
"""

from __future__ import annotations

from npkeras.layers.base import Layer, shape_fits
from npkeras.layers.input_layer import InputLayer
from npkeras.layers.node import KerasTensor, format_shape
from npkeras.models.config import sequential_config, sequential_from_config
from npkeras.models.model import Model


class Sequential(Model):
    """A linear stack of layers.

    The input shape comes from an ``Input``/``InputLayer`` first entry, an
    ``input_shape=`` on the first layer, or the first data it sees.

    Input shape: whatever the first layer takes, ``(batch, ...)``. Output shape: the
    last layer's.

    >>> import npkeras as keras
    >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"),
    ...                           keras.layers.Dense(1)])
    >>> model.output_shape
    (None, 1)
    >>> [type(layer).__name__ for layer in model.layers]
    ['Dense', 'Dense']
    """

    _graph_from_arguments = False
    _saved_class_name = "Sequential"

    def __init__(self, layers=None, name: str | None = None, trainable: bool = True):
        self._stack: list = []
        self._input_layer = None
        # the symbolic tensors of the graph: the Input's, then each layer's output
        self._chain_tensors: list = []
        super().__init__(name=name, trainable=trainable)
        self.built = False
        for layer in layers or []:
            self.add(layer)

    @staticmethod
    def _default_name():
        return "sequential"

    @property
    def layers(self) -> list:
        return list(self._stack)

    def _sublayers(self) -> list:
        return list(self._stack)

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
            self._chain_tensors = [layer.output]
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
            self._chain_tensors = [self._input_layer.output]
        self._param_buffer = None
        self.compiled = False
        if self._chain_tensors:
            # the new layer builds on the graph's last tensor (and checks its shape) first,
            # so a layer that does not fit is never added
            output = layer(self._chain_tensors[-1])
            self._stack.append(layer)
            self._chain_tensors.append(output)
            self._connect()
        else:
            self._stack.append(layer)
            self.built = False

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise IndexError(f"Sequential model '{self.name}' has no layers to pop.")
        layer = self._stack.pop()
        self._param_buffer = None
        self.compiled = False
        if len(self._chain_tensors) > 1:
            self._chain_tensors.pop()
            self._connect()
        return layer

    def build(self, input_shape=None) -> None:
        """Build every layer for per-batch ``input_shape`` (batch axis first): the layers
        are called on a ``keras.Input`` of that shape, making the model's graph."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(f"Sequential model '{self.name}' needs an input shape to build.")
            input_shape = self._input_layer.input_shape_spec
        input_shape = tuple(input_shape)
        if self._input_layer is None or self._input_layer.input_shape_spec[1:] != input_shape[1:]:
            self._input_layer = InputLayer(shape=input_shape[1:])
        tensors = [self._input_layer.output]
        for layer in self._stack:
            tensors.append(layer(tensors[-1]))
        self._chain_tensors = tensors
        self._connect()

    def _connect(self) -> None:
        """Make the graph from the Input to the last layer's output (unbuilt while there
        are no layers)."""
        if len(self._chain_tensors) < 2:
            self._plan, self._chain, self._graph_layers = [], None, None
            self.input_shape_spec = self._input_layer.input_shape_spec
            self.built = False
            return
        self._build_graph(self._chain_tensors[0], self._chain_tensors[-1])

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

    # -- names and shapes ----------------------------------------------------------
    @property
    def input_names(self):
        return [self._input_layer.name if self._input_layer is not None else "input_layer"]

    @property
    def output_names(self):
        return [self._stack[-1].name] if self._stack else ["output"]

    def _require_built(self):
        if not self.built:
            raise ValueError(
                f"Sequential model '{self.name}' has not been built: its input shape is unknown. "
                "Add a keras.Input(shape=...) first, call build(input_shape), or fit it on data."
            )

    @property
    def inputs(self):
        self._require_built()
        return super().inputs

    @property
    def outputs(self):
        self._require_built()
        return super().outputs

    @property
    def input_shape(self):
        self._require_built()
        return self.input_shape_spec

    @property
    def output_shape(self):
        self._require_built()
        return super().output_shape

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self) -> dict:
        return sequential_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return sequential_from_config(cls, config, custom_objects)
