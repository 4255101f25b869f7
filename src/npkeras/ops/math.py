"""Elementwise ops: arithmetic, functions of one argument, comparisons and selection.

Binary ops broadcast like NumPy; the VJP of each operand sums the gradient back over
the axes broadcasting stretched (``unbroadcast``). Functions with real results
(``sqrt``, ``exp``, ``sin``...) turn integer inputs into ``floatx`` first, as Keras does.
"""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.ops.core import _a, _float, _shape, _v, keras_op
from npkeras.ops.tape import Tensor, record, unbroadcast, value_of
from npkeras.ops.variable import Variable

__all__ = [
    "abs",
    "absolute",
    "add",
    "arccos",
    "arcsin",
    "arctan",
    "arctan2",
    "cast",
    "ceil",
    "clip",
    "convert_to_numpy",
    "convert_to_tensor",
    "cos",
    "cosh",
    "divide",
    "equal",
    "erf",
    "exp",
    "expm1",
    "floor",
    "floor_divide",
    "greater",
    "greater_equal",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "nan_to_num",
    "negative",
    "not_equal",
    "power",
    "reciprocal",
    "round",
    "rsqrt",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "stop_gradient",
    "subtract",
    "tan",
    "tanh",
    "true_divide",
    "where",
]


def _both_ints(a, b) -> bool:
    return xp.result_type(a, b).kind in "biu"


# -- arithmetic --------------------------------------------------------------------------
@keras_op
def add(x1, x2):
    """``x1 + x2``, broadcasting."""
    a, b = _v(x1), _v(x2)
    y = a + b
    return record(y, (x1, x2), lambda dy: (unbroadcast(dy, _shape(a)), unbroadcast(dy, _shape(b))))


@keras_op
def subtract(x1, x2):
    """``x1 - x2``, broadcasting."""
    a, b = _v(x1), _v(x2)
    y = a - b
    return record(y, (x1, x2), lambda dy: (unbroadcast(dy, _shape(a)), unbroadcast(-dy, _shape(b))))


@keras_op
def multiply(x1, x2):
    """``x1 * x2``, broadcasting."""
    a, b = _v(x1), _v(x2)
    y = a * b
    return record(
        y, (x1, x2), lambda dy: (unbroadcast(dy * b, _shape(a)), unbroadcast(dy * a, _shape(b)))
    )


@keras_op
def divide(x1, x2):
    """``x1 / x2``; two integer operands give ``floatx``."""
    a, b = _v(x1), _v(x2)
    if _both_ints(a, b):
        a, b = _float(a), _float(b)
    y = a / b
    # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -y/b
    return record(
        y,
        (x1, x2),
        lambda dy: (unbroadcast(dy / b, _shape(a)), unbroadcast(-dy * y / b, _shape(b))),
    )


@keras_op
def true_divide(x1, x2):
    """Alias of :func:`divide`."""
    return divide(x1, x2)


@keras_op
def floor_divide(x1, x2):
    """``x1 // x2`` (piecewise constant: no gradient)."""
    return xp.floor_divide(_v(x1), _v(x2))


@keras_op
def mod(x1, x2):
    """``x1 % x2`` with the sign of ``x2`` (``x1 - x2 * floor(x1 / x2)``)."""
    a, b = _v(x1), _v(x2)
    y = xp.mod(a, b)
    return record(
        y,
        (x1, x2),
        lambda dy: (
            unbroadcast(dy, _shape(a)),
            unbroadcast(-dy * xp.floor_divide(a, b), _shape(b)),
        ),
    )


@keras_op
def power(x1, x2):
    """``x1 ** x2``; the exponent's gradient uses ``log(x1)`` where ``x1 > 0``."""
    a, b = _v(x1), _v(x2)
    y = a**b

    def vjp(dy):
        with xp.errstate(divide="ignore", invalid="ignore"):
            da = unbroadcast(dy * b * a ** (b - 1), _shape(a))
        db = None
        if isinstance(x2, (Tensor, Variable)):
            log_a = xp.where(a > 0, xp.log(xp.where(a > 0, a, 1)), 0)
            db = unbroadcast(dy * y * log_a, _shape(b))
        return da, db

    return record(y, (x1, x2), vjp)


