import numpy as np
import pytest

import npkeras as keras
from npkeras import backend, layers
from npkeras.utils.gradcheck import numerical_gradient, relative_error
from tests.helpers import check_layer

NOISE_LAYERS = [
    (lambda: layers.SpatialDropout1D(0.5), (4, 3)),
    (lambda: layers.SpatialDropout2D(0.5, data_format="channels_first"), (3, 2, 2)),
    (lambda: layers.SpatialDropout3D(0.5), (2, 1, 2, 3)),
    (lambda: layers.GaussianNoise(0.3), (4,)),
    (lambda: layers.GaussianDropout(0.4), (2, 3)),
    (lambda: layers.AlphaDropout(0.3), (5,)),
    (lambda: layers.AlphaDropout(0.3, noise_shape=(None, 1, None)), (2, 3)),
    (lambda: layers.ActivityRegularization(), (3,)),
]


@pytest.mark.parametrize("make, input_shape", NOISE_LAYERS)
def test_noise_layers_check_layer_at_inference(make, input_shape):
    layer = check_layer(make, input_shape, input_shape, expected_params=0)
    x = np.random.default_rng(0).standard_normal((2,) + input_shape)
    np.testing.assert_array_equal(layer(x), x.astype("float32"))  # identity at inference


@pytest.mark.parametrize("make, input_shape", NOISE_LAYERS[:-1])
def test_noise_layers_training_backward_matches_the_draw(float64, make, input_shape):
    # every layer is affine in x for a fixed draw: y = x * s + c, so dL/dx = dy * s, where
    # s = y(x + 1) - y(x) with the same draw (reseeded generator)
    x = np.random.default_rng(1).standard_normal((3,) + input_shape)
    dy = np.random.default_rng(2).standard_normal(x.shape)
    layer = make()
    backend.set_seed(7)
    y = layer(x, training=True)
    dx = layer.backward(dy)
    backend.set_seed(7)
    slope = layer(x + 1.0, training=True) - y
    assert not np.allclose(y, x)  # the training path is random
    np.testing.assert_allclose(dx, dy * slope, rtol=1e-10, atol=1e-12)


def test_spatial_dropout_drops_whole_channels():
    y = layers.SpatialDropout1D(0.5, seed=3)(np.ones((4, 6, 10)), training=True)
    per_channel = y[:, :1, :]
    np.testing.assert_array_equal(y, np.broadcast_to(per_channel, y.shape))
    assert set(np.unique(y)) == {0.0, 2.0}
    y = layers.SpatialDropout2D(0.5, data_format="channels_first", seed=3)(
        np.ones((2, 10, 3, 3)), training=True
    )
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :, :1, :1], y.shape))


def test_noise_statistics_and_seeds():
    x = np.ones((200, 500), "float32")
    noisy = layers.GaussianNoise(0.5, seed=1)(x, training=True) - 1.0
    assert abs(noisy.mean()) < 0.01 and abs(noisy.std() - 0.5) < 0.01
    factor = layers.GaussianDropout(0.2, seed=1)(x, training=True)
    assert abs(factor.mean() - 1.0) < 0.01 and abs(factor.std() - 0.5) < 0.01  # sqrt(.2/.8)
    same = [layers.GaussianNoise(0.1, seed=5)(x, training=True) for _ in range(2)]
    np.testing.assert_array_equal(*same)
    assert same[0].dtype == np.float32


def test_alpha_dropout_keeps_selu_statistics():
    x = np.random.default_rng(0).standard_normal((400, 500))  # zero mean, unit variance
    y = layers.AlphaDropout(0.2, seed=0)(x, training=True)
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1.0) < 0.01
    values, counts = np.unique(y, return_counts=True)
    assert np.isclose(counts.max() / y.size, 0.2, atol=0.01)  # dropped: one saturation value
    alpha_p, rate = -1.6732632423543772 * 1.0507009873554805, 0.2
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    assert np.isclose(values[counts.argmax()], a * alpha_p * (1 - rate))  # a * alpha_p + b


def test_activity_regularization_penalty_and_gradient(float64):
    x = np.random.default_rng(0).standard_normal((3, 4))
    r = np.random.default_rng(1).standard_normal((3, 4))
    layer = layers.ActivityRegularization(l1=0.1, l2=0.3)
    layer(x)
    assert np.isclose(layer.activity_loss, 0.1 * np.abs(x).sum() + 0.3 * (x**2).sum())
    dx = layer.backward(r)

    def loss():  # what the trainer minimises: the output term plus the activity penalty
        y = layer(x)
        return float((y * r).sum() + layer.activity_loss)

    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-7


def test_activity_regularization_adds_to_the_model_loss():
    x = np.ones((4, 2), "float32")
    model = keras.Sequential(
        [
            keras.Input((2,)),
            layers.ActivityRegularization(l2=0.5),
            layers.Dense(1, kernel_initializer="zeros"),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    loss = model.evaluate(x, np.zeros((4, 1)), verbose=0)
    assert np.isclose(loss, 0.5 * 8.0)  # 0.5 * sum(x**2) over the batch; the mse is 0


def test_regularization_layer_errors():
    with pytest.raises(ValueError, match="invalid value for `rate`"):
        layers.SpatialDropout1D(1.5)
    with pytest.raises(ValueError, match="`data_format` argument must be one of"):
        layers.SpatialDropout2D(0.1, data_format="NHWC")
    with pytest.raises(ValueError, match="expects inputs of rank 4; received shape \\(2, 3\\)"):
        layers.SpatialDropout2D(0.1)(np.ones((2, 3)), training=True)
    with pytest.raises(
        ValueError, match="`stddev` of GaussianNoise.*between 0 and 1. Received: stddev=2.0"
    ):
        layers.GaussianNoise(2.0)
    with pytest.raises(
        ValueError, match="`rate` of GaussianDropout.*\\(1 excluded\\). Received: rate=1.0"
    ):
        layers.GaussianDropout(1.0)
    with pytest.raises(ValueError, match="`rate` of AlphaDropout.*Received: rate=-0.1"):
        layers.AlphaDropout(-0.1)
    with pytest.raises(
        ValueError,
        match="noise_shape=\\(None, 1\\) has rank 2, but the inputs have shape \\(2, 3, 4\\)",
    ):
        layers.AlphaDropout(0.5, noise_shape=(None, 1))(np.ones((2, 3, 4)), training=True)
    with pytest.raises(ValueError, match="`l1` must be a non-negative float"):
        layers.ActivityRegularization(l1=-1.0)
