"""The Keras guide "Writing your own callbacks" (keras-io guides/writing_your_own_callbacks.py),
condensed. MNIST becomes the first 1,000 digits (64 pixels)."""

import numpy as np

import npkeras as keras
from tests.guides.data import digits


def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
                  loss="mean_squared_error", metrics=["mean_absolute_error"])
    return model


def _data():
    (x_train, y_train), (x_test, y_test) = digits()
    return (x_train[:1000], y_train[:1000].astype("float32")), (x_test,
                                                                y_test.astype("float32"))


class RecordingCallback(keras.callbacks.Callback):
    """The guide's CustomCallback, recording each hook instead of printing it."""

    def __init__(self):
        super().__init__()
        self.events = []

    def _record(self, name, logs):
        self.events.append((name, sorted(logs or {})))

    def on_train_begin(self, logs=None):
        self._record("train_begin", logs)

    def on_train_end(self, logs=None):
        self._record("train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._record("epoch_begin", logs)

    def on_epoch_end(self, epoch, logs=None):
        self._record("epoch_end", logs)

    def on_test_begin(self, logs=None):
        self._record("test_begin", logs)

    def on_test_end(self, logs=None):
        self._record("test_end", logs)

    def on_predict_begin(self, logs=None):
        self._record("predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._record("predict_end", logs)

    def on_train_batch_end(self, batch, logs=None):
        self._record("train_batch_end", logs)

    def on_test_batch_end(self, batch, logs=None):
        self._record("test_batch_end", logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._record("predict_batch_end", logs)


def test_every_hook_is_called_in_order():
    (x_train, y_train), (x_test, y_test) = _data()
    model = get_model()
    callback = RecordingCallback()
    model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0,
              validation_split=0.5, callbacks=[callback])
    names = [name for name, _ in callback.events]
    assert names[:2] == ["train_begin", "epoch_begin"]
    assert names.count("train_batch_end") == 4  # 500 samples, batch 128
    assert names[-2:] == ["epoch_end", "train_end"]
    epoch_end_keys = dict(callback.events)["epoch_end"]
    assert epoch_end_keys == ["loss", "mean_absolute_error", "val_loss",
                              "val_mean_absolute_error"]

    callback.events.clear()
    model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[callback])
    assert [n for n, _ in callback.events] == ["test_begin"] + ["test_batch_end"] * 3 + [
        "test_end"]
    callback.events.clear()
    model.predict(x_test, batch_size=128, verbose=0, callbacks=[callback])
    assert [n for n, _ in callback.events] == ["predict_begin"] + [
        "predict_batch_end"] * 3 + ["predict_end"]


def test_fit_validation_fires_test_hooks():
    (x_train, y_train), _ = _data()
    callback = RecordingCallback()
    get_model().fit(x_train, y_train, batch_size=128, epochs=1, verbose=0,
                    validation_split=0.5, callbacks=[callback])
    names = [name for name, _ in callback.events]
    assert names.count("test_batch_end") == 4
    assert names.index("test_begin") < names.index("test_end") < names.index("epoch_end")


def test_logs_dict_carries_running_loss():
    class LossAndErrorPrintingCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batch_losses, self.epoch_logs = [], []

        def on_train_batch_end(self, batch, logs=None):
            self.batch_losses.append(logs["loss"])

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_logs.append(dict(logs))

    (x_train, y_train), _ = _data()
    model = get_model()
    callback = LossAndErrorPrintingCallback()
    history = model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0,
                        callbacks=[callback])
    assert len(callback.batch_losses) == 2 * 8
    assert callback.epoch_logs[-1]["loss"] == history.history["loss"][-1]
    assert "mean_absolute_error" in callback.epoch_logs[-1]


def test_early_stopping_at_min_loss_restores_best_weights():
    class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
        def __init__(self, patience=0):
            super().__init__()
            self.patience = patience
            self.best_weights = None

        def on_train_begin(self, logs=None):
            self.wait = 0
            self.stopped_epoch = 0
            self.best = np.inf

        def on_epoch_end(self, epoch, logs=None):
            current = logs.get("loss")
            if np.less(current, self.best):
                self.best = current
                self.wait = 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.stopped_epoch = epoch
                    self.model.stop_training = True
                    self.model.set_weights(self.best_weights)

    (x_train, y_train), _ = _data()
    model = get_model()
    callback = EarlyStoppingAtMinLoss()
    history = model.fit(x_train, y_train, batch_size=64, epochs=30, verbose=0,
                        callbacks=[callback])
    # RMSprop at learning rate 0.1 oscillates, so training stops well before 30 epochs.
    epochs_run = len(history.history["loss"])
    assert epochs_run < 30
    assert callback.stopped_epoch == epochs_run - 1
    best = min(history.history["loss"])
    assert callback.best == best
    for saved, current in zip(callback.best_weights, model.get_weights()):
        np.testing.assert_array_equal(saved, current)


def test_learning_rate_scheduler_sets_optimizer_rate():
    lr_schedule = [(3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001)]

    def lr_schedule_fn(epoch, lr):
        if epoch < lr_schedule[0][0] or epoch > lr_schedule[-1][0]:
            return lr
        for start, rate in lr_schedule:
            if epoch == start:
                return rate
        return lr

    class CustomLearningRateScheduler(keras.callbacks.Callback):
        def __init__(self, schedule):
            super().__init__()
            self.schedule = schedule
            self.seen = []

        def on_epoch_begin(self, epoch, logs=None):
            lr = float(np.asarray(self.model.optimizer.learning_rate))
            scheduled_lr = self.schedule(epoch, lr)
            self.model.optimizer.learning_rate = scheduled_lr
            self.seen.append(scheduled_lr)

    (x_train, y_train), _ = _data()
    model = get_model()
    callback = CustomLearningRateScheduler(lr_schedule_fn)
    model.fit(x_train[:256], y_train[:256], batch_size=64, epochs=8, verbose=0,
              callbacks=[callback])
    np.testing.assert_allclose(callback.seen, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01],
                               rtol=1e-6)
    np.testing.assert_allclose(float(np.asarray(model.optimizer.learning_rate)), 0.01,
                               rtol=1e-6)
