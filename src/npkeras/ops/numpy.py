"""``keras.ops``: NumPy-like operations, each with its vector-Jacobian product beside it.

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

import builtins
import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.ops.tape import Tensor, record, record_multi, unbroadcast, value_of
from npkeras.ops.variable import Variable


def _v(x):
    """The operand as an array (numbers stay numbers, so NumPy keeps the array's type)."""
    value = value_of(x)
    if isinstance(value, (int, float, bool)):
        return value
    return xp.asarray(value)


def _shape(x):
    return xp.shape(x)


def convert_to_tensor(x, dtype=None, sparse=None):
    """An array from ``x`` (variables and tensors give their value)."""
    value = value_of(x)
    if isinstance(x, Tensor) and dtype is None:
        return x
    return xp.asarray(value, dtype=dtype)


def convert_to_numpy(x):
    """A host NumPy array (``keras.ops.convert_to_numpy``), on every backend."""
    return backend.to_numpy(value_of(x))


# -- elementwise arithmetic ----------------------------------------------------------
def add(x1, x2):
    a, b = _v(x1), _v(x2)
    y = a + b
    return record(y, (x1, x2), lambda dy: (unbroadcast(dy, _shape(a)), unbroadcast(dy, _shape(b))))


def subtract(x1, x2):
    a, b = _v(x1), _v(x2)
    y = a - b
    return record(y, (x1, x2), lambda dy: (unbroadcast(dy, _shape(a)), unbroadcast(-dy, _shape(b))))


def multiply(x1, x2):
    a, b = _v(x1), _v(x2)
    y = a * b
    return record(y, (x1, x2), lambda dy: (unbroadcast(dy * b, _shape(a)),
                                          unbroadcast(dy * a, _shape(b))))


def divide(x1, x2):
    a, b = _v(x1), _v(x2)
    y = a / b
    # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -y/b
    return record(y, (x1, x2), lambda dy: (unbroadcast(dy / b, _shape(a)),
                                          unbroadcast(-dy * y / b, _shape(b))))


true_divide = divide


def power(x1, x2):
    a, b = _v(x1), _v(x2)
    y = a ** b

    def vjp(dy):
        da = unbroadcast(dy * b * a ** (b - 1), _shape(a))
        db = None
        if isinstance(x2, (Tensor, Variable)):
            with xp.errstate(divide="ignore", invalid="ignore"):
                db = unbroadcast(dy * y * xp.where(a > 0, xp.log(xp.where(a > 0, a, 1)), 0),
                                 _shape(b))
        return da, db
    return record(y, (x1, x2), vjp)


def negative(x):
    y = -_v(x)
    return record(y, (x,), lambda dy: (-dy,))


def _unary(name, derivative):
    """The elementwise op ``xp.<name>`` (looked up per call, so it follows
    ``backend.set_backend``) whose VJP is ``dy * derivative(x, y)``."""
    def op(x):
        a = _v(x)
        y = getattr(xp, name)(a)
        return record(y, (x,), lambda dy: (dy * derivative(a, y),))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}``."
    return op


def _sign_derivative(a, y):
    return xp.sign(a)


abs = absolute = _unary("abs", _sign_derivative)
sqrt = _unary("sqrt", lambda a, y: 0.5 / y)
square = _unary("square", lambda a, y: 2 * a)
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


def _no_grad(name):
    """The op ``xp.<name>`` (looked up per call), whose result is piecewise constant (or
    boolean): nothing to differentiate."""
    def op(*args, **kwargs):
        return getattr(xp, name)(*[_v(a) for a in args], **kwargs)
    op.__name__ = name
    op.__doc__ = f"``{name}`` (no gradient: piecewise constant)."
    return op


sign = _no_grad("sign")
floor = _no_grad("floor")
ceil = _no_grad("ceil")
equal = _no_grad("equal")
not_equal = _no_grad("not_equal")
greater = _no_grad("greater")
greater_equal = _no_grad("greater_equal")
less = _no_grad("less")
less_equal = _no_grad("less_equal")
logical_and = _no_grad("logical_and")
logical_or = _no_grad("logical_or")
logical_not = _no_grad("logical_not")
isnan = _no_grad("isnan")
isinf = _no_grad("isinf")
isfinite = _no_grad("isfinite")
floor_divide = _no_grad("floor_divide")


