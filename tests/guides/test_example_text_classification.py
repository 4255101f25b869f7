"""The Keras example "Text classification from scratch" (keras-io
examples/nlp/text_classification_from_scratch.py), condensed. The IMDB download becomes 1,200
synthetic reviews: 30-word texts drawn from a neutral vocabulary with a few sentiment words
mixed in. TextVectorization, Embedding, two strided Conv1D, GlobalMaxPooling1D and the dense
head as in the example, smaller (vocabulary 200, embedding 32, 32 filters, 4 epochs). The
example reports about 0.86 test accuracy on IMDB; the synthetic set must reach 0.9.
"""

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers

NEUTRAL = [f"word{i}" for i in range(150)]
POSITIVE = ["great", "wonderful", "superb", "moving", "brilliant"]
NEGATIVE = ["awful", "boring", "terrible", "dull", "clumsy"]


def _reviews(count, rng):
    labels = rng.integers(0, 2, count)
    texts = []
    for label in labels:
        words = list(rng.choice(NEUTRAL, 30))
        sentiment = POSITIVE if label else NEGATIVE
        for position in rng.choice(30, 3, replace=False):
            words[position] = rng.choice(sentiment)
        texts.append(" ".join(words))
    return np.array(texts), labels.astype("float32")


def test_text_classifier_reaches_accuracy():
    rng = np.random.default_rng(42)
    x_train, y_train = _reviews(1000, rng)
    x_test, y_test = _reviews(200, rng)
    max_features, embedding_dim, sequence_length = 200, 32, 30

    vectorize_layer = layers.TextVectorization(max_tokens=max_features, output_mode="int",
                                               output_sequence_length=sequence_length)
    vectorize_layer.adapt(x_train)
    train_ids, test_ids = vectorize_layer(x_train), vectorize_layer(x_test)
    assert train_ids.shape == (1000, sequence_length)

    inputs = keras.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(max_features, embedding_dim)(inputs)
    x = layers.Dropout(0.5)(x)
    x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inputs, predictions)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(train_ids, y_train, validation_split=0.1, epochs=4, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(test_ids, y_test, verbose=0)
    assert accuracy >= 0.9, accuracy

    # The example's end-to-end model: raw strings in, the adapted layer inside
    inputs = keras.Input(shape=(1,), dtype="string")
    indices = vectorize_layer(inputs)
    outputs = model(indices)
    end_to_end_model = keras.Model(inputs, outputs)
    end_to_end_model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    _, end_to_end_accuracy = end_to_end_model.evaluate(x_test, y_test, verbose=0)
    assert end_to_end_accuracy == pytest.approx(accuracy, abs=1e-6)
    probabilities = end_to_end_model.predict(x_test[:4], verbose=0)
    np.testing.assert_allclose(probabilities, model.predict(test_ids[:4], verbose=0),
                               rtol=1e-6)


def test_end_to_end_model_takes_raw_strings():
    vectorize_layer = layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize_layer.adapt(np.array(["good movie", "bad film"]))
    inputs = keras.Input(shape=(1,), dtype="string")
    outputs = layers.Dense(1)(layers.Embedding(20, 4)(vectorize_layer(inputs)))
    end_to_end_model = keras.Model(inputs, outputs)
    assert end_to_end_model.predict(np.array([["good film"]]), verbose=0).shape == (1, 4, 1)
