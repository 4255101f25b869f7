"""The one place that names the array module, the default float type and the random source.

Every other module does ``from npkeras.backend import xp`` and never imports NumPy
itself. The array module is chosen with ``NPKERAS_BACKEND`` at import (``numpy``, the
default, or ``cupy``) or with :func:`set_backend` before models are built. Arrays cross
between the host and the device only through :func:`to_numpy` (and :func:`to_float`) and
:func:`to_device`.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys

# OpenBLAS (NumPy's usual BLAS) keeps each idle thread of its pool spinning for 2^28 cycles
# (about 0.1 s) after a call before it sleeps. npkeras runs threads of its own beside those
# (the attention core's blocks), and a spinning BLAS thread takes half of their core: the
# encoder block of bench/transformer.py spent as long in its attention core with two
# threads as with one, and ran 2.0-2.3 s an epoch against 1.3-1.7 s with the pool asleep
# after 2^16 cycles (about 20 us: still longer than the gap between back-to-back
# products, so those keep both threads without a wake-up). OpenBLAS reads this once, as
# it loads: it applies when NumPy is first imported here, and a value set by the user wins.
if "numpy" not in sys.modules and not (
    os.environ.get("OPENBLAS_THREAD_TIMEOUT") or os.environ.get("GOTO_THREAD_TIMEOUT")
):
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = "16"

import numpy  # noqa: E402

from npkeras.naming import reset_names  # noqa: E402

_NAMES = ("numpy", "cupy")


def _import_array_module(name):
    """The array module for a backend name: 'numpy', 'cupy', or the dotted path of a
    module with NumPy's API plus ``asnumpy`` (a test double, another device library)."""
    if not isinstance(name, str):
        return name  # a module object
    if name.lower() in _NAMES:
        name = name.lower()
    if name == "numpy":
        return numpy
    if name == "cupy" or "." in name:
        try:
            return importlib.import_module(name)
        except ImportError as err:
            hint = " Install the GPU extra: pip install 'npkeras[gpu]'." if name == "cupy" else ""
            raise ImportError(f"The {name!r} backend could not be imported: {err}.{hint}") from err
    raise ValueError(
        f"Unknown backend {name!r}. Expected one of: 'numpy', 'cupy', or the dotted path "
        "of an array module."
    )


xp = _import_array_module(os.environ.get("NPKERAS_BACKEND", "numpy"))
ndarray = xp.ndarray
#: the NumPy version, recorded in saved files
numpy_version = numpy.__version__
#: the host array module, NumPy on every backend: for file formats and host-side tables
#: only (``.npz`` files, CSV columns); device arrays reach it through :func:`to_numpy`
host_xp = numpy


def _threads_from(names) -> int | None:
    for name in names:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def num_threads() -> int:
    """The threads npkeras's own parallel loops use (the compiled kernels, attention's
    blocks): ``NPKERAS_NUM_THREADS``, else as many as BLAS gets from the environment
    (OpenBLAS reads these variables in this order of precedence), else the CPU count."""
    return _threads_from(("NPKERAS_NUM_THREADS",) + _BLAS_THREAD_VARIABLES) or os.cpu_count() or 1


def _load_kernels():
    if xp is not numpy or os.environ.get("NPKERAS_KERNELS", "1") == "0":
        return None
    try:
        from npkeras import _kernels
    except ImportError:  # built without a C compiler: NumPy alone
        return None
    _kernels.set_threads(num_threads())  # large calls split their rows over these
    return _kernels


#: the compiled one-pass kernels (``npkeras/_kernels.c``), or None where they were not
#: built, ``NPKERAS_KERNELS=0`` is set or the backend is not NumPy; callers fall back
#: to NumPy expressions of the same arithmetic. A kernel refuses arrays it does not take
#: (not C-contiguous, not all float32 or all float64) with a TypeError before writing
#: anything: the per-step callers try it and fall back on that error, since checking
#: first (:func:`kernels_accept`) costs more than the kernel itself on small arrays
kernels = _load_kernels()
_FLOAT32, _FLOAT64 = numpy.dtype("float32"), numpy.dtype("float64")  # singletons: `is` compares


