"""A stand-in for a GPU array module, for testing the backend switch on a CPU.

``NPKERAS_BACKEND=tests.backend.strict_numpy`` (or ``backend.set_backend(...)`` with that
path) makes npkeras compute with NumPy behind :class:`ndarray`, a wrapper that behaves
like a CuPy array where it matters: arithmetic, ufuncs, NumPy functions, indexing and the
generator give wrapped arrays, reductions give 0-d arrays (never Python or NumPy
scalars), and every implicit trip to the host fails: ``numpy.asarray(a)``, mixing with
NumPy arrays, and (stricter than CuPy, which syncs silently) ``float(a)``, ``int(a)``,
``a.item()``, ``a.tolist()`` and formatting. The only way out is ``asnumpy``, which
npkeras calls in ``backend.to_numpy``. A stray NumPy call on device arrays in npkeras
therefore raises :class:`HostConversionError` under this backend.
"""

from __future__ import annotations

import operator
import types

import numpy as _np


class HostConversionError(TypeError):
    """An implicit device-to-host conversion or a host array mixed with device arrays."""


def _refuse(what):
    raise HostConversionError(
        f"{what} on a device array: implicit host conversion is not allowed "
        "(use npkeras.backend.to_numpy / to_float)."
    )


def _unwrap(value):
    """The NumPy array behind ``value``; host arrays are refused, as CuPy does."""
    if type(value) is ndarray:
        return value._a
    if isinstance(value, _np.ndarray):
        raise HostConversionError(
            f"a host numpy.ndarray of shape {value.shape} was mixed with device arrays "
            "(move it with npkeras.backend.to_device)."
        )
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value):
    if isinstance(value, (_np.ndarray, _np.generic)) and not isinstance(value, _np.dtype):
        return ndarray(_np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _wrapped(function):
    def call(*args, **kwargs):
        return _wrap(function(*_unwrap(args), **_unwrap(kwargs)))

    call.__name__ = getattr(function, "__name__", "function")
    call.__doc__ = getattr(function, "__doc__", None)
    return call


class ndarray:  # the array module's spelling
    """A device array: NumPy's data that refuses implicit conversion to the host."""

    __slots__ = ("_a",)
    __hash__ = None

    def __init__(self, array):
        self._a = array

    # -- what must not happen implicitly -------------------------------------------
    def __array__(self, dtype=None, copy=None):
        _refuse("numpy.asarray()")

    def __float__(self):
        _refuse("float()")

    def __int__(self):
        _refuse("int()")

    def __index__(self):  # noqa: PLE0305 - it never returns
        _refuse("operator.index()")

    def __complex__(self):
        _refuse("complex()")

    def __format__(self, spec):
        _refuse("format()")

    def item(self, *args):
        _refuse(".item()")

    def tolist(self):
        _refuse(".tolist()")

    def __bool__(self):  # CuPy allows it for one element (a sync), so do we
        return bool(self._a)

    # -- the array protocol --------------------------------------------------------
    def __getattr__(self, name):
        if name.startswith("__array") or name in ("tofile", "tobytes", "dump", "dumps"):
            raise AttributeError(name)
        value = getattr(self._a, name)
        return _wrapped(value) if callable(value) else _wrap(value)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs)))

    def __array_function__(self, func, types_, args, kwargs):
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    def __repr__(self):
        return f"device_array({self._a!r})"

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (ndarray(_np.asarray(row)) for row in self._a)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap(key)] = _unwrap(value)

    def __copy__(self):
        return ndarray(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray(self._a.copy())

    def __reduce__(self):
        return (ndarray, (self._a,))


def _binary(op, reflected=False):
    def method(self, other):
        if not isinstance(other, (ndarray, int, float, complex, bool, _np.generic)):
            if isinstance(other, _np.ndarray):
                _unwrap(other)  # raises
            return NotImplemented  # e.g. a tape Tensor: its reflected operator runs
        a, b = self._a, _unwrap(other)
        return _wrap(op(b, a) if reflected else op(a, b))

    return method


def _inplace(op):
    def method(self, other):
        if isinstance(other, _np.ndarray):
            _unwrap(other)  # raises
        op(self._a, _unwrap(getattr(other, "value", other)))
        return self

    return method


for _name in (
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
    "pow",
    "matmul",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
):
    _op = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _binary(getattr(operator, _name)))


