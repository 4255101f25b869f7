"""Preprocessing layers: rescaling, category encoding, discretization, lookups, text, and
image augmentation, resizing and cropping."""

from npkeras.layers.preprocessing.category_encoding import CategoryEncoding
from npkeras.layers.preprocessing.discretization import Discretization
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
from npkeras.layers.preprocessing.index_lookup import IntegerLookup, StringLookup
from npkeras.layers.preprocessing.rescaling import Rescaling
from npkeras.layers.preprocessing.text_vectorization import TextVectorization

__all__ = [
    "CategoryEncoding",
    "Discretization",
    "IntegerLookup",
    "Rescaling",
    "StringLookup",
    "TextVectorization",
    "CenterCrop",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "Resizing",
]
