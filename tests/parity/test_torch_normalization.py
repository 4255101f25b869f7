"""Normalization, Embedding, padding and upsampling layers against PyTorch, forward and
gradients (float64).

Layouts: torch images are NCHW; the npkeras layers run with ``axis=1`` /
``data_format="channels_first"`` on the same arrays, or on NHWC transposes where stated.
BatchNormalization: torch's ``momentum`` is the weight of the *new* batch statistic, so
``torch momentum = 1 - keras momentum``; torch updates ``running_var`` with the unbiased
batch variance (``var * n / (n - 1)``) while Keras uses the biased one. Both normalise the
batch itself with the biased variance.
"""

import numpy as np
import pytest

from npkeras import layers

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = {"rtol": 1e-6, "atol": 1e-9}


def _run(layer, x, dy, training=False):
    """npkeras forward and backward: (y, dx)."""
    y = layer(x, training=training)
    layer.zero_grads()
    return y, layer.backward(dy)


def _torch_grads(fn, x, dy, *params):
    """torch forward and backward of ``fn(x)``: (y, dx, [d param])."""
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt)
    (y * torch.tensor(dy)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), [p.grad.numpy() for p in params]


def _affine_params(rng, channels):
    return rng.standard_normal(channels) + 1.0, rng.standard_normal(channels)


@pytest.mark.parametrize("shape, axis", [((8, 5), -1), ((4, 3, 5, 6), 1)])
def test_batch_normalization_training_matches_torch(float64, rng, shape, axis):
    x = rng.standard_normal(shape) * 3 + 2
    dy = rng.standard_normal(shape)
    channels = shape[1]
    gamma, beta = _affine_params(rng, channels)
    bn = layers.BatchNormalization(axis=axis, momentum=0.9)
    bn.build((None,) + shape[1:])
    bn.set_weights([gamma, beta, np.zeros(channels), np.ones(channels)])
    y, dx = _run(bn, x, dy, training=True)

    twin = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(
        channels, eps=1e-3, momentum=1 - 0.9
    ).double()
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(gamma))
        twin.bias.copy_(torch.tensor(beta))
    twin.train()
    yt, dxt, (dgamma, dbeta) = _torch_grads(twin, x, dy, twin.weight, twin.bias)
    np.testing.assert_allclose(y, yt, **TOL)
    np.testing.assert_allclose(dx, dxt, **TOL)
    np.testing.assert_allclose(bn.grads["gamma"], dgamma, **TOL)
    np.testing.assert_allclose(bn.grads["beta"], dbeta, **TOL)

    # moving statistics: same mean; torch's variance update uses the unbiased variance
    n = x.size // channels
    moving_mean, moving_var = bn.get_weights()[2:]
    np.testing.assert_allclose(moving_mean, twin.running_mean.numpy(), **TOL)
    batch_var_keras = (moving_var - 0.9) / 0.1
    batch_var_torch = (twin.running_var.numpy() - 0.9) / 0.1
    np.testing.assert_allclose(batch_var_keras * n / (n - 1), batch_var_torch, **TOL)


def test_batch_normalization_inference_matches_torch_eval(float64, rng):
    x = rng.standard_normal((2, 3, 4, 4))
    dy = rng.standard_normal(x.shape)
    gamma, beta = _affine_params(rng, 3)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    # NHWC npkeras layer vs NCHW torch: transpose in, transpose the results back
    bn = layers.BatchNormalization()
    bn.build((None, 4, 4, 3))
    bn.set_weights([gamma, beta, mean, var])
    y, dx = _run(bn, x.transpose(0, 2, 3, 1), dy.transpose(0, 2, 3, 1))
    twin = torch.nn.BatchNorm2d(3, eps=1e-3).double().eval()
    with torch.no_grad():
        for p, v in (
            (twin.weight, gamma),
            (twin.bias, beta),
            (twin.running_mean, mean),
            (twin.running_var, var),
        ):
            p.copy_(torch.tensor(v))
    yt, dxt, (dgamma, dbeta) = _torch_grads(twin, x, dy, twin.weight, twin.bias)
    np.testing.assert_allclose(y.transpose(0, 3, 1, 2), yt, **TOL)
    np.testing.assert_allclose(dx.transpose(0, 3, 1, 2), dxt, **TOL)
    np.testing.assert_allclose(bn.grads["gamma"], dgamma, **TOL)
    np.testing.assert_allclose(bn.grads["beta"], dbeta, **TOL)


@pytest.mark.parametrize("shape, axis", [((4, 6), -1), ((2, 3, 4, 5), [2, 3])])
def test_layer_normalization_matches_torch(float64, rng, shape, axis):
    normalized = shape[-1:] if axis == -1 else shape[2:]
    x, dy = rng.standard_normal(shape), rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(normalized), rng.standard_normal(normalized)
    ln = layers.LayerNormalization(axis=axis)
    ln.build((None,) + shape[1:])
    ln.set_weights([gamma, beta])
    y, dx = _run(ln, x, dy)
    twin = torch.nn.LayerNorm(normalized, eps=1e-3).double()
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(gamma))
        twin.bias.copy_(torch.tensor(beta))
    yt, dxt, (dgamma, dbeta) = _torch_grads(twin, x, dy, twin.weight, twin.bias)
    for ours, theirs in (
        (y, yt),
        (dx, dxt),
        (ln.grads["gamma"], dgamma),
        (ln.grads["beta"], dbeta),
    ):
        np.testing.assert_allclose(ours, theirs, **TOL)


