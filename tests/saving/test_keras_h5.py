"""Weights from and to Keras 3's .weights.h5 layout."""

import os
import subprocess
import sys

import numpy as np
import pytest

import npkeras as keras

pytest.importorskip("h5py")
DATA = os.path.join(os.path.dirname(__file__), "data")


def _mlp():
    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def test_loads_a_file_written_by_keras_3():
    # written by Keras 3.15.1 (JAX backend) with model.save_weights; expected outputs from Keras
    model = _mlp()
    keras.saving.load_keras_weights(model, os.path.join(DATA, "keras3_mlp.weights.h5"))
    expected = np.load(os.path.join(DATA, "keras3_mlp_expected.npz"))
    np.testing.assert_allclose(
        model.predict(expected["x"], verbose=0), expected["y"], rtol=1e-5, atol=1e-6
    )


def test_round_trip_and_mismatch(tmp_path):
    source = _mlp()
    path = tmp_path / "w.weights.h5"
    keras.saving.save_keras_weights(source, path)
    target = _mlp()
    keras.saving.load_keras_weights(target, path)
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(9),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(3),
        ]
    )
    before = wrong.get_weights()
    with pytest.raises(
        ValueError, match=r"'layers/dense/vars/0' has shape \(4, 8\), but layer .* needs \(4, 9\)"
    ):
        keras.saving.load_keras_weights(wrong, path)
    for a, b in zip(before, wrong.get_weights()):
        np.testing.assert_array_equal(a, b)
    shorter = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8)])
    keras.saving.load_keras_weights(shorter, path)  # a prefix of the layers is fine
    with pytest.raises(ValueError, match="must end in '.weights.h5'"):
        keras.saving.save_keras_weights(source, tmp_path / "w.h5")


def test_nested_and_functional_models_round_trip(tmp_path):
    inner = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4)])
    x = keras.Input(shape=(3,))
    model = keras.Model(x, keras.layers.Dense(2)(inner(x)))
    keras.saving.save_keras_weights(model, tmp_path / "n.weights.h5")
    twin_inner = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4)])
    y = keras.Input(shape=(3,))
    twin = keras.Model(y, keras.layers.Dense(2)(twin_inner(y)))
    keras.saving.load_keras_weights(twin, tmp_path / "n.weights.h5")
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_3_loads_the_export(tmp_path):
    import importlib.util

    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("Keras 3 with JAX is not installed (make bench installs it)")
    model = _mlp()
    path = tmp_path / "export.weights.h5"
    keras.saving.save_keras_weights(model, path)
    x = np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys, numpy as np, keras\n"
        "m = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation='relu'),"
        " keras.layers.Dropout(0.1), keras.layers.Dense(3, activation='softmax')])\n"
        "m.load_weights(sys.argv[1])\n"
        "np.save(sys.argv[3], m.predict(np.load(sys.argv[2]), verbose=0))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "y.npy"), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def _h5_with(path, edit):
    """A Keras weights file of ``_mlp()`` changed by ``edit(h5py.File)``."""
    import h5py

    keras.saving.save_keras_weights(_mlp(), path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _replace(name, data):
    def edit(f):
        del f[name]
        f.create_dataset(name, data=data)

    return edit


def _regroup(name):
    def edit(f):
        del f[name]
        f.create_dataset(name, data=np.zeros(3))

    return edit


def _rename(old, new):
    def edit(f):
        f.move(old, new)

    return edit


def _huge(name):
    def edit(f):
        # declared 4e10 float32 values (160 GB), chunked and compressed: a few bytes on disk
        del f[name]
        f.create_dataset(
            name, shape=(200_000, 200_000), dtype="f4", chunks=(1000, 1000), compression="gzip"
        )

    return edit


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            _replace("layers/dense/vars/1", np.full(8, np.nan, "f4")),
            "variable 'layers/dense/vars/1' holds NaN or infinite values",
        ),
        (
            _replace("layers/dense/vars/1", np.array([b"x"] * 8)),
            "variable 'layers/dense/vars/1' is not a numeric array",
        ),
        (_regroup("layers/dense/vars"), "holds 'layers/dense/vars', which is not a group"),
        (
            _rename("layers/dense/vars/1", "layers/dense/vars/bias"),
            r"names the variables of 'layers/dense/vars' \['0', 'bias'\]; Keras numbers them 0, 1",
        ),
        (
            _huge("layers/dense/vars/0"),
            r"has shape \(200000, 200000\), but layer .* needs \(4, 8\)",
        ),
    ],
)
def test_hostile_keras_files_raise_model_file_error(tmp_path, edit, match):
    path = _h5_with(tmp_path / "w.weights.h5", edit)
    model = _mlp()
    before = model.get_weights()
    with pytest.raises(keras.saving.ModelFileError, match=match):
        keras.saving.load_keras_weights(model, path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_file_that_is_not_hdf5_raises_model_file_error(tmp_path):
    path = tmp_path / "w.weights.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(keras.saving.ModelFileError, match="is not a readable HDF5 file"):
        keras.saving.load_keras_weights(_mlp(), path)
