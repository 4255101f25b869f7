"""ModelCheckpoint writing Keras 3's .weights.h5 layout, best-only saving and batch frequency.

tests/parity/test_keras_attention.py loads a checkpoint of a Transformer block into Keras
itself; here the files are read back by npkeras and by h5py.
"""

import numpy as np
import pytest

import npkeras as keras
from npkeras import callbacks
from tests.parity.test_keras_attention import transformer_model
from tests.saving.test_keras_h5_layout import TRANSFORMER, _datasets

pytest.importorskip("h5py")


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 6, 8)).astype(np.float32)
    return x, rng.standard_normal((16, 3)).astype(np.float32)


def _transformer():
    model = transformer_model(keras)
    model.compile(optimizer="adam", loss="mse")
    return model


def test_weights_checkpoint_of_a_transformer_is_keras_layout_and_loads_back(tmp_path):
    x, y = _data()
    model = _transformer()
    path = tmp_path / "ckpt.weights.h5"
    checkpoint = callbacks.ModelCheckpoint(str(path), save_weights_only=True)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[checkpoint])
    assert _datasets(path) == TRANSFORMER
    fresh = transformer_model(keras)
    fresh.load_weights(str(path))
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_best_only_weights_keep_the_best_epoch(tmp_path, capsys):
    x, y = _data()
    model = _transformer()
    snapshots = []
    keep = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(logs))
    weights = []
    record = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights.append(model.get_weights())
    )
    path = tmp_path / "best.weights.h5"
    checkpoint = callbacks.ModelCheckpoint(
        str(path), save_best_only=True, save_weights_only=True, verbose=1
    )
    # a validation target that training moves away from after the first epoch or so
    model.fit(
        x,
        y,
        epochs=4,
        batch_size=8,
        verbose=0,
        validation_data=(x, -3 * y),
        callbacks=[keep, record, checkpoint],
    )
    losses = [logs["val_loss"] for logs in snapshots]
    best = int(np.argmin(losses))
    assert best < 3  # otherwise every epoch improves and the test checks nothing
    fresh = transformer_model(keras)
    fresh.load_weights(str(path))
    for a, b in zip(fresh.get_weights(), weights[best]):
        np.testing.assert_array_equal(a, b)
    printed = capsys.readouterr().out
    assert f"Epoch 1: val_loss improved from None to {losses[0]:.5f}, saving model to {path}" in (
        printed
    )
    worse = next(i for i in range(1, 4) if losses[i] >= min(losses[:i]))
    assert f"Epoch {worse + 1}: val_loss did not improve from {min(losses[:worse]):.5f}" in printed


def test_save_freq_in_batches_counts_across_epochs_and_makes_folders(tmp_path):
    x, y = _data()
    model = keras.Sequential(
        [keras.Input(shape=(6, 8)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    model.compile(optimizer="sgd", loss="mse")
    pattern = str(tmp_path / "run" / "{epoch}-{batch}.weights.h5")
    checkpoint = callbacks.ModelCheckpoint(pattern, save_weights_only=True, save_freq=4)
    model.fit(x, y, epochs=2, batch_size=3, verbose=0, callbacks=[checkpoint])
    # 6 batches an epoch: saves after batch 4, then batches 2 (the 8th) and 6 of epoch 2
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == sorted(f"{e}-{b}.weights.h5" for e, b in [(1, 4), (2, 2), (2, 6)])
    last = keras.Sequential(
        [keras.Input(shape=(6, 8)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    last.load_weights(str(tmp_path / "run" / "2-6.weights.h5"))
    np.testing.assert_array_equal(last.predict(x, verbose=0), model.predict(x, verbose=0))


def test_best_only_without_the_monitored_value_saves_with_a_warning(tmp_path):
    x, y = _data()
    model = _transformer()
    path = tmp_path / "w.weights.h5"
    checkpoint = callbacks.ModelCheckpoint(str(path), save_best_only=True, save_weights_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])
    assert path.exists()


@pytest.mark.parametrize("save_freq", ["batch", 0, 2.5, True])
def test_save_freq_must_be_epoch_or_a_positive_integer(save_freq):
    with pytest.raises(ValueError, match=r"Unrecognized save_freq: .*'epoch' or a positive"):
        callbacks.ModelCheckpoint("w.weights.h5", save_weights_only=True, save_freq=save_freq)
