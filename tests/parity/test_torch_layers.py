"""Dense + each activation and every loss against PyTorch, forward and gradients (float64)."""

import numpy as np
import pytest

from npkeras import layers, losses

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.2),
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda z: F.softmax(z, dim=-1),
    "log_softmax": lambda z: F.log_softmax(z, dim=-1),
    "softplus": F.softplus,
    "softsign": F.softsign,
    "silu": F.silu,
    "hard_sigmoid": F.hardsigmoid,
    "exponential": torch.exp,
}


@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_dense_with_activation_matches_torch(float64, rng, name):
    x = rng.standard_normal((6, 5))
    dy = rng.standard_normal((6, 4))
    layer = layers.Dense(4, activation=name)
    y = layer(x)
    layer.zero_grads()
    dx = layer.backward(dy)

    kernel, bias = (torch.tensor(w, requires_grad=True) for w in layer.get_weights())
    xt = torch.tensor(x, requires_grad=True)
    yt = TORCH_ACTIVATIONS[name](xt @ kernel + bias)
    (yt * torch.tensor(dy)).sum().backward()

    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(layer.grads["kernel"], kernel.grad.numpy(), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], bias.grad.numpy(), rtol=1e-5, atol=1e-12)


def _torch_mean_last(v):
    return v.mean(dim=-1).mean()


EPS = 1e-7


def _log_normalised(p):
    return torch.log(p / p.sum(dim=-1, keepdim=True))


def _losses(rng):
    """(npkeras loss, y_true, y_pred, torch function of (t, p) giving the reduced loss)."""
    reg_t, reg_p = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    pos_t, pos_p = rng.random((5, 3)) + 0.1, rng.random((5, 3)) + 0.1
    probs = rng.random((5, 4)) + 0.05
    probs /= probs.sum(-1, keepdims=True)
    onehot = np.eye(4)[rng.integers(0, 4, 5)]
    labels = rng.integers(0, 4, 5)
    binary = rng.integers(0, 2, (5, 2)).astype(float)
    logits = rng.standard_normal((5, 4))
    return [
        (losses.MeanSquaredError(), reg_t, reg_p, lambda t, p: F.mse_loss(p, t)),
        (losses.MeanAbsoluteError(), reg_t, reg_p, lambda t, p: F.l1_loss(p, t)),
        (losses.Huber(delta=0.5), reg_t, reg_p, lambda t, p: F.huber_loss(p, t, delta=0.5)),
        (
            losses.BinaryCrossentropy(),
            binary,
            rng.random((5, 2)) * 0.9 + 0.05,
            lambda t, p: F.binary_cross_entropy(p, t),
        ),
        (
            losses.BinaryCrossentropy(from_logits=True),
            binary,
            rng.standard_normal((5, 2)),
            lambda t, p: F.binary_cross_entropy_with_logits(p, t),
        ),
        # Keras renormalises probabilities (p / sum p) before the log; so does the twin
        (
            losses.CategoricalCrossentropy(),
            onehot,
            probs,
            lambda t, p: F.nll_loss(_log_normalised(p), t.argmax(-1)),
        ),
        (
            losses.CategoricalCrossentropy(from_logits=True),
            onehot,
            logits,
            lambda t, p: F.cross_entropy(p, t),
        ),
        (
            losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
            onehot,
            logits,
            lambda t, p: F.cross_entropy(p, t.argmax(-1), label_smoothing=0.1),
        ),
        (
            losses.SparseCategoricalCrossentropy(from_logits=True),
            labels,
            logits,
            lambda t, p: F.cross_entropy(p, t.long()),
        ),
        (
            losses.SparseCategoricalCrossentropy(),
            labels,
            probs,
            lambda t, p: F.nll_loss(_log_normalised(p), t.long()),
        ),
        (
            losses.KLDivergence(),
            probs[::-1].copy(),
            probs,
            lambda t, p: F.kl_div(torch.log(p), t, reduction="batchmean"),
        ),
        (
            losses.Poisson(),
            pos_t,
            pos_p,
            lambda t, p: F.poisson_nll_loss(p, t, log_input=False, eps=EPS),
        ),
        (
            losses.CosineSimilarity(),
            reg_t,
            reg_p,
            lambda t, p: -F.cosine_similarity(p, t, dim=-1).mean(),
        ),
        # no built-in twin in torch: the formula in torch ops, differentiated by autograd
        (
            losses.LogCosh(),
            reg_t,
            reg_p,
            lambda t, p: _torch_mean_last(torch.log(torch.cosh(p - t))),
        ),
        (
            losses.MeanAbsolutePercentageError(),
            reg_t,
            reg_p,
            lambda t, p: _torch_mean_last(
                100 * torch.abs(t - p) / torch.clamp(torch.abs(t), min=EPS)
            ),
        ),
        (
            losses.MeanSquaredLogarithmicError(),
            pos_t,
            pos_p,
            lambda t, p: _torch_mean_last((torch.log1p(p) - torch.log1p(t)) ** 2),
        ),
        (
            losses.Hinge(),
            binary,
            reg_p[:, :2].copy(),
            lambda t, p: _torch_mean_last(torch.clamp(1 - (2 * t - 1) * p, min=0)),
        ),
        (
            losses.SquaredHinge(),
            binary,
            reg_p[:, :2].copy(),
            lambda t, p: _torch_mean_last(torch.clamp(1 - (2 * t - 1) * p, min=0) ** 2),
        ),
    ]


@pytest.mark.parametrize("index", range(18))
def test_loss_value_and_gradient_match_torch(float64, rng, index):
    loss, y_true, y_pred, torch_fn = _losses(rng)[index]
    target = loss.prepare_targets(y_true, y_pred)
    value, grad = loss.value_and_grad(target, y_pred)
    pt = torch.tensor(y_pred, requires_grad=True)
    tt = torch.tensor(y_true)
    expected = torch_fn(tt, pt)
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-5, abs=1e-12), loss.name
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-5, atol=1e-12, err_msg=loss.name)
