"""Image helpers of ``keras.utils`` and ``keras.preprocessing.image``: arrays to and from
Pillow images, image files, and ``smart_resize`` (resize without distortion).

Pillow is optional: the functions that make or read Pillow images import it when
called (``pip install pillow``, or ``pip install npkeras[images]``).
"""

from __future__ import annotations

import os
import warnings

from npkeras import backend
from npkeras.backend import host_xp, xp
from npkeras.layers.preprocessing.image_base import INTERPOLATIONS
from npkeras.layers.preprocessing.image_crop_resize import resample

DATA_FORMATS = ("channels_last", "channels_first")
COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
#: Pillow's resampling filters by Keras's names
PIL_INTERPOLATIONS = {
    "nearest": "NEAREST",
    "bilinear": "BILINEAR",
    "bicubic": "BICUBIC",
    "hamming": "HAMMING",
    "box": "BOX",
    "lanczos": "LANCZOS",
}


def _pil_image(caller):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            f"{caller} needs Pillow: `pip install pillow` (or `pip install npkeras[images]`)."
        ) from None
    return Image


def _data_format(data_format):
    data_format = data_format or "channels_last"
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"The `data_format` argument must be one of {DATA_FORMATS}. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def img_to_array(img, data_format=None, dtype=None):
    """A Pillow image (or any 2D/3D array-like) as a NumPy array.

    Args:
        img: the image.
        data_format: "channels_last" (default): ``(height, width, channels)``, or
            "channels_first": ``(channels, height, width)``; a grayscale image gets a
            channel axis of size 1.
        dtype: default ``keras.backend.floatx()``.

    >>> img_to_array([[0, 255], [128, 64]]).shape
    (2, 2, 1)
    """
    data_format = _data_format(data_format)
    x = host_xp.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x.transpose(2, 0, 1) if data_format == "channels_first" else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3D array as a Pillow image (1 channel: "L", or "I" above 255; 3: "RGB"; 4: "RGBA").

    Args:
        x: ``(height, width, channels)`` (or channels first, see ``data_format``).
        data_format: "channels_last" (default) or "channels_first".
        scale: stretch the values to 0..255 (min to 0, max to 255) first.
        dtype: the type ``x`` is read as before scaling (default floatx).

    >>> import numpy as np
    >>> array_to_img(np.zeros((2, 3, 3))).size  # (width, height)
    (3, 2)
    """
    image_module = _pil_image("array_to_img")
    data_format = _data_format(data_format)
    x = host_xp.array(backend.to_numpy(xp.asarray(x)), dtype=dtype or backend.floatx())
    if x.ndim != 3:
        raise ValueError(
            f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}"
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - x.min()
        peak = x.max()
        if peak != 0:
            x = x / peak
        x = x * 255
    channels = x.shape[2]
    if channels in (3, 4):
        return image_module.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if x.max() > 255:  # 32-bit integer grayscale keeps values past 8 bits
            return image_module.fromarray(x[:, :, 0].astype("int32"), "I")
        return image_module.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}; expected 1, 3 or 4.")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write the 3D array ``x`` as an image file (format from the suffix unless
    ``file_format`` is given; extra arguments go to Pillow's ``Image.save``)."""
    if file_format is None and isinstance(path, (str, os.PathLike)):
        file_format = os.path.splitext(os.fspath(path))[1][1:].lower() or None
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.")
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def _centred_crop(height, width, target_height, target_width):
    """(top, crop_height, left, crop_width): the largest centred window with the target's
    aspect ratio (Keras's integer rounding: sizes truncated, at least 1 pixel)."""
    crop_height = max(min(height, int(width * target_height / target_width)), 1)
    crop_width = max(min(width, int(height * target_width / target_height)), 1)
    return (height - crop_height) // 2, crop_height, (width - crop_width) // 2, crop_width


def load_img(
    path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False
):
    """Read an image file as a Pillow image.

    Args:
        path: a file path or a binary file object (``io.BytesIO``).
        color_mode: "rgb" (default), "rgba" or "grayscale".
        target_size: ``(height, width)`` to resize to, or None for the file's size.
        interpolation: Pillow's filter for the resize: "nearest" (default), "bilinear",
            "bicubic", "hamming", "box" or "lanczos".
        keep_aspect_ratio: resize the largest centred window with the target's aspect
            ratio (no distortion) instead of the whole image.
    """
    image_module = _pil_image("load_img")
    if color_mode not in COLOR_MODES:
        raise ValueError(
            f'color_mode must be "grayscale", "rgb", or "rgba"; received {color_mode!r}.'
        )
    if isinstance(path, (str, bytes, os.PathLike)):
        with open(path, "rb") as f:
            img = image_module.open(f)
            img.load()  # read now: the file closes here
    elif hasattr(path, "read"):
        img = image_module.open(path)
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    keeps = {"grayscale": ("L", "I;16", "I")}.get(color_mode, (COLOR_MODES[color_mode],))
    if img.mode not in keeps:
        img = img.convert(COLOR_MODES[color_mode])
    if target_size is None or img.size == (target_size[1], target_size[0]):
        return img
    if interpolation not in PIL_INTERPOLATIONS:
        raise ValueError(
            f"Invalid interpolation method {interpolation} specified. Supported methods "
            f"are {', '.join(PIL_INTERPOLATIONS)}"
        )
    filters = getattr(image_module, "Resampling", image_module)
    resample_filter = getattr(filters, PIL_INTERPOLATIONS[interpolation])
    target_height, target_width = target_size
    box = None
    if keep_aspect_ratio:
        width, height = img.size
        top, crop_height, left, crop_width = _centred_crop(
            height, width, target_height, target_width
        )
        box = (left, top, left + crop_width, top + crop_height)
    return img.resize((target_width, target_height), resample_filter, box=box)


def smart_resize(
    x, size, interpolation="bilinear", data_format="channels_last", backend_module=None
):
    """Resize image(s) to ``size`` without distorting them: the largest centred window
    with the target's aspect ratio is cut out and resized (half-pixel centres, no
    antialiasing, as Keras's ``ops.image.resize``).

    Args:
        x: one image ``(height, width, channels)`` or a batch ``(batch, height, width,
            channels)`` (channels first with ``data_format="channels_first"``).
        size: ``(height, width)`` of the result.
        interpolation: "bilinear" (default) or "nearest".
        data_format: "channels_last" (default) or "channels_first".
        backend_module: accepted for Keras's signature; npkeras always computes with
            its own backend.

    Returns:
        The resized array (float; integer images come back as floatx).

    >>> import numpy as np
    >>> smart_resize(np.arange(8.0).reshape(2, 4, 1), (1, 1))[..., 0].tolist()
    [[3.5]]
    """
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"smart_resize supports interpolation {' or '.join(map(repr, INTERPOLATIONS))}; "
            f"received interpolation={interpolation!r}."
        )
    data_format = _data_format(data_format)
    images = xp.asarray(x)
    if images.ndim not in (3, 4):
        raise ValueError(
            "Expected an image array with shape `(height, width, channels)`, or "
            "`(batch_size, height, width, channels)`, but got input with incorrect rank, "
            f"of shape {images.shape}."
        )
    if images.dtype.kind != "f":
        images = images.astype(backend.floatx())
    single = images.ndim == 3
    if single:
        images = images[None]
    if data_format == "channels_first":
        images = images.transpose(0, 2, 3, 1)
    height, width = int(size[0]), int(size[1])
    window = _centred_crop(*images.shape[1:3], height, width)
    out = resample(images, height, width, interpolation, window).output
    if data_format == "channels_first":
        out = out.transpose(0, 3, 1, 2)
    return out[0] if single else out
