"""Convolution and pooling layers against PyTorch, forward and gradients (float64).

Layout conversion: npkeras (Keras) is channels-last, ``x (batch, *spatial, c)``; torch is
``(batch, c, *spatial)``, so inputs and outputs move the channel axis. Kernels:
Keras ``(*k, in/groups, out)`` -> torch ``(out, in/groups, *k)``; a depthwise kernel
``(*k, c, m)`` is the grouped kernel ``(*k, 1, c*m)``; a transposed kernel
``(*k, out, in)`` -> torch ``(in, out, *k)``. Keras's 'same' padding (the odd extra zero
after) is an explicit ``F.pad`` in torch, whose own ``padding`` is symmetric.
"""

import math

import numpy as np
import pytest

from npkeras import layers

torch = pytest.importorskip("torch")
F = torch.nn.functional
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _to_torch(x):
    return torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)


def _from_torch(t):
    return np.moveaxis(t.detach().numpy(), 1, -1)


def _kernel_to_torch(kernel):  # (*k, in, out) -> (out, in, *k)
    rank = kernel.ndim - 2
    return torch.tensor(
        np.transpose(kernel, (rank + 1, rank) + tuple(range(rank))), requires_grad=True
    )


def _same_pad(x, kernel, strides, dilation, value=0.0):
    """Keras/TensorFlow 'same' padding of a torch (batch, c, *spatial) tensor."""
    pads = []
    for n, k, s, d in zip(
        reversed(x.shape[2:]), reversed(kernel), reversed(strides), reversed(dilation)
    ):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


def _run(layer, x, dy):
    y = layer(x)
    layer.zero_grads()
    return y, layer.backward(dy)


