"""Resizing, CenterCrop, RandomCrop and RandomFlip: linear maps of the pixels, so their
backward passes are exact (a resize is two small matrices, one per spatial axis)."""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.layers.core import _positive_int
from npkeras.layers.preprocessing.image_base import (
    INTERPOLATIONS,
    ImageLayer,
    check_choice,
)


def resize_matrix(size_in, size_out, interpolation, start=0, window=None):
    """``(size_out, size_in)`` matrix resizing the window ``[start, start + window)`` of
    an axis to ``size_out`` samples (half-pixel centres, as TF/JAX ``resize`` without
    antialiasing), and each row's weight inside ``[0, size_in)`` (below 1 where the window
    reaches past the image: the rest is the fill value)."""
    window = size_in if window is None else window
    centres = (xp.arange(size_out) + 0.5) * (window / size_out)
    matrix = xp.zeros((size_out, size_in))
    rows = xp.arange(size_out)

    def add(index, weight):
        inside = (index >= 0) & (index < size_in)
        xp.add.at(matrix, (rows[inside], index[inside]), weight[inside])

    if interpolation == "nearest":
        add(start + xp.minimum(xp.floor(centres), window - 1).astype(xp.int64), xp.ones(size_out))
    else:
        source = xp.clip(centres - 0.5, 0.0, window - 1)
        low = xp.floor(source)
        frac = source - low
        low = low.astype(xp.int64)
        add(start + low, 1.0 - frac)
        add(start + xp.minimum(low + 1, window - 1), frac)
    return matrix, matrix.sum(axis=1)


def aspect_window(size_h, size_w, target_h, target_w, pad):
    """``(start_h, window_h, start_w, window_w)``: the centred window of the target's
    aspect ratio, the largest inside the image (crop) or the smallest around it (pad)."""
    ratio = target_w / target_h
    window_h, window_w = size_h, size_w
    if (size_w / size_h > ratio) != pad:
        window_w = round(size_h * ratio)
    else:
        window_h = round(size_w / ratio)
    return (size_h - window_h) // 2, window_h, (size_w - window_w) // 2, window_w


class _Resampled:
    """``y = Ry x Rx^T`` per image and channel (plus the fill where the windows reach
    outside), and its transpose for the backward pass."""

    def __init__(self, images, rows, cols, fill_value):
        (self.ry, inside_y), (self.rx, inside_x) = rows, cols
        dtype = images.dtype
        self.ry, self.rx = self.ry.astype(dtype), self.rx.astype(dtype)
        out = xp.einsum("oh,bhwc->bowc", self.ry, images, optimize=True)
        self.output = xp.einsum("pw,bowc->bopc", self.rx, out, optimize=True)
        if fill_value and (inside_y.min() < 1 or inside_x.min() < 1):
            self.output += (fill_value * (1.0 - inside_y[:, None] * inside_x[None, :]))[
                None, :, :, None
            ].astype(dtype)

    def __call__(self, dy):
        dx = xp.einsum("pw,bopc->bowc", self.rx, dy, optimize=True)
        return xp.einsum("oh,bowc->bhwc", self.ry, dx, optimize=True)


def resample(images, height, width, interpolation, window=None, fill_value=0.0):
    """Images resized to ``(height, width)`` from ``window`` = (start_h, window_h,
    start_w, window_w) (default the whole image); returns the :class:`_Resampled`."""
    size_h, size_w = images.shape[1:3]
    start_h, window_h, start_w, window_w = window or (0, size_h, 0, size_w)
    return _Resampled(
        images,
        resize_matrix(size_h, height, interpolation, start_h, window_h),
        resize_matrix(size_w, width, interpolation, start_w, window_w),
        fill_value,
    )


