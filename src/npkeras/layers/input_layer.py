"""Symbolic tensors, graph nodes and the ``Input`` that starts a functional model."""

from __future__ import annotations

from npkeras import backend
from npkeras.layers.base import Layer, _format_shape


class KerasTensor:
    """A placeholder for an array in a layer graph: its shape (batch axis None) and origin."""

    def __init__(self, shape, node=None, index: int = 0, name: str | None = None):
        self.shape = tuple(shape)
        self.node = node
        self.index = index
        self.name = name
        self.dtype = backend.floatx()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        origin = self.node.layer.name if self.node is not None else "?"
        return f"<KerasTensor shape={_format_shape(self.shape)}, from '{origin}'>"


class Node:
    """One call of a layer in a graph: the tensors it read and the tensors it made."""

    def __init__(self, layer, inputs, multi_input: bool):
        self.layer = layer
        self.inputs = list(inputs)
        self.multi_input = multi_input
        self.outputs: list[KerasTensor] = []
        self.cache = None


class InputLayer(Layer):
    """The entry point of a model: holds the per-sample ``shape`` and passes data through.

    >>> InputLayer(shape=(3,)).output.shape
    (None, 3)
    """

    def __init__(self, shape=None, batch_size=None, name=None, input_shape=None, **kwargs):
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("InputLayer needs a `shape` (per-sample, without the batch axis).")
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(shape)
        if any(d is not None and (not isinstance(d, int) or d <= 0) for d in shape):
            raise ValueError(
                f"Every dimension of an Input shape must be a positive integer or None; "
                f"received shape={shape}."
            )
        super().__init__(name=name, **kwargs)
        self.shape = shape
        self.batch_size = batch_size
        self.input_shape_spec = (batch_size,) + shape
        self.built = True
        node = Node(self, [], multi_input=False)
        self.output = KerasTensor(self.input_shape_spec, node=node, name=self.name)
        node.outputs = [self.output]
        self._inbound_nodes.append(node)

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        return {"name": self.name, "shape": list(self.shape), "batch_size": self.batch_size}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["shape"] = tuple(config["shape"])
        return cls(**config)


def Input(shape=None, batch_size=None, name=None) -> KerasTensor:
    """A symbolic input of per-sample ``shape`` for the functional API.

    >>> import npkeras as keras
    >>> keras.Input(shape=(4,)).shape
    (None, 4)
    """
    return InputLayer(shape=shape, batch_size=batch_size, name=name).output


def call_symbolic(layer: Layer, inputs):
    """Record a call of ``layer`` on KerasTensors; returns the output KerasTensor(s)."""
    multi = isinstance(inputs, (list, tuple))
    tensors = list(inputs) if multi else [inputs]
    for t in tensors:
        if not isinstance(t, KerasTensor):
            raise TypeError(
                f"Layer '{layer.name}' was called on a mix of symbolic tensors and {type(t).__name__}; "
                "pass only outputs of `keras.Input` or of other layers."
            )
    shapes = [t.shape for t in tensors]
    input_shape = shapes if multi else shapes[0]
    if layer.built:
        if not multi:
            layer.check_input_shape(input_shape)
    else:
        layer._maybe_build(input_shape)
    out_shape = layer.compute_output_shape(input_shape)
    node = Node(layer, tensors, multi_input=multi)
    out_shapes = out_shape if isinstance(out_shape, list) else [out_shape]
    node.outputs = [KerasTensor(s, node=node, index=i) for i, s in enumerate(out_shapes)]
    layer._inbound_nodes.append(node)
    return node.outputs if isinstance(out_shape, list) else node.outputs[0]
