"""``keras.ops``: NumPy-like and neural-network operations that record gradients.

The flat namespace holds every op; ``keras.ops.numpy``, ``keras.ops.nn`` and
``keras.ops.linalg`` hold the same functions by family, as in Keras.

>>> import npkeras as keras
>>> keras.ops.relu([-1.0, 2.0]).tolist()
[0.0, 2.0]
"""

from npkeras.ops import linalg, nn, numpy
from npkeras.ops.control import *
from npkeras.ops.control import map  # noqa: F401
from npkeras.ops.nn import *
from npkeras.ops.nn import tanh  # noqa: F401 - one tanh in the flat namespace
from npkeras.ops.numpy import *
from npkeras.ops.numpy import abs, all, any, max, min, round, slice, sum  # noqa: F401
from npkeras.ops.tape import GradientTape, Tensor, no_grad
from npkeras.ops.variable import Variable

__all__ = ["GradientTape", "Tensor", "Variable", "linalg", "nn", "no_grad", "numpy"]
