"""Layers with Keras names."""

from npkeras.layers.base import Layer
from npkeras.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from npkeras.layers.convolution import (Conv1D, Conv2D, Conv3D, DepthwiseConv1D, DepthwiseConv2D,
                                        SeparableConv1D, SeparableConv2D)
from npkeras.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from npkeras.layers.input_layer import Input, InputLayer
from npkeras.layers.merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from npkeras.layers.normalization import Normalization
from npkeras.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                                    GlobalAveragePooling1D, GlobalAveragePooling2D,
                                    GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                    GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Input", "InputLayer",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
           "Normalization", "layer_classes"]
__all__ += ["Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
            "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
            "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
            "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
            "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
            "GlobalMaxPooling3D"]


def layer_classes() -> dict:
    """Every built-in layer class by its saved name (models included)."""
    from npkeras.models.model import Model
    from npkeras.models.sequential import Sequential

    classes = {cls.__name__: cls for cls in (
        Dense, Activation, Dropout, Flatten, Reshape, InputLayer, Normalization,
        Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate)}
    classes.update({cls.__name__: cls for cls in (
        Conv1D, Conv2D, Conv3D, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
        Conv1DTranspose, Conv2DTranspose, Conv3DTranspose,
        MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D,
        AveragePooling3D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
        GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D)})
    classes.update({"Functional": Model, "Sequential": Sequential})
    return classes