def round(x, decimals=0):
    return xp.round(_v(x), decimals)


def maximum(x1, x2):
    a, b = _v(x1), _v(x2)
    y = xp.maximum(a, b)
    take_a = a >= b  # ties send the gradient to the first operand
    return record(y, (x1, x2), lambda dy: (unbroadcast(dy * take_a, _shape(a)),
                                          unbroadcast(dy * ~take_a, _shape(b))))


def minimum(x1, x2):
    a, b = _v(x1), _v(x2)
    y = xp.minimum(a, b)
    take_a = a <= b
    return record(y, (x1, x2), lambda dy: (unbroadcast(dy * take_a, _shape(a)),
                                          unbroadcast(dy * ~take_a, _shape(b))))


def clip(x, x_min, x_max):
    a = _v(x)
    y = xp.clip(a, _v(x_min), _v(x_max))
    inside = (a >= _v(x_min)) & (a <= _v(x_max))
    return record(y, (x,), lambda dy: (dy * inside,))


def where(condition, x1=None, x2=None):
    c = _v(condition)
    if x1 is None and x2 is None:
        return xp.nonzero(c)
    a, b = _v(x1), _v(x2)
    y = xp.where(c, a, b)
    return record(y, (x1, x2), lambda dy: (unbroadcast(xp.where(c, dy, 0), _shape(a)),
                                          unbroadcast(xp.where(c, 0, dy), _shape(b))))


def stop_gradient(x):
    return xp.asarray(value_of(x))


def cast(x, dtype):
    a = _v(x)
    y = xp.asarray(a).astype(dtype)
    if y.dtype.kind != "f":
        return y
    return record(y, (x,), lambda dy: (dy.astype(xp.asarray(a).dtype),))


# -- products ------------------------------------------------------------------------
def matmul(x1, x2):
    a, b = _v(x1), _v(x2)
    y = xp.matmul(a, b)

    def vjp(dy):
        if a.ndim == 1 and b.ndim == 1:
            return dy * b, dy * a
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        dy2 = dy
        if a.ndim == 1:
            dy2 = xp.expand_dims(dy2, -2)
        if b.ndim == 1:
            dy2 = xp.expand_dims(dy2, -1)
        da = xp.matmul(dy2, xp.swapaxes(b2, -1, -2))
        db = xp.matmul(xp.swapaxes(a2, -1, -2), dy2)
        if a.ndim == 1:
            da = da[..., 0, :]
        if b.ndim == 1:
            db = db[..., 0]
        return unbroadcast(da, a.shape), unbroadcast(db, b.shape)
    return record(y, (x1, x2), vjp)


def dot(x1, x2):
    a, b = _v(x1), _v(x2)
    if xp.ndim(a) == 0 or xp.ndim(b) == 0:
        return multiply(x1, x2)
    if b.ndim <= 2:
        return matmul(x1, x2)
    return tensordot(x1, x2, axes=([a.ndim - 1], [b.ndim - 2]))