@keras_op
def negative(x):
    """``-x``."""
    return record(-_v(x), (x,), lambda dy: (-dy,))


@keras_op
def arctan2(x1, x2):
    """The angle of the point ``(x2, x1)``, elementwise."""
    a, b = _float(x1), _float(x2)
    y = xp.arctan2(a, b)
    denominator = a * a + b * b
    return record(
        y,
        (x1, x2),
        lambda dy: (
            unbroadcast(dy * b / denominator, _shape(a)),
            unbroadcast(-dy * a / denominator, _shape(b)),
        ),
    )


# -- functions of one argument ------------------------------------------------------------
def _unary(fn, derivative, real=True, name=None):
    """An elementwise op ``fn`` whose VJP is ``dy * derivative(x, y)``. ``real``: the
    result is real-valued, so integer inputs are promoted to ``floatx`` first."""
    read = _float if real else _a
    name = name or (fn if isinstance(fn, str) else fn.__name__)

    def op(x):
        a = read(x)
        # a name is looked up at each call, so backend.set_backend reaches it
        y = getattr(xp, fn)(a) if isinstance(fn, str) else fn(a)
        return record(y, (x,), lambda dy: (dy * derivative(a, y),))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}``."
    return keras_op(op)


def _sign(a, y):
    return xp.sign(a)


absolute = _unary("absolute", _sign, real=False)
abs = _unary("abs", _sign, real=False)
square = _unary("square", lambda a, y: 2 * a, real=False)
sqrt = _unary("sqrt", lambda a, y: 0.5 / y)
exp = _unary("exp", lambda a, y: y)
expm1 = _unary("expm1", lambda a, y: y + 1)
log = _unary("log", lambda a, y: 1 / a)
log1p = _unary("log1p", lambda a, y: 1 / (1 + a))
log2 = _unary("log2", lambda a, y: 1 / (a * math.log(2)))
log10 = _unary("log10", lambda a, y: 1 / (a * math.log(10)))
sin = _unary("sin", lambda a, y: xp.cos(a))
cos = _unary("cos", lambda a, y: -xp.sin(a))
tan = _unary("tan", lambda a, y: 1 + y * y)
tanh = _unary("tanh", lambda a, y: 1 - y * y)
sinh = _unary("sinh", lambda a, y: xp.cosh(a))
cosh = _unary("cosh", lambda a, y: xp.sinh(a))
arcsin = _unary("arcsin", lambda a, y: 1 / xp.sqrt(1 - a * a))
arccos = _unary("arccos", lambda a, y: -1 / xp.sqrt(1 - a * a))
arctan = _unary("arctan", lambda a, y: 1 / (1 + a * a))
reciprocal = _unary("reciprocal", lambda a, y: -y * y)

rsqrt = _unary(lambda a: 1.0 / xp.sqrt(a), lambda a, y: -0.5 * y * y * y, name="rsqrt")
erf = _unary(backend.erf, lambda a, y: (2.0 / math.sqrt(math.pi)) * xp.exp(-a * a), name="erf")


@keras_op
def logaddexp(x1, x2):
    """``log(exp(x1) + exp(x2))`` without overflow."""
    a, b = _float(x1), _float(x2)
    y = xp.logaddexp(a, b)
    return record(
        y,
        (x1, x2),
        lambda dy: (
            unbroadcast(dy * xp.exp(a - y), _shape(a)),
            unbroadcast(dy * xp.exp(b - y), _shape(b)),
        ),
    )


def _constant(name):
    """The array module's ``name``: piecewise constant or boolean, nothing to differentiate
    (looked up at each call, so backend.set_backend reaches it)."""

    def op(*args, **kwargs):
        return getattr(xp, name)(*[_v(a) for a in args], **kwargs)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}``, elementwise (no gradient: piecewise constant)."
    return keras_op(op)


sign = _constant("sign")
floor = _constant("floor")
ceil = _constant("ceil")
equal = _constant("equal")
not_equal = _constant("not_equal")
greater = _constant("greater")
greater_equal = _constant("greater_equal")
less = _constant("less")
less_equal = _constant("less_equal")
logical_and = _constant("logical_and")
logical_or = _constant("logical_or")
logical_not = _constant("logical_not")
logical_xor = _constant("logical_xor")
isnan = _constant("isnan")
isinf = _constant("isinf")
isfinite = _constant("isfinite")


