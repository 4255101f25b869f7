"""The Keras example "Simple MNIST convnet" (keras-io examples/vision/mnist_convnet.py),
condensed. MNIST becomes scikit-learn's 8x8 digits; the convolutions take padding="same" so the
example's two Conv2D/MaxPooling2D stages fit 8x8 images; filters 16/32 instead of 32/64,
batch 32 and 10 epochs instead of 128 and 15. The example reports about 0.99 test accuracy
on MNIST; digits must reach 0.93.
"""

import pytest

import npkeras as keras
from npkeras import layers
from tests.guides.data import digits


@pytest.mark.slow
def test_convnet_reaches_accuracy():
    num_classes = 10
    input_shape = (8, 8, 1)
    (x_train, y_train), (x_test, y_test) = digits(flat=False)
    assert x_train.shape == (1500, 8, 8, 1)
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(16, kernel_size=(3, 3), activation="relu", padding="same"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu", padding="same"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])
    assert model.count_params() == (9 * 16 + 16) + (9 * 16 * 32 + 32) + (128 * 10 + 10)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=10, validation_split=0.1, verbose=0)
    score = model.evaluate(x_test, y_test, verbose=0)
    assert score[1] >= 0.93, score