def tensordot(x1, x2, axes=2):
    a, b = _v(x1), _v(x2)
    if isinstance(axes, int):
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                          [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    axes_a = [d % a.ndim for d in axes_a]
    axes_b = [d % b.ndim for d in axes_b]
    y = xp.tensordot(a, b, axes=(axes_a, axes_b))
    free_a = [d for d in range(a.ndim) if d not in axes_a]
    free_b = [d for d in range(b.ndim) if d not in axes_b]

    def vjp(dy):
        # dy has axes free_a + free_b; contract it with the other operand's free axes
        na = len(free_a)
        da = xp.tensordot(dy, b, axes=(list(range(na, dy.ndim)), free_b))
        # da axes: free_a + axes_b order -> put back into a's order
        da = xp.transpose(da, xp.argsort(free_a + axes_a))
        db = xp.tensordot(a, dy, axes=(free_a, list(range(na))))
        db = xp.transpose(db, xp.argsort(axes_b + free_b))
        return da, db
    return record(y, (x1, x2), vjp)


def outer(x1, x2):
    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


def einsum(subscripts, *operands):
    """``numpy.einsum`` with gradients (each operand's VJP is another einsum)."""
    values = [_v(o) for o in operands]
    y = xp.einsum(subscripts, *values)
    inputs, output = (subscripts.replace(" ", "").split("->") + [None])[:2]
    specs = inputs.split(",")
    if output is None:
        letters = "".join(specs)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if builtins.any("." in spec or len(set(spec)) != len(spec) for spec in specs):
        raise NotImplementedError(
            f"ops.einsum({subscripts!r}): gradients need every axis spelled out once per "
            "operand (no '...' and no repeated letter in one operand).")

    def vjp(dy):
        grads = []
        for i, spec in enumerate(specs):
            others = [s for j, s in enumerate(specs) if j != i]
            other_values = [v for j, v in enumerate(values) if j != i]
            # letters of this operand that appear nowhere else were summed away: the
            # gradient is the same along them, so compute without and broadcast back
            present = set(output).union(*others)
            kept = "".join(c for c in spec if c in present)
            g = xp.einsum(",".join([output] + others) + "->" + kept, dy, *other_values)
            for axis, c in enumerate(spec):
                if c not in present:
                    g = xp.expand_dims(g, axis)
            grads.append(xp.broadcast_to(g, values[i].shape))
        return grads
    return record(y, operands, vjp)


# -- reductions ----------------------------------------------------------------------
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim for a in axis)


def _expand_reduced(g, axes, shape):
    for a in sorted(axes):
        g = xp.expand_dims(g, a)
    return xp.broadcast_to(g, shape)


def sum(x, axis=None, keepdims=False):
    a = _v(x)
    a = xp.asarray(a)
    y = a.sum(axis=axis, keepdims=keepdims)
    axes = _axes(axis, a.ndim)
    return record(y, (x,), lambda dy: (
        xp.broadcast_to(dy, a.shape) if keepdims else _expand_reduced(dy, axes, a.shape),))


def mean(x, axis=None, keepdims=False):
    a = xp.asarray(_v(x))
    axes = _axes(axis, a.ndim)
    count = math.prod(a.shape[i] for i in axes)
    y = a.mean(axis=axis, keepdims=keepdims)
    return record(y, (x,), lambda dy: (
        (xp.broadcast_to(dy, a.shape) if keepdims else _expand_reduced(dy, axes, a.shape))
        / count,))


def _extreme(name):
    def op(x, axis=None, keepdims=False, initial=None):
        a = xp.asarray(_v(x))
        y = getattr(xp, name)(a, axis=axis, keepdims=True)
        # the gradient goes to the elements equal to the extreme, shared among ties
        hit = a == y
        share = hit / hit.sum(axis=axis, keepdims=True)
        out = y if keepdims else (y.reshape(()) if axis is None else xp.squeeze(y, axis=axis))
        axes = _axes(axis, a.ndim)
        return record(out, (x,), lambda dy: (
            (dy if keepdims else _expand_reduced(dy, axes, a.shape)) * share,))
    return op


max = amax = _extreme("max")
min = amin = _extreme("min")


def prod(x, axis=None, keepdims=False, dtype=None):
    a = xp.asarray(_v(x))
    y = a.prod(axis=axis, keepdims=True)
    axes = _axes(axis, a.ndim)
    out = y if keepdims else (y.reshape(()) if axis is None else xp.squeeze(y, axis=axis))

    def vjp(dy):
        g = dy if keepdims else _expand_reduced(dy, axes, a.shape)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return (g * xp.where(a != 0, y / xp.where(a != 0, a, 1), 0),)
    return record(out, (x,), vjp)


