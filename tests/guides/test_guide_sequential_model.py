"""The Keras guide "The Sequential model" (keras-io guides/sequential_model.py), condensed."""

import numpy as np

import npkeras as keras
from npkeras import layers
from tests.guides.data import digits


def test_sequential_equals_chained_layer_calls():
    model = keras.Sequential([
        layers.Dense(2, activation="relu", name="layer1"),
        layers.Dense(3, activation="relu", name="layer2"),
        layers.Dense(4, name="layer3"),
    ])
    x = np.ones((3, 3), dtype="float32")
    y = np.asarray(model(x))
    assert y.shape == (3, 4)
    chained = model.layers[2](model.layers[1](model.layers[0](x)))
    np.testing.assert_allclose(np.asarray(chained), y, rtol=1e-6)


def test_add_pop_and_deferred_build():
    model = keras.Sequential(name="my_sequential")
    model.add(layers.Dense(2, activation="relu"))
    model.add(layers.Dense(3, activation="relu"))
    model.add(layers.Dense(4))
    assert len(model.layers) == 3
    model.pop()
    assert len(model.layers) == 2
    assert model.name == "my_sequential"
    # No weights until the model sees an input shape.
    layer = layers.Dense(3)
    assert layer.weights == []
    layer(np.ones((1, 4), dtype="float32"))
    assert len(layer.weights) == 2
    model.build((None, 4))
    assert len(model.weights) == 4


def test_input_object_gives_summary_shapes():
    model = keras.Sequential()
    model.add(keras.Input(shape=(4,)))
    model.add(layers.Dense(2, activation="relu"))
    assert model.count_params() == 4 * 2 + 2
    assert [w.shape for w in model.get_weights()] == [(4, 2), (2,)]
    model.summary(print_fn=lambda *a, **k: None)


def test_conv_stack_shapes_and_feature_extractor():
    model = keras.Sequential()
    model.add(keras.Input(shape=(250, 250, 3)))
    model.add(layers.Conv2D(32, 5, strides=2, activation="relu"))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(3))
    assert model.compute_output_shape((None, 250, 250, 3)) == (None, 40, 40, 32)
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(3))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(2))
    assert model.compute_output_shape((None, 250, 250, 3)) == (None, 4, 4, 32)
    model.add(layers.GlobalMaxPooling2D())
    model.add(layers.Dense(10))
    out = model.predict(np.zeros((1, 250, 250, 3), dtype="float32"), verbose=0)
    assert out.shape == (1, 10)


def test_transfer_learning_freezes_all_but_last_layer():
    model = keras.Sequential([
        keras.Input(shape=(64,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(10),
    ])
    for layer in model.layers[:-1]:
        layer.trainable = False
    frozen_before = [w.copy() for w in model.get_weights()[:4]]
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    (x_train, y_train), _ = digits()
    model.fit(x_train[:200], y_train[:200], epochs=1, verbose=0)
    for before, after in zip(frozen_before, model.get_weights()[:4]):
        np.testing.assert_array_equal(before, after)
    assert len(model.trainable_weights) == 2


def test_sequential_digits_classifier_reaches_accuracy():
    """The guide's pattern (Sequential + compile + fit) on digits: test accuracy >= 0.93."""
    model = keras.Sequential([
        keras.Input(shape=(64,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    (x_train, y_train), (x_test, y_test) = digits()
    model.fit(x_train, y_train, batch_size=32, epochs=15, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.93, accuracy
