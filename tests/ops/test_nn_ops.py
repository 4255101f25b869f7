"""keras.ops.nn: forward values from Keras's definitions, float64 finite-difference
gradients, and the errors bad input raises (for every family of ops)."""

import math

import numpy as np
import pytest

from npkeras import GradientTape, backend, ops
from tests.ops.checks import check_op_gradients, make_input

SHAPES = [(5,), (2, 3, 4)]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _erf(x):
    return np.vectorize(math.erf)(x)


ACTIVATIONS = {
    "relu": (ops.relu, lambda x: np.maximum(x, 0)),
    "relu6": (ops.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (ops.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: ops.elu(x, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    "selu": (
        ops.selu,
        lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    ),
    "gelu_tanh": (
        ops.gelu,
        lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    ),
    "gelu_erf": (
        lambda x: ops.gelu(x, approximate=False),
        lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    ),
    "silu": (ops.silu, lambda x: x * _sigmoid(x)),
    "swish": (ops.swish, lambda x: x * _sigmoid(x)),
    "sigmoid": (ops.sigmoid, _sigmoid),
    "hard_sigmoid": (ops.hard_sigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "softplus": (ops.softplus, lambda x: np.log1p(np.exp(x))),
    "softsign": (ops.softsign, lambda x: x / (1 + np.abs(x))),
    "tanh": (ops.tanh, np.tanh),
    "exponential": (ops.nn.exponential, np.exp),
    "softmax": (ops.softmax, _softmax),
    "softmax_axis0": (lambda x: ops.softmax(x, axis=0), lambda x: _softmax(x, axis=0)),
    "log_softmax": (ops.log_softmax, lambda x: np.log(_softmax(x))),
    "log_sigmoid": (ops.log_sigmoid, lambda x: np.log(_sigmoid(x))),
    "hard_silu": (ops.hard_silu, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward_and_gradient(name, shape):
    fn, ref = ACTIVATIONS[name]
    x = make_input(shape, "real", np.random.default_rng(0)) * 4  # reach relu6's top
    np.testing.assert_allclose(fn(x), ref(x), rtol=1e-7, atol=1e-12)
    check_op_gradients(fn, [x])


def _targets(rng, shape):
    return rng.uniform(0, 1, shape)


LOSSES = {
    "binary_crossentropy": (
        lambda t, p: ops.binary_crossentropy(t, p),
        lambda t, p: -(t * np.log(p) + (1 - t) * np.log(1 - p)),
        "probability",
    ),
    "binary_crossentropy_logits": (
        lambda t, z: ops.binary_crossentropy(t, z, from_logits=True),
        lambda t, z: -(t * np.log(_sigmoid(z)) + (1 - t) * np.log(1 - _sigmoid(z))),
        "real",
    ),
    "categorical_crossentropy": (
        lambda t, p: ops.categorical_crossentropy(t, p),
        lambda t, p: -(t * np.log(p / p.sum(-1, keepdims=True))).sum(-1),
        "probability",
    ),
    "categorical_crossentropy_logits": (
        lambda t, z: ops.categorical_crossentropy(t, z, from_logits=True),
        lambda t, z: -(t * np.log(_softmax(z))).sum(-1),
        "real",
    ),
}


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)], ids=str)
@pytest.mark.parametrize("name", LOSSES)
def test_crossentropy_forward_and_gradient(name, shape):
    fn, ref, domain = LOSSES[name]
    rng = np.random.default_rng(1)
    target, output = _targets(rng, shape), make_input(shape, domain, rng)
    np.testing.assert_allclose(fn(target, output), ref(target, output), rtol=1e-7)
    check_op_gradients(fn, [target, output], wrt=[1])


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_equals_the_one_hot_version(from_logits):
    rng = np.random.default_rng(2)
    labels = np.array([0, 2, 1, 2])
    output = rng.uniform(0.1, 1.0, (4, 3)) if not from_logits else rng.standard_normal((4, 3))
    dense = ops.categorical_crossentropy(np.eye(3)[labels], output, from_logits=from_logits)
    for target in (labels, labels[:, None]):
        np.testing.assert_allclose(
            ops.sparse_categorical_crossentropy(target, output, from_logits=from_logits), dense
        )
    check_op_gradients(
        lambda p: ops.sparse_categorical_crossentropy(labels, p, from_logits=from_logits), [output]
    )


def test_moments_and_normalize():
    x = np.random.default_rng(3).standard_normal((3, 4, 2))
    mean, variance = ops.moments(x, axes=[0, 2])
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2)))
    np.testing.assert_allclose(variance, x.var(axis=(0, 2)))
    assert ops.moments(x, axes=[1], keepdims=True)[1].shape == (3, 1, 2)
    check_op_gradients(lambda a: ops.moments(a, axes=[0, 2]), [x])
    np.testing.assert_allclose(
        ops.normalize(x, axis=1), x / np.linalg.norm(x, axis=1, keepdims=True)
    )
    check_op_gradients(lambda a: ops.normalize(a, axis=-1), [x])
    check_op_gradients(lambda a: ops.normalize(a, axis=0, order=1), [x])


