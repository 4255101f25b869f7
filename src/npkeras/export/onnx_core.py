"""ONNX converters for the core, merge and Normalization layers and every activation."""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.activations import _SELU_ALPHA, _SELU_SCALE
from npkeras.backend import host_xp, to_numpy
from npkeras.export.onnx import register_activation, register_converter
from npkeras.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from npkeras.layers.input_layer import InputLayer
from npkeras.layers.merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from npkeras.layers.normalization import Normalization

# -- activations --------------------------------------------------------------------
_SIMPLE_ACTIVATIONS = {
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softplus": "Softplus",
    "softsign": "Softsign",
    "exponential": "Exp",
}


@register_activation(*_SIMPLE_ACTIVATIONS)
def convert_simple_activation(graph, activation, x):
    return graph.op(_SIMPLE_ACTIVATIONS[activation.name], [x], name=activation.name)


@register_activation("linear")
def convert_linear(graph, activation, x):
    return x


@register_activation("softmax", "log_softmax")
def convert_softmax(graph, activation, x):
    op = "Softmax" if activation.name == "softmax" else "LogSoftmax"
    return graph.op(op, [x], name=activation.name, axis=activation.axis)


@register_activation("leaky_relu")
def convert_leaky_relu(graph, activation, x):
    return graph.op("LeakyRelu", [x], name="leaky_relu", alpha=activation.negative_slope)


@register_activation("elu")
def convert_elu(graph, activation, x):
    return graph.op("Elu", [x], name="elu", alpha=activation.alpha)


@register_activation("selu")
def convert_selu(graph, activation, x):

    return graph.op("Selu", [x], name="selu", alpha=_SELU_ALPHA, gamma=_SELU_SCALE)


@register_activation("hard_sigmoid")
def convert_hard_sigmoid(graph, activation, x):
    # Keras 3: relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1)
    return graph.op("HardSigmoid", [x], name="hard_sigmoid", alpha=1.0 / 6.0, beta=0.5)


@register_activation("silu")
def convert_silu(graph, activation, x):
    return graph.op("Mul", [x, graph.op("Sigmoid", [x])], name="silu")


@register_activation("gelu")
def convert_gelu(graph, activation, x):
    # opset 17 has no Gelu op: build 0.5 x (1 + erf(x / sqrt 2)), or the tanh form
    if activation.approximate:
        cube = graph.op("Mul", [graph.op("Mul", [x, x]), x])
        inner = graph.op("Add", [x, graph.op("Mul", [cube, graph.constant(0.044715)])])
        inner = graph.op("Mul", [inner, graph.constant(math.sqrt(2.0 / math.pi))])
        core = graph.op("Tanh", [inner])
    else:
        core = graph.op("Erf", [graph.op("Mul", [x, graph.constant(math.sqrt(0.5))])])
    half_x = graph.op("Mul", [x, graph.constant(0.5)])
    return graph.op("Mul", [half_x, graph.op("Add", [core, graph.constant(1.0)])], name="gelu")


# -- core layers ----------------------------------------------------------------------
@register_converter(InputLayer, Dropout)
def convert_identity(graph, layer, inputs):
    return inputs[0]  # an InputLayer inside a nested model; Dropout at inference


@register_converter(Dense)
def convert_dense(graph, layer, inputs):
    y = graph.op("MatMul", [inputs[0], graph.weight(layer, "kernel")], name=f"{layer.name}/matmul")
    if layer.use_bias:
        y = graph.op("Add", [y, graph.weight(layer, "bias")], name=f"{layer.name}/add_bias")
    return graph.activation(layer.activation, y, owner=layer)


@register_converter(Activation)
def convert_activation(graph, layer, inputs):
    return graph.activation(layer.activation, inputs[0], owner=layer)


@register_converter(Flatten)
def convert_flatten(graph, layer, inputs):
    return graph.op("Flatten", inputs, name=layer.name, axis=1)


@register_converter(Reshape)
def convert_reshape(graph, layer, inputs):
    shape = graph.constant([0, *layer.target_shape], f"{layer.name}/shape", dtype="int64")
    return graph.op("Reshape", [inputs[0], shape], name=layer.name)  # 0: keep the batch size


@register_converter(Normalization)
def convert_normalization(graph, layer, inputs):
    mean, variance = (to_numpy(stat) for stat in layer.statistics())
    scale = host_xp.maximum(host_xp.sqrt(variance), backend.epsilon())
    if layer.invert:  # x * scale + mean
        scaled = graph.op("Mul", [inputs[0], graph.constant(scale, f"{layer.name}/scale")])
        return graph.op(
            "Add", [scaled, graph.constant(mean, f"{layer.name}/mean")], name=layer.name
        )
    centred = graph.op("Sub", [inputs[0], graph.constant(mean, f"{layer.name}/mean")])
    return graph.op("Div", [centred, graph.constant(scale, f"{layer.name}/scale")], name=layer.name)


# -- merges ---------------------------------------------------------------------------
_VARIADIC_MERGES = {Add: "Sum", Average: "Mean", Maximum: "Max", Minimum: "Min"}


@register_converter(*_VARIADIC_MERGES)
def convert_variadic_merge(graph, layer, inputs):
    return graph.op(_VARIADIC_MERGES[type(layer)], inputs, name=layer.name)


@register_converter(Subtract)
def convert_subtract(graph, layer, inputs):
    return graph.op("Sub", inputs, name=layer.name)


@register_converter(Multiply)
def convert_multiply(graph, layer, inputs):
    y = inputs[0]
    for other in inputs[1:]:  # Mul takes two inputs
        y = graph.op("Mul", [y, other], name=layer.name)
    return y


@register_converter(Concatenate)
def convert_concatenate(graph, layer, inputs):
    return graph.op("Concat", inputs, name=layer.name, axis=layer.axis)
