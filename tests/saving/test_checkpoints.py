import numpy as np
import pytest

import npkeras as keras
from npkeras import callbacks, layers


def _setup(seed=5):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((128, 3)).astype(np.float32)
    y = x @ np.array([1.0, 2.0, -1.0], dtype=np.float32)
    model = keras.Sequential(
        [keras.Input(shape=(3,)), layers.Dense(4, activation="tanh"), layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    return model, x, y


def test_model_checkpoint_formats_names_and_saves_best_only(tmp_path):
    model, x, y = _setup()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.npkeras")
    model.fit(
        x,
        y,
        epochs=3,
        validation_split=0.25,
        verbose=0,
        callbacks=[callbacks.ModelCheckpoint(pattern)],
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n[:8] for n in names] == ["ckpt-01-", "ckpt-02-", "ckpt-03-"]
    last = keras.models.load_model(tmp_path / names[-1])
    np.testing.assert_array_equal(last.predict(x, verbose=0), model.predict(x, verbose=0))

    best = tmp_path / "best.weights.npz"
    saved = []
    cb = callbacks.ModelCheckpoint(
        str(best), monitor="val_loss", save_best_only=True, save_weights_only=True
    )
    original = model.save_weights
    model.save_weights = lambda path, **kw: (saved.append(path), original(path, **kw))
    model.fit(x, y, epochs=3, validation_data=(x, -y), verbose=0, callbacks=[cb])
    assert len(saved) == 1  # validation gets worse after the first epoch


def test_model_checkpoint_checks_suffix_and_keys(tmp_path):
    with pytest.raises(
        ValueError, match=r"must end in '.weights.h5' or '.weights.npz' when save_weights_only=True"
    ):
        callbacks.ModelCheckpoint(str(tmp_path / "w.npkeras"), save_weights_only=True)
    model, x, y = _setup()
    with pytest.raises(KeyError, match=r"names 'val_auc', which is not in the logs \(loss\)"):
        model.fit(
            x,
            y,
            verbose=0,
            callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "{val_auc}.npkeras"))],
        )


def test_backup_and_restore_resumes_as_if_never_stopped(tmp_path):
    model, x, y = _setup()
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    reference = model.get_weights()

    model, x, y = _setup()
    backup = callbacks.BackupAndRestore(tmp_path / "backup")

    class Crash(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[backup, Crash()])
    assert (tmp_path / "backup" / "backup.npkeras").exists()
    # a new process would rebuild the model from code: different random draws first
    keras.utils.set_random_seed(999)
    fresh = keras.Sequential(
        [keras.Input(shape=(3,)), layers.Dense(4, activation="tanh"), layers.Dense(1)]
    )
    fresh.compile(optimizer="adam", loss="mse")
    history = fresh.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[backup])
    assert history.epoch == [3, 4]
    for a, b in zip(reference, fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "backup" / "backup.npkeras").exists()
