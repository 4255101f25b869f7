"""The compiled kernels of the recurrent steps and the attention softmax
(npkeras/_kernels.c): the same numbers as the NumPy paths they replace, to a stated
tolerance (their exp is a polynomial: relative error <= 2e-7 in float32; float64 uses
the C library's exp), and every bad argument refused before a loop runs."""

import numpy as np
import pytest

from npkeras import backend, layers
from npkeras.layers.attention.softmax import masked_softmax, softmax_backward

kernels = backend.kernels
needs_kernels = pytest.mark.skipif(kernels is None, reason="the C kernels are not built")
#: float32 tolerance of a kernel against the NumPy path (a few ulp through the exp)
TOLERANCE = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-12, atol=1e-13)}


@needs_kernels
def test_float32_exp_is_within_two_ulp_of_the_exact_value():
    # softmax of [0, x] is exp(x) / (1 + exp(x)): the kernel's exp checked over its range
    x = np.linspace(-87.0, 0.0, 200_001)
    z = np.stack([np.zeros_like(x), x], axis=1).astype(np.float32)
    kernels.softmax_rows(z)
    x32 = x.astype(np.float32).astype(np.float64)
    exact = np.exp(x32) / (1.0 + np.exp(x32))
    assert np.max(np.abs(z[:, 1] - exact) / exact) < 5e-7


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cols", [19, 77])  # under and over the kernel's 32 lanes
def test_softmax_rows_equals_the_numpy_softmax(dtype, cols):
    rng = np.random.default_rng(0)
    scores = (rng.standard_normal((3, 37, cols)) * 6).astype(dtype)
    mask = rng.random((3, 37, cols)) > 0.3
    mask[0, 5] = False  # a fully masked row: zeros
    expected = scores.copy()
    np.copyto(expected, -np.inf, where=~mask)
    expected -= np.where(mask.any(-1, keepdims=True), expected.max(-1, keepdims=True), 0)
    expected = np.exp(expected)
    expected /= np.maximum(expected.sum(-1, keepdims=True), np.finfo(dtype).tiny)
    ours = masked_softmax(scores.copy(), mask)
    np.testing.assert_allclose(ours, expected, **TOLERANCE[dtype])
    assert not ours[0, 5].any() and np.all(ours[~mask] == 0)


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_rows_backward_equals_numpy(dtype):
    rng = np.random.default_rng(1)
    probs = masked_softmax(rng.standard_normal((5, 71)).astype(dtype))
    dprobs = rng.standard_normal((5, 71)).astype(dtype)
    expected = (dprobs - (dprobs * probs).sum(-1, keepdims=True)) * probs
    np.testing.assert_allclose(softmax_backward(probs, dprobs.copy()), expected, **TOLERANCE[dtype])


@needs_kernels
def test_softmax_rows_propagates_nan_to_its_row_only():
    z = np.array([[1.0, np.nan, 2.0], [0.0, 0.0, 0.0]], np.float32)
    kernels.softmax_rows(z)
    assert np.isnan(z[0]).all() and np.allclose(z[1], 1 / 3)


def _run(layer_class, dtype, monkeypatch, compiled, **kwargs):
    """Forward and backward of a layer with or without the kernels: outputs, dx, grads."""
    monkeypatch.setattr(backend, "kernels", compiled)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 7, 3)).astype(dtype)
    layer = layer_class(5, return_sequences=True, dtype=dtype, **kwargs)
    layer.build(x.shape)
    layer.set_weights(
        [rng.standard_normal(w.shape).astype(dtype) * 0.7 for w in layer.get_weights()]
    )
    y = layer.forward(x, training=True)
    dx = layer.backward(rng.standard_normal(y.shape).astype(dtype))
    return [y, dx] + [g.copy() for g in layer.cell.grads.values()]


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "layer_class,kwargs",
    [
        (layers.LSTM, {}),
        (layers.GRU, {}),
        (layers.LSTM, {"recurrent_dropout": 0.3, "seed": 1}),
        (layers.GRU, {"use_bias": False}),
    ],
)
def test_recurrent_steps_equal_the_numpy_path(layer_class, kwargs, dtype, monkeypatch):
    with np.errstate(over="ignore"):
        reference = _run(layer_class, dtype, monkeypatch, None, **kwargs)
        ours = _run(layer_class, dtype, monkeypatch, kernels, **kwargs)
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a, b, **TOLERANCE[dtype])


