import io

import numpy as np
import pytest

import npkeras as keras
from npkeras import callbacks, layers
from npkeras.callbacks.progbar import Progbar


def _model(lr=0.01):
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse", metrics=["mae"])
    return model


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    return x, x @ np.array([1.0, -1.0], dtype=np.float32)


def test_hooks_are_called_in_keras_order():
    calls = []

    hooks = [n for n in vars(callbacks.Callback) if n.startswith("on_")]
    recorder = callbacks.LambdaCallback(
        **{h: (lambda *a, _h=h, **k: calls.append(_h)) for h in hooks}
    )
    x, y = _data(8)
    model = _model()
    model.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), verbose=0, callbacks=[recorder])
    assert calls[:4] == [
        "on_train_begin",
        "on_epoch_begin",
        "on_train_batch_begin",
        "on_train_batch_end",
    ]
    assert calls[-2:] == ["on_epoch_end", "on_train_end"]
    calls.clear()
    model.predict(x, batch_size=4, verbose=0, callbacks=[recorder])
    assert calls == [
        "on_predict_begin",
        "on_predict_batch_begin",
        "on_predict_batch_end",
        "on_predict_batch_begin",
        "on_predict_batch_end",
        "on_predict_end",
    ]
    calls.clear()
    model.evaluate(x, y, batch_size=8, verbose=0, callbacks=[recorder])
    assert calls == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end"]


def test_early_stopping_restores_best_weights():
    x, y = _data()
    model = _model(lr=0.05)
    snapshots = []
    record = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append((logs["val_loss"], model.get_weights()))
    )
    # a monitor that gets worse after epoch 2: the validation targets flip sign
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=50, verbose=0, validation_data=(x, -y), callbacks=[record, stop]
    )
    assert stop.stopped_epoch > 0 and len(history.history["loss"]) < 50
    best_loss, best_weights = min(snapshots, key=lambda s: s[0])
    for a, b in zip(best_weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert stop.best == pytest.approx(best_loss)


def test_early_stopping_mode_and_start_from_epoch():
    stop = callbacks.EarlyStopping(monitor="val_accuracy")
    assert stop._monitor.mode == "max"
    with pytest.raises(ValueError, match="`mode` must be 'auto', 'min' or 'max'"):
        callbacks.EarlyStopping(mode="up")
    x, y = _data()
    model = _model()
    late = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9, start_from_epoch=3)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[late])
    assert len(history.history["loss"]) == 5


def test_missing_monitor_warns_with_available_names():
    x, y = _data()
    with pytest.warns(
        UserWarning, match=r"`val_auc`, which is not available. Available metrics are: loss, mae"
    ):
        _model().fit(
            x, y, epochs=1, verbose=0, callbacks=[callbacks.EarlyStopping(monitor="val_auc")]
        )


def test_reduce_lr_on_plateau_and_scheduler():
    x, y = _data()
    model = _model(lr=0.1)
    plateau = callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=1, min_delta=1e9, min_lr=0.02
    )
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[plateau])
    # each epoch logs the rate it trained with; the cut applies from the next epoch
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.02])
    model = _model(lr=0.1)
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_csv_logger(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    _model().fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,mae" and len(lines) == 4 and lines[1].startswith("0,")
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.CSVLogger(path, append=True)])
    assert len(path.read_text().splitlines()) == 6


def test_callbacks_must_be_callback_objects():
    x, y = _data()
    with pytest.raises(TypeError, match="must hold npkeras.callbacks.Callback instances"):
        _model().fit(x, y, verbose=0, callbacks=[print])


def test_progress_to_a_file_is_one_line_per_epoch(capsys):
    x, y = _data()
    _model().fit(x, y, epochs=2, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.strip().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert (
        lines[1].startswith("8/8 ━━━━━━━━━━━━━━━━━━━━")
        and " - loss: " in lines[1]
        and " - mae: " in lines[1]
    )
    assert "step" in lines[1]


def test_verbose_two_and_zero(capsys):
    x, y = _data()
    _model().fit(x, y, epochs=2, batch_size=8, verbose=2, validation_data=(x, y))
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 4 and "val_loss" in out
    _model().fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_progbar_redraws_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = Progbar(3, stream=stream)
    bar.update(1, {"loss": 1.0})
    bar.update(3, {"loss": 0.5}, final=True)
    text = stream.getvalue()
    assert text.startswith("\r1/3 ") and "ETA" in text and text.endswith("\n")
    assert "3/3 ━━━━━━━━━━━━━━━━━━━━" in text and "loss: 0.5000" in text
