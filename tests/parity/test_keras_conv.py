"""Convolution and pooling models against Keras 3 itself (JAX backend), when installed.

npkeras writes its weights as a Keras ``.weights.h5`` file; Keras 3 builds the same
model from the same script, loads the file and predicts. Equal predictions check the
kernel layouts, the layer names (the file's paths) and Keras's padding rules ('same'
transposed convolutions, 'same' average pooling over real inputs) in one go.
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


def image_model(keras):
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(9, 9, 2)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same"),
            layers.SeparableConv2D(6, 3, padding="same", activation="tanh"),
            layers.Conv2D(6, 2, groups=3, dilation_rate=2, padding="same"),
            layers.Conv2DTranspose(3, 3, strides=2, padding="same"),
            layers.AveragePooling2D(3, strides=2, padding="same"),
            layers.MaxPooling2D(2, padding="same"),
            layers.Conv2DTranspose(
                2, (2, 3), strides=(3, 2), output_padding=(1, 1), data_format="channels_last"
            ),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2),
        ]
    )


def sequence_model(keras):
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(12, 3)),
            layers.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
            layers.SeparableConv1D(4, 3, strides=2, padding="same", depth_multiplier=2),
            layers.DepthwiseConv1D(2),
            layers.Conv1DTranspose(2, 3, strides=2),
            layers.AveragePooling1D(2, strides=1, padding="same"),
            layers.MaxPooling1D(2),
            layers.GlobalMaxPooling1D(),
            layers.Dense(1),
        ]
    )


def volume_model(keras):
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(2, 5, 6, 4)),  # channels first
            layers.Conv3D(3, 2, padding="same", data_format="channels_first"),
            layers.Conv3DTranspose(2, 2, strides=2, data_format="channels_first"),
            layers.MaxPooling3D(2, padding="same", data_format="channels_first"),
            layers.AveragePooling3D((1, 2, 2), data_format="channels_first"),
            layers.GlobalAveragePooling3D(data_format="channels_first"),
        ]
    )


MODELS = {
    "image": (image_model, (9, 9, 2)),
    "sequence": (sequence_model, (12, 3)),
    "volume": (volume_model, (2, 5, 6, 4)),
}
# the same model-building code runs in Keras's process
KERAS_SCRIPT = (
    "".join(inspect.getsource(make) + "\n\n" for make, _ in MODELS.values())
    + """
MODELS = {"image": image_model, "sequence": sequence_model, "volume": volume_model}
import sys
import numpy as np
import keras

folder = sys.argv[1]
for name, make in MODELS.items():
    model = make(keras)
    model.load_weights(f"{folder}/{name}.weights.h5")
    x = np.load(f"{folder}/{name}_x.npy")
    np.save(f"{folder}/{name}_keras.npy", model.predict(x, verbose=0))
"""
)


@pytest.mark.slow
def test_keras_3_predicts_the_same_from_npkeras_weights(tmp_path):
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras 3 with JAX is not installed (make bench installs it)")
    rng = np.random.default_rng(0)
    ours = {}
    for name, (make, shape) in MODELS.items():
        model = make(npkeras)
        for layer in model.layers:  # non-zero biases too, so their layout is checked
            layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
        x = rng.standard_normal((3,) + shape).astype(np.float32)
        np.save(tmp_path / f"{name}_x.npy", x)
        npkeras.saving.save_keras_weights(model, tmp_path / f"{name}.weights.h5")
        ours[name] = model.predict(x, verbose=0)
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
    for name, prediction in ours.items():
        np.testing.assert_allclose(
            prediction, np.load(tmp_path / f"{name}_keras.npy"), rtol=1e-4, atol=1e-5, err_msg=name
        )
