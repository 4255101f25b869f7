"""Tensors made from scratch or from another's shape, and shape queries: ``zeros ones
full zeros_like ones_like full_like eye identity arange linspace shape ndim size``.

Nothing here is differentiable: the results do not depend on any input's values.
"""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.ops.core import _v, keras_op
from npkeras.ops.tape import value_of

__all__ = [
    "arange",
    "eye",
    "full",
    "full_like",
    "identity",
    "linspace",
    "ndim",
    "ones",
    "ones_like",
    "shape",
    "size",
    "zeros",
    "zeros_like",
]


def _floatx(dtype):
    return backend.floatx() if dtype is None else dtype


def _dtype_of(value, dtype):
    """``dtype``, or Keras's choice for a Python number (int32 for ints, floatx for
    floats) or an array's own type."""
    if dtype is not None:
        return dtype
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int32"
    if isinstance(value, float):
        return backend.floatx()
    return xp.asarray(value).dtype


def _dims(shape):
    shape = value_of(shape)
    return (int(shape),) if xp.ndim(shape) == 0 else tuple(int(d) for d in shape)


@keras_op
def zeros(shape, dtype=None):
    """Zeros of ``shape`` (``floatx`` by default)."""
    return xp.zeros(_dims(shape), dtype=_floatx(dtype))


@keras_op
def ones(shape, dtype=None):
    """Ones of ``shape`` (``floatx`` by default)."""
    return xp.ones(_dims(shape), dtype=_floatx(dtype))


@keras_op
def full(shape, fill_value, dtype=None):
    """``fill_value`` repeated to ``shape``."""
    fill = _v(fill_value)
    return xp.full(_dims(shape), fill, dtype=_dtype_of(fill, dtype))


@keras_op
def zeros_like(x, dtype=None):
    """Zeros with ``x``'s shape (and type, unless ``dtype``)."""
    return xp.zeros_like(_v(x), dtype=dtype)


@keras_op
def ones_like(x, dtype=None):
    """Ones with ``x``'s shape (and type, unless ``dtype``)."""
    return xp.ones_like(_v(x), dtype=dtype)


@keras_op
def full_like(x, fill_value, dtype=None):
    """``fill_value`` with ``x``'s shape (and type, unless ``dtype``)."""
    return xp.full_like(_v(x), _v(fill_value), dtype=dtype)


@keras_op
def eye(N, M=None, k=0, dtype=None):
    """An ``N`` x ``M`` matrix with ones on diagonal ``k``."""
    return xp.eye(N, M, k, dtype=_floatx(dtype))


@keras_op
def identity(n, dtype=None):
    """The ``n`` x ``n`` identity matrix."""
    return xp.identity(n, dtype=_floatx(dtype))


@keras_op
def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in ``[start, stop)``; integers stay integers (int32)."""
    if dtype is None:
        numbers = [v for v in (start, stop, step) if v is not None]
        dtype = "int32" if all(isinstance(v, int) for v in numbers) else backend.floatx()
    return xp.arange(start, stop, step, dtype=dtype)


@keras_op
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop``."""
    return xp.linspace(
        _v(start),
        _v(stop),
        num,
        endpoint=endpoint,
        retstep=retstep,
        dtype=_floatx(dtype),
        axis=axis,
    )


@keras_op(symbolic=False)
def shape(x):
    """The shape as a tuple (``None`` for a symbolic tensor's unknown sizes)."""
    if hasattr(x, "shape") and not isinstance(x, (list, tuple)):
        return tuple(x.shape)
    return tuple(xp.shape(x))


@keras_op(symbolic=False)
def ndim(x):
    """The number of axes."""
    return len(shape(x))


@keras_op
def size(x):
    """The number of elements."""
    return int(xp.size(value_of(x)))