class _SizedLayer(ImageLayer):
    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = _positive_int(self._owner, "height", height)
        self.width = _positive_int(self._owner, "width", width)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = len(shape) - (2 if self.data_format == "channels_first" else 3)
        shape[first : first + 2] = [self.height, self.width]
        return tuple(shape)

    def _smart_resize(self, images):
        """The largest centred window of the target's aspect ratio, resized to it."""
        window = aspect_window(*images.shape[1:3], self.height, self.width, pad=False)
        resampled = resample(images, self.height, self.width, "bilinear", window)
        return resampled.output, resampled

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class Resizing(_SizedLayer):
    """Resizes images to ``(height, width)``, in training and inference alike.

    Args:
        height, width: output size.
        interpolation: "bilinear" (half-pixel centres, no antialiasing) or "nearest".
        crop_to_aspect_ratio: first crop the largest centred window of the target's
            aspect ratio (no distortion).
        pad_to_aspect_ratio: first pad the image to the target's aspect ratio with
            ``fill_value`` (no distortion, nothing cut).
        fill_mode: "constant" (the only mode, as in Keras).
        fill_value: the padding value.
        data_format: "channels_last" (default) or "channels_first".

    >>> import numpy as np
    >>> Resizing(1, 2)(np.array([[[[1.0], [3.0]], [[5.0], [7.0]]]]))[0, :, :, 0].tolist()
    [[3.0, 5.0]]
    """

    _takes_seed = False

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=False,
        fill_mode="constant",
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(height, width, data_format=data_format, **kwargs)
        self.interpolation = check_choice(
            self._owner, "interpolation", interpolation, INTERPOLATIONS
        )
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                f"{self._owner}: only one of `crop_to_aspect_ratio` and "
                "`pad_to_aspect_ratio` can be True."
            )
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = check_choice(self._owner, "fill_mode", fill_mode, ("constant",))
        self.fill_value = float(fill_value)

    def transform(self, images, training):
        window = None
        if self.crop_to_aspect_ratio or self.pad_to_aspect_ratio:
            window = aspect_window(
                *images.shape[1:3], self.height, self.width, pad=self.pad_to_aspect_ratio
            )
        resampled = resample(
            images, self.height, self.width, self.interpolation, window, self.fill_value
        )
        return resampled.output, resampled

    def get_config(self):
        return {
            **super().get_config(),
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
        }


class CenterCrop(_SizedLayer):
    """Crops the central ``(height, width)`` window of each image (training and
    inference); an image smaller than that is first cropped to the target's aspect ratio
    and resized (as Keras).

    Args:
        height, width: output size.
        data_format: "channels_last" (default) or "channels_first".

    >>> import numpy as np
    >>> CenterCrop(1, 2)(np.arange(9.0).reshape(1, 3, 3, 1))[0, :, :, 0].tolist()
    [[3.0, 4.0]]
    """

    _takes_seed = False

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(height, width, data_format=data_format, **kwargs)

    def transform(self, images, training):
        size_h, size_w = images.shape[1:3]
        if size_h < self.height or size_w < self.width:
            return self._smart_resize(images)
        top, left = (size_h - self.height) // 2, (size_w - self.width) // 2
        out = images[:, top : top + self.height, left : left + self.width]

        def backward(dy):
            dx = xp.zeros(images.shape, dy.dtype)
            dx[:, top : top + self.height, left : left + self.width] = dy
            return dx

        return out, backward


class RandomCrop(_SizedLayer):
    """Crops a random ``(height, width)`` window of each image in training (each image its
    own window); at inference, and for images smaller than the target, the largest
    centred window of the target's aspect ratio, resized (as Keras).

    Args:
        height, width: output size.
        seed: the layer's own random seed (default: the backend generator).
        data_format: "channels_last" (default) or "channels_first".

    >>> import numpy as np
    >>> RandomCrop(2, 2)(np.ones((3, 5, 5, 1)), training=True).shape
    (3, 2, 2, 1)
    """

    def transform(self, images, training):
        batch, size_h, size_w, _ = images.shape
        if not training or size_h < self.height or size_w < self.width:
            if (size_h, size_w) == (self.height, self.width):
                return images, None
            return self._smart_resize(images)
        rng = self.rng()
        top = rng.integers(0, size_h - self.height + 1, batch)
        left = rng.integers(0, size_w - self.width + 1, batch)
        rows = (top[:, None] + xp.arange(self.height))[:, :, None]
        cols = (left[:, None] + xp.arange(self.width))[:, None, :]
        index = (xp.arange(batch)[:, None, None], rows, cols)
        out = images[index]

        def backward(dy):
            dx = xp.zeros(images.shape, dy.dtype)
            dx[index] = dy  # the windows of one image never overlap themselves
            return dx

        return out, backward


class RandomFlip(ImageLayer):
    """Flips each image left-right and/or top-bottom with probability 1/2 each, in
    training; the identity at inference.

    Args:
        mode: "horizontal", "vertical" or "horizontal_and_vertical".
        seed: the layer's own random seed (default: the backend generator).
        data_format: "channels_last" (default) or "channels_first".

    >>> import numpy as np
    >>> RandomFlip("horizontal")(np.ones((2, 3, 3, 1))).shape
    (2, 3, 3, 1)
    """

    _MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = check_choice(self._owner, "mode", mode, self._MODES)

    def transform(self, images, training):
        if not training:
            return images, None
        batch = images.shape[0]
        flips = []
        if self.mode != "vertical":
            flips.append((2, self.rng().random(batch) < 0.5))
        if self.mode != "horizontal":
            flips.append((1, self.rng().random(batch) < 0.5))

        def apply(x):
            for axis, chosen in flips:
                x = xp.where(chosen[:, None, None, None], xp.flip(x, axis=axis), x)
            return x

        return apply(images), apply  # a flip is its own inverse and its own transpose

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