def _unary(op):
    return lambda self: ndarray(op(self._a))


for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", _unary(getattr(operator, _name)))


# -- the module's functions ----------------------------------------------------------
def asarray(a, dtype=None, order=None, copy=None):
    """A device array from anything: host arrays are copied over (the explicit transfer)."""
    if type(a) is ndarray:
        return ndarray(_np.asarray(a._a, dtype=dtype, order=order))
    host = _np.array(_unwrap_host(a), dtype=dtype, order=order or "K", copy=True)
    return ndarray(host)


def array(a, dtype=None, copy=True, order="K", ndmin=0):
    if type(a) is ndarray:
        return ndarray(_np.array(a._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return ndarray(_np.array(_unwrap_host(a), dtype=dtype, order=order, ndmin=ndmin))


def _unwrap_host(value):
    """Host data for ``asarray``: lists of device scalars stay allowed; other objects
    that convert through ``__array__`` (a tape Tensor, a Variable) would go through the
    host and back, so they are refused."""
    if type(value) is ndarray:
        return value._a
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap_host(v) for v in value)
    if hasattr(value, "__array__") and not isinstance(value, (_np.ndarray, _np.generic)):
        raise HostConversionError(
            f"asarray() of a {type(value).__name__} would make a round trip through the host "
            "(take its device array instead, e.g. ops.tape.value_of)."
        )
    return value


def asnumpy(a):
    """The explicit device-to-host copy (CuPy's ``cupy.asnumpy``)."""
    return a._a.copy() if type(a) is ndarray else _np.asarray(a)


class Generator:
    """The few methods every array module's generator has (CuPy's included)."""

    def __init__(self, seed=None):
        self._generator = _np.random.default_rng(seed)

    def random(self, size=None, dtype=_np.float64):
        return ndarray(_np.asarray(self._generator.random(size, dtype=dtype)))

    def standard_normal(self, size=None, dtype=_np.float64):
        return ndarray(_np.asarray(self._generator.standard_normal(size, dtype=dtype)))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=_np.float64):
        return ndarray(_np.asarray(self._generator.uniform(low, high, size)).astype(dtype))

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        return ndarray(
            _np.asarray(
                self._generator.integers(
                    _unwrap(low), _unwrap(high), size, dtype=dtype, endpoint=endpoint
                )
            )
        )


random = types.ModuleType(__name__ + ".random")
random.default_rng = Generator

special = types.ModuleType(__name__ + ".special")


def _erf(x):
    from scipy.special import erf

    return ndarray(erf(_unwrap(x)))


special.erf = _erf


class _Namespace(types.ModuleType):
    """A NumPy submodule (``linalg``, ``lib.stride_tricks``...) with wrapped functions."""

    def __init__(self, name, source):
        super().__init__(name)
        self._source = source

    def __getattr__(self, name):
        return _forward(getattr(self._source, name), f"{self.__name__}.{name}")


class _Ufunc:
    """A ufunc with its methods (``xp.add.at``, ``xp.maximum.reduce``), as CuPy 13 has."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        for method in ("reduce", "accumulate", "reduceat", "outer", "at"):
            setattr(self, method, _wrapped(getattr(ufunc, method)))

    def __call__(self, *args, **kwargs):
        return _wrap(self._ufunc(*_unwrap(args), **_unwrap(kwargs)))


def _forward(value, name):
    if isinstance(value, types.ModuleType):
        return _Namespace(name, value)
    if isinstance(value, _np.ufunc):
        return _Ufunc(value)
    if isinstance(value, type) or not callable(value):
        return value  # dtypes, classes (finfo, errstate), constants (pi, newaxis)
    return _wrapped(value)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _forward(getattr(_np, name), f"{__name__}.{name}")