def _check(y, dx, yt, xt, dy, weight_pairs):
    (yt * torch.tensor(np.moveaxis(dy, -1, 1))).sum().backward()
    np.testing.assert_allclose(y, _from_torch(yt), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, _from_torch(xt.grad), rtol=1e-10, atol=1e-12)
    for ours, theirs in weight_pairs:
        np.testing.assert_allclose(ours, theirs(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "rank, kwargs",
    [
        (1, {"strides": 2}),
        (1, {"padding": "same", "dilation_rate": 2, "groups": 2}),
        (2, {}),
        (2, {"kernel_size": (3, 2), "strides": (2, 1), "padding": "same"}),
        (2, {"dilation_rate": (1, 2), "groups": 2}),
        (3, {"padding": "same", "strides": 2}),
    ],
)
def test_conv_matches_torch(float64, rng, rank, kwargs):
    kwargs = {"kernel_size": 3, **kwargs}
    layer = {1: layers.Conv1D, 2: layers.Conv2D, 3: layers.Conv3D}[rank](4, **kwargs)
    x = rng.standard_normal((2,) + (7, 6, 5)[:rank] + (4,))
    layer(x)
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    y = layer(x)
    dy = rng.standard_normal(y.shape)
    y, dx = _run(layer, x, dy)

    xt, kernel = _to_torch(x), _kernel_to_torch(layer.params["kernel"])
    bias = torch.tensor(layer.params["bias"], requires_grad=True)
    padded = (
        xt
        if layer.padding == "valid"
        else _same_pad(xt, layer.kernel_size, layer.strides, layer.dilation_rate)
    )
    yt = CONV[rank](
        padded,
        kernel,
        bias,
        stride=layer.strides,
        dilation=layer.dilation_rate,
        groups=layer.groups,
    )
    _check(
        y,
        dx,
        yt,
        xt,
        dy,
        [
            (
                layer.grads["kernel"],
                lambda: np.transpose(kernel.grad.numpy(), tuple(range(2, rank + 2)) + (1, 0)),
            ),
            (layer.grads["bias"], lambda: bias.grad.numpy()),
        ],
    )


def test_depthwise_conv2d_matches_torch_grouped_conv(float64, rng):
    layer = layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same")
    x = rng.standard_normal((2, 7, 6, 3))
    layer(x)
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    dy = rng.standard_normal(layer(x).shape)
    y, dx = _run(layer, x, dy)
    xt = _to_torch(x)
    kernel = _kernel_to_torch(layer.params["kernel"].reshape(3, 3, 1, 6))
    yt = F.conv2d(
        _same_pad(xt, (3, 3), (2, 2), (1, 1)),
        kernel,
        torch.tensor(layer.params["bias"]),
        stride=2,
        groups=3,
    )
    _check(
        y,
        dx,
        yt,
        xt,
        dy,
        [
            (
                layer.grads["kernel"].reshape(3, 3, 1, 6),
                lambda: np.transpose(kernel.grad.numpy(), (2, 3, 1, 0)),
            )
        ],
    )


def _keras_transpose_crop(size, kernel, stride, dilation, padding, output_padding):
    """(positions dropped before, output length) of a Keras transposed convolution.

    The length is Keras's documented formula. 'same' is TensorFlow's rule: the layer is
    the gradient of a 'same' convolution from the output back to the input, whose zeros
    before (``total // 2``) are the positions dropped here. (Keras's torch backend
    differs when both its padding and output_padding are positive and warns about it.)
    """
    extent = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(extent, stride) - extent if output_padding is None else output_padding
        return 0, (size - 1) * stride + extent + extra
    length = (
        size * stride
        if output_padding is None
        else ((size - 1) * stride + extent % 2 + output_padding)
    )
    return max((size - 1) * stride + extent - length, 0) // 2, length


@pytest.mark.parametrize(
    "rank, kwargs",
    [
        (1, {"strides": 2}),
        (1, {"strides": 3, "padding": "same"}),
        (2, {"strides": 2, "padding": "same"}),
        (2, {"strides": (2, 3), "output_padding": (1, 2)}),
        (2, {"kernel_size": 2, "strides": 3}),
        (2, {"dilation_rate": 2, "padding": "same"}),
        (3, {"strides": 2, "padding": "same"}),
    ],
)
def test_conv_transpose_matches_torch(float64, rng, rank, kwargs):
    kwargs = {"kernel_size": 3, **kwargs}
    cls = {1: layers.Conv1DTranspose, 2: layers.Conv2DTranspose, 3: layers.Conv3DTranspose}[rank]
    layer = cls(3, **kwargs)
    x = rng.standard_normal((2,) + (4, 3, 2)[:rank] + (2,))
    layer(x)
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    dy = rng.standard_normal(layer(x).shape)
    y, dx = _run(layer, x, dy)

    xt = _to_torch(x)
    rank_axes = tuple(range(rank))
    kernel = torch.tensor(
        np.transpose(layer.params["kernel"], (rank + 1, rank) + rank_axes), requires_grad=True
    )  # (*k, out, in) -> (in, out, *k)
    paddings = layer.output_padding or (None,) * rank
    full = CONV_TRANSPOSE[rank](xt, kernel, stride=layer.strides, dilation=layer.dilation_rate)
    crop = []  # F.pad takes (before, after) per axis from the last; negative values crop
    for n, k, s, d, p, have in zip(
        x.shape[1:-1],
        layer.kernel_size,
        layer.strides,
        layer.dilation_rate,
        paddings,
        full.shape[2:],
    ):
        before, length = _keras_transpose_crop(n, k, s, d, layer.padding, p)
        crop = [-before, length + before - have] + crop
    bias = torch.tensor(layer.params["bias"]).reshape((1, -1) + (1,) * rank)
    yt = F.pad(full, crop) + bias  # the bias covers positions past the full result too
    _check(
        y,
        dx,
        yt,
        xt,
        dy,
        [
            (
                layer.grads["kernel"],
                lambda: np.transpose(kernel.grad.numpy(), tuple(range(2, rank + 2)) + (1, 0)),
            )
        ],
    )


@pytest.mark.parametrize(
    "rank, kwargs",
    [
        (1, {"pool_size": 3, "strides": 2}),
        (2, {}),
        (2, {"pool_size": 3, "strides": 1}),
        (2, {"pool_size": (3, 2), "strides": (2, 1), "padding": "same"}),
        (3, {"padding": "same"}),
    ],
)
@pytest.mark.parametrize("kind", ["max", "average"])
def test_pooling_matches_torch(float64, rng, rank, kwargs, kind):
    names = {"max": "MaxPooling", "average": "AveragePooling"}
    layer = getattr(layers, f"{names[kind]}{rank}D")(**kwargs)
    x = rng.standard_normal((2,) + (7, 6, 5)[:rank] + (3,))
    dy = rng.standard_normal(layer(x).shape)
    y, dx = _run(layer, x, dy)
    xt = _to_torch(x)
    window = {"kernel_size": layer.pool_size, "stride": layer.strides}
    ones = (1,) * rank
    if kind == "max":
        padded = (
            xt
            if layer.padding == "valid"
            else _same_pad(xt, layer.pool_size, layer.strides, ones, value=-math.inf)
        )
        yt = MAX_POOL[rank](padded, **window)
    elif layer.padding == "valid":
        yt = AVG_POOL[rank](xt, **window)
    else:  # Keras divides by the real inputs of each window: a sum pool over a count pool
        yt = AVG_POOL[rank](
            _same_pad(xt, layer.pool_size, layer.strides, ones), **window
        ) / AVG_POOL[rank](
            _same_pad(torch.ones_like(xt), layer.pool_size, layer.strides, ones), **window
        )
    _check(y, dx, yt, xt, dy, [])


def test_max_pooling_ties_match_torch(float64):
    x = np.round(np.random.default_rng(0).random((2, 6, 6, 2)) * 2)  # values 0, 1, 2: many ties
    layer = layers.MaxPooling2D(3, strides=1)
    dy = np.random.default_rng(1).standard_normal(layer(x).shape)
    y, dx = _run(layer, x, dy)
    xt = _to_torch(x)
    _check(y, dx, F.max_pool2d(xt, 3, stride=1), xt, dy, [])
