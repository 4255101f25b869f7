"""keras.saving's registry API, .keras model files and .weights.h5 through the model."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import callbacks, layers


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(1)]
    )
    model.compile("adam", "mse", metrics=["mae"])
    return model


def test_register_keras_serializable_and_custom_objects(tmp_path, rng):
    @keras.saving.register_keras_serializable(package="ApiTest")
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    assert keras.saving.get_custom_objects()["ApiTest>Scale"] is Scale
    assert keras.saving.get_registered_name(Scale) == "ApiTest>Scale"
    assert keras.saving.get_registered_object("ApiTest>Scale") is Scale
    model = keras.Sequential([keras.Input((3,)), Scale(3.0), layers.Dense(1)])
    model.compile("sgd", "mse")
    path = tmp_path / "model.keras"
    model.save(path)  # the .keras name, npkeras's zip format
    x = rng.standard_normal((4, 3)).astype("float32")
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[0].factor == 3.0


def test_custom_object_scope_and_unregistered_class(tmp_path):
    class Unregistered(layers.Layer):
        def call(self, inputs):
            return inputs + 1.0

    model = keras.Sequential([keras.Input((2,)), Unregistered()])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"Unknown layer class 'Unregistered'.*custom_objects"):
        keras.models.load_model(tmp_path / "m.keras")
    with keras.saving.custom_object_scope({"Unregistered": Unregistered}):
        loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.predict(np.zeros((1, 2)), verbose=0).tolist() == [[1.0, 1.0]]
    with keras.saving.CustomObjectScope({"Other": int}, {"Unregistered": Unregistered}):
        keras.models.load_model(tmp_path / "m.keras")


def test_serialize_and_deserialize_keras_object():
    @keras.saving.register_keras_serializable(package="ApiTest", name="cube")
    def cube(x):
        return x**3

    for obj in (
        layers.Dense(3, activation="relu"),
        keras.losses.Huber(delta=2.0),
        keras.optimizers.Adam(learning_rate=0.01),
        keras.metrics.F1Score(average="macro"),
        keras.regularizers.L2(0.1),
        keras.constraints.MaxNorm(3.0),
    ):
        config = keras.saving.serialize_keras_object(obj)
        twin = keras.saving.deserialize_keras_object(config)
        assert type(twin) is type(obj) and twin.get_config() == obj.get_config()
    assert keras.saving.serialize_keras_object(cube) == {
        "class_name": "function",
        "config": "ApiTest>cube",
    }
    assert (
        keras.saving.deserialize_keras_object({"class_name": "function", "config": "ApiTest>cube"})
        is cube
    )
    with pytest.raises(ValueError, match="Cannot serialize function 'helper': only registered"):
        keras.saving.serialize_keras_object(helper)
    with pytest.raises(ValueError, match="Unknown saved function 'nope'"):
        keras.saving.deserialize_keras_object({"class_name": "function", "config": "nope"})
    with pytest.raises(ValueError, match="Unknown object class 'os.system'"):
        keras.saving.deserialize_keras_object({"class_name": "os.system", "config": {}})


def helper(x):
    return x


def test_model_checkpoint_keras_suffix_and_weights_h5(tmp_path, rng):
    x = rng.standard_normal((32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = _model()
    best = tmp_path / "best.keras"
    model.fit(
        x,
        y,
        epochs=2,
        verbose=0,
        validation_data=(x, y),
        callbacks=[callbacks.ModelCheckpoint(str(best), save_best_only=True)],
    )
    loaded = keras.models.load_model(best)
    assert loaded.compiled
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    weights = tmp_path / "ckpt.weights.h5"
    model.fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[callbacks.ModelCheckpoint(str(weights), save_weights_only=True)],
    )
    fresh = _model()
    fresh.load_weights(weights)  # the Keras 3 layout, read back through the model
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    import h5py

    with h5py.File(weights, "r") as f:
        np.testing.assert_array_equal(
            f["layers/dense/vars/0"][()], model.layers[0].get_weights()[0]
        )
    with pytest.raises(ValueError, match=r"must end in '.keras' or '.npkeras'"):
        callbacks.ModelCheckpoint(str(tmp_path / "best.h5"))
    with pytest.raises(
        ValueError,
        match=r"Weight files must end in '.weights.npz' \(npkeras\) or "
        r"'.weights.h5'",
    ):
        model.save_weights(tmp_path / "w.h5")
    model.load_weights(weights, skip_mismatch=True)  # everything fits: nothing skipped
    with pytest.raises(FileExistsError, match="exists and overwrite=False"):
        model.save_weights(weights, overwrite=False)
