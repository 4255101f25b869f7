"""ONNX converters for the convolution, pooling, normalization and embedding layers.

npkeras is channels-last and ONNX's Conv and pooling ops are channels-first, so those
converters transpose in and out (``graph.channels_first`` / ``graph.channels_last``);
a layer built with ``data_format="channels_first"`` already has ONNX's layout.
"""

from __future__ import annotations

from npkeras.backend import host_xp, to_numpy
from npkeras.export.onnx import register_converter
from npkeras.layers import conv_utils as cu
from npkeras.layers.batch_normalization import BatchNormalization
from npkeras.layers.conv_transpose import (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3DTranspose,
    transpose_crop,
)
from npkeras.layers.convolution import (
    Conv1D,
    Conv2D,
    Conv3D,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from npkeras.layers.embedding import Embedding
from npkeras.layers.global_pooling import (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
)
from npkeras.layers.group_normalization import GroupNormalization
from npkeras.layers.layer_normalization import LayerNormalization
from npkeras.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from npkeras.layers.standardization import broadcast_shape, resolve_axes
from npkeras.layers.unit_normalization import UnitNormalization


# -- channels-first ops (convolution, pooling) -----------------------------------------
def _spatial_pads(graph, layer, x, kernel, dilation) -> dict:
    """ONNX padding attributes reproducing Keras's 'valid' / 'same' for input ``x``.

    Keras's 'same' puts the odd extra zero after; 'causal' (1D) pads only before.
    Explicit ``pads`` ([all begins, all ends]) are written when they do not depend on the
    input size: a known size, stride 1 ('same' adds ``kernel - 1`` zeros) or 'causal'.
    Otherwise ONNX's SAME_UPPER pads at run time, as Keras does; onnxruntime refuses it
    with dilation, which Keras forbids with strides > 1.
    """
    if layer.padding == "valid":
        return {"pads": [0] * (2 * len(kernel))}
    spatial, _ = cu.spatial_and_channels(graph.shape(x), layer.data_format)
    amounts = []
    for n, k, s, d in zip(spatial, kernel, layer.strides, dilation):
        if n is None and s > 1 and layer.padding == "same":
            return {"auto_pad": "SAME_UPPER"}
        amounts.append(cu.padding_amounts(k if n is None else n, k, s, d, layer.padding))
    return {"pads": [before for before, _ in amounts] + [after for _, after in amounts]}


def _enter(graph, layer, x) -> str:
    """``x`` (in the layer's data format) in ONNX's channels-first layout."""
    return graph.channels_first(x, layer.rank + 2) if layer.data_format == "channels_last" else x


def _leave(graph, layer, y) -> str:
    """Channels-first ``y`` back in the layer's data format."""
    return graph.channels_last(y, layer.rank + 2) if layer.data_format == "channels_last" else y


def _channels_first_op(graph, layer, x, op_type, **attrs) -> str:
    """Run channels-first ``op_type`` on ``x``, in and out in the layer's data format."""
    return _leave(
        graph, layer, graph.op(op_type, [_enter(graph, layer, x)], name=layer.name, **attrs)
    )


def _conv(graph, layer, x_first, kernel, bias, groups, **attrs) -> str:
    """ONNX Conv of channels-first ``x_first`` with a Keras kernel ``(*kernel_size,
    in / groups, filters)``, stored in ONNX's ``(filters, in / groups, *kernel_size)``;
    ``bias`` an initializer name or None."""
    rank = layer.rank
    kernel_size = kernel.shape[:rank]
    weight = graph.constant(kernel.transpose(rank + 1, rank, *range(rank)), f"{layer.name}/W")
    operands = [x_first, weight] + ([bias] if bias is not None else [])
    return graph.op(
        "Conv", operands, name=layer.name, kernel_shape=list(kernel_size), group=groups, **attrs
    )


def _geometry(graph, layer, x, kernel_size) -> dict:
    """The layer's strides, dilations and padding as ONNX Conv attributes."""
    return {
        "strides": list(layer.strides),
        "dilations": list(layer.dilation_rate),
        **_spatial_pads(graph, layer, x, kernel_size, layer.dilation_rate),
    }


def _bias(graph, layer):
    return graph.weight(layer, "bias") if layer.use_bias else None


def _depthwise_kernel(kernel):
    """Keras's ``(*k, channels, multiplier)`` as a grouped kernel ``(*k, 1, channels *
    multiplier)``: output channel ``c * multiplier + m`` from input channel c, one group
    per input channel."""
    *kernel_size, channels, multiplier = kernel.shape
    return kernel.reshape(*kernel_size, 1, channels * multiplier)


@register_converter(Conv1D, Conv2D, Conv3D)
def convert_conv(graph, layer, inputs):
    x = inputs[0]
    kernel = to_numpy(layer.params["kernel"])
    geometry = _geometry(graph, layer, x, layer.kernel_size)
    y = _conv(
        graph, layer, _enter(graph, layer, x), kernel, _bias(graph, layer), layer.groups, **geometry
    )
    # Keras applies the activation to the output in its data format (softmax's axis)
    return graph.activation(layer.activation, _leave(graph, layer, y), owner=layer)


@register_converter(DepthwiseConv1D, DepthwiseConv2D)
def convert_depthwise_conv(graph, layer, inputs):
    x = inputs[0]
    kernel = to_numpy(layer.params["kernel"])
    geometry = _geometry(graph, layer, x, layer.kernel_size)
    y = _conv(
        graph,
        layer,
        _enter(graph, layer, x),
        _depthwise_kernel(kernel),
        _bias(graph, layer),
        kernel.shape[-2],
        **geometry,
    )
    return graph.activation(layer.activation, _leave(graph, layer, y), owner=layer)


@register_converter(SeparableConv1D, SeparableConv2D)
def convert_separable_conv(graph, layer, inputs):
    # depthwise (the layer's strides, padding, dilation; no bias), then a pointwise
    # 1 x 1 convolution with the bias, both channels-first
    x = inputs[0]
    depthwise = to_numpy(layer.params["depthwise_kernel"])
    geometry = _geometry(graph, layer, x, layer.kernel_size)
    y = _conv(
        graph,
        layer,
        _enter(graph, layer, x),
        _depthwise_kernel(depthwise),
        None,
        depthwise.shape[-2],
        **geometry,
    )
    pointwise = to_numpy(layer.params["pointwise_kernel"])
    y = _conv(graph, layer, y, pointwise, _bias(graph, layer), 1)  # ONNX defaults: 1, no pad
    return graph.activation(layer.activation, _leave(graph, layer, y), owner=layer)


@register_converter(Conv1DTranspose, Conv2DTranspose, Conv3DTranspose)
def convert_conv_transpose(graph, layer, inputs):
    # Keras's output is a window of the uncropped ((n - 1) * stride + extent) result:
    # `crop` positions dropped before, then `length` kept. ONNX's ConvTranspose drops
    # pads (begin, end) of it, and output_padding adds positions after it.
    x, rank = inputs[0], layer.rank
    spatial, _ = cu.spatial_and_channels(graph.shape(x), layer.data_format)
    if any(n is None for n in spatial):
        raise ValueError(
            f"Cannot export {type(layer).__name__} layer '{layer.name}' to ONNX with an "
            f"unknown spatial size (input shape {graph.shape(x)}): its output size depends "
            "on it. Give the model's Input a full shape."
        )
    begins, ends, extras = [], [], []
    for n, k, s, d, p in zip(
        spatial,
        layer.kernel_size,
        layer.strides,
        layer.dilation_rate,
        layer.output_padding or (None,) * rank,
    ):
        crop, length = transpose_crop(n, k, s, d, layer.padding, p)
        full = (n - 1) * s + cu.effective_size(k, d)
        begins.append(crop)
        ends.append(max(full - crop - length, 0))
        extras.append(max(crop + length - full, 0))
    # Keras kernel (*kernel_size, filters, in) -> ONNX (in, filters, *kernel_size)
    kernel = to_numpy(layer.params["kernel"]).transpose(rank + 1, rank, *range(rank))
    operands = [_enter(graph, layer, x), graph.constant(kernel, f"{layer.name}/W")]
    if layer.use_bias:
        operands.append(graph.weight(layer, "bias"))
    y = graph.op(
        "ConvTranspose",
        operands,
        name=layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        pads=begins + ends,
        output_padding=extras,
    )
    return graph.activation(layer.activation, _leave(graph, layer, y), owner=layer)


@register_converter(MaxPooling1D, MaxPooling2D, MaxPooling3D)
def convert_max_pooling(graph, layer, inputs):
    # padded positions never win a max in ONNX's MaxPool, as in Keras
    return _pooling(graph, layer, inputs[0], "MaxPool")


@register_converter(AveragePooling1D, AveragePooling2D, AveragePooling3D)
def convert_average_pooling(graph, layer, inputs):
    # count_include_pad=0: a border window divides by its real inputs only, as Keras
    return _pooling(graph, layer, inputs[0], "AveragePool", count_include_pad=0)


def _pooling(graph, layer, x, op_type, **attrs):
    return _channels_first_op(
        graph,
        layer,
        x,
        op_type,
        kernel_shape=list(layer.pool_size),
        strides=list(layer.strides),
        **_spatial_pads(graph, layer, x, layer.pool_size, (1,) * layer.rank),
        **attrs,
    )


_GLOBAL_POOLING = {
    GlobalAveragePooling1D: "GlobalAveragePool",
    GlobalAveragePooling2D: "GlobalAveragePool",
    GlobalAveragePooling3D: "GlobalAveragePool",
    GlobalMaxPooling1D: "GlobalMaxPool",
    GlobalMaxPooling2D: "GlobalMaxPool",
    GlobalMaxPooling3D: "GlobalMaxPool",
}


@register_converter(*_GLOBAL_POOLING)
def convert_global_pooling(graph, layer, inputs):
    # ONNX's global pools (the same in every opset, unlike ReduceMean's `axes`) are
    # channels-first and keep the spatial axes: (batch, channels, 1, ...)
    x = inputs[0]
    op_type = _GLOBAL_POOLING[type(layer)]
    if not layer.keepdims:
        pooled = graph.op(op_type, [_enter(graph, layer, x)])
        return graph.op("Flatten", [pooled], name=layer.name, axis=1)
    return _channels_first_op(graph, layer, x, op_type)


# -- normalization --------------------------------------------------------------------
@register_converter(BatchNormalization)
def convert_batch_normalization(graph, layer, inputs):
    # inference: (x - moving_mean) * gamma / sqrt(moving_variance + epsilon) + beta, with
    # the statistics shaped to broadcast over any `axis` (so no transpose to NCHW)
    shape = graph.shape(inputs[0])
    axes = resolve_axes(layer._owner, layer.axis, shape)
    target = broadcast_shape(len(shape), axes, shape)[1:]  # ONNX broadcasts the batch axis

    def param(key):
        return to_numpy(layer.params[key]).reshape(target)

    scale = 1.0 / host_xp.sqrt(param("moving_variance") + layer.epsilon)
    if layer.scale:
        scale = scale * param("gamma")
    centred = graph.op(
        "Sub", [inputs[0], graph.constant(param("moving_mean"), f"{layer.name}/moving_mean")]
    )
    y = graph.op("Mul", [centred, graph.constant(scale, f"{layer.name}/scale")], name=layer.name)
    if layer.center:
        y = graph.op("Add", [y, graph.constant(param("beta"), f"{layer.name}/beta")])
    return y


@register_converter(LayerNormalization)
def convert_layer_normalization(graph, layer, inputs):
    shape = graph.shape(inputs[0])
    axes = resolve_axes(layer._owner, layer.axis, shape)
    if layer.rms_scaling or axes != tuple(range(axes[0], len(shape))):
        raise ValueError(
            f"Cannot export LayerNormalization layer '{layer.name}' to ONNX: its ONNX op "
            "normalises a block of trailing axes, with the mean subtracted. Received "
            f"axis={layer.axis} for input shape {shape}, rms_scaling={layer.rms_scaling}."
        )
    # ONNX's op takes the first normalised axis and requires a Scale: ones without gamma
    gamma = (
        graph.weight(layer, "gamma")
        if layer.scale
        else graph.constant(host_xp.ones(shape[axes[0] :]), f"{layer.name}/ones")
    )
    operands = [inputs[0], gamma]
    if layer.center:
        operands.append(graph.weight(layer, "beta"))
    return graph.op(
        "LayerNormalization", operands, name=layer.name, axis=axes[0], epsilon=layer.epsilon
    )


@register_converter(GroupNormalization)
def convert_group_normalization(graph, layer, inputs):
    # move the channel axis next to the batch, view as (batch, groups, rest) and let
    # InstanceNormalization (scale 1, bias 0) standardise each group; then back, and
    # Keras's per-channel gamma / beta
    x, shape = inputs[0], graph.shape(inputs[0])
    (axis,) = resolve_axes(layer._owner, layer.axis, shape)
    perm = [0, axis, *(a for a in range(1, len(shape)) if a != axis)]
    moved = graph.op("Transpose", [x], name=f"{layer.name}/channels_first", perm=perm)
    grouped_shape = graph.constant([0, layer.groups, -1], f"{layer.name}/grouped", dtype="int64")
    grouped = graph.op("Reshape", [moved, grouped_shape])
    ones = graph.constant(host_xp.ones(layer.groups), f"{layer.name}/ones")
    zeros = graph.constant(host_xp.zeros(layer.groups), f"{layer.name}/zeros")
    normed = graph.op(
        "InstanceNormalization", [grouped, ones, zeros], name=layer.name, epsilon=layer.epsilon
    )
    normed = graph.op("Reshape", [normed, graph.op("Shape", [moved])])
    inverse = sorted(range(len(perm)), key=perm.__getitem__)
    y = graph.op("Transpose", [normed], name=f"{layer.name}/channels_back", perm=inverse)
    target = broadcast_shape(len(shape), (axis,), shape)[1:]
    for key, op_type, used in (("gamma", "Mul", layer.scale), ("beta", "Add", layer.center)):
        if used:
            weight = to_numpy(layer.params[key]).reshape(target)
            y = graph.op(op_type, [y, graph.constant(weight, f"{layer.name}/{key}")])
    return y


@register_converter(UnitNormalization)
def convert_unit_normalization(graph, layer, inputs):
    # x / sqrt(max(sum(x ** 2 over axis), 1e-12)); ReduceSum takes `axes` as an input
    # from opset 13 on
    x, shape = inputs[0], graph.shape(inputs[0])
    axes = resolve_axes(
        f"UnitNormalization layer '{layer.name}'", layer.axis, shape, need_known=False
    )
    square_sum = graph.op(
        "ReduceSum",
        [
            graph.op("Mul", [x, x]),
            graph.constant(list(axes), f"{layer.name}/axes", dtype="int64"),
        ],
        keepdims=1,
    )
    floor = graph.constant(layer._MIN_SQUARE_SUM, f"{layer.name}/min_square_sum")
    norm = graph.op("Sqrt", [graph.op("Max", [square_sum, floor])])
    return graph.op("Div", [x, norm], name=layer.name)


# -- embedding ------------------------------------------------------------------------
@register_converter(Embedding)
def convert_embedding(graph, layer, inputs):
    if layer.mask_zero:
        raise ValueError(
            f"Cannot export Embedding layer '{layer.name}' with mask_zero=True to ONNX: the "
            "exported graph carries no masks, so the layers after it would compute over the "
            "padding. Export a model built with mask_zero=False."
        )
    # the graph's inputs are float32, so the ids are cast to the int64 Gather indexes by
    ids = graph.op("Cast", inputs, name=f"{layer.name}/ids", to=graph.onnx.TensorProto.INT64)
    return graph.op("Gather", [graph.weight(layer, "embeddings"), ids], name=layer.name, axis=0)
