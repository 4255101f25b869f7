"""Model inputs that are not floats: text (``keras.Input(dtype="string")`` read by
TextVectorization / StringLookup inside the model) and integer ids kept exact."""

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers

GOOD, BAD = ["great", "superb", "lovely"], ["awful", "dull", "boring"]


def _reviews(count, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    texts = [" ".join(rng.choice(GOOD if y else BAD, 3)) + " film" for y in labels]
    return np.array(texts), labels.astype("float32")[:, None]


def _text_model(texts, shape=(1,)):
    keras.utils.set_random_seed(0)
    vectorize = layers.TextVectorization(max_tokens=12, output_sequence_length=4)
    vectorize.adapt(texts)
    inputs = keras.Input(shape=shape, dtype="string", name="review")
    x = layers.Embedding(12, 4)(vectorize(inputs))
    x = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("dtype", [None, object])
def test_text_model_trains_end_to_end_on_raw_strings(dtype):
    texts, labels = _reviews(64)
    texts = texts.astype(dtype) if dtype else texts
    model = _text_model(texts)
    history = model.fit(texts, labels, epochs=15, batch_size=16, validation_split=0.25,
                        verbose=0)  # shuffled batches of strings, a string validation tail
    assert history.history["val_accuracy"][-1] == 1.0
    assert model.evaluate(texts, labels, verbose=0)[1] == 1.0
    probabilities = model.predict(["superb lovely film", "dull awful film"], verbose=0)
    assert probabilities.shape == (2, 1)
    assert probabilities[0, 0] > 0.9 and probabilities[1, 0] < 0.1
    np.testing.assert_allclose(model(np.array([["superb lovely film"]])),
                               probabilities[:1], rtol=1e-6)


def test_string_lookup_inside_the_model_equals_encoding_outside():
    rng = np.random.default_rng(3)
    colours = rng.choice(np.array(["red", "green", "blue"]), (24, 1)).astype(object)
    target = (colours[:, 0] == "red").astype("float32")[:, None]
    lookup = layers.StringLookup(output_mode="one_hot")
    lookup.adapt(colours)

    def model_for(inputs, encoded):
        keras.utils.set_random_seed(1)
        model = keras.Model(inputs, layers.Dense(1)(layers.Dense(3, activation="tanh")(encoded)))
        model.compile(keras.optimizers.SGD(0.1), "mse")
        return model

    text_input = keras.Input(shape=(1,), dtype="string")
    inside = model_for(text_input, lookup(text_input))
    one_hot = keras.Input(shape=(4,))
    outside = model_for(one_hot, one_hot)
    inside.fit(colours, target, epochs=3, batch_size=8, shuffle=False, verbose=0)
    outside.fit(lookup(colours[:, 0]), target, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(inside.get_weights(), outside.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_scalar_string_input_and_rank_matching():
    texts, labels = _reviews(8)
    scalar = _text_model(texts, shape=())
    assert scalar.predict(texts, verbose=0).shape == (8, 1)
    assert scalar.predict(texts[:, None], verbose=0).shape == (8, 1)  # (n, 1) fits shape ()
    inputs = keras.Input(shape=(1,))
    model = keras.Model(inputs, layers.Dense(1, kernel_initializer="ones")(inputs))
    np.testing.assert_array_equal(model.predict(np.array([2.0, 3.0]), verbose=0), [[2.0], [3.0]])


def test_integer_input_keeps_large_ids_exact():
    ids = np.array([[123456789], [123456790]])  # the same float32 number
    assert np.float32(ids[0, 0]) == np.float32(ids[1, 0])
    inputs = keras.Input(shape=(1,), dtype="int64")
    lookup = layers.IntegerLookup(vocabulary=[123456789, 123456790], output_mode="one_hot")
    model = keras.Model(inputs, lookup(inputs))
    np.testing.assert_array_equal(model.predict(ids, verbose=0), [[0, 1, 0], [0, 0, 1]])
    # an integer input read by a float layer still gets floats
    dense_in = keras.Input(shape=(2,), dtype="int32")
    dense = keras.Model(dense_in, layers.Dense(1, kernel_initializer="ones")(dense_in))
    out = dense.predict(np.array([[1, 2]]), verbose=0)
    assert out.dtype == np.float32 and out[0, 0] == 3.0


def test_custom_train_step_takes_no_gradient_into_strings():
    class Custom(keras.Model):
        def train_step(self, data):
            x, y = data
            with keras.GradientTape() as tape:
                loss = self.compute_loss(y=y, y_pred=self(x, training=True))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            return {"loss": loss}

    texts, labels = _reviews(32)
    vectorize = layers.TextVectorization(max_tokens=12, output_sequence_length=4)
    vectorize.adapt(texts)
    inputs = keras.Input(shape=(1,), dtype="string")
    x = layers.GlobalAveragePooling1D()(layers.Embedding(12, 4)(vectorize(inputs)))
    model = Custom(inputs, layers.Dense(1, activation="sigmoid")(x))
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    history = model.fit(texts, labels, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_sequential_starting_with_text_vectorization_takes_strings():
    texts, labels = _reviews(32)
    vectorize = layers.TextVectorization(max_tokens=12, output_sequence_length=4)
    vectorize.adapt(texts)
    model = keras.Sequential([vectorize, layers.Embedding(12, 4),
                              layers.GlobalAveragePooling1D(), layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(texts, labels, epochs=1, verbose=0)
    assert model.predict(texts[:3], verbose=0).shape == (3, 1)


def test_string_input_layer_passes_text_unconverted():
    layer = keras.layers.InputLayer(shape=(1,), dtype="string")
    assert layer(np.array([["a b"]], dtype=object)).tolist() == [["a b"]]


def test_text_and_numbers_fed_to_the_wrong_input_name_it_and_the_fix():
    inputs = keras.Input(shape=(1,), name="price")
    model = keras.Model(inputs, layers.Dense(1)(inputs), name="pricer")
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match=r"`x` holds strings \(dtype <U4, shape \(2, 1\)\), "
                       r"but input 'price' of model 'pricer' takes float32 numbers. Declare the "
                       r"input with keras.Input\(..., dtype=\"string\"\) and turn the text into "
                       r"numbers inside the model"):
        model.fit(np.array([["cheap"[:4]], ["dear"]]), np.zeros((2, 1)), verbose=0)
    with pytest.raises(TypeError, match=r"`x` holds strings .* input 'price' of model 'pricer'"):
        model.predict(np.array([["cheap"]], dtype=object), verbose=0)
    texts, _ = _reviews(4)
    text_model = _text_model(texts)
    with pytest.raises(TypeError, match=r"`x` holds numbers \(float64\), but input 'review' of "
                       r"model '.*' takes strings \(dtype=\"string\"\)"):
        text_model.predict(np.zeros((2, 1)), verbose=0)
    with pytest.raises(TypeError, match=r"`x\['review'\]` holds numbers"):
        text_model.predict({"review": np.zeros((2, 1))}, verbose=0)


def test_subclassed_model_with_text_vectorization_trains_on_strings():
    texts, labels = _reviews(32)
    vectorize = layers.TextVectorization(max_tokens=12, output_sequence_length=4)
    vectorize.adapt(texts)

    class Classifier(keras.Model):
        def __init__(self):
            super().__init__()
            self.vectorize, self.embed = vectorize, layers.Embedding(12, 4)
            self.pool, self.head = layers.GlobalAveragePooling1D(), layers.Dense(1, "sigmoid")

        def call(self, x):
            return self.head(self.pool(self.embed(self.vectorize(x))))

    keras.utils.set_random_seed(0)
    model = Classifier()
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(texts, labels, epochs=10, batch_size=8, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    assert model.predict(["superb film"], verbose=0)[0, 0] > 0.5
