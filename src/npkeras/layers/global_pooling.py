"""Global pooling layers: GlobalAveragePooling1D/2D/3D and GlobalMaxPooling1D/2D/3D."""

from __future__ import annotations

import math

from npkeras.backend import xp
from npkeras.layers import conv_utils as cu
from npkeras.layers.base import DEFAULT_BACKWARD, Layer


class BaseGlobalPooling(Layer):
    """Pooling over every spatial axis at once; see :class:`GlobalAveragePooling2D`."""

    rank = 0

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = cu.normalize_data_format(
            data_format, f"{type(self).__name__} layer '{self.name}'"
        )
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expects inputs of rank "
                f"{self.rank + 2}, but received input shape {tuple(input_shape)}."
            )
        _, channels = cu.spatial_and_channels(input_shape, self.data_format)
        if not self.keepdims:
            return (input_shape[0], channels)
        return cu.with_channels(input_shape[0], (1,) * self.rank, channels, self.data_format)

    def _flat(self, x):
        """``(batch, spatial positions, channels)`` of an input, and its channels-last shape."""
        x = cu.to_channels_last(x, self.data_format)
        return x.reshape(x.shape[0], -1, x.shape[-1]), x.shape

    def _output(self, y):  # y: (batch, channels)
        if not self.keepdims:
            return y
        return cu.from_channels_last(
            y.reshape((y.shape[0],) + (1,) * self.rank + (-1,)), self.data_format
        )

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        need_input_grad, _, _ = cu.backward_flags(self, ctx)
        if not need_input_grad:
            return None
        state, shape = self.cache  # shape: the input's, channels last
        dx = self._spread(dy.reshape(dy.shape[0], -1), state, shape)  # (batch, positions, c)
        return cu.from_channels_last(dx.reshape(shape), self.data_format)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class BaseGlobalAveragePooling(BaseGlobalPooling):
    """Mean over the spatial axes."""

    def forward(self, x, training=False, mask=None):
        flat, shape = self._flat(x)
        batch, positions = flat.shape[:2]
        if mask is None:
            weights = xp.full((batch, positions), 1.0 / positions, flat.dtype)
        else:  # mean over the unmasked steps only
            weights = xp.asarray(mask, flat.dtype).reshape(batch, positions)
            weights = weights / weights.sum(axis=1, keepdims=True)
        self.cache = (weights, shape)
        return self._output(xp.matmul(weights[:, None, :], flat)[:, 0])

    def _spread(self, dy, weights, shape):  # each position gets its weight times dy
        return weights[:, :, None] * dy[:, None, :]


class BaseGlobalMaxPooling(BaseGlobalPooling):
    """Max over the spatial axes; the gradient goes to the first maximum on ties."""

    def forward(self, x, training=False):
        flat, shape = self._flat(x)
        index = flat.argmax(axis=1)[:, None, :]  # argmax returns the first maximum
        self.cache = (index, shape)
        return self._output(xp.take_along_axis(flat, index, axis=1)[:, 0])

    def _spread(self, dy, index, shape):
        dx = xp.zeros((shape[0], math.prod(shape[1:-1]), shape[-1]), dy.dtype)
        xp.put_along_axis(dx, index, dy[:, None, :], axis=1)
        return dx


class GlobalAveragePooling1D(BaseGlobalAveragePooling):
    """Mean over steps: ``(batch, steps, channels) -> (batch, channels)``.

    Args:
        data_format: 'channels_last' (default) or 'channels_first'.
        keepdims: keep the steps axis with length 1.

    With a mask ``(batch, steps)`` (from Embedding(mask_zero=True) or Masking) the mean
    covers the unmasked steps only, as in Keras.

    >>> import numpy as np
    >>> GlobalAveragePooling1D()(np.array([[[1.0], [3.0]]])).tolist()
    [[2.0]]
    """

    rank = 1
    supports_masking = True

    def compute_mask(self, x, mask=None):
        return None


class GlobalAveragePooling2D(BaseGlobalAveragePooling):
    """Mean over height and width: ``(batch, h, w, channels) -> (batch, channels)``.

    Args:
        data_format: 'channels_last' (default) or 'channels_first'.
        keepdims: keep the spatial axes with length 1: ``(batch, 1, 1, channels)``.

    >>> import numpy as np
    >>> GlobalAveragePooling2D(keepdims=True)(np.ones((2, 4, 4, 3))).shape
    (2, 1, 1, 3)
    """

    rank = 2


class GlobalAveragePooling3D(BaseGlobalAveragePooling):
    """Mean over depth, height and width: ``(batch, d, h, w, c) -> (batch, c)``.

    Args: as :class:`GlobalAveragePooling2D`.

    >>> import numpy as np
    >>> GlobalAveragePooling3D()(np.ones((2, 3, 3, 3, 4))).shape
    (2, 4)
    """

    rank = 3


class GlobalMaxPooling1D(BaseGlobalMaxPooling):
    """Max over steps: ``(batch, steps, channels) -> (batch, channels)``.

    Args: as :class:`GlobalAveragePooling2D`.

    >>> import numpy as np
    >>> GlobalMaxPooling1D()(np.array([[[1.0], [3.0], [2.0]]])).tolist()
    [[3.0]]
    """

    rank = 1


class GlobalMaxPooling2D(BaseGlobalMaxPooling):
    """Max over height and width: ``(batch, h, w, channels) -> (batch, channels)``.

    Args: as :class:`GlobalAveragePooling2D`.

    >>> import numpy as np
    >>> GlobalMaxPooling2D(data_format="channels_first")(np.ones((2, 3, 4, 4))).shape
    (2, 3)
    """

    rank = 2


class GlobalMaxPooling3D(BaseGlobalMaxPooling):
    """Max over depth, height and width: ``(batch, d, h, w, c) -> (batch, c)``.

    Args: as :class:`GlobalAveragePooling2D`.

    >>> import numpy as np
    >>> GlobalMaxPooling3D(keepdims=True)(np.ones((1, 2, 2, 2, 5))).shape
    (1, 1, 1, 1, 5)
    """

    rank = 3
