"""npkeras.tutorial runs the tutorial's own code, on npkeras's layers and losses."""

import numpy as np
import pytest

from npkeras import layers, losses
from npkeras.tutorial import MSE, Activation, Dense, Layer, Loss, Sequential

# The tutorial's code from "Data" to "Validate", unchanged, with its class listings
# replaced by one import. Its model cells are pictures in the text; they are rebuilt
# from its prose: "a simple 1 layer model comprising 3 neurons", "fewer epochs and a
# higher learning rate" than model 1 (Dense(4, 3, relu) then Dense(3, 4)).
TUTORIAL_CODE = """
import numpy as np
import pandas as pd # only for data saving/extracting purposes
from npkeras.tutorial import *

def generate_random_samples(n_samples, a, b):
    # Generating random values for the first three columns
    return np.random.randint(a, b, size=(n_samples, 3))

random_samples = generate_random_samples(10000, 0, 100)
data = pd.DataFrame(random_samples, columns=['x','y','z'])
data['target'] = data['x'] + 2 * data['y'] + 3 * data['z']
data.to_csv('data/numbers.csv', index = False)

Y = np.array(data.target)
X = np.array(data.drop('target',axis=1))
X_train, X_test, Y_train, Y_test = X[:9000], X[9000:], Y[:9000], Y[9000:]

model = Sequential()
model.add(Dense(4, 3, "relu"))
model.add(Dense(3, 4))
model.compile_(MSE())
model.fit(X_train.T, Y_train, epochs=200, learning_rate=0.00001)

model2 = Sequential()
model2.add(Dense(3, 3))
model2.compile_(MSE())
model2.fit(X_train.T, Y_train, epochs=300, learning_rate=0.0001)
weights, bias = model2.coef()

from sklearn.metrics import r2_score
test_samples = generate_random_samples(100, 5000, 10000)
m = np.array([1, 2, 3])
y_high_test = np.sum(test_samples * m, axis=1)
r2_high = r2_score(y_high_test, model2.predict(test_samples))
r2_model1 = r2_score(Y_test, model.predict(X_test))
"""


@pytest.mark.slow
def test_tutorial_code_learns_weights_1_2_3(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    np.random.seed(0)
    namespace = {}
    exec(TUTORIAL_CODE, namespace)  # noqa: S102 - our own constant: the tutorial's code
    weights, bias = namespace["weights"], namespace["bias"]
    assert weights.shape == (3, 3) and bias.shape == (3, 1)
    np.testing.assert_allclose(weights, np.tile([1.0, 2.0, 3.0], (3, 1)), atol=0.02)
    assert namespace["r2_high"] > 0.999
    assert namespace["r2_model1"] > 0.9
    printed = capsys.readouterr().out
    assert "Epoch 300/300, Loss: " in printed and "Epoch 100/200, Loss: " in printed
    assert (tmp_path / "data" / "numbers.csv").exists()


def _tutorial_dense_step(weights, bias, X, Y, lr, activation):
    """The tutorial's own NumPy listing, for comparison (weights updated in place)."""
    z = weights @ X + bias
    out = np.maximum(0, z) if activation == "relu" else z
    grad = (out - Y) / X.shape[1]
    dz = grad * (np.where(out > 0, 1, 0) if activation == "relu" else 1)
    dx = weights.T @ dz  # with the weights of the forward pass
    weights -= lr * dz @ X.T
    bias -= lr * dz.sum(axis=1, keepdims=True)
    return out, dx


@pytest.mark.parametrize("activation", ["relu", "none"])
def test_dense_step_matches_tutorial_numpy(activation, rng):
    layer = Dense(2, 3, activation)
    weights, bias = layer.weights.copy(), layer.bias.copy()
    X, Y = rng.normal(size=(3, 5)), rng.normal(size=5)
    out = layer.forward_pass(X)
    dx = layer.backward_pass(MSE().gradient(out, Y), 0.1)
    expected_out, expected_dx = _tutorial_dense_step(weights, bias, X, Y, 0.1, activation)
    np.testing.assert_allclose(out, expected_out, rtol=1e-12)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12)
    np.testing.assert_allclose(layer.weights, weights, rtol=1e-12)
    np.testing.assert_allclose(layer.bias, bias, rtol=1e-12)