@keras_op
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether ``x1`` and ``x2`` are equal within ``atol + rtol * |x2|``, elementwise."""
    return xp.isclose(_v(x1), _v(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


@keras_op
def round(x, decimals=0):
    """Round half to even to ``decimals`` places (no gradient)."""
    return xp.round(_v(x), decimals)


# -- selection -------------------------------------------------------------------------
def _extremum(pick):
    def op(x1, x2):
        a, b = _v(x1), _v(x2)
        take_a = pick(a, b)  # ties send the gradient to the first operand, as in Keras/JAX
        y = xp.where(take_a, a, b)
        return record(
            y,
            (x1, x2),
            lambda dy: (unbroadcast(dy * take_a, _shape(a)), unbroadcast(dy * ~take_a, _shape(b))),
        )

    return op


@keras_op
def maximum(x1, x2):
    """Elementwise maximum, broadcasting."""
    return _extremum(xp.greater_equal)(x1, x2)


@keras_op
def minimum(x1, x2):
    """Elementwise minimum, broadcasting."""
    return _extremum(xp.less_equal)(x1, x2)


@keras_op
def clip(x, x_min, x_max):
    """``x`` limited to ``[x_min, x_max]``; the gradient goes to ``x`` inside the interval
    and to the bound that applies outside it."""
    a, low, high = _v(x), _v(x_min), _v(x_max)
    y = xp.clip(a, low, high)
    below, above = a < low, a > high
    inside = ~(below | above)
    return record(
        y,
        (x, x_min, x_max),
        lambda dy: (
            unbroadcast(dy * inside, _shape(a)),
            unbroadcast(dy * below, _shape(low)),
            unbroadcast(dy * above, _shape(high)),
        ),
    )


@keras_op
def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2``; with ``condition`` alone, the
    indices of its non-zero elements (as ``numpy.nonzero``)."""
    c = _v(condition)
    if x1 is None and x2 is None:
        return xp.nonzero(c)
    if x1 is None or x2 is None:
        raise ValueError(
            "ops.where: pass both `x1` and `x2`, or neither (to get the indices where "
            f"`condition` holds). Received x1={x1!r}, x2={x2!r}."
        )
    a, b = _v(x1), _v(x2)
    y = xp.where(c, a, b)
    return record(
        y,
        (x1, x2),
        lambda dy: (
            unbroadcast(xp.where(c, dy, 0), _shape(a)),
            unbroadcast(xp.where(c, 0, dy), _shape(b)),
        ),
    )


@keras_op
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN and infinities replaced by finite numbers; the gradient passes where ``x`` is
    finite."""
    a = _a(x)
    y = xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)
    finite = xp.isfinite(a)
    return record(y, (x,), lambda dy: (dy * finite,))


# -- types ----------------------------------------------------------------------------
@keras_op
def cast(x, dtype):
    """``x`` converted to ``dtype``; gradients flow between float types only."""
    a = _a(x)
    y = a.astype(dtype)
    if y.dtype.kind != "f" or a.dtype.kind != "f":
        return y
    return record(y, (x,), lambda dy: (dy.astype(a.dtype),))


@keras_op
def stop_gradient(variable):
    """The value of ``variable`` with nothing recorded: gradients stop here."""
    return xp.asarray(value_of(variable))


@keras_op
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """An array from ``x`` (variables give their value; a tracked tensor stays tracked
    unless a ``dtype`` is asked for)."""
    if isinstance(x, Tensor) and (dtype is None or x.value.dtype == dtype):
        return x
    value = value_of(x)
    array = xp.asarray(value, dtype=dtype)
    if dtype is None and not isinstance(value, xp.ndarray) and array.dtype.kind == "f":
        return array.astype(backend.floatx())  # Python floats: the default float type
    return array


@keras_op(symbolic=False)
def convert_to_numpy(x):
    """A plain NumPy array of ``x``'s value."""
    return backend.to_numpy(value_of(x))