def test_layer_normalization_rms_scaling_matches_torch_autograd(float64, rng):
    # Keras 3's rms_scaling divides by sqrt(var + eps) (mean not subtracted from x); torch
    # has no such layer, so the twin is the same expression under autograd
    x, dy = rng.standard_normal((3, 5)) + 0.5, rng.standard_normal((3, 5))
    gamma = rng.standard_normal(5)
    ln = layers.LayerNormalization(rms_scaling=True)
    ln.build((None, 5))
    ln.set_weights([gamma])
    y, dx = _run(ln, x, dy)
    gt = torch.tensor(gamma, requires_grad=True)
    yt, dxt, (dgamma,) = _torch_grads(
        lambda v: v * torch.rsqrt(v.var(dim=-1, unbiased=False, keepdim=True) + 1e-3) * gt,
        x,
        dy,
        gt,
    )
    for ours, theirs in ((y, yt), (dx, dxt), (ln.grads["gamma"], dgamma)):
        np.testing.assert_allclose(ours, theirs, **TOL)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_normalization_matches_torch(float64, rng, groups):
    x, dy = rng.standard_normal((2, 6, 3, 4)), rng.standard_normal((2, 6, 3, 4))
    gamma, beta = _affine_params(rng, 6)
    gn = layers.GroupNormalization(groups=groups, axis=1)  # NCHW, as torch
    gn.build((None, 6, 3, 4))
    gn.set_weights([gamma, beta])
    y, dx = _run(gn, x, dy)
    twin = torch.nn.GroupNorm(groups, 6, eps=1e-3).double()
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(gamma))
        twin.bias.copy_(torch.tensor(beta))
    yt, dxt, (dgamma, dbeta) = _torch_grads(twin, x, dy, twin.weight, twin.bias)
    for ours, theirs in (
        (y, yt),
        (dx, dxt),
        (gn.grads["gamma"], dgamma),
        (gn.grads["beta"], dbeta),
    ):
        np.testing.assert_allclose(ours, theirs, **TOL)


def test_unit_normalization_matches_torch_normalize(float64, rng):
    x, dy = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    x[0] = 0.0  # below the clamp: x / max(|x|, 1e-6) in both
    y, dx = _run(layers.UnitNormalization(), x, dy)
    yt, dxt, _ = _torch_grads(lambda v: F.normalize(v, dim=-1, eps=1e-6), x, dy)
    np.testing.assert_allclose(y, yt, **TOL)
    np.testing.assert_allclose(dx, dxt, **TOL)


def test_embedding_matches_torch(float64, rng):
    table = rng.standard_normal((20, 4))
    ids = rng.integers(0, 20, size=(3, 7))
    dy = rng.standard_normal((3, 7, 4))
    emb = layers.Embedding(20, 4, weights=table)
    y = emb(ids)
    emb.zero_grads()
    emb.backward(dy)
    twin = torch.nn.Embedding(20, 4).double()
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(table))
    yt = twin(torch.tensor(ids))
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(emb.grads["embeddings"], twin.weight.grad.numpy(), **TOL)


def test_zero_padding_matches_torch_pad(float64, rng):
    x, dy_shape = rng.standard_normal((2, 3, 4, 5)), (2, 3, 4 + 1 + 2, 5 + 3 + 0)
    dy = rng.standard_normal(dy_shape)
    layer = layers.ZeroPadding2D(((1, 2), (3, 0)), data_format="channels_first")
    y, dx = _run(layer, x, dy)
    # F.pad lists the last axis first: (left, right, top, bottom)
    yt, dxt, _ = _torch_grads(lambda v: F.pad(v, (3, 0, 1, 2)), x, dy)
    np.testing.assert_allclose(y, yt, **TOL)
    np.testing.assert_allclose(dx, dxt, **TOL)


@pytest.mark.parametrize(
    "interpolation, size", [("nearest", (2, 3)), ("bilinear", (2, 2)), ("bilinear", (3, 2))]
)
def test_upsampling2d_matches_torch_interpolate(float64, rng, interpolation, size):
    x = rng.standard_normal((2, 3, 4, 5))
    dy = rng.standard_normal((2, 3, 4 * size[0], 5 * size[1]))
    layer = layers.UpSampling2D(size, data_format="channels_first", interpolation=interpolation)
    y, dx = _run(layer, x, dy)
    kwargs = {} if interpolation == "nearest" else {"align_corners": False}
    yt, dxt, _ = _torch_grads(
        lambda v: F.interpolate(v, scale_factor=size, mode=interpolation, **kwargs), x, dy
    )
    np.testing.assert_allclose(y, yt, **TOL)
    np.testing.assert_allclose(dx, dxt, **TOL)


def test_upsampling3d_matches_torch_interpolate(float64, rng):
    x = rng.standard_normal((1, 2, 2, 3, 2))
    dy = rng.standard_normal((1, 2, 4, 3, 6))
    y, dx = _run(layers.UpSampling3D((2, 1, 3), data_format="channels_first"), x, dy)
    yt, dxt, _ = _torch_grads(
        lambda v: F.interpolate(v, scale_factor=(2, 1, 3), mode="nearest"), x, dy
    )
    np.testing.assert_allclose(y, yt, **TOL)
    np.testing.assert_allclose(dx, dxt, **TOL)
