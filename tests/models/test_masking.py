"""Keras masks flow through models: Embedding(mask_zero=True) and Masking to recurrent
layers, pooling and the loss."""

import numpy as np

import npkeras as keras
from npkeras import layers


def _tokens(length):
    x = np.zeros((3, length), "int64")
    x[0, :3], x[1, :1], x[2, :4] = [4, 2, 7], [3], [1, 1, 5, 9]
    return x


def test_padding_does_not_change_a_recurrent_models_predictions():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"),
                              layers.Embedding(10, 4, mask_zero=True), layers.LSTM(5),
                              layers.Dense(1)])
    short, long = model.predict(_tokens(4), verbose=0), model.predict(_tokens(9), verbose=0)
    np.testing.assert_allclose(short, long, rtol=1e-6)
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = layers.Embedding(10, 4, mask_zero=True)(inputs)
    functional = keras.Model(inputs, layers.Dense(1)(layers.GRU(5)(h)))
    np.testing.assert_allclose(functional.predict(_tokens(4), verbose=0),
                               functional.predict(_tokens(12), verbose=0), rtol=1e-6)


def test_masked_pooling_averages_only_the_real_steps():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"),
                              layers.Embedding(10, 2, mask_zero=True),
                              layers.GlobalAveragePooling1D()])
    x = _tokens(6)
    table = model.layers[0].get_weights()[0]
    expected = [table[row[row > 0]].mean(axis=0) for row in x]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)


def test_the_loss_ignores_masked_steps():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(None, 2)), layers.Masking(0.0),
                              layers.SimpleRNN(3, return_sequences=True), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((2, 5, 2)).astype("float32")
    x[0, 3:] = 0.0  # the last two steps of the first sequence are padding
    y = np.zeros((2, 5, 1), "float32")
    base = model.evaluate(x, y, verbose=0)
    y_other = y.copy()
    y_other[0, 3:] = 100.0  # targets at masked steps must not matter
    assert model.evaluate(x, y_other, verbose=0) == base
    # the mean runs over the 8 real steps, as Keras scales the mask
    pred = model.predict(x, verbose=0)
    real = np.ones((2, 5), bool)
    real[0, 3:] = False
    np.testing.assert_allclose(base, (pred[real] ** 2).mean(), rtol=1e-5)
