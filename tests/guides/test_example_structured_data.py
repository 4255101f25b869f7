"""The Keras example "Structured data classification from scratch" (keras-io
examples/structured_data/structured_data_classification_from_scratch.py, the version with
per-feature Normalization / StringLookup / IntegerLookup encoders), condensed. The Cleveland heart
disease CSV is replaced by 600 synthetic patients whose label depends on two numeric features,
one string category and one integer category; the example reports about 0.80 validation
accuracy on its 303 rows, the synthetic set must reach 0.85.
"""

import numpy as np

import npkeras as keras
from npkeras import layers


def _patients(count, rng):
    age = rng.normal(55, 9, count).astype("float32")
    chol = rng.normal(240, 45, count).astype("float32")
    thal = rng.choice(np.array(["normal", "fixed", "reversible"]), count)
    cp = rng.integers(0, 4, count)
    risk = (0.08 * (age - 55) + 0.02 * (chol - 240) + 1.5 * (thal == "reversible")
            + 0.8 * (cp == 3) - 0.8)
    target = (risk + rng.normal(0, 0.3, count) > 0).astype("float32")
    return {"age": age[:, None], "chol": chol[:, None], "thal": thal[:, None],
            "cp": cp[:, None]}, target[:, None]


def encode_numerical_feature(feature, values):
    normalizer = layers.Normalization()
    normalizer.adapt(values)
    return normalizer(feature)


def test_structured_data_classifier_reaches_accuracy():
    rng = np.random.default_rng(1337)
    train_features, train_target = _patients(480, rng)
    val_features, val_target = _patients(120, rng)
    assert 0.3 < train_target.mean() < 0.7  # both classes present in earnest

    age = keras.Input(shape=(1,), name="age")
    chol = keras.Input(shape=(1,), name="chol")
    thal = keras.Input(shape=(1,), name="thal", dtype="string")
    cp = keras.Input(shape=(1,), name="cp", dtype="int64")

    thal_lookup = layers.StringLookup(output_mode="one_hot")
    thal_lookup.adapt(train_features["thal"])
    assert thal_lookup.vocabulary_size() == 4  # OOV token plus three categories
    thal_encoded = thal_lookup(thal)
    cp_encoded = layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")(cp)
    all_features = layers.concatenate([
        encode_numerical_feature(age, train_features["age"]),
        encode_numerical_feature(chol, train_features["chol"]),
        thal_encoded,
        cp_encoded,
    ])
    x = layers.Dense(32, activation="relu")(all_features)
    x = layers.Dropout(0.5)(x)
    output = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model([age, chol, thal, cp], output)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train_features, train_target, epochs=30, batch_size=32,
                        validation_data=(val_features, val_target), verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.85, history.history["val_accuracy"][-5:]

    sample = {"age": np.array([[60.0]], "float32"), "chol": np.array([[300.0]], "float32"),
              "thal": np.array([["reversible"]]), "cp": np.array([[3]])}
    predictions = model.predict(sample, verbose=0)
    assert predictions.shape == (1, 1) and predictions[0, 0] > 0.8


def test_string_input_goes_through_string_lookup_in_the_model():
    lookup = layers.StringLookup(output_mode="one_hot")
    lookup.adapt(np.array(["normal", "fixed", "reversible"]))
    thal = keras.Input(shape=(1,), name="thal", dtype="string")
    model = keras.Model(thal, layers.Dense(1)(lookup(thal)))
    assert model.predict(np.array([["fixed"]]), verbose=0).shape == (1, 1)