def var(x, axis=None, keepdims=False):
    centred = subtract(x, mean(x, axis=axis, keepdims=True))
    return mean(square(centred), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def logsumexp(x, axis=None, keepdims=False):
    shift = stop_gradient(max(x, axis=axis, keepdims=True))
    out = add(log(sum(exp(subtract(x, shift)), axis=axis, keepdims=True)), shift)
    if keepdims:
        return out
    return squeeze(out, axis=axis) if axis is not None else reshape(out, ())


argmax = _no_grad("argmax")
argmin = _no_grad("argmin")
argsort = _no_grad("argsort")
any = _no_grad("any")
all = _no_grad("all")


def cumsum(x, axis=None):
    a = xp.asarray(_v(x))
    flat = axis is None
    y = xp.cumsum(a, axis=axis)

    def vjp(dy):
        ax = 0 if flat else axis
        g = xp.flip(xp.cumsum(xp.flip(dy, ax), axis=ax), ax)
        return (g.reshape(a.shape),)
    return record(y, (x,), vjp)


# -- shapes --------------------------------------------------------------------------
def reshape(x, newshape):
    a = xp.asarray(_v(x))
    newshape = tuple(-1 if d is None else int(d) for d in (
        (newshape,) if isinstance(newshape, int) else newshape))
    y = a.reshape(newshape)
    return record(y, (x,), lambda dy: (dy.reshape(a.shape),))


def transpose(x, axes=None):
    a = xp.asarray(_v(x))
    y = xp.transpose(a, axes)
    inverse = None if axes is None else xp.argsort(axes)
    return record(y, (x,), lambda dy: (xp.transpose(dy, inverse),))


def swapaxes(x, axis1, axis2):
    axes = list(range(xp.ndim(_v(x))))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def moveaxis(x, source, destination):
    n = xp.ndim(_v(x))
    order = [d for d in range(n) if d != source % n]
    order.insert(destination % n, source % n)
    return transpose(x, order)


def expand_dims(x, axis):
    a = xp.asarray(_v(x))
    y = xp.expand_dims(a, axis)
    return record(y, (x,), lambda dy: (dy.reshape(a.shape),))


def squeeze(x, axis=None):
    a = xp.asarray(_v(x))
    y = xp.squeeze(a, axis=axis)
    return record(y, (x,), lambda dy: (dy.reshape(a.shape),))


def flatten(x):
    return reshape(x, (-1,))


def broadcast_to(x, shape):
    a = xp.asarray(_v(x))
    y = xp.broadcast_to(a, tuple(shape))
    return record(y, (x,), lambda dy: (unbroadcast(dy, a.shape),))


def concatenate(xs, axis=0):
    values = [xp.asarray(_v(x)) for x in xs]
    y = xp.concatenate(values, axis=axis)
    bounds = xp.cumsum([v.shape[axis] for v in values])[:-1]
    return record(y, list(xs), lambda dy: tuple(xp.split(dy, bounds, axis=axis)))


def stack(xs, axis=0):
    values = [xp.asarray(_v(x)) for x in xs]
    y = xp.stack(values, axis=axis)
    return record(y, list(xs), lambda dy: tuple(
        xp.squeeze(g, axis=axis) for g in xp.split(dy, len(values), axis=axis)))


def split(x, indices_or_sections, axis=0):
    a = xp.asarray(_v(x))
    parts = xp.split(a, indices_or_sections, axis=axis)
    return record_multi(parts, (x,), lambda dys: (xp.concatenate(dys, axis=axis),))


def _normalise_index(key):
    if isinstance(key, tuple):
        return tuple(_normalise_index(k) for k in key)
    if isinstance(key, (Tensor, Variable)):
        return value_of(key)
    return key


def get_item(x, key):
    a = xp.asarray(_v(x))
    key = _normalise_index(key)
    y = a[key]

    def vjp(dy):
        g = xp.zeros_like(a, dtype=dy.dtype)
        xp.add.at(g, key, dy) if _has_array_index(key) else g.__setitem__(key, dy)
        return (g,)
    return record(y, (x,), vjp)


def _has_array_index(key):
    keys = key if isinstance(key, tuple) else (key,)
    return builtins.any(getattr(k, "ndim", 0) > 0 or isinstance(k, list) for k in keys)


def take(x, indices, axis=None):
    a = xp.asarray(_v(x))
    idx = xp.asarray(value_of(indices))
    y = xp.take(a, idx, axis=axis)

    def vjp(dy):
        g = xp.zeros_like(a, dtype=dy.dtype)
        if axis is None:
            xp.add.at(g.reshape(-1), idx.reshape(-1), dy.reshape(-1))
        else:
            moved = xp.moveaxis(g, axis, 0)
            dmoved = xp.moveaxis(dy, list(range(axis, axis + idx.ndim)), list(range(idx.ndim)))
            xp.add.at(moved, idx.reshape(-1), dmoved.reshape((-1,) + moved.shape[1:]))
        return (g,)
    return record(y, (x,), vjp)


def take_along_axis(x, indices, axis=None):
    a = xp.asarray(_v(x))
    idx = xp.asarray(value_of(indices))
    y = xp.take_along_axis(a, idx, axis=axis)

    def vjp(dy):
        g = xp.zeros_like(a, dtype=dy.dtype)
        xp.put_along_axis(g, idx, 0, axis=axis)  # shape check only; sums below
        grid = list(xp.indices(idx.shape, sparse=True))
        grid[axis] = idx
        xp.add.at(g, tuple(grid), dy)
        return (g,)
    return record(y, (x,), vjp)


def tile(x, repeats):
    a = xp.asarray(_v(x))
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    y = xp.tile(a, reps)

    def vjp(dy):
        full = (1,) * (dy.ndim - a.ndim) + a.shape
        reps_full = (1,) * (dy.ndim - len(reps)) + reps
        split_shape = [s for pair in zip(reps_full, full) for s in pair]
        g = dy.reshape(split_shape).sum(axis=tuple(range(0, 2 * dy.ndim, 2)))
        return (g.reshape(a.shape),)
    return record(y, (x,), vjp)


def repeat(x, repeats, axis=None):
    a = xp.asarray(_v(x))
    y = xp.repeat(a, repeats, axis=axis)

    def vjp(dy):
        if axis is None:
            flat = a.reshape(-1)
            reps = xp.broadcast_to(xp.asarray(repeats), flat.shape)
            starts = xp.concatenate([[0], xp.cumsum(reps)[:-1]]).astype(int)
            return (xp.add.reduceat(dy.reshape(-1), starts).reshape(a.shape)
                    if dy.size else xp.zeros_like(a),)
        reps = xp.broadcast_to(xp.asarray(repeats), (a.shape[axis],))
        starts = xp.concatenate([[0], xp.cumsum(reps)[:-1]]).astype(int)
        return (xp.add.reduceat(dy, starts, axis=axis),)
    return record(y, (x,), vjp)


def pad(x, pad_width, mode="constant", constant_values=None):
    a = xp.asarray(_v(x))
    kwargs = {} if constant_values is None or mode != "constant" else {
        "constant_values": constant_values}
    width = xp.broadcast_to(xp.asarray(pad_width), (a.ndim, 2))
    y = xp.pad(a, width, mode=mode, **kwargs)
    if mode != "constant":
        return y
    region = tuple(builtins.slice(int(lo), int(lo) + n) for (lo, _), n in zip(width, a.shape))
    return record(y, (x,), lambda dy: (dy[region],))


def flip(x, axis=None):
    a = xp.asarray(_v(x))
    y = xp.flip(a, axis=axis)
    return record(y, (x,), lambda dy: (xp.flip(dy, axis=axis),))


def roll(x, shift, axis=None):
    a = xp.asarray(_v(x))
    y = xp.roll(a, shift, axis=axis)
    back = -shift if isinstance(shift, int) else tuple(-s for s in shift)
    return record(y, (x,), lambda dy: (xp.roll(dy, back, axis=axis),))


def triu(x, k=0):
    a = xp.asarray(_v(x))
    y = xp.triu(a, k)
    return record(y, (x,), lambda dy: (xp.triu(dy, k),))


def tril(x, k=0):
    a = xp.asarray(_v(x))
    y = xp.tril(a, k)
    return record(y, (x,), lambda dy: (xp.tril(dy, k),))


def diag(x, k=0):
    a = xp.asarray(_v(x))
    y = xp.diag(a, k)
    if a.ndim == 1:  # vector -> matrix: the gradient is the matrix's k-th diagonal
        return record(y, (x,), lambda dy: (xp.diagonal(dy, k).copy(),))
    return record(y, (x,), lambda dy: (_scatter_diagonal(dy, k, a.shape),))


def _scatter_diagonal(d, k, shape):
    g = xp.zeros(shape, d.dtype)
    rows = xp.arange(len(d)) + builtins.max(-k, 0)
    g[rows, rows + k] = d
    return g


def slice(inputs, start_indices, shape):  # noqa: A001 - Keras's name
    index = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return get_item(inputs, index)


def slice_update(inputs, start_indices, updates):
    a = xp.asarray(_v(inputs))
    u = xp.asarray(_v(updates))
    index = tuple(builtins.slice(int(s), int(s) + n) for s, n in zip(start_indices, u.shape))
    y = a.copy()
    y[index] = u

    def vjp(dy):
        da = dy.copy()
        da[index] = 0
        return da, dy[index]
    return record(y, (inputs, updates), vjp)


# -- creation (nothing to differentiate) ----------------------------------------------
def _float(dtype):
    return backend.floatx() if dtype is None else dtype


def zeros(shape, dtype=None):
    return xp.zeros(shape, dtype=_float(dtype))


def ones(shape, dtype=None):
    return xp.ones(shape, dtype=_float(dtype))


def full(shape, fill_value, dtype=None):
    return xp.full(shape, _v(fill_value), dtype=_float(dtype))


def zeros_like(x, dtype=None):
    return xp.zeros_like(_v(x), dtype=dtype)


def ones_like(x, dtype=None):
    return xp.ones_like(_v(x), dtype=dtype)


def full_like(x, fill_value, dtype=None):
    return xp.full_like(_v(x), _v(fill_value), dtype=dtype)


def eye(N, M=None, k=0, dtype=None):
    return xp.eye(N, M, k, dtype=_float(dtype))


def arange(start, stop=None, step=1, dtype=None):
    return xp.arange(start, stop, step, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return xp.linspace(start, stop, num, endpoint=endpoint, retstep=retstep,
                       dtype=dtype or _float(None), axis=axis)


def shape(x):
    return tuple(xp.shape(value_of(x)))


def ndim(x):
    return xp.ndim(value_of(x))


def size(x):
    return xp.size(value_of(x))


def sort(x, axis=-1):
    a = xp.asarray(_v(x))
    order = xp.argsort(a, axis=axis)
    return take_along_axis(x, order, axis=axis)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    a = xp.asarray(_v(x))
    y = xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)
    finite = xp.isfinite(a)
    return record(y, (x,), lambda dy: (dy * finite,))


def arctan2(x1, x2):
    a, b = _v(x1), _v(x2)
    y = xp.arctan2(a, b)
    denominator = a * a + b * b
    return record(y, (x1, x2), lambda dy: (unbroadcast(dy * b / denominator, _shape(a)),
                                          unbroadcast(-dy * a / denominator, _shape(b))))


def norm(x, ord=None, axis=None, keepdims=False):
    if ord not in (None, 2, "fro", "euclidean") or (isinstance(axis, tuple) and ord == 2):
        return xp.linalg.norm(_v(x), ord=ord, axis=axis, keepdims=keepdims)
    return sqrt(sum(square(x), axis=axis, keepdims=keepdims))


# -- operators on tensors and variables -------------------------------------------------
def _install_operators():
    def swap(fn):
        return lambda self, other: fn(other, self)

    table = {
        "__add__": add, "__radd__": swap(add), "__sub__": subtract, "__rsub__": swap(subtract),
        "__mul__": multiply, "__rmul__": swap(multiply), "__truediv__": divide,
        "__rtruediv__": swap(divide), "__pow__": power, "__rpow__": swap(power),
        "__matmul__": matmul, "__rmatmul__": swap(matmul), "__neg__": negative,
        "__abs__": abs, "__pos__": lambda self: self, "__getitem__": get_item,
        "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
        "__floordiv__": floor_divide, "__rfloordiv__": swap(floor_divide),
    }
    for cls in (Tensor, Variable):
        for name, fn in table.items():
            setattr(cls, name, fn)
        cls.T = property(lambda self: transpose(self))
        cls.reshape = lambda self, *s: reshape(self, s[0] if len(s) == 1 else s)
        cls.sum = lambda self, axis=None, keepdims=False: sum(self, axis, keepdims)
        cls.mean = lambda self, axis=None, keepdims=False: mean(self, axis, keepdims)
        cls.astype = lambda self, dtype: cast(self, dtype)


_install_operators()
