"""SimpleRNN, LSTM, GRU and Bidirectional against torch.nn.RNN / LSTM / GRU in float64:
outputs, final states, and gradients of the input, the initial states and every weight.

Weight conversion (Keras -> torch, u units):
- SimpleRNN: weight_ih = kernel.T (u, in), weight_hh = recurrent_kernel.T, bias_ih = bias,
  bias_hh = 0 (Keras has one bias).
- LSTM: torch's rows i, f, g, o are Keras's columns i, f, c, o, so weight_ih = kernel.T
  (4u, in), weight_hh = recurrent_kernel.T, bias_ih = bias, bias_hh = 0.
- GRU (reset_after=True, torch's form): torch orders the gates r, z, n and Keras z, r, h,
  so the first two blocks swap: weight_ih = kernel[:, [r, z, h]].T, weight_hh likewise,
  bias_ih = bias[0] and bias_hh = bias[1] (Keras's input and recurrent biases).
"""

import numpy as np
import pytest

from npkeras import backend
from npkeras.layers import GRU, LSTM, Bidirectional, SimpleRNN
from tests.helpers import all_grads

torch = pytest.importorskip("torch")

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5


@pytest.fixture(autouse=True)
def float64():
    backend.set_floatx("float64")
    yield
    backend.set_floatx("float32")


def _torch_order(matrix, kind):
    """Keras gate columns -> torch gate rows (a transpose, and z/r swapped for the GRU)."""
    if kind == "gru":
        u = matrix.shape[-1] // 3
        matrix = np.concatenate([matrix[..., u : 2 * u], matrix[..., :u], matrix[..., 2 * u :]], -1)
    return matrix.T if matrix.ndim == 2 else matrix


def _keras_order(matrix, kind):
    """The inverse of :func:`_torch_order`, for gradients."""
    matrix = matrix.T if matrix.ndim == 2 else matrix
    if kind == "gru":
        u = matrix.shape[-1] // 3
        matrix = np.concatenate([matrix[..., u : 2 * u], matrix[..., :u], matrix[..., 2 * u :]], -1)
    return matrix


def _load_into_torch(module, layer, kind, suffix=""):
    kernel, recurrent, bias = layer.get_weights()
    if kind == "gru":
        bias_ih, bias_hh = bias[0], bias[1]
    else:
        bias_ih, bias_hh = bias, np.zeros_like(bias)
    with torch.no_grad():
        getattr(module, "weight_ih_l0" + suffix).copy_(torch.from_numpy(_torch_order(kernel, kind)))
        getattr(module, "weight_hh_l0" + suffix).copy_(
            torch.from_numpy(_torch_order(recurrent, kind))
        )
        getattr(module, "bias_ih_l0" + suffix).copy_(torch.from_numpy(_torch_order(bias_ih, kind)))
        getattr(module, "bias_hh_l0" + suffix).copy_(torch.from_numpy(_torch_order(bias_hh, kind)))


def _torch_grads(module, kind, suffix=""):
    grad = {
        name: getattr(module, name + "_l0" + suffix).grad.numpy()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    }
    kernel = _keras_order(grad["weight_ih"], kind)
    recurrent = _keras_order(grad["weight_hh"], kind)
    if kind == "gru":
        bias = np.stack([_keras_order(grad["bias_ih"], kind), _keras_order(grad["bias_hh"], kind)])
    else:
        bias = grad["bias_ih"]
    return [kernel, recurrent, bias]


CASES = {
    "simple_rnn": (lambda **kw: SimpleRNN(UNITS, **kw), torch.nn.RNN, 1),
    "lstm": (lambda **kw: LSTM(UNITS, **kw), torch.nn.LSTM, 2),
    "gru": (lambda **kw: GRU(UNITS, **kw), torch.nn.GRU, 1),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_recurrent_layer_matches_torch(kind):
    make_layer, torch_class, n_states = CASES[kind]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, FEATURES))
    states = [rng.standard_normal((BATCH, UNITS)) for _ in range(n_states)]
    layer = make_layer(return_sequences=True, return_state=True, bias_initializer="random_normal")
    layer(x)
    outputs = layer.forward(x, initial_state=states)
    dys = [rng.standard_normal(o.shape) for o in outputs]
    layer.zero_grads()
    grads = layer.backward(dys)

    module = torch_class(FEATURES, UNITS, batch_first=True).double()
    _load_into_torch(module, layer, kind)
    xt = torch.from_numpy(x).requires_grad_()
    st = [torch.from_numpy(s[None]).requires_grad_() for s in states]
    seq, final = module(xt, tuple(st) if kind == "lstm" else st[0])
    final = list(final) if kind == "lstm" else [final]
    torch_outputs = [seq] + [f[0] for f in final]
    sum((o * torch.from_numpy(d)).sum() for o, d in zip(torch_outputs, dys)).backward()

    for ours, theirs in zip(outputs, torch_outputs):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(grads[0], xt.grad.numpy(), atol=1e-10)
    for ours, theirs in zip(grads[1:], st):
        np.testing.assert_allclose(ours, theirs.grad.numpy()[0], atol=1e-10)
    for name, theirs in zip(("kernel", "recurrent_kernel", "bias"), _torch_grads(module, kind)):
        np.testing.assert_allclose(all_grads(layer)[name], theirs, atol=1e-10, err_msg=name)


def test_bidirectional_lstm_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((BATCH, STEPS, FEATURES))
    layer = Bidirectional(LSTM(UNITS, return_sequences=True, bias_initializer="random_normal"))
    y = layer(x)
    dy = rng.standard_normal(y.shape)
    layer.zero_grads()
    dx = layer.backward(dy)

    module = torch.nn.LSTM(FEATURES, UNITS, batch_first=True, bidirectional=True).double()
    _load_into_torch(module, layer.forward_layer, "lstm")
    _load_into_torch(module, layer.backward_layer, "lstm", suffix="_reverse")
    xt = torch.from_numpy(x).requires_grad_()
    out, _ = module(xt)
    (out * torch.from_numpy(dy)).sum().backward()

    np.testing.assert_allclose(y, out.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    for inner, suffix in ((layer.forward_layer, ""), (layer.backward_layer, "_reverse")):
        for name, theirs in zip(
            ("kernel", "recurrent_kernel", "bias"), _torch_grads(module, "lstm", suffix)
        ):
            np.testing.assert_allclose(all_grads(inner)[name], theirs, atol=1e-10)
