import numpy as np
import pytest

import npkeras as keras
from npkeras import layers, ops
from tests.helpers import check_layer


@keras.saving.register_keras_serializable(package="LambdaTest")
def scaled_tanh(x, scale=2.0):
    return ops.tanh(x) * scale


def test_lambda_gradients_config_and_arguments():
    check_layer(lambda: layers.Lambda(scaled_tanh, arguments={"scale": 3.0}), (4,), (4,), 0)
    y = layers.Lambda(scaled_tanh, arguments={"scale": 3.0})(np.array([[0.5]]))
    np.testing.assert_allclose(y, 3.0 * np.tanh([[0.5]]), rtol=1e-6)


def test_lambda_output_shape_and_symbolic_use():
    inputs = keras.Input((6,))
    halves = layers.Lambda(lambda x: ops.reshape(x, (-1, 2, 3)), output_shape=(2, 3))(inputs)
    assert halves.shape == (None, 2, 3)
    model = keras.Model(inputs, layers.Flatten()(halves))
    assert model.predict(np.arange(6.0)[None], verbose=0).tolist() == [list(range(6))]


def test_lambda_saving_needs_a_registered_function(tmp_path):
    model = keras.Sequential([keras.Input((3,)), layers.Lambda(scaled_tanh), layers.Dense(1)])
    model.save(tmp_path / "ok.keras")
    loaded = keras.models.load_model(tmp_path / "ok.keras")
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    unsaved = keras.Sequential([keras.Input((3,)), layers.Lambda(lambda t: t * 2.0)])
    with pytest.raises(
        ValueError, match=r"cannot be saved: its function '<lambda>' is not registered"
    ):
        unsaved.save(tmp_path / "no.keras")
    with pytest.raises(ValueError, match="Unknown Lambda function 'Missing>f'"):
        layers.Lambda.from_config({"function": {"class_name": "function", "config": "Missing>f"}})
    with pytest.raises(TypeError, match="needs a callable `function`"):
        layers.Lambda(3)


def test_lambda_trains_inside_a_model(rng):
    keras.utils.set_random_seed(0)
    x = rng.standard_normal((64, 2)).astype("float32")
    y = (x[:, :1] * 3.0).astype("float32")
    model = keras.Sequential(
        [keras.Input((2,)), layers.Dense(4), layers.Lambda(lambda t: t * 2.0), layers.Dense(1)]
    )
    model.compile(keras.optimizers.SGD(0.05), "mse")
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.05 * history.history["loss"][0]
