import numpy as np
import pytest

import npkeras as keras
from npkeras import layers
from tests.helpers import check_layer


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.ReLU(),
        lambda: layers.ReLU(max_value=0.8, negative_slope=0.2, threshold=0.3),
        lambda: layers.LeakyReLU(),
        lambda: layers.ELU(alpha=0.7),
        lambda: layers.Softmax(),
        lambda: layers.Softmax(axis=1),
        lambda: layers.Identity(),
    ],
)
def test_activation_layers_gradients_and_config(make):
    check_layer(make, (3, 4), (3, 4), expected_params=0)


def test_prelu_gradients_with_and_without_shared_axes():
    check_layer(lambda: layers.PReLU(alpha_initializer="random_normal"), (3, 4), (3, 4), 12)
    check_layer(
        lambda: layers.PReLU(alpha_initializer="random_normal", shared_axes=[1]), (3, 4), (3, 4), 4
    )


def test_values_by_hand():
    x = np.array([[-2.0, -0.5, 0.0, 0.4, 1.0, 7.0]])
    np.testing.assert_allclose(
        layers.ReLU(max_value=6.0, negative_slope=0.5, threshold=0.5)(x),
        [[-1.25, -0.5, -0.25, -0.05, 1.0, 6.0]],
        rtol=1e-6,
    )
    np.testing.assert_allclose(layers.LeakyReLU()(x)[0, :2], [-0.6, -0.15], rtol=1e-6)
    np.testing.assert_allclose(layers.ELU()(x)[0, :2], np.expm1([-2.0, -0.5]), rtol=1e-6)
    prelu = layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25))
    np.testing.assert_allclose(prelu(x), np.where(x >= 0, x, 0.25 * x), rtol=1e-6)
    assert prelu.get_weights()[0].shape == (6,)
    s = layers.Softmax(axis=(1, 2))(np.zeros((2, 2, 3)))
    np.testing.assert_allclose(s, np.full((2, 2, 3), 1 / 6), rtol=1e-6)


def test_softmax_mask_gradient_and_fully_masked_rows():
    keras.backend.set_floatx("float64")
    try:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 4))
        mask = np.array([[True, True, False, True], [False, False, False, False]])
        layer = layers.Softmax()
        y = layer(x, mask=mask)
        e = np.exp(x[0, [0, 1, 3]])
        np.testing.assert_allclose(y[0, [0, 1, 3]], e / e.sum())
        assert y[0, 2] == 0.0 and not y[1].any()
        r = rng.standard_normal((2, 4))
        layer.forward(x, mask=mask)
        dx = layer.backward(r)
        numeric = np.zeros_like(x)
        for idx in np.ndindex(*x.shape):
            d = np.zeros_like(x)
            d[idx] = 1e-6
            numeric[idx] = (
                (layer.forward(x + d, mask=mask) - layer.forward(x - d, mask=mask)) * r
            ).sum() / 2e-6
        np.testing.assert_allclose(dx, numeric, atol=1e-8)
    finally:
        keras.backend.set_floatx("float32")


def test_errors():
    with pytest.raises(ValueError, match=r"`max_value` of ReLU layer .*Received: max_value=-1"):
        layers.ReLU(max_value=-1)
    with pytest.raises(ValueError, match=r"`negative_slope` of ReLU layer"):
        layers.ReLU(negative_slope=-0.1)
    with pytest.raises(
        ValueError, match="negative_slope value of a Leaky ReLU layer cannot be None"
    ):
        layers.LeakyReLU(negative_slope=None)
    with pytest.raises(ValueError, match=r"shared_axes must name axes 1..2"):
        layers.PReLU(shared_axes=[3])(np.zeros((1, 2, 2)))
    assert layers.LeakyReLU(alpha=0.1).negative_slope == 0.1  # Keras 2's argument name


def test_in_a_trained_model(rng):
    keras.utils.set_random_seed(0)
    x = rng.standard_normal((64, 3)).astype("float32")
    y = np.abs(x).sum(axis=1, keepdims=True)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            layers.Dense(16),
            layers.PReLU(),
            layers.Dense(8),
            layers.LeakyReLU(0.1),
            layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(0.01), "mse")
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    assert np.abs(model.layers[1].get_weights()[0]).sum() > 0  # alpha learned