@needs_kernels
def test_lstm_step_saturates_without_nan():
    u = 2
    gates = np.repeat(np.float32([200.0, -200.0, 200.0, -200.0]), u).reshape(1, 4 * u)
    xw = np.zeros_like(gates)
    c_prev, c, tanh_c, h = (np.zeros((1, u), np.float32) for _ in range(4))
    kernels.lstm_step(gates, xw, c_prev, c, tanh_c, h)
    assert gates.reshape(4, u)[:, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert c.tolist() == [[1.0, 1.0]] and h.tolist() == [[0.0, 0.0]]


def _f(*shape):
    return np.ones(shape, np.float32)


@needs_kernels
@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda: kernels.lstm_step(_f(2, 8), _f(2, 8), _f(2, 2), _f(2, 2), _f(2, 2)),
            TypeError,
            "lstm_step\\(\\) takes exactly 6 arguments \\(5 given\\)",
        ),
        (
            lambda: kernels.lstm_step(_f(2, 8), _f(2, 7), _f(2, 2), _f(2, 2), _f(2, 2), _f(2, 2)),
            ValueError,
            "`xw` must hold 16 values \\(2 rows of 8\\), not 14",
        ),
        (
            lambda: kernels.gru_step(_f(2, 6), _f(2, 6), _f(2, 6), _f(2, 2), _f(0, 2)),
            ValueError,
            "`h` must be a non-empty \\(rows, units\\) array",
        ),
        (
            lambda: kernels.gru_step_backward(
                _f(1, 3), _f(1, 3), _f(1, 3), _f(1, 3), _f(1, 1), np.ones((1, 1))
            ),
            TypeError,
            "`dh` must be float32 or float64 like the other arrays",
        ),
        (
            lambda: kernels.lstm_step_backward(
                _f(1, 4), _f(1, 3), _f(1, 1), _f(1, 1), _f(1, 1), _f(1, 1)
            ),
            ValueError,
            "`dgates` must hold 4 values \\(1 rows of 4\\), not 3",
        ),
        (
            lambda: kernels.softmax_rows(_f(3, 0)),
            ValueError,
            "`z` must have a non-empty last axis",
        ),
        (
            lambda: kernels.softmax_rows_backward(_f(2, 3), _f(3, 3)),
            ValueError,
            "`p` and `dp` must have the same size",
        ),
        (
            lambda: kernels.softmax_rows(np.ones((2, 4), np.float32)[:, ::2]),
            TypeError,
            "`z` must be a writable C-contiguous",
        ),
    ],
)
def test_bad_step_kernel_arguments_are_refused_with_their_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "shape_a,shape_b,transposed",
    [
        ((1100, 64), (1100, 96), True),
        ((80, 1100), (1100, 70), False),
        ((64, 256), (256, 64), False),
    ],
)
def test_dot_blocked_equals_dot_with_one_blas_thread(shape_a, shape_b, transposed, monkeypatch):
    monkeypatch.setattr(backend, "one_blas_thread", True)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a = a.T if transposed else a
    expected = a @ b
    np.testing.assert_allclose(backend.dot_blocked(a, b), expected, rtol=1e-12, atol=1e-12)
    out = np.empty_like(expected)
    assert backend.dot_blocked(a, b, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def _dense_and_attention_results():
    """Outputs, input gradients and weight gradients of a Dense and a MultiHeadAttention
    whose weight-gradient products are long enough to be blocked (2 x 520 rows)."""
    rng = np.random.default_rng(4)
    results = []
    for layer, x in (
        (layers.Dense(70), rng.standard_normal((2, 520, 80))),
        (layers.MultiHeadAttention(2, 32), rng.standard_normal((2, 520, 64))),
    ):
        layer.build([x.shape, x.shape] if isinstance(layer, layers.MultiHeadAttention) else x.shape)
        layer.set_weights([rng.standard_normal(w.shape) * 0.1 for w in layer.get_weights()])
        y = layer.forward([x, x] if isinstance(layer, layers.MultiHeadAttention) else x)
        dx = layer.backward(rng.standard_normal(y.shape))
        grads = [g.copy() for sub in layer._flatten_layers() for g in sub.grads.values()]
        results.append([y, *(dx if isinstance(dx, list) else [dx]), *grads])
    return results


def test_dense_and_attention_give_the_same_numbers_with_blocked_products(monkeypatch):
    backend.set_floatx("float64")
    try:
        reference = _dense_and_attention_results()
        monkeypatch.setattr(backend, "one_blas_thread", True)
        blocked = _dense_and_attention_results()
    finally:
        backend.set_floatx("float32")
    for ours, theirs in zip(blocked, reference):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