def test_weights_are_views_of_the_keras_dense():
    layer = Dense(2, 3)
    assert isinstance(layer.keras_layer, layers.Dense) and isinstance(layer, Layer)
    assert np.shares_memory(layer.weights, layer.keras_layer.params["kernel"])
    layer.weights = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    layer.bias = [[0.5], [-0.5]]
    np.testing.assert_array_equal(layer.keras_layer.params["kernel"], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(layer.forward_pass(np.ones((3, 1))), [[6.5], [14.5]])
    assert 0.0 <= Dense(50, 50).weights.min() and Dense(50, 50).bias.max() < 1.0


def test_mse_is_half_keras_mse_with_per_neuron_gradient():
    output = np.array([[1.0, 2.0, 4.0], [0.0, 1.0, 1.0]])
    Y = np.array([1.0, 1.0, 1.0])
    keras_value = losses.MeanSquaredError()(np.broadcast_to(Y, (2, 3)).T, output.T)
    assert MSE().calculate(output, Y) == pytest.approx(keras_value / 2)
    assert MSE().calculate(output, Y) == pytest.approx(np.mean((output - Y) ** 2 / 2))
    np.testing.assert_allclose(MSE().gradient(output, Y), (output - Y) / 3)


def test_activation_values_and_derivatives():
    X = np.array([[-1.0, 2.0], [3.0, -4.0]])
    np.testing.assert_array_equal(Activation("relu").activate(X), [[0, 2], [3, 0]])
    np.testing.assert_array_equal(Activation("none").activate(X), X)
    np.testing.assert_array_equal(Activation("relu").activate_derivative([[0.0, 2.0]]), [[0, 1]])
    np.testing.assert_array_equal(Activation("none").activate_derivative(X), np.ones((2, 2)))
    soft = Activation("softmax").activate(X)
    np.testing.assert_allclose(soft.sum(axis=0), [1.0, 1.0])  # each sample's column sums to 1
    np.testing.assert_allclose(soft[:, 0], np.exp([-1, 3]) / np.exp([-1, 3]).sum())
    np.testing.assert_allclose(Activation("softmax").activate_derivative(soft), soft * (1 - soft))


def test_softmax_dense_backward_uses_the_full_jacobian(rng):
    layer = Dense(3, 2, "softmax")
    X, dy = rng.normal(size=(2, 4)), rng.normal(size=(3, 4))
    s = layer.forward_pass(X)
    kernel = layer.weights.copy()
    dx = layer.backward_pass(dy, 0.0)
    dz = s * (dy - (dy * s).sum(axis=0))
    np.testing.assert_allclose(dx, kernel.T @ dz, rtol=1e-10)


def test_predict_rounds_the_mean_of_the_outputs():
    model = Sequential()
    layer = Dense(2, 1)
    layer.weights, layer.bias = [[1.0], [2.0]], [[0.0], [0.2]]
    model.add(layer)
    assert model.predict(np.array([[1.0], [3.0]])) == [2, 5]  # means 1.6 and 4.6
    weights, _ = model.coef()
    np.testing.assert_array_equal(weights, [[1.0], [2.0]])


def test_star_import_brings_only_the_tutorial_classes():
    namespace = {}
    exec("from npkeras.tutorial import *", namespace)  # noqa: S102 - the tutorial's import
    assert sorted(k for k in namespace if k != "__builtins__") == [
        "Activation",
        "Dense",
        "Layer",
        "Loss",
        "MSE",
        "Sequential",
    ]


def test_errors():
    with pytest.raises(ValueError, match="knows 'relu', 'softmax', 'none'; received func='tanh'"):
        Activation("tanh")
    with pytest.raises(
        ValueError, match=r"expects data of shape \(3, n_samples\).*received shape \(5, 3\)"
    ):
        Dense(2, 3).forward_pass(np.ones((5, 3)))
    with pytest.raises(RuntimeError, match="compile_"):
        Sequential().fit(np.ones((3, 2)), np.ones(2), 1, 0.1)
    with pytest.raises(NotImplementedError):
        Loss().calculate(np.ones(1), np.ones(1))
