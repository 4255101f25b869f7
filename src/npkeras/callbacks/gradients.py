"""GradientStats: per-layer gradient and weight norms, epoch by epoch, into History."""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.callbacks.base import Callback


def _trainable_names(layer) -> list:
    return [name for name in layer.params if layer._weight_is_trainable(name)]


def _norm(arrays) -> float:
    """The L2 norm of several arrays taken together, as if concatenated."""
    return math.sqrt(sum(backend.to_float(xp.vdot(a, a)) for a in arrays))


class GradientStats(Callback):
    """Log each layer's gradient and weight norms every epoch, for spotting vanishing or
    exploding gradients.

    After every training step it reads the gradient the step computed
    (``layer.grads``); at the end of the epoch it adds to the logs, for each layer with
    trainable weights:

    - ``{layer}/grad_norm``: the L2 norm of all the layer's weight gradients together,
      averaged over the epoch's steps;
    - ``{layer}/weight_norm``: the L2 norm of its weights at the end of the epoch.

    The values reach ``History`` (``history.history['dense/grad_norm']``), CSVLogger and
    the progress bar like any metric; ``keras.utils.plot_gradient_flow(history)`` draws
    them.

    >>> import numpy as np
    >>> import npkeras as keras
    >>> model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, name="out")])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> history = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=0,
    ...                     callbacks=[keras.callbacks.GradientStats()])
    >>> len(history.history["out/grad_norm"])
    2
    """

    def on_train_begin(self, logs=None):
        self._layers = [layer for layer in self.model._all_layers() if _trainable_names(layer)]

    def on_epoch_begin(self, epoch, logs=None):
        self._sums = [0.0] * len(self._layers)
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        for i, layer in enumerate(self._layers):
            self._sums[i] += _norm(layer.grads[name] for name in _trainable_names(layer))
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not self._steps:
            return
        for layer, total in zip(self._layers, self._sums):
            logs[f"{layer.name}/grad_norm"] = total / self._steps
            logs[f"{layer.name}/weight_norm"] = _norm(
                layer.params[name] for name in _trainable_names(layer)
            )
