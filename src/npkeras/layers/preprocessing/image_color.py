"""RandomContrast and RandomBrightness: per-image random colour changes (training only),
clipped to ``value_range``."""

from __future__ import annotations

from npkeras.layers.preprocessing.image_base import ImageLayer, factor_range


def _value_range(owner, value_range):
    low, high = (float(v) for v in value_range)
    if low >= high:
        raise ValueError(
            f"Received an invalid value for `value_range` of {owner}, expected (low, high) "
            f"with low < high. Received: value_range={tuple(value_range)!r}"
        )
    return low, high


class _ClippedColour(ImageLayer):
    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor
        self.value_range = _value_range(self._owner, value_range)

    def _clip(self, out, backward):
        """Clip to ``value_range``; the gradient stops where the clip took over."""
        low, high = self.value_range
        inside = (out >= low) & (out <= high)
        out.clip(low, high, out=out)
        return out, lambda dy: backward(dy * inside)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": list(self.value_range),
        }


class RandomContrast(_ClippedColour):
    """Scales each image's deviation from its per-channel mean by a random factor in
    ``[1 - lower, 1 + upper]`` (training only), then clips to ``value_range``.

    Args:
        factor: a float ``f`` (``lower = upper = f``) or a pair ``(lower, upper)``, each in
            [0, 1].
        value_range: the images' ``(low, high)`` (default (0, 255)).
        seed: the layer's own random seed (default: the backend generator).
        data_format: "channels_last" (default) or "channels_first".

    >>> import numpy as np
    >>> images = np.array([[[[100.0], [110.0]]]])
    >>> RandomContrast(0.5)(images).tolist()  # inference: unchanged
    [[[[100.0], [110.0]]]]
    >>> float(RandomContrast(0.5)(images, training=True).mean())  # the mean stays
    105.0
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(factor, value_range, seed, data_format, **kwargs)
        lower, upper = factor_range(
            self._owner, "factor", factor, symmetric=False, low=0.0, ordered=False
        )
        if lower > 1.0 or upper > 1.0:
            raise ValueError(
                f"Received an invalid value for `factor` of {self._owner}, expected values "
                f"in [0, 1]. Received: factor={factor!r}"
            )
        self._bounds = (1.0 - lower, 1.0 + upper)

    def transform(self, images, training):
        if not training:
            return images, None
        scale = self.rng().uniform(*self._bounds, images.shape[0]).astype(images.dtype)
        scale = scale[:, None, None, None]
        mean = images.mean(axis=(1, 2), keepdims=True)
        out = (images - mean) * scale + mean

        def backward(dy):  # d/dx of (x - mean(x)) * s + mean(x)
            return dy * scale + dy.mean(axis=(1, 2), keepdims=True) * (1.0 - scale)

        return self._clip(out, backward)


class RandomBrightness(_ClippedColour):
    """Adds a random offset to each image (training only), a fraction of
    ``value_range``'s width, then clips to ``value_range``.

    Args:
        factor: a float ``f`` draws from ``[-f, f]``, a pair ``(lo, hi)`` from it; each in
            [-1, 1] (the fraction of ``high - low`` added).
        value_range: the images' ``(low, high)`` (default (0, 255)).
        seed: the layer's own random seed (default: the backend generator).
        data_format: "channels_last" (default) or "channels_first".

    >>> import numpy as np
    >>> RandomBrightness((0.5, 0.5), value_range=(0, 1))(np.zeros((1, 1, 2, 1)),
    ...                                                   training=True).ravel().tolist()
    [0.5, 0.5]
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(factor, value_range, seed, data_format, **kwargs)
        self._bounds = factor_range(self._owner, "factor", factor, low=-1.0)
        if self._bounds[1] > 1.0:
            raise ValueError(
                f"Received an invalid value for `factor` of {self._owner}, expected values "
                f"in [-1, 1]. Received: factor={factor!r}"
            )

    def transform(self, images, training):
        if not training:
            return images, None
        width = self.value_range[1] - self.value_range[0]
        delta = self.rng().uniform(*self._bounds, images.shape[0]).astype(images.dtype) * width
        return self._clip(images + delta[:, None, None, None], lambda dy: dy)
