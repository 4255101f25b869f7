"""ONNX export: a registry of converters, one small function per layer class.

A converter turns one call of a layer into ONNX nodes::

    @register_converter(Flatten)
    def convert_flatten(graph, layer, inputs):
        return graph.op("Flatten", inputs, axis=1)

``graph`` is the :class:`OnnxGraph` being built, ``layer`` the npkeras layer and
``inputs`` the ONNX names of its input tensors (one per input, in call order). The
converter returns the name of its output (or a list, for a layer with several).
``graph.op`` adds a node, ``graph.weight(layer, "kernel")`` adds the weight as a float32
initializer (once, even when the layer is called twice), ``graph.constant(array)`` adds
any other constant, ``graph.shape(name)`` gives a tensor's npkeras shape (batch axis
None) and ``graph.activation(layer.activation, name)`` applies an activation through
the activation registry (:func:`register_activation`).

To make a new layer family exportable, write its converters in a module of this package
(``onnx_core.py`` holds the core, merge and Normalization ones; ``onnx_layers.py`` the
convolution, pooling, batch/layer normalization and embedding ones; ``onnx_recurrent.py``
LSTM, GRU, SimpleRNN and Bidirectional; ``onnx_reshaping.py`` the padding, cropping,
up-sampling and activation layers) and add that module to ``CONVERTER_MODULES`` below.
Layers are looked up by their exact class: a subclass computes something else until it
registers its own converter.

npkeras is channels-last and ONNX's Conv, pooling, BatchNormalization... are
channels-first, so such a converter wraps the op in ``graph.channels_first(x, rank)`` and
``graph.channels_last(y, rank)`` and stores kernels in ONNX's layout. A sketch (the real
one, ``onnx_layers.convert_conv``, adds dilation, groups and Keras's exact padding)::

    @register_converter(Conv2D)
    def convert_conv2d(graph, layer, inputs):
        kernel = layer.params["kernel"].transpose(3, 2, 0, 1)  # to (out, in, kh, kw)
        operands = [graph.channels_first(inputs[0], 4),
                    graph.constant(kernel, f"{layer.name}/kernel")]
        if layer.use_bias:
            operands.append(graph.weight(layer, "bias"))
        y = graph.op("Conv", operands, name=layer.name, strides=list(layer.strides),
                     auto_pad="SAME_UPPER" if layer.padding == "same" else "VALID")
        return graph.activation(layer.activation, graph.channels_last(y, 4), owner=layer)

A test per converter compares onnxruntime's outputs with ``model.predict`` (see
tests/export/test_onnx.py: ``assert_same_outputs``).
"""

from __future__ import annotations

import importlib

from npkeras import services, version
from npkeras.backend import to_numpy
from npkeras.models.model import Model

#: modules whose import registers converters (see the module docstring)
CONVERTER_MODULES = (
    "npkeras.export.onnx_core",
    "npkeras.export.onnx_layers",
    "npkeras.export.onnx_recurrent",
    "npkeras.export.onnx_reshaping",
)

DEFAULT_OPSET = 17

_LAYER_CONVERTERS: dict = {}
_ACTIVATION_CONVERTERS: dict = {}


def register_converter(*layer_classes):
    """Decorator: ``fn(graph, layer, inputs) -> output name(s)`` converts these classes."""

    def register(fn):
        for cls in layer_classes:
            _LAYER_CONVERTERS[cls] = fn
        return fn

    return register


def register_activation(*names):
    """Decorator: ``fn(graph, activation, x) -> output name`` converts these activations."""

    def register(fn):
        for name in names:
            _ACTIVATION_CONVERTERS[name] = fn
        return fn

    return register


def _load_converters():
    for module in CONVERTER_MODULES:
        importlib.import_module(module)


def exportable_layers() -> list[str]:
    """Names of the layer classes that have an ONNX converter."""
    _load_converters()
    return sorted(cls.__name__ for cls in _LAYER_CONVERTERS)


def exportable_activations() -> list[str]:
    """Names of the activations that have an ONNX converter."""
    _load_converters()
    return sorted(_ACTIVATION_CONVERTERS)


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the `onnx` package: `pip install onnx` (or `pip install "
            "npkeras[onnx]`, which also brings onnxruntime to run the file)."
        ) from None
    return onnx


