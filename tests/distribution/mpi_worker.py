"""The training script the data-parallel tests launch with mpiexec (and run in-process
as the one-process reference).

    python mpi_worker.py SCENARIO OUT_DIR [options]

Each process writes what the test compares into OUT_DIR as ``rank{r}.npz``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import npkeras as keras
from npkeras import backend

# 203 training rows in global batches of 32: the last batch of 11 rows splits unevenly
ROWS, FEATURES, CLASSES, BATCH = 203, 8, 3, 32


def make_data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(ROWS + 40, FEATURES))
    y = (x[:, :CLASSES] + 0.3 * rng.normal(size=(ROWS + 40, CLASSES))).argmax(axis=1)
    return (x[:ROWS], y[:ROWS]), (x[ROWS:], y[ROWS:])


def make_model(dtype):
    backend.set_floatx(dtype)
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input(shape=(FEATURES,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class RaiseAt(keras.callbacks.Callback):
    """Raise on process ``rank`` at train batch ``batch`` of epoch ``epoch`` (None: any
    epoch; no batch: at the epoch's start), first writing the time to ``stamp``."""

    def __init__(self, rank, stamp, batch=None, epoch=None):
        super().__init__()
        self.rank, self.stamp, self.batch, self.epoch = rank, stamp, batch, epoch

    def _maybe_raise(self, where):
        if keras.distribution.distribution().rank == self.rank:
            with open(self.stamp, "w") as f:
                f.write(repr(time.time()))
            raise RuntimeError(f"planned failure on process {self.rank} at {where}")

    def on_epoch_begin(self, epoch, logs=None):
        self.armed = self.epoch is None or epoch == self.epoch
        if self.armed and self.batch is None:
            self._maybe_raise(f"epoch {epoch}")

    def on_train_batch_begin(self, batch, logs=None):
        if self.armed and batch == self.batch:
            self._maybe_raise(f"step {batch}")


class LoggedCheckpoint(keras.callbacks.ModelCheckpoint):
    """A ModelCheckpoint that notes which process saved (to count the writes)."""

    def __init__(self, filepath, log):
        super().__init__(filepath, monitor="loss", save_weights_only=True)
        self.log = log

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        with open(self.log, "a") as f:
            f.write(f"{keras.distribution.distribution().rank}\n")


def train(out, dtype="float64", epochs=3, fail_step=None, backup=None, fail_epoch=None):
    """Fit, evaluate and predict; returns (and with ``out`` saves) what the tests compare."""
    distribution = keras.distribution.DataParallel()
    keras.distribution.set_distribution(distribution)
    try:
        (x, y), (xv, yv) = make_data()
        model = make_model(dtype)
        callbacks = []
        if out is not None and backup is None:
            callbacks += [
                LoggedCheckpoint(
                    os.path.join(out, "ckpt-{epoch}.weights.npz"), os.path.join(out, "saves.log")
                ),
                keras.callbacks.CSVLogger(os.path.join(out, "log.csv")),
            ]
        if backup is not None:
            callbacks.append(keras.callbacks.BackupAndRestore(backup))
        if fail_step is not None or fail_epoch is not None:
            callbacks.append(RaiseAt(1, os.path.join(out, "failed_at"), fail_step, fail_epoch))
        history = model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=epochs,
            validation_data=(xv, yv),
            callbacks=callbacks,
            verbose=0,
        )
        result = {
            "rank": distribution.rank,
            "size": distribution.world_size,
            "weights": np.concatenate([w.ravel() for w in model.get_weights()]),
            "epochs": np.array(history.epoch),
            "evaluate": np.array(model.evaluate(xv, yv, batch_size=7, verbose=0)),
            "predict": model.predict(x, batch_size=50, verbose=0),
            # the next draws of the generator dropout would use
            "random": backend.rng().random(3),
        }
        result.update({f"history/{k}": np.array(v) for k, v in history.history.items()})
    finally:
        keras.distribution.set_distribution(None)
    if out is not None:
        np.savez(os.path.join(out, f"{dtype}-rank{distribution.rank}.npz"), **result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--dtype", action="append")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fail-step", type=int)
    parser.add_argument("--fail-epoch", type=int)
    parser.add_argument("--backup")
    args = parser.parse_args()
    for dtype in args.dtype or ["float64"]:
        train(args.out, dtype, args.epochs, args.fail_step, args.backup, args.fail_epoch)
