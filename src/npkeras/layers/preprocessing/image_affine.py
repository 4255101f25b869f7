"""RandomRotation, RandomZoom and RandomTranslation: per-image affine sampling grids,
gathered in one vectorised step (no loop over images)."""

from __future__ import annotations

import math

from npkeras.backend import xp
from npkeras.layers.preprocessing.image_base import (
    FILL_MODES,
    INTERPOLATIONS,
    ImageLayer,
    Sampled,
    check_choice,
    factor_range,
    output_grid,
)


class RandomAffine(ImageLayer):
    """Base of the affine augmentations: in training, each image is resampled at
    coordinates :meth:`source_coordinates` draws; at inference the layer is the identity.

    The backward pass is the sampler's adjoint (each output pixel's gradient goes back to
    the input pixels it was interpolated from), so the layer may sit after trainable
    layers.
    """

    def __init__(
        self,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.fill_mode = check_choice(self._owner, "fill_mode", fill_mode, FILL_MODES)
        self.interpolation = check_choice(
            self._owner, "interpolation", interpolation, INTERPOLATIONS
        )
        self.fill_value = float(fill_value)

    def transform(self, images, training):
        if not training:
            return images, None
        batch, height, width, _ = images.shape
        rows, cols = output_grid(batch, height, width)
        src_y, src_x = self.source_coordinates(
            rows - (height - 1) / 2.0, cols - (width - 1) / 2.0, batch, height, width
        )
        sampled = Sampled(
            images,
            src_y + (height - 1) / 2.0,
            src_x + (width - 1) / 2.0,
            self.interpolation,
            self.fill_mode,
            self.fill_value,
        )
        return sampled.output, sampled

    def source_coordinates(self, dy, dx, batch, height, width):
        """Input coordinates (relative to the centre) that output pixels at offsets
        ``dy, dx`` from the centre read, each ``(batch, height, width)``."""
        raise NotImplementedError

    def _draw(self, bounds, batch):
        return self.rng().uniform(bounds[0], bounds[1], batch)[:, None, None]

    def get_config(self):
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
        }


class RandomRotation(RandomAffine):
    """Rotates each image by a random angle about its centre (training only).

    Args:
        factor: fraction of a full turn: a float ``f`` draws from ``[-f, f] * 2pi``, a pair
            ``(lo, hi)`` from ``[lo, hi] * 2pi``; positive angles turn counter-clockwise.
        fill_mode: how points outside the image are filled: "reflect" (d c b a | a b c d),
            "wrap" (a b c d | a b c d), "constant" (``fill_value``), "nearest" (a a | a b).
        interpolation: "bilinear" or "nearest".
        seed: the layer's own random seed (default: the backend generator, which
            ``keras.utils.set_random_seed`` seeds).
        fill_value: the constant of ``fill_mode="constant"``.
        value_range: accepted for Keras compatibility (the output is not clipped).
        data_format: "channels_last" (default) or "channels_first".

    Shapes: ``(batch, height, width, channels)`` or one image, in and out.

    >>> import numpy as np
    >>> image = np.arange(9.0).reshape(1, 3, 3, 1)
    >>> turn = RandomRotation((0.25, 0.25), interpolation="nearest")
    >>> turn(image, training=True)[0, :, :, 0].tolist()
    [[2.0, 5.0, 8.0], [1.0, 4.0, 7.0], [0.0, 3.0, 6.0]]
    """

    def __init__(
        self,
        factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        value_range=(0, 255),
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor
        self._bounds = factor_range(self._owner, "factor", factor)
        self.value_range = tuple(value_range)

    def source_coordinates(self, dy, dx, batch, height, width):
        angle = self._draw(self._bounds, batch) * 2.0 * math.pi
        cos, sin = xp.cos(angle), xp.sin(angle)
        # the inverse rotation, in row-down coordinates: counter-clockwise on screen
        return sin * dx + cos * dy, cos * dx - sin * dy

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": list(self.value_range),
        }


class RandomZoom(RandomAffine):
    """Zooms each image in or out about its centre by a random amount (training only).

    Args:
        height_factor: a float ``f`` draws from ``[-f, f]``, a pair ``(lo, hi)`` from it;
            the image is scaled by ``1 / (1 + value)``: positive values zoom out, negative
            values zoom in (bounds at least -1).
        width_factor: the same for the width; None keeps the aspect ratio (the height's
            draw is used).
        fill_mode, interpolation, seed, fill_value, data_format: as RandomRotation.

    >>> import numpy as np
    >>> RandomZoom(0.5)(np.ones((2, 4, 4, 3)), training=True).shape
    (2, 4, 4, 3)
    """

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = factor_range(self._owner, "height_factor", height_factor, low=-1.0)
        self._width = (
            None
            if width_factor is None
            else factor_range(self._owner, "width_factor", width_factor, low=-1.0)
        )

    def source_coordinates(self, dy, dx, batch, height, width):
        zoom_y = 1.0 + self._draw(self._height, batch)
        zoom_x = zoom_y if self._width is None else 1.0 + self._draw(self._width, batch)
        return dy * zoom_y, dx * zoom_x

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": self.height_factor,
            "width_factor": self.width_factor,
        }


class RandomTranslation(RandomAffine):
    """Shifts each image by a random fraction of its size (training only).

    Args:
        height_factor: a float ``f`` draws the vertical shift from ``[-f, f] * height``, a
            pair ``(lo, hi)`` from ``[lo, hi] * height``; positive values shift down.
        width_factor: the same for the horizontal shift; positive values shift right.
        fill_mode, interpolation, seed, fill_value, data_format: as RandomRotation.

    >>> import numpy as np
    >>> shift = RandomTranslation((0.5, 0.5), 0.0, fill_mode="constant")
    >>> shift(np.ones((1, 2, 1, 1)), training=True)[0, :, 0, 0].tolist()
    [0.0, 1.0]
    """

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = factor_range(self._owner, "height_factor", height_factor)
        self._width = factor_range(self._owner, "width_factor", width_factor)

    def source_coordinates(self, dy, dx, batch, height, width):
        shift_y = self._draw(self._height, batch) * height
        shift_x = self._draw(self._width, batch) * width
        return dy - shift_y, dx - shift_x

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": self.height_factor,
            "width_factor": self.width_factor,
        }
