"""Subclassed models, custom training steps with GradientTape, and layers shared by models."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

import npkeras as keras
from npkeras import layers, ops
from npkeras.utils.gradcheck import check_model_gradients


class ResidualMLP(keras.Model):
    """Two sub-layers, a residual x + f(x) and dropout, as in the Keras subclassing guide."""

    def __init__(self, hidden=64, classes=10, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.inp = layers.Dense(hidden, activation="relu")
        self.block = layers.Dense(hidden, activation="relu")
        self.dropout = layers.Dropout(rate)
        self.out = layers.Dense(classes, activation="softmax")

    def call(self, inputs, training=False):
        h = self.inp(inputs)
        h = h + self.block(h)
        h = self.dropout(h, training=training)
        return self.out(h)


def _functional_twin(hidden=64, classes=10):
    x = keras.Input(shape=(64,))
    h = layers.Dense(hidden, activation="relu")(x)
    h = layers.Add()([h, layers.Dense(hidden, activation="relu")(h)])
    h = layers.Dropout(0.1)(h)
    return keras.Model(x, layers.Dense(classes, activation="softmax")(h))


def _digits():
    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = x[order], data.target[order]
    return x[:1500], y[:1500], x[1500:], y[1500:]


def test_subclassed_model_trains_like_its_functional_twin():
    x, y, xt, yt = _digits()
    accuracies = []
    for make in (ResidualMLP, _functional_twin):
        keras.utils.set_random_seed(0)
        model = make()
        model.compile(
            optimizer=keras.optimizers.Adam(0.003),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(x, y, batch_size=64, epochs=8, verbose=0)
        accuracies.append(model.evaluate(xt, yt, verbose=0, return_dict=True)["accuracy"])
    assert min(accuracies) > 0.95
    assert abs(accuracies[0] - accuracies[1]) < 0.02


def test_subclassed_model_api(tmp_path):
    model = ResidualMLP(hidden=8, classes=3)
    assert not model.built
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((10, 5)).astype("float32")
    y = np.arange(10) % 3
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.count_params() == 5 * 8 + 8 + 8 * 8 + 8 + 8 * 3 + 3
    assert [layer.name for layer in model.layers] == [
        model.inp.name,
        model.block.name,
        model.dropout.name,
        model.out.name,
    ]
    lines = []
    model.summary(print_fn=lines.append)
    assert any(model.block.name in line for line in lines)
    model.save_weights(str(tmp_path / "w.weights.npz"))
    twin = ResidualMLP(hidden=8, classes=3)
    twin.build((None, 5))
    twin.load_weights(str(tmp_path / "w.weights.npz"))
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))


def test_subclassed_model_gradients(float64):
    model = ResidualMLP(hidden=4, classes=3, rate=0.0)  # no random masks between evaluations
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 6)), np.eye(3)[rng.integers(0, 3, 5)]
    model._arrays(x, y)  # builds on first data
    assert check_model_gradients(model, x, y) < 1e-6


class GuideModel(keras.Model):
    """train_step exactly as the Keras guide "Customizing what happens in fit()" writes
    it, with tf.GradientTape replaced by keras.GradientTape."""

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _regression(model_class, seed=0):
    keras.utils.set_random_seed(seed)
    x = keras.Input(shape=(4,))
    h = layers.Dense(8, activation="tanh", kernel_regularizer="l2")(x)
    return model_class(x, layers.Dense(1)(h))


def test_custom_train_step_with_gradient_tape_equals_the_default_step(float64):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((96, 4)), rng.standard_normal((96, 1))
    weights, histories = [], []
    for cls in (GuideModel, keras.Model):
        model = _regression(cls)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
        history = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
        weights.append(model.get_weights())
        histories.append(history.history)
    for custom, default in zip(*weights):
        np.testing.assert_allclose(custom, default, rtol=0, atol=1e-10)
    assert set(histories[0]) == {"loss", "mae"}
    # per-batch logs are running means, so the last batch's logs equal the epoch's
    np.testing.assert_allclose(histories[0]["mae"], histories[1]["mae"], rtol=1e-10)


class LowLevelModel(keras.Model):
    """The guide's lower-level variant: own loss function, metrics and test_step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.loss_fn(y, y_pred))
        self.mae_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_low_level_custom_steps_train_and_evaluate():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(4,))
    model = LowLevelModel(inputs, layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.05 * history.history["loss"][0]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae"} and logs["mae"] < 0.2


def test_gradient_tape_on_tensors_and_errors():
    with keras.GradientTape() as tape:
        x = tape.watch(np.array([1.0, 2.0, 3.0]))
        y = ops.sum(ops.exp(x) * x)
    np.testing.assert_allclose(
        tape.gradient(y, x), np.exp([1.0, 2.0, 3.0]) * (1 + np.array([1.0, 2.0, 3.0]))
    )
    with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
        tape.gradient(y, x)
    with keras.GradientTape(persistent=True) as tape:
        v = keras.Variable([2.0])
        z = v * v
    assert tape.gradient(z, v)[0] == 4.0 and tape.gradient(z, v)[0] == 4.0
    with pytest.raises(TypeError, match="sources must be variables or tensors"):
        tape.gradient(z, [np.ones(1)])


def test_a_layer_shared_by_two_models_trains_in_both(float64):
    """Transfer learning: a Dense first in model A and second in model B."""
    rng = np.random.default_rng(0)
    shared = layers.Dense(4, activation="tanh")
    a = keras.Sequential([keras.Input(shape=(4,)), shared, layers.Dense(1)])
    b = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4), shared, layers.Dense(1)])
    for model, features in ((a, 4), (b, 3), (a, 4)):
        model.compile(optimizer="sgd", loss="mse")
        x, y = rng.standard_normal((16, features)), rng.standard_normal((16, 1))
        model.fit(x, y, epochs=2, verbose=0)
        assert check_model_gradients(model, x, y) < 1e-6


def test_a_layer_used_twice_in_one_model(float64):
    rng = np.random.default_rng(1)
    shared = layers.Dense(3, activation="tanh")
    x = keras.Input(shape=(3,))
    model = keras.Model(x, layers.Dense(1)(shared(shared(x))))
    model.compile(optimizer="sgd", loss="mse")
    assert (
        check_model_gradients(model, rng.standard_normal((5, 3)), rng.standard_normal((5, 1)))
        < 1e-6
    )


def test_model_without_loss_needs_a_train_step():
    model = _regression(keras.Model)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="compiled without a loss"):
        model.fit(np.zeros((4, 4)), np.zeros((4, 1)), verbose=0)