class OnnxGraph:
    """The nodes, initializers and names of an ONNX graph under construction."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes: list = []
        self.initializers: list = []
        self._names: set = set()
        self._weights: dict = {}
        self._shapes: dict = {}

    def shape(self, name: str) -> tuple:
        """The npkeras shape of tensor ``name`` (batch axis None), e.g. for its rank."""
        return self._shapes[name]

    def set_shape(self, name: str, shape) -> None:
        self._shapes.setdefault(name, tuple(shape))

    def fresh(self, hint: str) -> str:
        """A name not used yet in the graph, built from ``hint``."""
        name, count = hint, 1
        while name in self._names:
            name, count = f"{hint}_{count}", count + 1
        self._names.add(name)
        return name

    def op(self, op_type: str, inputs, name: str | None = None, outputs: int = 1, **attrs):
        """Add one node; returns its output name (a list when ``outputs`` > 1)."""
        node_name = self.fresh(name or op_type)  # also the name of a single output
        out = (
            [self.fresh(f"{node_name}:{i}") for i in range(outputs)] if outputs > 1 else [node_name]
        )
        self.nodes.append(
            self.onnx.helper.make_node(op_type, list(inputs), out, name=node_name, **attrs)
        )
        return out if outputs > 1 else out[0]

    def constant(self, value, name: str = "const", dtype: str = "float32") -> str:
        """Add ``value`` as an initializer; returns its name."""
        from onnx import numpy_helper

        name = self.fresh(name)
        self.initializers.append(
            numpy_helper.from_array(to_numpy(value).astype(dtype, copy=False), name)
        )
        return name

    def weight(self, layer, weight_name: str) -> str:
        """The initializer holding ``layer.params[weight_name]`` (added on first use)."""
        key = (id(layer), weight_name)
        if key not in self._weights:
            self._weights[key] = self.constant(
                layer.params[weight_name], f"{layer.name}/{weight_name}"
            )
        return self._weights[key]

    def channels_first(self, x: str, rank: int) -> str:
        """``x`` of rank ``rank`` from (batch, ..., channels) to (batch, channels, ...)."""
        return self.op(
            "Transpose", [x], name="to_channels_first", perm=[0, rank - 1, *range(1, rank - 1)]
        )

    def channels_last(self, x: str, rank: int) -> str:
        """``x`` of rank ``rank`` from (batch, channels, ...) to (batch, ..., channels)."""
        return self.op("Transpose", [x], name="to_channels_last", perm=[0, *range(2, rank), 1])

    def activation(self, activation, x: str, owner=None) -> str:
        """Apply an npkeras activation object to tensor ``x``."""
        convert = _ACTIVATION_CONVERTERS.get(activation.name)
        if convert is None:
            where = f" of layer '{owner.name}' ({type(owner).__name__})" if owner else ""
            raise ValueError(
                f"Cannot export activation '{activation.name}'{where} to ONNX: no converter is "
                f"registered for it. Exportable activations: {exportable_activations()}. "
                "Register one with npkeras.export.onnx.register_activation."
            )
        return convert(self, activation, x)


def convert_layer(graph: OnnxGraph, layer, inputs: list) -> list:
    """ONNX output names of one call of ``layer`` on tensors named ``inputs``."""

    if isinstance(layer, Model):
        return convert_model(graph, layer, inputs)
    convert = _LAYER_CONVERTERS.get(type(layer))
    if convert is None:
        raise ValueError(
            f"Cannot export layer '{layer.name}' ({type(layer).__name__}) to ONNX: no converter "
            f"is registered for {type(layer).__name__}. Exportable layers: "
            f"{exportable_layers()}. Register one with npkeras.export.onnx.register_converter "
            "(see the npkeras.export.onnx module docstring)."
        )
    out = convert(graph, layer, inputs)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def convert_model(graph: OnnxGraph, model, inputs: list) -> list:
    """ONNX output names of ``model`` (Sequential or functional) applied to ``inputs``."""

    # walk the layer calls from the outputs back to the model's inputs
    names = {id(t): name for t, name in zip(model.inputs, inputs)}

    def name_of(tensor):
        if id(tensor) not in names:
            node = tensor.node
            ins = [name_of(t) for t in node.inputs]
            for t, name in zip(node.outputs, convert_layer(graph, node.layer, ins)):
                names[id(t)] = name
                graph.set_shape(name, t.shape)
        return names[id(tensor)]

    return [name_of(t) for t in model.outputs]


def _value_info(onnx, name, shape):
    dims = ["batch" if i == 0 else d for i, d in enumerate(shape)]
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, dims)


@services.provide("to_onnx")
def to_onnx(model, opset_version: int = DEFAULT_OPSET):
    """An ``onnx.ModelProto`` computing ``model``'s inference outputs in float32."""
    onnx = _import_onnx()
    _load_converters()
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' is not built, so its input shape is unknown. Give it an "
            "Input (or call it on data) before exporting."
        )
    graph = OnnxGraph(onnx)
    # the graph's inputs and outputs carry the model's names, so they are reserved first
    input_names = [graph.fresh(name) for name in model.input_names]
    output_names = [graph.fresh(name) for name in model.output_names]
    for name, t in zip(input_names, model.inputs):
        graph.set_shape(name, t.shape)
    outputs = convert_model(graph, model, input_names)
    for inner, outer in zip(outputs, output_names):
        graph.nodes.append(onnx.helper.make_node("Identity", [inner], [outer], name=outer))
    shapes = [t.shape for t in model.inputs]
    out_shapes = model.output_shape if len(outputs) > 1 else [model.output_shape]
    proto = onnx.helper.make_graph(
        graph.nodes,
        model.name,
        [_value_info(onnx, n, s) for n, s in zip(input_names, shapes)],
        [_value_info(onnx, n, s) for n, s in zip(output_names, out_shapes)],
        initializer=graph.initializers,
    )

    return onnx.helper.make_model(
        proto,
        producer_name="npkeras",
        producer_version=version.__version__,
        opset_imports=[onnx.helper.make_opsetid("", opset_version)],
    )


def export_onnx(model, filepath, opset_version: int = DEFAULT_OPSET) -> None:
    """Write ``model`` as an ONNX file (checked with ``onnx.checker`` first)."""
    onnx = _import_onnx()
    proto = to_onnx(model, opset_version)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(filepath))
