"""ConvLSTM1D/2D/3D (and LSTM/GRU, whose weights sit at the same '<layer>/cell' path)
against Keras 3 itself (JAX backend), when installed.

Keras builds each model, sets random weights, saves a ``.weights.h5`` file and predicts;
npkeras builds the same model from the same code, loads the file with
``model.load_weights`` and must predict the same; and the other way round, Keras loads
the file npkeras saved. This checks the kernel layouts (gate
order i, f, c, o), the file's paths (Keras keeps a recurrent layer's variables under its
``cell``), the recurrent convolution's stride 1 / 'same' padding, channels_first and
go_backwards in one go.
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


def keras_models(keras):
    layers = keras.layers
    return {
        "conv_lstm2d": keras.Sequential(
            [
                keras.Input((4, 7, 6, 2)),
                layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True),
                layers.ConvLSTM2D(2, (2, 3), strides=2, go_backwards=True),
            ]
        ),
        "channels_first": keras.Sequential(
            [
                keras.Input((3, 2, 6, 5)),
                layers.ConvLSTM2D(
                    3, 3, data_format="channels_first", dilation_rate=(1, 2), return_sequences=True
                ),
            ]
        ),
        "conv_lstm1d": keras.Sequential(
            [
                keras.Input((5, 9, 3)),
                layers.ConvLSTM1D(
                    4, 3, padding="same", activation="relu", recurrent_activation="hard_sigmoid"
                ),
            ]
        ),
        "conv_lstm3d": keras.Sequential(
            [
                keras.Input((3, 4, 5, 4, 1)),
                layers.ConvLSTM3D(2, 2, padding="same", strides=(1, 2, 2), return_sequences=True),
            ]
        ),
        "lstm_gru": keras.Sequential(
            [
                keras.Input((5, 3)),
                layers.LSTM(4, return_sequences=True),
                layers.GRU(3),
            ]
        ),
    }


KERAS_SCRIPT = (
    inspect.getsource(keras_models)
    + """
import sys
import numpy as np
import keras

folder = sys.argv[1]
rng = np.random.default_rng(0)
for name, model in keras_models(keras).items():
    model.set_weights(
        [0.5 * rng.standard_normal(w.shape).astype("float32") for w in model.get_weights()]
    )
    x = rng.standard_normal((2,) + model.input_shape[1:]).astype("float32")
    model.save_weights(f"{folder}/{name}.weights.h5")
    np.save(f"{folder}/{name}_x.npy", x)
    np.save(f"{folder}/{name}_y.npy", model.predict(x, verbose=0))
    # and the other way: npkeras's weights file, read by Keras
    model.load_weights(f"{folder}/ours_{name}.weights.h5")
    x = np.load(f"{folder}/ours_{name}_x.npy")
    np.save(f"{folder}/ours_{name}_keras.npy", model.predict(x, verbose=0))
"""
)


@pytest.mark.slow
def test_keras_and_npkeras_read_each_others_conv_lstm_weights(tmp_path):
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras 3 with JAX is not installed (make bench installs it)")
    rng = np.random.default_rng(1)
    ours = {}
    for name, model in keras_models(npkeras).items():
        model.set_weights([0.5 * rng.standard_normal(w.shape) for w in model.get_weights()])
        x = rng.standard_normal((2,) + model.input_shape[1:]).astype("float32")
        np.save(tmp_path / f"ours_{name}_x.npy", x)
        model.save_weights(tmp_path / f"ours_{name}.weights.h5")
        ours[name] = model.predict(x, verbose=0)
    proc = subprocess.run(
        [sys.executable, "-c", KERAS_SCRIPT, str(tmp_path)],
        env={**os.environ, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name, model in keras_models(npkeras).items():
        model.load_weights(tmp_path / f"{name}.weights.h5")
        x = np.load(tmp_path / f"{name}_x.npy")
        np.testing.assert_allclose(
            model.predict(x, verbose=0),
            np.load(tmp_path / f"{name}_y.npy"),
            rtol=1e-5,
            atol=1e-5,
            err_msg=name,
        )
        np.testing.assert_allclose(
            ours[name],
            np.load(tmp_path / f"ours_{name}_keras.npy"),
            rtol=1e-5,
            atol=1e-5,
            err_msg=f"{name}, npkeras weights in Keras",
        )
