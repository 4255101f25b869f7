import json
import os
import zipfile

import numpy as np
import pytest

import npkeras as keras
from npkeras import layers
from npkeras.saving import reader


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32) > 0).astype(np.float32)


def _model():
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.1),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)
        ),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_save_and_load_predicts_bit_identically(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.npkeras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == [
            "config.json",
            "metadata.json",
            "optimizer.npz",
            "weights.npz",
        ]
        meta = json.loads(zf.read("metadata.json"))
        assert meta["format_version"] == 1 and set(meta["sha256"]) == {
            "config.json",
            "weights.npz",
            "optimizer.npz",
        }
        assert "layers/dense/kernel.npy" in zipfile.ZipFile(zf.open("weights.npz")).namelist()


def test_resumed_training_is_bit_identical(tmp_path):
    x, y = _data()
    keras.utils.set_random_seed(7)
    straight = _model()
    straight.fit(x, y, epochs=4, batch_size=32, verbose=0)

    keras.utils.set_random_seed(7)
    first = _model()
    first.fit(x, y, epochs=2, batch_size=32, verbose=0)
    first.save(tmp_path / "half.npkeras")
    resumed = keras.models.load_model(tmp_path / "half.npkeras")
    resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=32, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_functional_multi_io_round_trip(tmp_path):
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
    shared = layers.Dense(4, activation="tanh", name="shared")
    h = layers.Concatenate()([shared(a), layers.Dense(4)(b), shared(layers.Dense(3)(b))])
    model = keras.Model(
        [a, b],
        [layers.Dense(1, name="reg")(h), layers.Dense(2, activation="softmax", name="cls")(h)],
    )
    model.compile(
        optimizer="adam",
        loss=["mse", keras.losses.SparseCategoricalCrossentropy()],
        metrics={"cls": ["accuracy"]},
        loss_weights=[1.0, 0.5],
    )
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((20, 3)), rng.standard_normal((20, 2))]
    ys = [rng.standard_normal((20, 1)), rng.integers(0, 2, 20)]
    model.fit(xs, ys, epochs=1, verbose=0)
    model.save(tmp_path / "f.npkeras")
    loaded = keras.models.load_model(tmp_path / "f.npkeras")
    for p, q in zip(model.predict(xs, verbose=0), loaded.predict(xs, verbose=0)):
        np.testing.assert_array_equal(p, q)
    assert (
        loaded.evaluate(xs, ys, verbose=0, return_dict=True).keys()
        == model.evaluate(xs, ys, verbose=0, return_dict=True).keys()
    )


def test_inference_only_file(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "infer.npkeras", include_optimizer=False)
    with zipfile.ZipFile(tmp_path / "infer.npkeras") as zf:
        assert "optimizer.npz" not in zf.namelist()
    loaded = keras.models.load_model(tmp_path / "infer.npkeras", compile=False)
    assert not loaded.compiled
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_weights_files_and_mismatch(tmp_path):
    model = _model()
    path = tmp_path / "w.weights.npz"
    model.save_weights(path)
    other = _model()
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    wider = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(9), layers.Dense(1)])
    with pytest.raises(
        ValueError,
        match=r"Weight 'layers/dense/kernel' in .* has shape \(4, 8\), but model .* needs \(4, 9\)",
    ):
        wider.load_weights(path)
    wider.load_weights(path, skip_mismatch=True)
    np.testing.assert_array_equal(
        wider.layers[1].get_weights()[1], model.layers[2].get_weights()[1]
    )
    extra = keras.Sequential(
        [keras.Input(shape=(4,)), layers.Dense(8), layers.Dense(1), layers.Dense(1)]
    )
    with pytest.raises(
        ValueError,
        match=r"do not fit model .*: missing \['layers/dense_2/bias', "
              r"'layers/dense_2/kernel'\], unexpected \[\]",
    ):
        extra.load_weights(path)
    with pytest.raises(ValueError, match="must end in '.weights.npz'"):
        model.save_weights(tmp_path / "w.h5")


def test_json_round_trip():
    model = _model()
    twin = keras.models.model_from_json(model.to_json())
    assert [type(layer).__name__ for layer in twin.layers] == ["Dense", "Dropout", "Dense"]
    assert twin.get_config() == model.get_config()


@keras.saving.register_serializable(package="Tests")
class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def forward(self, x, training=False):
        return x * self.factor

    def backward(self, dy):
        return dy * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Unregistered(Scale):
    pass


def test_custom_layers_through_the_registry(tmp_path):
    model = keras.Sequential([keras.Input(shape=(2,)), Scale(3.0), layers.Dense(1)])
    model.save(tmp_path / "c.npkeras")
    loaded = keras.models.load_model(tmp_path / "c.npkeras")
    assert isinstance(loaded.layers[0], Scale) and loaded.layers[0].factor == 3.0

    odd = keras.Sequential([keras.Input(shape=(2,)), Unregistered(), layers.Dense(1)])
    odd.save(tmp_path / "u.npkeras")
    with pytest.raises(
        ValueError,
        match=r"Unknown layer class 'Unregistered'.*Known layer classes: .*Dense.*Tests>Scale",
    ):
        keras.models.load_model(tmp_path / "u.npkeras")
    loaded = keras.models.load_model(
        tmp_path / "u.npkeras", custom_objects={"Unregistered": Unregistered}
    )
    assert isinstance(loaded.layers[0], Unregistered)


def test_atomic_save_keeps_previous_file_when_writer_dies(tmp_path, monkeypatch):
    x, y = _data()
    model = _model()
    path = tmp_path / "model.npkeras"
    model.save(path)
    before = path.read_bytes()
    model.fit(x, y, verbose=0)
    from npkeras.saving import format as fmt

    def boom(arrays):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fmt, "_npz_bytes", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npkeras"]
    keras.models.load_model(path)


def test_writer_killed_midway_through_the_archive(tmp_path, monkeypatch):
    model = _model()
    path = tmp_path / "model.npkeras"
    model.save(path)
    before = path.read_bytes()
    original = zipfile.ZipFile.writestr

    def dying(self, name, data, *args, **kwargs):
        if name == "weights.npz":
            raise KeyboardInterrupt
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", dying)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_bad_save_targets(tmp_path, monkeypatch):
    model = _model()
    weights = model.get_weights()
    with pytest.raises(FileNotFoundError, match=r"the folder '.*missing' does not exist"):
        model.save(tmp_path / "missing" / "m.npkeras")
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        model.save(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    real_access = os.access
    # root may write anywhere; make the check see what an ordinary user would
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if os.fspath(p) == str(locked) else real_access(p, mode)
    )
    with pytest.raises(PermissionError, match="is not writable"):
        model.save(locked / "m.npkeras")
    monkeypatch.undo()
    locked.chmod(0o700)
    assert list(locked.iterdir()) == []
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_files_from_before_normalization_kept_a_count_load_with_count_zero():
    weights = {
        "layers/normalization/mean": np.zeros(3),
        "layers/normalization/variance": np.ones(3),
        "layers/normalization_2/mean": np.zeros(2),
        "layers/normalization_2/variance": np.ones(2),
        "layers/normalization_3/mean": np.zeros(2),
        "layers/normalization_3/count": np.array(7, "int32"),
        "layers/dense/kernel": np.zeros((3, 1)),
    }
    reader._add_normalization_counts(weights)
    assert weights["layers/normalization/count"] == 0
    assert weights["layers/normalization/count"].dtype == np.int32
    assert weights["layers/normalization_2/count"] == 0
    assert weights["layers/normalization_3/count"] == 7  # a file that has it keeps it
    assert "layers/dense/count" not in weights