def kernels_accept(*arrays) -> bool:
    """True when :data:`kernels` is loaded and can take these arrays: C-contiguous,
    all float32 or all float64 (native byte order)."""
    if kernels is None:
        return False
    dtype = arrays[0].dtype
    if dtype is not _FLOAT32 and dtype is not _FLOAT64:
        return False
    for a in arrays:
        if a.dtype is not dtype or not a.flags.c_contiguous:
            return False
    return True


def all_finite(a) -> bool:
    """Whether no element of ``a`` is infinite or NaN: one pass of a compiled kernel over
    a float array, else one BLAS dot product (NaN and infinity reach the sum of squares)
    with an element-wise look only when that overflows."""
    if kernels is not None:
        try:
            return kernels.all_finite(a)
        except TypeError:  # not a C-contiguous float32/float64 array (see kernels)
            pass
    flat = a.reshape(-1)
    with numpy.errstate(over="ignore", invalid="ignore"):  # an overflow is an answer here
        if math.isfinite(to_float(xp.dot(flat, flat))):
            return True
    return bool(to_numpy(xp.isfinite(a).all()))


_FLOATX = "float32"
_EPSILON = 1e-7
_VALID_FLOATX = ("float16", "float32", "float64")
_rng = xp.random.default_rng()


def floatx() -> str:
    """The default float type of weights and inputs: 'float32' unless changed."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type ('float16', 'float32' or 'float64')."""
    global _FLOATX
    value = str(value)
    if value not in _VALID_FLOATX:
        raise ValueError(f"Unknown floatx {value!r}. Expected one of: {', '.join(_VALID_FLOATX)}.")
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor used by losses and optimizers (Keras's 1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor returned by :func:`epsilon`."""
    global _EPSILON
    _EPSILON = float(value)


def rng():
    """The array module's generator (``xp.random.default_rng``) that every initializer,
    dropout mask and shuffle draws from, so its draws live where the backend computes.

    Use only ``random``, ``integers``, ``uniform`` and ``standard_normal``: the methods
    every backend's generator has (CuPy's has no ``normal``); see :func:`permutation`.
    """
    return _rng


def permutation(n: int, generator=None):
    """A random order of ``range(n)`` (a backend array) from ``generator`` or :func:`rng`;
    by sorting uniform draws where the generator has no ``permutation``."""
    generator = generator or _rng
    if hasattr(generator, "permutation"):
        return generator.permutation(n)
    return xp.argsort(generator.random(n))


def set_seed(seed: int | None) -> None:
    """Reseed the generator; the same seed gives the same draws on one machine."""
    global _rng
    _rng = xp.random.default_rng(seed)
    if seed is not None:
        numpy.random.seed(seed % 2**32)  # user scripts that draw from np.random directly


def rng_state():
    """The generator's state as JSON-ready data, or None where the backend's generator
    exposes none (CuPy's): saving then leaves it out."""
    state = getattr(getattr(_rng, "bit_generator", None), "state", None)
    return json.loads(json.dumps(state, default=int)) if isinstance(state, dict) else None


def set_rng_state(state) -> None:
    """Restore a state from :func:`rng_state`; ignored where the generator has none."""
    bit_generator = getattr(_rng, "bit_generator", None)
    if state and isinstance(getattr(bit_generator, "state", None), dict):
        bit_generator.state = state


def backend() -> str:
    """The array module's name: 'numpy', 'cupy' or the module path given."""
    return xp.__name__


def set_backend(name) -> None:
    """Select the array module: 'numpy', 'cupy' or the dotted path of an array module.

    Call it before building models: layers, optimizers and models built before keep the
    arrays they hold (move them with ``model.set_weights(model.get_weights())`` or save
    and load). The generator becomes the new module's, unseeded (call
    ``keras.utils.set_random_seed`` after), and the compiled kernels run only on NumPy.
    ``NPKERAS_BACKEND`` does the same at import.
    """
    global xp, ndarray, kernels, _rng, _erf_impl
    module = _import_array_module(name)
    previous = xp
    xp, ndarray = module, module.ndarray
    kernels = _load_kernels()
    _rng = module.random.default_rng()
    _erf_impl = None
    _ones_vectors.clear()
    # every module did ``from npkeras.backend import xp``: point those names at the new one
    for module_name, loaded in list(sys.modules.items()):
        if module_name.startswith("npkeras") and getattr(loaded, "xp", None) is previous:
            loaded.xp = module


_ones_vectors: dict = {}


def _ones(n, dtype):
    key = (n, dtype)
    ones = _ones_vectors.get(key)
    if ones is None:
        if len(_ones_vectors) > 16:  # the batch and class counts one model sees are few
            _ones_vectors.clear()
        ones = _ones_vectors[key] = xp.ones(n, dtype)
    return ones


def dot_into(a, b, out):
    """``a @ b`` written into ``out`` (2-D operands). ``np.dot`` with ``out=`` costs a
    third of ``np.matmul``'s call on small arrays, but writes only its own result type."""
    if a.dtype is out.dtype and b.dtype is out.dtype:
        return xp.dot(a, b, out=out)
    out[...] = xp.dot(a, b)
    return out


#: BLAS runs on one thread (as the environment said when NumPy loaded: OpenBLAS reads
#: its variables once)
one_blas_thread = (_threads_from(_BLAS_THREAD_VARIABLES) or os.cpu_count() or 1) == 1
#: inner-dimension block of :func:`dot_blocked`
_INNER_BLOCK = 128


def dot_blocked(a, b, out=None):
    """``a @ b`` (2-D operands), into ``out`` when given.

    With one BLAS thread on NumPy, a product with an inner dimension of 1024 or more (a
    weight gradient ``x.T @ dz`` over many rows) and a result of at least 64 x 64 is
    summed over products of 128-wide blocks of it: OpenBLAS 0.3.31 (AVX2 kernel, one
    thread) ran these 2-3x slower in one call (2026-12-02: (64, 4096) @ (4096, 256) 13.6
    -> 4.6 ms, (784, 1024) @ (1024, 256) 35 -> 14 ms; one epoch of bench/transformer.py's
    block 1.61 -> 1.27 s CPU at N=512). Shorter inner dimensions gained in isolation but
    not inside a training step, so they stay one call; with two threads on two busy cores
    the extra calls cost more than they save, so it is one call there too.
    """
    m, k = a.shape
    if not one_blas_thread or xp is not numpy or k < 1024 or min(m, b.shape[1]) < 64:
        return xp.dot(a, b) if out is None else dot_into(a, b, out)
    size = _INNER_BLOCK
    total = xp.dot(a[:, :size], b[:size]) if out is None else dot_into(a[:, :size], b[:size], out)
    for start in range(size, k, size):
        total += xp.dot(a[:, start : start + size], b[start : start + size])
    return total


def column_sum(a, out=None):
    """Sum over the rows of a 2-D array, ``(n, k) -> (k,)``, into ``out`` when given.

    Computed as ``ones(n) @ a``: the BLAS matrix-vector product is 2-3x faster than a
    reduction along axis 0 (36 -> 14 us for 1024 x 256 float32).
    """
    ones = _ones(a.shape[0], a.dtype)
    return xp.dot(ones, a) if out is None else dot_into(ones, a, out)


def _is_last(a, axis) -> bool:
    return axis == -1 or axis == a.ndim - 1


def reduce_sum(a, axis=-1):
    """Sum over ``axis``, keeping it as size 1.

    Over the last axis of a float array it is ``a @ ones(k)``: NumPy's reduction along a
    short last axis is slow (22 -> 3 us for 1024 x 10 float32).
    """
    if _is_last(a, axis) and a.dtype.kind == "f":
        return xp.dot(a, _ones(a.shape[-1], a.dtype))[..., None]
    return a.sum(axis=axis, keepdims=True)


def reduce_max(a, axis=-1):
    """Max over ``axis``, keeping it as size 1 (NaN where a row holds one)."""
    if kernels is not None and _is_last(a, axis) and a.size:
        out = xp.empty(a.shape[:-1] + (1,), a.dtype)
        try:
            kernels.row_max(a, out)  # 46 -> 3 us for 1024 x 10 float32
            return out
        except TypeError:  # not a C-contiguous float32/float64 array (see kernels)
            pass
    return a.max(axis=axis, keepdims=True)


def to_numpy(x):
    """A host NumPy array from a backend array, a host array, a scalar or a list (no copy
    on NumPy). The one door from the device to the host: files, logs, callbacks and
    ``predict``'s result go through it."""
    if xp is numpy or isinstance(x, numpy.ndarray):
        return numpy.asarray(x)
    if isinstance(x, (list, tuple)):
        return numpy.asarray([to_numpy(v) for v in x])
    return xp.asnumpy(x)


def to_float(x) -> float:
    """A Python float from a one-element backend array (a device-to-host copy)."""
    if xp is numpy or isinstance(x, (int, float)):  # NumPy: already on the host
        return float(x)
    return float(to_numpy(x).reshape(()))


def to_device(x, dtype=None):
    """``x`` (a host array, list, scalar or backend array) as a backend array; no copy
    when it is one already of that type. The one door from the host to the device."""
    if isinstance(x, xp.ndarray):
        return x if dtype is None else x.astype(dtype, copy=False)
    return xp.asarray(x, dtype=dtype)


def as_float_array(x, name: str = "x", dtype: str | None = None):
    """``x`` as a backend array of the float type, with a clear error for non-numeric
    input. Host data (lists, NumPy, pandas) is checked on the host, then moved once.

    Returns the input unchanged when it already has the right type (no copy).
    """
    dtype = dtype or _FLOATX
    if not isinstance(x, xp.ndarray) and isinstance(getattr(x, "value", None), xp.ndarray):
        x = x.value  # a tape Tensor or a Variable
    if isinstance(x, xp.ndarray):
        if x.dtype == dtype:
            return x
        arr = x
    else:
        try:
            arr = numpy.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"`{name}` must be a numeric array; it could not be converted: {err}"
            ) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"`{name}` must be a numeric array, but received dtype {arr.dtype} "
            f"with shape {arr.shape}. Convert strings or objects to numbers first "
            "(for labels: a mapping to integers, for categories: one-hot columns)."
        )
    return to_device(arr, dtype)


_erf_impl = None


def _load_erf():
    if xp.__name__ == "cupy":  # pragma: no cover - needs a GPU
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf
    special = getattr(xp, "special", None)  # another array module may bring its own
    if special is not None and hasattr(special, "erf"):
        return special.erf
    try:
        from scipy.special import erf as scipy_erf

        return scipy_erf
    except ImportError:
        return numpy.vectorize(math.erf, otypes=[float])


def erf(x):
    """The error function, elementwise, keeping the input's float type.

    Uses ``cupyx.scipy.special.erf`` on CuPy; on NumPy SciPy's vectorised erf when
    SciPy is installed (loaded on first use), else Python's math.erf element by element.
    """
    global _erf_impl
    if _erf_impl is None:
        _erf_impl = _load_erf()
    return xp.asarray(_erf_impl(x), dtype=x.dtype)


def clear_session() -> None:
    """Start automatic layer names afresh (``dense``, ``dense_1``, ... again), as in Keras."""

    reset_names()
