"""The Keras example "Timeseries classification from scratch" (keras-io
examples/timeseries/timeseries_classification_from_scratch.py), condensed. The FordA download
becomes 600 synthetic series of length 64 (class 1: a sine burst, class 0: noise of the same
power), standardised and given a channel axis as in the example. Three Conv1D/BatchNorm/ReLU
blocks, GlobalAveragePooling1D and a softmax head with 16 filters instead of 64; the example's
callbacks (ModelCheckpoint, ReduceLROnPlateau, EarlyStopping). The example reports about 0.97
test accuracy on FordA; the synthetic set must reach 0.9.
"""

import numpy as np
import pytest

import npkeras as keras


def _series(count, rng, length=64):
    labels = rng.integers(0, 2, count)
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi, (count, 1))
    sine = np.sqrt(2) * np.sin(2 * np.pi * t / 8 + phase)
    noise = rng.normal(0, 1, (count, length))
    x = np.where(labels[:, None] == 1, sine + 0.5 * noise, noise)
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    return x[..., None].astype("float32"), labels


def make_model(input_shape, num_classes):
    input_layer = keras.layers.Input(input_shape)
    x = input_layer
    for _ in range(3):
        x = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    gap = keras.layers.GlobalAveragePooling1D()(x)
    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)
    return keras.models.Model(inputs=input_layer, outputs=output_layer)


@pytest.mark.slow
def test_timeseries_classifier_reaches_accuracy(tmp_path):
    rng = np.random.default_rng(7)
    x_train, y_train = _series(500, rng)
    x_test, y_test = _series(100, rng)
    num_classes = len(np.unique(y_train))
    model = make_model(input_shape=x_train.shape[1:], num_classes=num_classes)
    checkpoint = str(tmp_path / "best_model.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(checkpoint, save_best_only=True, monitor="val_loss"),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=20,
                                          min_lr=0.0001),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=0),
    ]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=8, callbacks=callbacks,
              validation_split=0.2, verbose=0)
    model = keras.models.load_model(checkpoint)
    _, test_acc = model.evaluate(x_test, y_test, verbose=0)
    assert test_acc >= 0.9, test_acc
