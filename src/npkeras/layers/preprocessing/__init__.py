"""Preprocessing layers: image augmentation, resizing and cropping."""

from npkeras.layers.preprocessing.image_affine import (
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from npkeras.layers.preprocessing.image_color import RandomBrightness, RandomContrast
from npkeras.layers.preprocessing.image_crop_resize import (
    CenterCrop,
    RandomCrop,
    RandomFlip,
    Resizing,
)

__all__ = ["CenterCrop", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
           "RandomRotation", "RandomTranslation", "RandomZoom", "Resizing"]
