"""ONNX converters for the reshaping layers (padding, cropping, up-sampling, permute,
repeat), the activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax) and the layers
that are the identity at inference (noise, spatial dropout, random augmentation,
Identity), and Rescaling.

These work on npkeras's own layout: padding, cropping and up-sampling act on the
layer's spatial axes wherever its data format puts them, so no transpose is needed.
"""

from __future__ import annotations

from npkeras.export.onnx import register_converter
from npkeras.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from npkeras.layers.lambda_layer import Identity
from npkeras.layers.preprocessing import (
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
)
from npkeras.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from npkeras.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Permute,
    RepeatVector,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from npkeras.layers.upsampling import UpSampling1D, UpSampling2D, UpSampling3D

#: an end index past any axis, for Slice's "to the end"
_TO_THE_END = 2**62


def _per_axis(layer, values, default):
    """One value per axis of the layer's rank + 2 inputs: ``values`` on its spatial axes
    (``layer._axes()``), ``default`` elsewhere."""
    full = [default] * (layer.rank + 2)
    for axis, value in zip(layer._axes(), values):
        full[axis] = value
    return full


@register_converter(ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
def convert_zero_padding(graph, layer, inputs):
    # ONNX Pad's pads: every axis's "before", then every axis's "after"
    befores = _per_axis(layer, [before for before, _ in layer.padding], 0)
    afters = _per_axis(layer, [after for _, after in layer.padding], 0)
    pads = graph.constant(befores + afters, f"{layer.name}/pads", dtype="int64")
    return graph.op("Pad", [inputs[0], pads], name=layer.name, mode="constant")


@register_converter(Cropping1D, Cropping2D, Cropping3D)
def convert_cropping(graph, layer, inputs):
    # a negative end counts from the axis's end, so the sizes need not be known
    starts = [before for before, _ in layer.cropping]
    ends = [-after if after else _TO_THE_END for _, after in layer.cropping]
    operands = [
        graph.constant(starts, f"{layer.name}/starts", dtype="int64"),
        graph.constant(ends, f"{layer.name}/ends", dtype="int64"),
        graph.constant(list(layer._axes()), f"{layer.name}/axes", dtype="int64"),
    ]
    return graph.op("Slice", [inputs[0], *operands], name=layer.name)


@register_converter(UpSampling1D, UpSampling2D, UpSampling3D)
def convert_up_sampling(graph, layer, inputs):
    # nearest with integer factors repeats each element: ONNX Resize 'nearest' with
    # asymmetric coordinates and floor rounding reads input floor(i / factor) for output i
    scales = _per_axis(layer, [float(size) for size in layer.size], 1.0)
    return graph.op(
        "Resize",
        [inputs[0], "", graph.constant(scales, f"{layer.name}/scales")],
        name=layer.name,
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )


@register_converter(Permute)
def convert_permute(graph, layer, inputs):
    return graph.op("Transpose", inputs, name=layer.name, perm=[0, *layer.dims])


@register_converter(RepeatVector)
def convert_repeat_vector(graph, layer, inputs):
    # (batch, features) -> (batch, 1, features) -> tiled n times along the new axis
    axis = graph.constant([1], f"{layer.name}/axis", dtype="int64")
    expanded = graph.op("Unsqueeze", [inputs[0], axis], name=f"{layer.name}/unsqueeze")
    repeats = graph.constant([1, layer.n, 1], f"{layer.name}/repeats", dtype="int64")
    return graph.op("Tile", [expanded, repeats], name=layer.name)


@register_converter(
    Identity,
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
def convert_inference_identity(graph, layer, inputs):
    return inputs[0]  # random (or a penalty) only while training


@register_converter(Rescaling)
def convert_rescaling(graph, layer, inputs):
    # x * scale + offset; a list scale / offset broadcasts over the last axis
    scaled = graph.op("Mul", [inputs[0], graph.constant(layer.scale, f"{layer.name}/scale")])
    return graph.op(
        "Add", [scaled, graph.constant(layer.offset, f"{layer.name}/offset")], name=layer.name
    )


# -- activation layers ------------------------------------------------------------------
@register_converter(ReLU)
def convert_relu_layer(graph, layer, inputs):
    # Keras: x >= threshold -> min(x, max_value); below -> negative_slope * (x - threshold)
    x = inputs[0]
    linear = x
    if layer.max_value is not None:
        linear = graph.op("Min", [x, graph.constant(layer.max_value, f"{layer.name}/max_value")])
    threshold = graph.constant(layer.threshold, f"{layer.name}/threshold")
    below = graph.op(
        "Mul",
        [
            graph.op("Sub", [x, threshold]),
            graph.constant(layer.negative_slope, f"{layer.name}/negative_slope"),
        ],
    )
    on = graph.op("GreaterOrEqual", [x, threshold])
    return graph.op("Where", [on, linear, below], name=layer.name)


@register_converter(LeakyReLU)
def convert_leaky_relu_layer(graph, layer, inputs):
    return graph.op("LeakyRelu", inputs, name=layer.name, alpha=layer.negative_slope)


@register_converter(ELU)
def convert_elu_layer(graph, layer, inputs):
    return graph.op("Elu", inputs, name=layer.name, alpha=layer.alpha)


@register_converter(PReLU)
def convert_prelu(graph, layer, inputs):
    # alpha has the input's shape without the batch axis (1 on shared axes): it
    # broadcasts against the input as ONNX PRelu's slope
    return graph.op("PRelu", [inputs[0], graph.weight(layer, "alpha")], name=layer.name)


@register_converter(Softmax)
def convert_softmax_layer(graph, layer, inputs):
    if not isinstance(layer.axis, int):
        raise ValueError(
            f"Cannot export Softmax layer '{layer.name}' to ONNX: its op takes one axis. "
            f"Received: axis={layer.axis}"
        )
    return graph.op("Softmax", inputs, name=layer.name, axis=layer.axis)
