"""Attention, wrapper and recurrent models through ``.weights.h5`` files, both ways, against
Keras 3 itself (JAX backend), when installed.

Keras trains a Transformer block a few steps and saves its weights; npkeras builds the
same model from the same code, loads the file and must predict the same. The other way,
npkeras writes its weights (random ones; for the Transformer, trained and written by
``ModelCheckpoint``) and Keras loads them. Equal predictions check the
file paths of sub-layers (MultiHeadAttention's ``query_dense``..., Bidirectional's
``forward_layer/cell``, StackedRNNCells' ``cells/gru_cell``), the variable order
(BatchNormalization's moving statistics after gamma and beta) and the kernel layouts.
tests/saving/test_keras_h5_layout.py checks the same layout without Keras.
"""

import importlib.util
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

import npkeras

pytest.importorskip("h5py")


def transformer_model(keras):
    layers = keras.layers
    x = keras.Input(shape=(6, 8))
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    h = layers.LayerNormalization()(layers.Add()([x, attended]))
    ff = layers.Dense(8)(layers.Dense(16, activation="relu")(h))
    h = layers.LayerNormalization()(layers.Add()([h, ff]))
    return keras.Model(x, layers.Dense(3)(layers.GlobalAveragePooling1D()(h)))


def composite_model(keras):
    layers = keras.layers
    x = keras.Input(shape=(5, 8))
    # value_dim != key_dim fails inside Keras 3.15 with JAX (a reshape in its dot product)
    a = layers.MultiHeadAttention(num_heads=2, key_dim=3, output_shape=6)(x, x)
    g = layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)(x, x)
    s = layers.Attention(use_scale=True, score_mode="concat")([x, g])
    d = layers.AdditiveAttention()([x, x])
    e = layers.EinsumDense("abc,cd->abd", output_shape=(None, 4), bias_axes="d")(d)
    h = layers.Concatenate()([a, s, e])
    h = layers.Bidirectional(layers.LSTM(3, return_sequences=True))(h)
    h = layers.TimeDistributed(layers.Dense(4))(h)
    h = layers.RNN([layers.GRUCell(3), layers.SimpleRNNCell(2)])(h)
    return keras.Model(x, layers.BatchNormalization()(h))


MODELS = {"transformer": transformer_model, "composite": composite_model}
SHAPES = {"transformer": (6, 8), "composite": (5, 8)}

KERAS_SCRIPT = (
    "".join(inspect.getsource(make) + "\n\n" for make in MODELS.values())
    + """
import sys
import numpy as np
import keras

folder = sys.argv[1]
keras.utils.set_random_seed(0)
rng = np.random.default_rng(1)
models = {"transformer": transformer_model(keras), "composite": composite_model(keras)}
x = {name: np.load(f"{folder}/{name}_x.npy") for name in models}

# Keras -> npkeras: a trained Transformer block; the composite with random weights
model = models["transformer"]
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x["transformer"], np.arange(len(x["transformer"])) % 3, epochs=3, verbose=0)
model = models["composite"]
model.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in model.get_weights()])
for name, model in models.items():
    model.save_weights(f"{folder}/keras_{name}.weights.h5")
    np.save(f"{folder}/keras_{name}.npy", model.predict(x[name], verbose=0))

# npkeras -> Keras
for name, make in zip(models, (transformer_model, composite_model)):
    model = make(keras)
    model.load_weights(f"{folder}/npkeras_{name}.weights.h5")
    np.save(f"{folder}/npkeras_{name}_in_keras.npy", model.predict(x[name], verbose=0))
"""
)


@pytest.mark.slow
def test_weights_files_carry_attention_and_wrappers_both_ways(tmp_path):
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras 3 with JAX is not installed (make bench installs it)")
    rng = np.random.default_rng(0)
    ours = {}
    for name, make in MODELS.items():
        model = make(npkeras)
        # non-zero biases and moving statistics too, so their places are checked
        model.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in model.get_weights()])
        x = rng.standard_normal((4,) + SHAPES[name]).astype(np.float32)
        np.save(tmp_path / f"{name}_x.npy", x)
        path = str(tmp_path / f"npkeras_{name}.weights.h5")
        if name == "transformer":  # trained a little, the file written by ModelCheckpoint
            model.compile(optimizer="sgd", loss="mse")
            checkpoint = npkeras.callbacks.ModelCheckpoint(path, save_weights_only=True)
            model.fit(x, np.zeros((4, 3)), epochs=2, verbose=0, callbacks=[checkpoint])
        else:
            model.save_weights(path)
        ours[name] = (model.predict(x, verbose=0), x)
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run(
        [sys.executable, "-c", KERAS_SCRIPT, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name, (prediction, x) in ours.items():
        np.testing.assert_allclose(
            np.load(tmp_path / f"npkeras_{name}_in_keras.npy"),
            prediction,
            rtol=1e-5,
            atol=1e-5,
            err_msg=f"{name}: Keras loading npkeras's file",
        )
        model = MODELS[name](npkeras)
        model.load_weights(str(tmp_path / f"keras_{name}.weights.h5"))
        np.testing.assert_allclose(
            model.predict(x, verbose=0),
            np.load(tmp_path / f"keras_{name}.npy"),
            rtol=1e-5,
            atol=1e-5,
            err_msg=f"{name}: npkeras loading Keras's file",
        )
