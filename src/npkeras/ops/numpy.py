"""``keras.ops.numpy``: the NumPy-like ops, gathered from their family modules
(:mod:`~npkeras.ops.math`, :mod:`~npkeras.ops.products`, :mod:`~npkeras.ops.reduce`,
:mod:`~npkeras.ops.shape`, :mod:`~npkeras.ops.indexing`, :mod:`~npkeras.ops.creation`),
and the Python operators of tracked tensors and variables.

Every op takes arrays, numbers, :class:`~npkeras.ops.variable.Variable` s or tracked
:class:`~npkeras.ops.tape.Tensor` s. With nothing tracked (inference, or no tape
active) an op is the NumPy expression and returns a plain array; otherwise it also
records a node whose ``vjp(dy)`` gives dL/d(each operand) (see :mod:`npkeras.ops.tape`).

>>> import numpy as np
>>> from npkeras import ops
>>> ops.matmul(np.ones((2, 3)), np.ones((3, 4))).shape
(2, 4)
"""

from __future__ import annotations

from npkeras.ops import creation as _creation
from npkeras.ops import indexing as _indexing
from npkeras.ops import linalg as _linalg
from npkeras.ops import math as _math
from npkeras.ops import products as _products
from npkeras.ops import reduce as _reduce
from npkeras.ops import shape as _shape
from npkeras.ops.core import install_operators
from npkeras.ops.creation import *
from npkeras.ops.indexing import *
from npkeras.ops.linalg import *
from npkeras.ops.math import *
from npkeras.ops.products import *
from npkeras.ops.reduce import *
from npkeras.ops.shape import *
from npkeras.ops.tape import Tensor
from npkeras.ops.variable import Variable

# the families' names (the modules' own __all__), one flat list as keras.ops.numpy
__all__ = (
    _creation.__all__
    + _indexing.__all__
    + _linalg.__all__
    + _math.__all__
    + _products.__all__
    + _reduce.__all__
    + _shape.__all__
)


def _swap(fn):
    return lambda self, other: fn(other, self)


#: Python's operators on tensors, variables and (see npkeras.layers.op_layer) symbolic
#: functional tensors; ``x += y`` falls back to ``__add__`` and makes a new tensor
OPERATORS = {
    "__add__": add,
    "__radd__": _swap(add),
    "__sub__": subtract,
    "__rsub__": _swap(subtract),
    "__mul__": multiply,
    "__rmul__": _swap(multiply),
    "__truediv__": divide,
    "__rtruediv__": _swap(divide),
    "__pow__": power,
    "__rpow__": _swap(power),
    "__matmul__": matmul,
    "__rmatmul__": _swap(matmul),
    "__neg__": negative,
    "__abs__": abs,
    "__pos__": lambda self: self,
    "__getitem__": get_item,
    "__lt__": less,
    "__le__": less_equal,
    "__gt__": greater,
    "__ge__": greater_equal,
    "__floordiv__": floor_divide,
    "__rfloordiv__": _swap(floor_divide),
    "__mod__": mod,
    "__rmod__": _swap(mod),
    "__and__": logical_and,
    "__rand__": _swap(logical_and),
    "__or__": logical_or,
    "__ror__": _swap(logical_or),
    "__xor__": logical_xor,
    "__rxor__": _swap(logical_xor),
    "__invert__": logical_not,
    "__round__": lambda self, ndigits=None: round(self, ndigits or 0),
    "T": property(lambda self: transpose(self)),
    "reshape": lambda self, *s: reshape(self, s[0] if len(s) == 1 else s),
    "sum": lambda self, axis=None, keepdims=False: sum(self, axis, keepdims),
    "mean": lambda self, axis=None, keepdims=False: mean(self, axis, keepdims),
    "astype": lambda self, dtype: cast(self, dtype),
}

for _cls in (Tensor, Variable):
    install_operators(_cls, OPERATORS)
