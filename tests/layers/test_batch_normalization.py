import numpy as np
import pytest

from npkeras import backend, layers
from npkeras.utils.gradcheck import check_layer_gradients
from tests.helpers import check_layer


@pytest.mark.parametrize(
    "kwargs, input_shape, params",
    [
        ({}, (4,), 16),
        ({"axis": 1}, (3, 2, 2), 12),  # channels_first images
        ({"axis": -1}, (2, 2, 3), 12),  # channels_last images
        ({"center": False}, (3,), 9),
        ({"scale": False, "epsilon": 0.1}, (2, 3), 9),
        ({"axis": [1, 2]}, (2, 3), 24),  # one statistic per (row, column)
    ],
)
def test_batch_normalization_check_layer(kwargs, input_shape, params):
    check_layer(
        lambda: layers.BatchNormalization(**kwargs),
        input_shape,
        input_shape,
        expected_params=params,
    )


@pytest.mark.parametrize(
    "kwargs, input_shape",
    [
        ({}, (4, 3)),
        ({"axis": 1}, (3, 2, 2)),
        ({"center": False, "gamma_initializer": "random_normal"}, (2, 2, 3)),
        ({"axis": [1, 2]}, (2, 3)),
    ],
)
def test_batch_normalization_training_gradients(float64, rng, kwargs, input_shape):
    layer = layers.BatchNormalization(beta_initializer="random_normal", **kwargs)
    x = rng.standard_normal((5,) + input_shape)
    layer(x)
    errors = check_layer_gradients(layer, x, training=True)
    assert set(errors) == {"input", "beta", "gamma"} - ({"beta"} if "center" in kwargs else set())
    for key, err in errors.items():
        assert err < 1e-6, (key, err)


def test_batch_normalization_train_and_inference_numbers(float64):
    x = np.array([[1.0, 10.0], [3.0, 20.0], [8.0, 60.0]])
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    bn.build((None, 2))
    bn.set_weights([np.array([2.0, 0.5]), np.array([1.0, -1.0]), np.zeros(2), np.ones(2)])
    mean, var = x.mean(axis=0), x.var(axis=0)  # biased variance, as Keras
    y = bn(x, training=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3) * [2.0, 0.5] + [1.0, -1.0])
    gamma, beta, moving_mean, moving_var = bn.get_weights()
    np.testing.assert_allclose(moving_mean, 0.1 * mean)
    np.testing.assert_allclose(moving_var, 0.9 + 0.1 * var)
    # inference: the moving statistics, not the batch's
    y = bn(x, training=False)
    np.testing.assert_allclose(y, (x - moving_mean) / np.sqrt(moving_var + 1e-3) * gamma + beta)
    np.testing.assert_allclose(bn.get_weights()[2], moving_mean)  # unchanged at inference


def test_batch_normalization_moving_statistics_converge(rng):
    bn = layers.BatchNormalization(momentum=0.5)
    for _ in range(40):
        bn(rng.normal([3.0, -1.0], [2.0, 0.5], size=(512, 2)), training=True)
    np.testing.assert_allclose(bn.get_weights()[2], [3.0, -1.0], atol=0.1)
    np.testing.assert_allclose(bn.get_weights()[3], [4.0, 0.25], rtol=0.1)


def test_batch_normalization_weight_layout():
    bn = layers.BatchNormalization()
    bn(np.zeros((2, 5, 5, 3)))
    assert list(bn.params) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.shape for w in bn.get_weights()] == [(3,)] * 4
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    assert bn.count_params() == 12


def test_frozen_batch_normalization_runs_in_inference_mode(float64, rng):
    bn = layers.BatchNormalization(trainable=False)
    x = rng.standard_normal((6, 3)) * 4 + 2
    bn.build((None, 3))
    bn.set_weights([np.full(3, 2.0), np.full(3, 0.5), np.full(3, 1.0), np.full(3, 4.0)])
    y = bn(x, training=True)
    np.testing.assert_allclose(y, (x - 1.0) / np.sqrt(4.0 + 1e-3) * 2.0 + 0.5)
    np.testing.assert_array_equal(bn.get_weights()[2], np.full(3, 1.0))  # no update
    bn.zero_grads()
    dx = bn.backward(np.ones_like(y))
    np.testing.assert_allclose(dx, np.full_like(x, 2.0 / np.sqrt(4.0 + 1e-3)))
    assert not bn.grads["gamma"].any() and not bn.grads["beta"].any()  # frozen: no gradients
    assert bn.trainable_weights == []


