import numpy as np
import pytest

from npkeras import activations
from npkeras.utils.gradcheck import check_activation_gradient

NAMES = [
    "linear",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "silu",
    "swish",
    "hard_sigmoid",
    "exponential",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(1, 5), (4, 3), (2, 3, 4)])
def test_activation_gradient_matches_finite_differences(name, shape, rng):
    x = rng.standard_normal(shape) * 2
    x[np.abs(x) < 1e-3] += 0.01  # keep away from the kinks of relu-like functions
    x[np.abs(np.abs(x) - 3) < 1e-3] += 0.01  # and from hard_sigmoid's corners
    assert check_activation_gradient(activations.get(name), x) < 1e-6


def test_softmax_on_other_axis_gradient(rng):
    x = rng.standard_normal((3, 4))
    act = activations.Softmax(axis=0)
    np.testing.assert_allclose(act(x).sum(axis=0), 1.0)
    assert check_activation_gradient(act, x) < 1e-6


@pytest.mark.parametrize("name", [n for n in NAMES if n != "exponential"])
def test_activation_is_finite_at_extremes(name):
    x = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=np.float32)
    act = activations.get(name)
    y = act(x)
    dx = act.grad(np.ones_like(x), x, y)
    assert np.isfinite(y).all() and np.isfinite(dx).all()


def test_known_values():
    x = np.array([[-2.0, 0.0, 2.0]])
    np.testing.assert_allclose(activations.relu(x), [[0, 0, 2]])
    np.testing.assert_allclose(activations.leaky_relu(x), [[-0.4, 0, 2]])
    np.testing.assert_allclose(activations.sigmoid(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(activations.hard_sigmoid(x), [[1 / 6, 0.5, 5 / 6]])
    np.testing.assert_allclose(activations.softplus(x), np.log1p(np.exp(x)))
    np.testing.assert_allclose(activations.gelu(np.array([1.0])), [0.8413447460685429])
    np.testing.assert_allclose(activations.selu(np.array([1.0])), [1.0507009873554805])
    np.testing.assert_allclose(activations.softmax(np.array([[1e4, 0.0]])), [[1.0, 0.0]])


def test_get_accepts_none_objects_and_names():
    assert activations.get(None).name == "linear"
    assert activations.get("Swish").name == "silu"
    relu = activations.ReLU()
    assert activations.get(relu) is relu


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown activation: 'sigmod'. Did you mean 'sigmoid'\?"):
        activations.get("sigmod")


def test_plain_function_activation_is_refused_with_guidance():
    with pytest.raises(
        TypeError, match=r"has no derivative. Subclass `npkeras.activations.Activation`"
    ):
        activations.get(lambda x: x)
