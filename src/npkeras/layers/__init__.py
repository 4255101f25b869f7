"""Layers with Keras names."""

from npkeras.layers.base import Layer
from npkeras.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from npkeras.layers.input_layer import Input, InputLayer
from npkeras.layers.merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from npkeras.layers.merge import Dot, add, average, concatenate, dot, maximum, minimum
from npkeras.layers.merge import multiply, subtract
from npkeras.layers.op_layer import OpLayer
from npkeras.layers.normalization import Normalization

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Input", "InputLayer",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
           "Normalization", "layer_classes"]
__all__ += ["Dot", "OpLayer", "add", "subtract", "multiply", "average", "maximum", "minimum",
            "concatenate", "dot"]


def layer_classes() -> dict:
    """Every built-in layer class by its saved name (models included)."""
    from npkeras.models.model import Model
    from npkeras.models.sequential import Sequential

    classes = {cls.__name__: cls for cls in (
        Dense, Activation, Dropout, Flatten, Reshape, InputLayer, Normalization,
        Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate)}
    classes.update({cls.__name__: cls for cls in (Dot, OpLayer)})
    classes.update({"Functional": Model, "Sequential": Sequential})
    return classes
