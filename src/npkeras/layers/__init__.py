"""Layers with Keras names."""

from npkeras.layers.attention import (
    AdditiveAttention,
    Attention,
    EinsumDense,
    GroupedQueryAttention,
    MultiHeadAttention,
)
from npkeras.layers.base import Layer
from npkeras.layers.batch_normalization import BatchNormalization
from npkeras.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from npkeras.layers.embedding import Embedding
from npkeras.layers.group_normalization import GroupNormalization
from npkeras.layers.input_layer import Input, InputLayer
from npkeras.layers.layer_normalization import LayerNormalization
from npkeras.layers.masking import Masking
from npkeras.layers.merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from npkeras.layers.normalization import Normalization
from npkeras.layers.preprocessing import (
    CenterCrop,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Resizing,
)
from npkeras.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from npkeras.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Permute,
    RepeatVector,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from npkeras.layers.unit_normalization import UnitNormalization
from npkeras.layers.upsampling import UpSampling1D, UpSampling2D, UpSampling3D

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Input", "InputLayer",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
           "Normalization", "layer_classes"]
__all__ += ["BatchNormalization", "GroupNormalization", "LayerNormalization", "UnitNormalization"]
__all__ += ["Embedding", "Masking"]
__all__ += ["Cropping1D", "Cropping2D", "Cropping3D", "Permute", "RepeatVector", "UpSampling1D",
            "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]
__all__ += ["ActivityRegularization", "AlphaDropout", "GaussianDropout", "GaussianNoise",
            "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]
__all__ += ["CenterCrop", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
            "RandomRotation", "RandomTranslation", "RandomZoom", "Resizing"]
__all__ += ["AdditiveAttention", "Attention", "EinsumDense", "GroupedQueryAttention",
            "MultiHeadAttention"]


def layer_classes() -> dict:
    """Every built-in layer class by its saved name (models included)."""
    from npkeras.models.model import Model
    from npkeras.models.sequential import Sequential

    classes = {cls.__name__: cls for cls in (
        Dense, Activation, Dropout, Flatten, Reshape, InputLayer, Normalization,
        Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate)}
    classes.update({cls.__name__: cls for cls in (
        BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization)})
    classes.update({cls.__name__: cls for cls in (Embedding, Masking)})
    classes.update({cls.__name__: cls for cls in (
        Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector, UpSampling1D, UpSampling2D,
        UpSampling3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)})
    classes.update({cls.__name__: cls for cls in (
        ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D,
        SpatialDropout2D, SpatialDropout3D)})
    classes.update({cls.__name__: cls for cls in (
        AdditiveAttention, Attention, EinsumDense, GroupedQueryAttention, MultiHeadAttention)})
    classes.update({cls.__name__: cls for cls in (
        CenterCrop, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
        RandomTranslation, RandomZoom, Resizing)})
    classes.update({"Functional": Model, "Sequential": Sequential})
    return classes
