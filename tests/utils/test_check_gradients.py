"""keras.utils.check_gradients: the public finite-difference checker."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import backend


class DoubledBiasDense(keras.layers.Dense):
    """A Dense whose backward gets dL/dbias wrong by a factor of 2."""

    def backward(self, dy, *args):
        dx = super().backward(dy, *args)
        self.grads["bias"] *= 2.0
        return dx


def test_flags_a_wrong_backward_with_its_worst_element(rng):
    layer = DoubledBiasDense(3, activation="tanh")
    x = rng.standard_normal((4, 2))
    layer(x)
    result = keras.utils.check_gradients(layer, x)
    assert not result.passed
    assert result.errors["bias"] == pytest.approx(0.5, abs=1e-8)  # ||2g - g|| / ||2g||
    assert result.errors["kernel"] < 1e-8 and result.errors["input"] < 1e-8
    worst = result.worst
    assert worst["name"] == "bias" and len(worst["index"]) == 1
    assert worst["analytic"] == pytest.approx(2 * worst["numeric"], rel=1e-6)
    assert "MISMATCH in 'bias'" in result.verdict and "dL/dbias" in result.verdict
    assert "bias    5.000e-01  <-- mismatch" in str(result)


def test_runs_in_float64_and_restores_weights_and_floatx(rng):
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(4, activation="sigmoid", name="a"),
            keras.layers.Dense(2, name="b"),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    model.fit(x, y, epochs=1, verbose=0)
    before = model.get_weights()
    kernel = model.layers[0].params["kernel"]
    result = keras.utils.check_gradients(model, x, y)
    # float32 finite differences would give errors near 1e-2; float64 ones near 1e-9
    assert result.passed and max(result.errors.values()) < 1e-7
    assert set(result.errors) == {"input", "a/kernel", "a/bias", "b/kernel", "b/bias"}
    assert backend.floatx() == "float32"
    assert model.layers[0].params["kernel"] is kernel and kernel.dtype == np.float32
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    model.fit(x, y, epochs=1, verbose=0)  # training goes on with the same buffers


def test_model_gradient_is_that_of_the_compiled_loss(rng):
    # one linear unit and mse: dL/db = 2 * mean(x w + b - y), checkable by hand
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mae")
    x, y = rng.standard_normal((6, 2)), rng.standard_normal((6, 1))
    assert keras.utils.check_gradients(model, x, y).passed
    wrong = keras.Sequential([keras.Input(shape=(2,)), DoubledBiasDense(1, name="wrong")])
    wrong.compile(optimizer="sgd", loss="mse")
    result = keras.utils.check_gradients(wrong, x, y)
    assert result.errors["wrong/bias"] == pytest.approx(0.5, abs=1e-8)
    assert result.worst["name"] == "wrong/bias" and result.worst["index"] == (0,)
    w, b = wrong.layers[0].get_weights()
    residual = x @ w + b - y
    assert result.worst["numeric"] == pytest.approx(2 * residual.mean(), rel=1e-6)


def test_merge_layer_inputs_are_checked(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    layer = keras.layers.Multiply()
    layer([a, b])
    result = keras.utils.check_gradients(layer, [a, b])
    assert set(result.errors) == {"input", "input_1"} and result.passed


def test_unbuilt_layer_raises():
    with pytest.raises(
        ValueError, match="check_gradients needs a built layer: call 'dense.*' on data"
    ):
        keras.utils.check_gradients(keras.layers.Dense(2), np.ones((1, 3)))


def test_layer_with_targets_uses_mean_squared_error(rng):
    layer = keras.layers.Dense(2, name="d")
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    layer(x)
    result = keras.utils.check_gradients(layer, x, y, tolerance=1e-8)
    assert result.passed and set(result.errors) == {"input", "kernel", "bias"}
    kernel, bias = layer.get_weights()
    dz = 2 * (x @ kernel + bias - y) / y.size  # d mse / d prediction
    worst = result.worst
    expected = {"input": dz @ kernel.T, "kernel": x.T @ dz, "bias": dz.sum(axis=0)}[worst["name"]]
    assert worst["numeric"] == pytest.approx(expected[worst["index"]], rel=1e-5)
