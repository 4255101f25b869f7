"""Saving during training: ModelCheckpoint and BackupAndRestore (resume after a crash)."""

from __future__ import annotations

import math
import os
import warnings

from npkeras import services
from npkeras.callbacks.base import Callback
from npkeras.callbacks.monitor import _Monitor


class ModelCheckpoint(Callback):
    """Save the model (or its weights) after each epoch, or every ``save_freq`` batches.

    Args:
        filepath: path, may hold ``{epoch}`` (1-based), ``{batch}`` (1-based, with an
            integer ``save_freq``) and any log key, e.g.
            ``"ckpt-{epoch:02d}-{val_loss:.3f}.keras"``; missing folders are created. Ends
            in ``.keras`` or ``.npkeras`` (both hold npkeras's own zip format:
            ``keras.models.load_model`` of npkeras reads them, Keras itself does not), or
            in ``.weights.h5`` (Keras 3's weight layout, which Keras's ``load_weights``
            reads) or ``.weights.npz`` with ``save_weights_only=True``.
        monitor, mode: the quantity and direction for ``save_best_only``.
        verbose: 1 prints a line per decision, as Keras does.
        save_best_only: save only when ``monitor`` improves (when it is not logged, save
            anyway with a warning, as Keras does).
        save_weights_only: save the weights only.
        save_freq: ``"epoch"`` or a number of training batches between saves.
        initial_value_threshold: a value the first save must beat.

    >>> import npkeras as keras
    >>> checkpoint = keras.callbacks.ModelCheckpoint(
    ...     "best.weights.h5", save_best_only=True, save_weights_only=True)
    >>> checkpoint.monitor, checkpoint.save_freq
    ('val_loss', 'epoch')
    """

    chief_only = True  # in a multi-process job only the chief writes

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__()
        self.filepath = os.fspath(filepath)
        suffixes = (".weights.h5", ".weights.npz") if save_weights_only else (".keras", ".npkeras")
        if not self.filepath.endswith(suffixes):
            raise ValueError(
                f"ModelCheckpoint filepath must end in '{suffixes[0]}' or '{suffixes[1]}' when "
                f"save_weights_only={save_weights_only}; received filepath='{self.filepath}'."
            )
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or a "
                "positive integer (a number of training batches)."
            )
        self._monitor = _Monitor(monitor, mode, 0.0, "ModelCheckpoint")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        if initial_value_threshold is not None:
            self._monitor.best = float(initial_value_threshold)
        self._current_epoch = 0
        self._batches_since_save = 0
        self._last_batch = None
        if save_freq != "epoch":
            # an instance hook: only then does fit build logs after every batch for it
            self.on_train_batch_end = self._count_batch

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _count_batch(self, batch, logs=None):
        # batch indices restart every epoch; the count of batches since the last save
        # runs on across epochs, as in Keras
        new_epoch = self._last_batch is None or batch <= self._last_batch
        self._batches_since_save += batch + 1 if new_epoch else batch - self._last_batch
        self._last_batch = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs or {})

    def _path(self, epoch, batch, logs) -> str:
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as err:
            raise KeyError(
                f"ModelCheckpoint filepath '{self.filepath}' names {err}, which is not in the "
                f"logs ({', '.join(sorted(logs))})."
            ) from None

    def _should_save(self, epoch, logs, path) -> bool:
        if not self.save_best_only:
            self._say(f"Epoch {epoch + 1}: saving model to {path}")
            return True
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available; saving anyway. "
                f"Available logs: {', '.join(sorted(logs))}.",
                stacklevel=4,
            )
            return True
        best = "None" if math.isinf(self._monitor.best) else f"{self._monitor.best:.5f}"
        if not self._monitor.improved(value):
            self._say(f"Epoch {epoch + 1}: {self.monitor} did not improve from {best}")
            return False
        self._say(
            f"Epoch {epoch + 1}: {self.monitor} improved from {best} to {value:.5f}, "
            f"saving model to {path}"
        )
        self._monitor.best = value
        return True

    def _save(self, epoch, batch, logs):
        path = self._path(epoch, batch, logs)
        if not self._should_save(epoch, logs, path):
            return
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def _say(self, message):
        if self.verbose > 0:
            print(f"\n{message}")


class BackupAndRestore(Callback):
    """Back up the model, optimizer and epoch after every epoch to ``backup_dir``; a
    later ``fit`` with the same callback resumes after the last completed epoch, as if
    training had never stopped. The backup is deleted when training finishes normally.
    """

    chief_only = True  # in a multi-process job only the chief writes

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if save_freq != "epoch":
            raise ValueError("BackupAndRestore supports save_freq='epoch' only.")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.path = os.path.join(self.backup_dir, "backup.npkeras")

    def on_train_begin(self, logs=None):
        if os.path.exists(self.path):
            state = services.use("restore_training_state")(self.model, self.path)
            self.model._resume_epoch = int(state["epoch"]) + 1

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        services.use("save_model")(self.model, self.path, training_state={"epoch": epoch})

    def on_train_end(self, logs=None):
        if (
            self.delete_checkpoint
            and not self.model._training_interrupted
            and os.path.exists(self.path)
        ):
            os.remove(self.path)
