"""Small callbacks: LearningRateScheduler, TerminateOnNaN, LambdaCallback, CSVLogger."""

from __future__ import annotations

import csv
import math
import os

from npkeras.callbacks.base import Callback


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)``."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler needs a callable schedule; received {schedule!r}."
            )
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.schedule(epoch, self.model.optimizer.learning_rate)
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            raise ValueError(
                f"The learning-rate schedule must return a float; it returned {lr!r}."
            ) from None
        self.model.optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:g}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback got an unknown hook {name!r}.")
            setattr(self, name, fn)


class CSVLogger(Callback):
    """Append each epoch's logs as a row of a CSV file (header written once)."""

    chief_only = True  # in a multi-process job only the chief writes

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append

    def on_train_begin(self, logs=None):
        exists = (
            self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        )
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self._header_written = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(
                self._file, fieldnames=["epoch"] + keys, delimiter=self.separator
            )
            if not self._header_written:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs[k] for k in keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()
