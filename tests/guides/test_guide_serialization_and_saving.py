"""The Keras guide "Save, serialize, and export models" (keras-io guides/
serialization_and_saving.py), condensed."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import ops


def get_model():
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mean_squared_error")
    return model


@pytest.fixture
def trained_model():
    model = get_model()
    rng = np.random.default_rng(0)
    model.fit(rng.random((128, 32)).astype("float32"), rng.random((128, 1)).astype("float32"),
              verbose=0)
    return model


def test_whole_model_round_trip_keeps_predictions_and_optimizer(tmp_path, trained_model):
    path = str(tmp_path / "my_model.keras")
    trained_model.save(path)
    reconstructed_model = keras.models.load_model(path)
    test_input = np.random.default_rng(1).random((128, 32)).astype("float32")
    np.testing.assert_allclose(trained_model.predict(test_input, verbose=0),
                               reconstructed_model.predict(test_input, verbose=0), rtol=1e-6)
    # The reconstructed model is already compiled and keeps the optimizer state.
    test_target = np.random.default_rng(2).random((128, 1)).astype("float32")
    reconstructed_model.fit(test_input, test_target, verbose=0)


@keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
def custom_fn(x):
    return x**2


@keras.saving.register_keras_serializable(package="MyLayers")
class CustomLayer(keras.layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="my_custom_package")
class MyDense(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True, name="kernel")
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                 trainable=True, name="bias")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_custom_objects_registered_round_trip(tmp_path):
    inputs = keras.Input(shape=(4,))
    x = MyDense(8)(inputs)
    x = CustomLayer(0.5)(x)
    outputs = keras.layers.Activation(custom_fn)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mean_squared_error")
    path = str(tmp_path / "custom_model.keras")
    model.save(path)
    reconstructed_model = keras.models.load_model(path)
    x = np.random.default_rng(3).random((5, 4)).astype("float32")
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(reconstructed_model.predict(x, verbose=0), expected, rtol=1e-6)
    assert np.all(expected >= 0)  # custom_fn squares


def test_custom_objects_argument_and_scope(tmp_path):
    class Unregistered(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, Unregistered(3.0)(keras.layers.Dense(2)(inputs)))
    path = str(tmp_path / "unregistered.keras")
    model.save(path)
    x = np.ones((2, 3), dtype="float32")
    loaded = keras.models.load_model(path, custom_objects={"Unregistered": Unregistered})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    with keras.saving.custom_object_scope({"Unregistered": Unregistered}):
        scoped = keras.models.load_model(path)
    np.testing.assert_allclose(scoped.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_config_only_saving_gives_fresh_weights():
    layer = keras.layers.Dense(3, activation="relu")
    layer_config = layer.get_config()
    new_layer = keras.layers.Dense.from_config(layer_config)
    assert new_layer.get_config() == layer_config

    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    config = model.get_config()
    new_model = keras.Sequential.from_config(config)
    assert [w.shape for w in new_model.get_weights()] == [(32, 1), (1,)]

    inputs = keras.Input((32,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    json_config = model.to_json()
    new_model = keras.models.model_from_json(json_config)
    assert [w.shape for w in new_model.get_weights()] == [(32, 1), (1,)]


def test_clone_model_has_same_architecture_new_weights(trained_model):
    _assert_fresh_copy(keras.models.clone_model(trained_model), trained_model)


def test_from_config_copy_has_same_architecture_new_weights(trained_model):
    """The closest supported call to clone_model: rebuild the model from its config."""
    _assert_fresh_copy(keras.Model.from_config(trained_model.get_config()), trained_model)


def _assert_fresh_copy(new_model, trained_model):
    assert [w.shape for w in new_model.get_weights()] == [
        w.shape for w in trained_model.get_weights()]
    assert not np.array_equal(new_model.get_weights()[0], trained_model.get_weights()[0])


def test_get_and_set_weights_transfer_between_layers():
    def create_layer():
        layer = keras.layers.Dense(64, activation="relu", name="dense_2")
        layer.build((None, 784))
        return layer

    layer_1 = create_layer()
    layer_2 = create_layer()
    layer_2.set_weights(layer_1.get_weights())
    for a, b in zip(layer_1.get_weights(), layer_2.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_weights_and_load_weights(tmp_path):
    def create_simple_model():
        inputs = keras.Input(shape=(784,), name="digits")
        x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
        x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
        outputs = keras.layers.Dense(10, name="predictions")(x)
        return keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")

    functional_model = create_simple_model()
    path = str(tmp_path / "my_model.weights.h5")
    functional_model.save_weights(path)
    new_model = create_simple_model()
    new_model.load_weights(path)
    x = np.random.default_rng(4).random((3, 784)).astype("float32")
    np.testing.assert_allclose(new_model.predict(x, verbose=0),
                               functional_model.predict(x, verbose=0), rtol=1e-6)


def test_transfer_weights_between_subclassed_and_functional():
    class SubclassedModel(keras.Model):
        def __init__(self, output_dim, name=None):
            super().__init__(name=name)
            self.output_dim = output_dim
            self.dense_1 = keras.layers.Dense(64, activation="relu", name="dense_1")
            self.dense_2 = keras.layers.Dense(64, activation="relu", name="dense_2")
            self.dense_3 = keras.layers.Dense(output_dim, name="predictions")

        def call(self, inputs):
            return self.dense_3(self.dense_2(self.dense_1(inputs)))

    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
    functional_model = keras.Model(inputs, keras.layers.Dense(10, name="predictions")(x))
    subclassed_model = SubclassedModel(10)
    x = np.ones((1, 784), dtype="float32")
    subclassed_model(x)
    subclassed_model.set_weights(functional_model.get_weights())
    np.testing.assert_allclose(np.asarray(subclassed_model(x)),
                               functional_model.predict(x, verbose=0), rtol=1e-5)


def test_activation_layer_takes_a_registered_plain_function():
    layer = keras.layers.Activation(custom_fn)
    np.testing.assert_allclose(np.asarray(layer(np.array([[-2.0, 3.0]], "float32"))),
                               [[4.0, 9.0]])
