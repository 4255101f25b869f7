"""keras.losses function forms: per-sample values, differentiable under a tape."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import backend, losses, ops
from npkeras.ops.tape import GradientTape


def test_per_sample_values_by_hand():
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = np.array([[0.8, 0.2], [0.4, 0.6]])
    np.testing.assert_allclose(losses.mean_squared_error(t, p), [0.04, 0.16], rtol=1e-6)
    np.testing.assert_allclose(losses.mean_absolute_error(t, p), [0.2, 0.4], rtol=1e-6)
    np.testing.assert_allclose(
        losses.categorical_crossentropy(t, p), [-np.log(0.8), -np.log(0.6)], rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy([0, 1], p), [-np.log(0.8), -np.log(0.6)], rtol=1e-6
    )
    bce = -(np.log(0.8) + np.log(0.8)) / 2
    np.testing.assert_allclose(losses.binary_crossentropy(t[:1], p[:1]), [bce], rtol=1e-6)
    logits = np.array([[2.0, -1.0]])
    np.testing.assert_allclose(
        losses.categorical_crossentropy([[0.0, 1.0]], logits, from_logits=True),
        [np.log(np.exp(2) + np.exp(-1)) + 1.0],
        rtol=1e-6,
    )
    np.testing.assert_allclose(losses.huber([[0.0]], [[3.0]], delta=1.0), [2.5])
    assert losses.mse is losses.mean_squared_error
    assert losses.mean_squared_error([1.0, 2.0], [1.0, 4.0]).shape == ()  # Keras: last axis


def test_function_forms_differentiate_inside_a_custom_loss():
    backend.set_floatx("float64")
    try:
        t = np.array([[1.0], [0.0], [1.0]])
        p = np.array([[0.7], [0.4], [0.2]])

        def my_loss(y_true, y_pred):  # a custom loss written with the function forms
            return losses.binary_crossentropy(y_true, y_pred) + 0.5 * ops.square(
                losses.mean_squared_error(y_true, y_pred)
            )

        with GradientTape() as tape:
            x = tape.watch(ops.convert_to_tensor(p))
            total = ops.sum(my_loss(t, x))
        grad = tape.gradient(total, x)
        eps = 1e-6
        numeric = np.zeros_like(p)
        for i in range(3):
            d = np.zeros_like(p)
            d[i] = eps
            numeric[i] = (np.sum(my_loss(t, p + d)) - np.sum(my_loss(t, p - d))) / (2 * eps)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6)
    finally:
        backend.set_floatx("float32")


def test_function_loss_in_compile_trains(rng):
    keras.utils.set_random_seed(1)
    x = rng.standard_normal((64, 2)).astype("float32")
    y = x @ np.array([[1.0], [-2.0]], dtype="float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(
        keras.optimizers.SGD(0.1), loss=lambda yt, yp: losses.mean_squared_error(yt, yp) * 2.0
    )
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]


def test_errors():
    with pytest.raises(ValueError, match="reduces the last axis only; received axis=0"):
        losses.binary_crossentropy([[1.0]], [[0.5]], axis=0)
    with pytest.raises(ValueError, match="does not support `ignore_class`"):
        losses.sparse_categorical_crossentropy([0], [[0.5, 0.5]], ignore_class=0)
