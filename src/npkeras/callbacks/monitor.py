"""Callbacks that watch a logged quantity: EarlyStopping and ReduceLROnPlateau."""

from __future__ import annotations

import math
import sys
import warnings

from npkeras.callbacks.base import Callback

#: name fragments of metrics where larger is better (mode='auto' picks 'max' for them)
_HIGHER_IS_BETTER = (
    "acc",
    "auc",
    "precision",
    "recall",
    "r2",
    "fmeasure",
    "f1_score",
    "fbeta_score",
    "io_u",
    "iou",
    "true_positives",
    "true_negatives",
    "cosine_similarity",
    "sensitivity",
    "specificity",
)


class _Monitor:
    """Tracks the best value of ``monitor`` under ``mode`` with a ``min_delta`` margin."""

    def __init__(self, monitor, mode, min_delta, owner):
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                f"{owner}: `mode` must be 'auto', 'min' or 'max'; received mode={mode!r}."
            )
        if mode == "auto":
            name = monitor.removeprefix("val_")
            up = any(k in name for k in _HIGHER_IS_BETTER)
            mode = "max" if up else "min"
        self.monitor, self.mode, self.owner = monitor, mode, owner
        self.min_delta = abs(float(min_delta))
        self.reset()

    def reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{self.owner} is conditioned on metric `{self.monitor}`, which is not available. "
                f"Available metrics are: {', '.join(sorted(logs or {}))}.",
                stacklevel=3,
            )
        return value

    def improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: logged quantity ('val_loss', 'val_accuracy', ...).
        min_delta: smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: 'min', 'max' or 'auto' (from the name).
        baseline: training stops if the value does not beat it within ``patience`` epochs.
        restore_best_weights: put back the weights of the best epoch when stopping.
        start_from_epoch: epochs to wait before watching.
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0.0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__()
        self._monitor = _Monitor(monitor, mode, min_delta, "EarlyStopping")
        self.monitor = monitor
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None
        self._monitor.reset()
        if self.baseline is not None:
            self._monitor.best = float(self.baseline)

    def on_epoch_end(self, epoch, logs=None):
        value = self._monitor.value(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._monitor.improved(value):
            self._monitor.best = value
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._monitor.improved(value):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", file=sys.stdout)
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch > 0:
            if self.verbose > 0:
                print(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    @property
    def best(self):
        return self._monitor.best


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__()
        if not 0.0 <= factor < 1.0:
            raise ValueError(
                f"ReduceLROnPlateau: `factor` must be in [0, 1); received factor={factor}."
            )
        self._monitor = _Monitor(monitor, mode, min_delta, "ReduceLROnPlateau")
        self.factor, self.patience, self.verbose = float(factor), int(patience), verbose
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self._monitor.reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = self.model.optimizer.learning_rate
        value = self._monitor.value(logs)
        if value is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._monitor.improved(value):
            self._monitor.best = value
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self.model.optimizer.learning_rate
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(
                            f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                            f"{new:g}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