def test_batch_normalization_in_a_model_learns_and_updates_statistics(rng):
    import npkeras as keras

    x = rng.normal(5.0, 3.0, size=(256, 4)).astype("float32")
    y = (x[:, :1] > 5.0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.BatchNormalization(momentum=0.8),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    moving_mean = model.layers[0].get_weights()[2]
    np.testing.assert_allclose(moving_mean, x.mean(axis=0), rtol=0.1)


def test_batch_normalization_errors():
    with pytest.raises(ValueError, match="invalid value for `momentum`.*Received: momentum=1.5"):
        layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="non-negative float. Received: epsilon=-0.1"):
        layers.BatchNormalization(epsilon=-0.1)
    with pytest.raises(ValueError, match="synchronized=True is only supported"):
        layers.BatchNormalization(synchronized=True)
    with pytest.raises(TypeError, match="an int or a list/tuple of ints.*axis='x'"):
        layers.BatchNormalization(axis="x")
    with pytest.raises(ValueError, match="axis 3 is out of bounds for input shape"):
        layers.BatchNormalization(axis=3)(np.zeros((2, 4)))
    bn = layers.BatchNormalization()
    with pytest.raises(ValueError, match="needs a defined dimension on axis -1"):
        bn.build((None, None))


def test_batch_normalization_float32_stays_float32(rng):
    bn = layers.BatchNormalization()
    x = rng.standard_normal((4, 3)).astype("float32")
    assert bn(x, training=True).dtype == np.float32 and bn(x).dtype == np.float32
    assert bn.get_weights()[2].dtype == np.float32 and backend.floatx() == "float32"


def test_batch_normalization_mask_leaves_padding_out_of_the_statistics(float64, rng):
    x = rng.standard_normal((3, 5, 2)) * 2 + 1
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)
    x[~mask] = 100.0  # padding values must not move the statistics
    bn = layers.BatchNormalization(momentum=0.0, epsilon=1e-3)
    bn.build((None, 5, 2))
    y = bn.forward(x, training=True, mask=mask)
    real = x[mask]  # (steps, features) of the unmasked steps
    np.testing.assert_allclose(bn.get_weights()[2], real.mean(axis=0))
    np.testing.assert_allclose(bn.get_weights()[3], real.var(axis=0))
    np.testing.assert_allclose(y[mask], (real - real.mean(0)) / np.sqrt(real.var(0) + 1e-3))


def test_batch_normalization_masked_training_gradients(float64, rng):
    x = rng.standard_normal((2, 4, 3))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    layer = layers.BatchNormalization(
        beta_initializer="random_normal", gamma_initializer="random_normal"
    )
    layer(x)
    unmasked_forward = layer.forward
    layer.forward = lambda x, training=False: unmasked_forward(x, training=training, mask=mask)
    errors = check_layer_gradients(layer, x, training=True)
    assert set(errors) == {"input", "gamma", "beta"}
    for key, err in errors.items():
        assert err < 1e-6, (key, err)


def test_batch_normalization_mask_shape_error(rng):
    bn = layers.BatchNormalization()
    x = rng.standard_normal((2, 4, 3))
    bn(x)
    with pytest.raises(
        ValueError,
        match="one dimension less than the inputs. Received: "
        "mask.shape=\\(2, 4, 3\\), inputs.shape=\\(2, 4, 3\\)",
    ):
        bn.forward(x, training=True, mask=np.ones((2, 4, 3), bool))


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.LayerNormalization(),
        lambda: layers.GroupNormalization(groups=3),
        lambda: layers.UnitNormalization(),
        lambda: layers.GaussianNoise(0.1),
        lambda: layers.GaussianDropout(0.1),
        lambda: layers.AlphaDropout(0.1),
        lambda: layers.SpatialDropout1D(0.1),
        lambda: layers.ActivityRegularization(l1=0.1),
    ],
)
def test_mask_passing_layers_accept_and_ignore_a_mask(rng, make):
    x = rng.standard_normal((2, 4, 3)).astype("float32")
    layer = make()
    assert layer.supports_masking
    np.testing.assert_array_equal(layer.forward(x, mask=np.ones((2, 4), bool)), layer(x))


def test_model_gradients_through_training_mode_normalization(float64, rng):
    import npkeras as keras
    from npkeras.utils.gradcheck import check_model_gradients

    ids = rng.integers(0, 12, size=(6, 5))
    y = rng.integers(0, 2, size=(6, 1)).astype("float64")
    model = keras.Sequential(
        [
            keras.Input((5,)),
            layers.Embedding(12, 3, embeddings_regularizer="l2"),
            layers.BatchNormalization(),
            layers.GroupNormalization(groups=3, beta_initializer="random_normal"),
            layers.LayerNormalization(gamma_initializer="random_normal"),
            layers.ActivityRegularization(l1=0.01),
            layers.Flatten(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    assert check_model_gradients(model, ids, y) < 1e-6
