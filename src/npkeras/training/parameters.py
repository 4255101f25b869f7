"""One contiguous buffer for all trainable weights of a model, and one for their gradients.

Each layer's ``params[name]`` and ``grads[name]`` become views into the two buffers, so
the optimizer updates every weight with a few vectorised calls and zeroing all
gradients is a single ``fill``. Layers never notice: they read ``self.params`` at call
time and update nothing in place except their gradients.
"""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp


class ParameterBuffer:
    """Packs the trainable weights of ``layers`` (in order) into flat arrays.

    Attributes:
        params: 1-D array holding every trainable weight.
        grads: 1-D array of the same size for their gradients.
        exchange: ``grads`` followed by two spare slots, one contiguous array: data-parallel
            training sends the batch's loss and row count in the same message as the
            gradients (see :class:`~npkeras.training.distribution.Distribution`).
        bounds: offsets of each weight in the buffers, ``[0, n1, n1 + n2, ...]``.
    """

    def __init__(self, layers):
        self.entries = [
            (layer, name)
            for layer in layers
            for name in layer._variables
            if layer._weight_is_trainable(name)
        ]
        dtypes = {layer.params[name].dtype for layer, name in self.entries}
        dtype = dtypes.pop() if len(dtypes) == 1 else backend.floatx()
        sizes = [math.prod(layer.params[name].shape) for layer, name in self.entries]
        self.bounds = [0]
        for size in sizes:
            self.bounds.append(self.bounds[-1] + size)
        self.params = xp.empty(self.bounds[-1], dtype=dtype)
        self.exchange = xp.zeros(self.bounds[-1] + 2, dtype=dtype)
        self.grads = self.exchange[:-2]
        self.views = []
        for (layer, name), start, stop in zip(self.entries, self.bounds, self.bounds[1:]):
            value = layer.params[name]
            pview = self.params[start:stop].reshape(value.shape)
            gview = self.grads[start:stop].reshape(value.shape)
            pview[...] = value
            layer.params[name] = pview
            layer.grads[name] = gview
            self.views.append(pview)
        self.signature = self._signature(layers)

    @staticmethod
    def _signature(layers):
        return tuple(
            (id(layer), name, layer.params[name].shape)
            for layer in layers
            for name in layer._variables
            if layer._weight_is_trainable(name)
        )

    def is_current(self, layers) -> bool:
        """False when weights were added, frozen or re-pointed since packing."""
        if self._signature(layers) != self.signature:
            return False
        return all(
            layer.params[name] is view for (layer, name), view in zip(self.entries, self.views)
        )
