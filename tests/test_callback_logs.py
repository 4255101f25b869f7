"""Custom callbacks as in Keras's "writing your own callbacks" guide: every hook gets a
logs dict, batch hooks see running values, callbacks see model and params."""

import pytest

import npkeras as keras


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def _record(self, hook, logs):
        assert isinstance(logs, dict), f"{hook} received logs={logs!r}"
        self.calls.append((hook, dict(logs)))


for _hook in [n for n in vars(keras.callbacks.Callback) if n.startswith("on_")]:
    if "batch" in _hook or "epoch" in _hook:

        def _method(self, index, logs=None, _hook=_hook):
            self._record(_hook, logs)
    else:

        def _method(self, logs=None, _hook=_hook):
            self._record(_hook, logs)

    setattr(Recorder, _hook, _method)


class NoSuperInit(keras.callbacks.Callback):
    def __init__(self):  # a common slip: no super().__init__()
        self.seen = None

    def on_train_begin(self, logs=None):
        self.seen = (self.model, dict(self.params))


@pytest.fixture
def data(rng):
    x = rng.standard_normal((40, 3)).astype("float32")
    return x, (x[:, :1] > 0).astype("float32")


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return model


def test_every_hook_gets_a_dict_and_batch_logs_hold_running_values(data):
    x, y = data
    model, rec = _model(), Recorder()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_data=(x, y), callbacks=[rec])
    model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[rec])
    model.predict(x, batch_size=16, verbose=0, callbacks=[rec])
    hooks = [h for h, _ in rec.calls]
    # the test hooks run for fit's validation (3 batches a epoch, as in Keras) and evaluate
    assert hooks.count("on_train_batch_end") == 6 and hooks.count("on_test_batch_end") == 9
    assert hooks.count("on_predict_batch_end") == 3
    batch_ends = [logs for h, logs in rec.calls if h == "on_train_batch_end"]
    assert set(batch_ends[0]) == {"loss", "accuracy"}
    epoch_end = next(logs for h, logs in rec.calls if h == "on_epoch_end")
    assert set(epoch_end) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    # the epoch's loss is the running value of its last batch
    last_batch_of_epoch = batch_ends[2]
    assert epoch_end["loss"] == pytest.approx(last_batch_of_epoch["loss"])
    test_end = [logs for h, logs in rec.calls if h == "on_test_end"][-1]  # evaluate's
    assert test_end["loss"] == pytest.approx(model.evaluate(x, y, verbose=0)[0], rel=1e-6)
    predict_end = next(logs for h, logs in rec.calls if h == "on_predict_batch_end")
    assert predict_end["outputs"][0].shape == (16, 1)
    for hook in ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_predict_begin"):
        assert next(logs for h, logs in rec.calls if h == hook) == {}


def test_model_and_params_even_without_super_init(data):
    x, y = data
    model, cb = _model(), NoSuperInit()
    model.fit(x, y, epochs=3, batch_size=10, verbose=0, callbacks=[cb])
    seen_model, params = cb.seen
    assert seen_model is model
    assert (params["epochs"], params["steps"], params["verbose"]) == (3, 4, 0)


def test_direct_hook_calls_with_none_become_dicts():
    rec = Recorder()
    hooks = keras.callbacks.CallbackList([rec])
    hooks.on_epoch_end(0, None)
    hooks.on_train_end()
    hooks.on_train_batch_end(3, logs=None)
    assert rec.calls == [("on_epoch_end", {}), ("on_train_end", {}), ("on_train_batch_end", {})]


def test_stop_training_from_a_batch_hook(data):
    x, y = data

    class StopAfterTwo(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1 and logs["loss"] > 0:
                self.model.stop_training = True

    model = _model()
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[StopAfterTwo()])
    assert len(history.history["loss"]) == 1


def test_early_stopping_auto_mode_for_new_metric_names():
    from npkeras.callbacks.monitor import _Monitor

    for name in ("val_f1_score", "val_mean_io_u", "true_positives", "val_cosine_similarity"):
        assert _Monitor(name, "auto", 0.0, "EarlyStopping").mode == "max"
    for name in ("val_false_negatives", "val_logcosh", "val_loss"):
        assert _Monitor(name, "auto", 0.0, "EarlyStopping").mode == "min"
    assert keras.metrics.FalsePositives.direction == "down"
    assert keras.metrics.TruePositives.direction == "up"
