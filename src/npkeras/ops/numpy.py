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

from npkeras.ops.core import install_operators
from npkeras.ops.creation import (arange, eye, full, full_like, identity, linspace, ndim, ones,
                                  ones_like, shape, size, zeros, zeros_like)
from npkeras.ops.indexing import get_item, slice, slice_update, take, take_along_axis
from npkeras.ops.linalg import norm
from npkeras.ops.math import (abs, absolute, add, arccos, arcsin, arctan, arctan2, cast, ceil,
                              clip, convert_to_numpy, convert_to_tensor, cos, cosh, divide, equal,
                              exp, expm1, floor, floor_divide, greater, greater_equal, isfinite,
                              isinf, isnan, less, less_equal, log, log1p, log2, log10,
                              logical_and, logical_not, logical_or, maximum, minimum, multiply,
                              nan_to_num, negative, not_equal, power, round, sign, sin, sinh,
                              sqrt, square, stop_gradient, subtract, tan, tanh, true_divide,
                              where)
from npkeras.ops.products import dot, einsum, matmul, outer, tensordot
from npkeras.ops.reduce import (all, amax, amin, any, argmax, argmin, argsort, cumprod, cumsum,
                                logsumexp, max, mean, min, prod, sort, std, sum, var)
from npkeras.ops.shape import (broadcast_to, concatenate, diag, expand_dims, flatten, flip,
                               moveaxis, pad, ravel, repeat, reshape, roll, split, squeeze,
                               stack, swapaxes, tile, transpose, tril, triu)
from npkeras.ops.tape import Tensor
from npkeras.ops.variable import Variable

__all__ = [
    "abs", "absolute", "add", "all", "amax", "amin", "any", "arange", "arccos", "arcsin",
    "arctan", "arctan2", "argmax", "argmin", "argsort", "broadcast_to", "cast", "ceil", "clip",
    "concatenate", "convert_to_numpy", "convert_to_tensor", "cos", "cosh", "cumprod", "cumsum",
    "diag", "divide", "dot", "einsum", "equal", "exp", "expand_dims", "expm1", "eye", "flatten",
    "flip", "floor", "floor_divide", "full", "full_like", "get_item", "greater",
    "greater_equal", "identity", "isfinite", "isinf", "isnan", "less", "less_equal",
    "linspace", "log", "log10", "log1p", "log2", "logical_and", "logical_not", "logical_or",
    "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "moveaxis", "multiply",
    "nan_to_num", "ndim", "negative", "norm", "not_equal", "ones", "ones_like", "outer", "pad",
    "power", "prod", "ravel", "repeat", "reshape", "roll", "round", "shape", "sign", "sin",
    "sinh", "size", "slice", "slice_update", "sort", "split", "sqrt", "square", "squeeze",
    "stack", "std", "stop_gradient", "subtract", "sum", "swapaxes", "take", "take_along_axis",
    "tan", "tanh", "tensordot", "tile", "transpose", "tril", "triu", "true_divide", "var",
    "where", "zeros", "zeros_like",
]


def _swap(fn):
    return lambda self, other: fn(other, self)


#: Python's operators on tensors, variables and (see npkeras.layers.op_layer) symbolic
#: functional tensors; ``x += y`` falls back to ``__add__`` and makes a new tensor
OPERATORS = {
    "__add__": add, "__radd__": _swap(add), "__sub__": subtract, "__rsub__": _swap(subtract),
    "__mul__": multiply, "__rmul__": _swap(multiply), "__truediv__": divide,
    "__rtruediv__": _swap(divide), "__pow__": power, "__rpow__": _swap(power),
    "__matmul__": matmul, "__rmatmul__": _swap(matmul), "__neg__": negative,
    "__abs__": abs, "__pos__": lambda self: self, "__getitem__": get_item,
    "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
    "__floordiv__": floor_divide, "__rfloordiv__": _swap(floor_divide),
    "__and__": logical_and, "__or__": logical_or, "__invert__": logical_not,
    "T": property(lambda self: transpose(self)),
    "reshape": lambda self, *s: reshape(self, s[0] if len(s) == 1 else s),
    "sum": lambda self, axis=None, keepdims=False: sum(self, axis, keepdims),
    "mean": lambda self, axis=None, keepdims=False: mean(self, axis, keepdims),
    "astype": lambda self, dtype: cast(self, dtype),
}

for _cls in (Tensor, Variable):
    install_operators(_cls, OPERATORS)
