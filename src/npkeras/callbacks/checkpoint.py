"""Saving during training: ModelCheckpoint and BackupAndRestore (resume after a crash)."""

from __future__ import annotations

import os

from npkeras import services
from npkeras.callbacks.base import Callback
from npkeras.callbacks.monitor import _Monitor


class ModelCheckpoint(Callback):
    """Save the model (or its weights) after each epoch.

    Args:
        filepath: path, may hold ``{epoch}`` (1-based) and any log key, e.g.
            ``"ckpt-{epoch:02d}-{val_loss:.3f}.keras"``. Ends in ``.keras`` or
            ``.npkeras`` (both hold npkeras's own zip format: ``keras.models.load_model``
            of npkeras reads them, Keras itself does not), or in ``.weights.h5`` (Keras 3's
            weight layout) or ``.weights.npz`` with ``save_weights_only=True``.
        monitor, mode: the quantity and direction for ``save_best_only``.
        save_best_only: save only when ``monitor`` improves.
        initial_value_threshold: a value the first save must beat.
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
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint supports save_freq='epoch' only.")
        self._monitor = _Monitor(monitor, mode, 0.0, "ModelCheckpoint")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.initial_value_threshold = initial_value_threshold
        if initial_value_threshold is not None:
            self._monitor.best = float(initial_value_threshold)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as err:
            raise KeyError(
                f"ModelCheckpoint filepath '{self.filepath}' names {err}, which is not in the "
                f"logs ({', '.join(sorted(logs))})."
            ) from None
        if self.save_best_only:
            value = self._monitor.value(logs)
            if value is None or not self._monitor.improved(value):
                return
            if self.verbose > 0:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self._monitor.best:.5f} to "
                    f"{value:.5f}, saving model to {path}"
                )
            self._monitor.best = value
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


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