def test_one_hot_and_multi_hot():
    labels = np.array([[0, 2], [1, -1]])
    hot = ops.one_hot(labels, 3)
    assert hot.shape == (2, 2, 3) and hot.dtype == "float32"
    np.testing.assert_array_equal(hot[1, 1], [0, 0, 0])  # out of range: zeros, as in Keras
    assert ops.one_hot(np.array([1, 0]), 2, axis=0).tolist() == [[0, 1], [1, 0]]
    np.testing.assert_array_equal(ops.multi_hot(labels, 4), [[1, 0, 1, 0], [0, 1, 0, 0]])
    np.testing.assert_array_equal(ops.multi_hot(np.array([3, 0]), 4, dtype="int32"), [1, 0, 0, 1])


# -- errors ---------------------------------------------------------------------------
ERRORS = [
    (
        lambda: ops.add(np.ones((2, 3)), np.ones((4,))),
        ValueError,
        r"ops.add: the inputs' shapes \(2, 3\), \(4,\) cannot be broadcast together.*expand_dims",
    ),
    (
        lambda: ops.multiply(np.ones((2, 3)), np.ones((3, 2))),
        ValueError,
        r"ops.multiply: .*\(2, 3\), \(3, 2\) cannot be broadcast",
    ),
    (
        lambda: ops.sum(np.ones((2, 3)), axis=2),
        ValueError,
        r"ops.sum: axis 2 is out of range for an input of rank 2.*\[-2, 2\)",
    ),
    (lambda: ops.mean(np.ones((2, 3)), axis=(0, -3)), IndexError, r"ops.mean: axis -3"),
    (
        lambda: ops.concatenate([np.ones((2, 3)), np.ones((2, 3))], axis=2),
        ValueError,
        r"ops.concatenate: axis 2 is out of range",
    ),
    (lambda: ops.softmax(np.ones((2, 3)), axis=3), ValueError, r"ops.softmax: axis 3"),
    (lambda: ops.swapaxes(np.ones((2, 3)), 0, 5), ValueError, r"ops.swapaxes: axis 5"),
    (
        lambda: ops.matmul(np.ones((2, 3)), np.ones((4, 5))),
        ValueError,
        r"ops.matmul: the inputs' shapes \(2, 3\), \(4, 5\) do not fit a matrix product",
    ),
    (
        lambda: ops.dot(np.ones((2, 3)), np.ones((2, 3))),
        ValueError,
        r"ops.dot: the inputs' shapes \(2, 3\), \(2, 3\) do not fit",
    ),
    (
        lambda: ops.einsum("ij,jk->ik", np.ones((2, 3))),
        ValueError,
        r"ops.einsum\('ij,jk->ik'\) names 2 operand\(s\) but received 1",
    ),
    (
        lambda: ops.reshape(np.ones((2, 3)), (4, -1)),
        ValueError,
        r"ops.reshape: cannot reshape array of size 6 into shape \(4,newaxis\)",
    ),
    (lambda: ops.take(np.ones((2, 3)), [7], axis=1), IndexError, r"ops.take: index 7"),
    (
        lambda: ops.pad(np.ones(3), [1, 1], mode="reflect", constant_values=2),
        ValueError,
        r"ops.pad: `constant_values` only applies with mode='constant'",
    ),
    (
        lambda: ops.where(np.ones(2) > 0, np.ones(2)),
        ValueError,
        r"ops.where: pass both `x1` and `x2`, or neither",
    ),
    (
        lambda: ops.norm(np.ones((2, 2)), ord="bad"),
        ValueError,
        r"ops.norm: invalid `ord` 'bad' for a matrix norm",
    ),
    (
        lambda: ops.multi_hot(np.ones((2, 2), "int32")),
        ValueError,
        r"ops.multi_hot: `num_classes` is required",
    ),
    (
        lambda: ops.sparse_categorical_crossentropy(np.zeros((2, 3, 4)), np.ones((2, 3))),
        ValueError,
        r"`target` must have one axis fewer than `output`.*\(2, 3, 4\).*\(2, 3\)",
    ),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_bad_input_raises_a_keras_style_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_an_op_inside_another_keeps_the_inner_message():
    # std is built from mean and subtract: the axis error names the first op that failed
    with pytest.raises(ValueError, match=r"ops.\w+: axis 4 is out of range"):
        ops.std(np.ones((2, 3)), axis=4)


def test_gradient_tape_refuses_to_watch_integer_tensors():
    message = r"integer tensor \(dtype int64, shape \(3,\)\).*keras.ops.cast\(x, 'float32'\)"
    with GradientTape() as tape, pytest.raises(TypeError, match=message):
        tape.watch(np.arange(3, dtype="int64"))


def test_floatx_float32_ops_stay_float32():
    backend.set_floatx("float32")
    x = np.ones((2, 3), "float32")
    for y in (ops.softmax(x), ops.relu(x), ops.mean(x), ops.norm(x), ops.log_softmax(x)):
        assert np.asarray(y).dtype == "float32"
