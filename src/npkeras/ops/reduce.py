"""Reductions, scans and orderings: ``sum mean max min prod std var logsumexp argmax
argmin argsort sort cumsum cumprod any all average count_nonzero top_k in_top_k``.

A reduction's VJP spreads ``dy`` back over the reduced axes (``_spread``): evenly for
``mean``, to the elements that attain the extreme for ``max``/``min`` (shared among
ties, as TensorFlow and torch's ``amax`` do).
"""

from __future__ import annotations

import math

from npkeras.backend import xp
from npkeras.ops.core import _a, _float, axes_tuple, check_axis, keras_op
from npkeras.ops.indexing import take_along_axis
from npkeras.ops.math import divide, exp, log, multiply, sqrt, square, stop_gradient, subtract
from npkeras.ops.shape import reshape, squeeze
from npkeras.ops.tape import record

__all__ = [
    "all",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "argsort",
    "average",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "in_top_k",
    "logsumexp",
    "max",
    "mean",
    "min",
    "prod",
    "sort",
    "std",
    "sum",
    "top_k",
    "var",
]


def _spread(dy, axes, shape, keepdims):
    """``dy`` of a reduction over ``axes`` broadcast back to the input's ``shape``."""
    if not keepdims:
        for axis in sorted(axes):
            dy = xp.expand_dims(dy, axis)
    return xp.broadcast_to(dy, shape)


def _drop(y, axes, keepdims):
    """A keepdims result with the reduced ``axes`` removed unless ``keepdims``."""
    return y if keepdims else y.reshape([d for i, d in enumerate(y.shape) if i not in axes])


@keras_op
def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (all axes for None)."""
    a = _a(x)
    axes = axes_tuple("sum", axis, a.ndim)
    y = a.sum(axis=axes, keepdims=keepdims)
    return record(y, (x,), lambda dy: (_spread(dy, axes, a.shape, keepdims),))


@keras_op
def mean(x, axis=None, keepdims=False):
    """Average over ``axis``; integer inputs give ``floatx``."""
    a = _float(x)
    axes = axes_tuple("mean", axis, a.ndim)
    count = math.prod(a.shape[i] for i in axes)
    y = a.mean(axis=axes, keepdims=keepdims)
    return record(y, (x,), lambda dy: (_spread(dy, axes, a.shape, keepdims) / count,))


def _extreme(name, reduce, combine):
    def op(x, axis=None, keepdims=False, initial=None):
        a = _a(x)
        axes = axes_tuple(name, axis, a.ndim)
        y = reduce(a, axis=axes, keepdims=True)
        if initial is not None:
            y = combine(y, initial)
        # the gradient goes to the elements equal to the extreme, shared among ties
        hit = a == y
        count = hit.sum(axis=axes, keepdims=True)
        share = hit / xp.maximum(count, 1)
        return record(
            _drop(y, axes, keepdims),
            (x,),
            lambda dy: (_spread(dy, axes, a.shape, keepdims) * share,),
        )

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"The {name}imum over ``axis`` (at least ``initial`` when given)."
    return keras_op(op)


max = _extreme("max", xp.max, xp.maximum)
min = _extreme("min", xp.min, xp.minimum)
amax, amin = max, min


@keras_op
def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over ``axis``; d(prod)/dx_i is the product of the other elements."""
    a = _a(x)
    if dtype is not None:
        a = a.astype(dtype)
    axes = axes_tuple("prod", axis, a.ndim)
    y = a.prod(axis=axes, keepdims=True)

    def vjp(dy):
        g = _spread(dy, axes, a.shape, keepdims)
        # without a zero: y / x_i; with zeros, the product of the others, computed by
        # moving the reduced axes to the end and taking exclusive prefix and suffix products
        moved = xp.moveaxis(a, axes, range(-len(axes), 0)).reshape(
            [d for i, d in enumerate(a.shape) if i not in axes] + [-1]
        )
        ones = xp.ones(moved.shape[:-1] + (1,), a.dtype)
        before = xp.cumprod(xp.concatenate([ones, moved[..., :-1]], -1), axis=-1)
        after = xp.flip(
            xp.cumprod(xp.concatenate([ones, xp.flip(moved, -1)[..., :-1]], -1), axis=-1), -1
        )
        others = (before * after).reshape(
            [d for i, d in enumerate(a.shape) if i not in axes] + [a.shape[i] for i in axes]
        )
        others = xp.moveaxis(others, range(-len(axes), 0), axes)
        return (g * others,)

    return record(_drop(y, axes, keepdims), (x,), vjp)


@keras_op
def var(x, axis=None, keepdims=False):
    """Population variance (divides by the count) over ``axis``."""
    centred = subtract(x, mean(x, axis=axis, keepdims=True))
    return mean(square(centred), axis=axis, keepdims=keepdims)


@keras_op
def std(x, axis=None, keepdims=False):
    """Population standard deviation over ``axis``."""
    return sqrt(var(x, axis=axis, keepdims=keepdims))


@keras_op
def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, shifted by the maximum so it never overflows."""
    shift = stop_gradient(max(x, axis=axis, keepdims=True))
    out = log(sum(exp(subtract(x, shift)), axis=axis, keepdims=True)) + shift
    if keepdims:
        return out
    return squeeze(out, axis=axis) if axis is not None else reshape(out, ())


def _index_op(name, fn):
    def op(x, axis=None, keepdims=False):
        a = _a(x)
        if axis is not None:
            check_axis(name, axis, a.ndim)
        return fn(a, axis=axis, keepdims=keepdims)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Indices of the {name[3:]}imum along ``axis`` (flattened for None)."
    return keras_op(op)


argmax = _index_op("argmax", xp.argmax)
argmin = _index_op("argmin", xp.argmin)


@keras_op
def argsort(x, axis=-1):
    """Indices that sort ``x`` along ``axis`` (stable)."""
    return xp.argsort(_a(x), axis=axis, kind="stable")


@keras_op
def sort(x, axis=-1):
    """``x`` sorted along ``axis``; the gradient goes back to each element's place."""
    a = _a(x)
    if axis is None:
        return sort(reshape(x, (-1,)), axis=0)
    order = xp.argsort(a, axis=axis, kind="stable")
    return take_along_axis(x, order, axis=axis)


def _logical(name, fn):
    def op(x, axis=None, keepdims=False):
        return fn(_a(x), axis=axis, keepdims=keepdims)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Whether {'any' if name == 'any' else 'every'} element is true over ``axis``."
    return keras_op(op)


any = _logical("any", xp.any)
all = _logical("all", xp.all)


def _flat_axis(a, axis):
    return (a.reshape(-1), 0) if axis is None else (a, axis)


@keras_op
def cumsum(x, axis=None, dtype=None):
    """Running sum along ``axis`` (over the flattened input for None)."""
    a = _a(x) if dtype is None else _a(x).astype(dtype)
    flat, ax = _flat_axis(a, axis)
    y = xp.cumsum(flat, axis=ax)
    # dL/dx_i = sum over j >= i of dy_j: a reversed running sum
    return record(
        y, (x,), lambda dy: (xp.flip(xp.cumsum(xp.flip(dy, ax), axis=ax), ax).reshape(a.shape),)
    )


@keras_op
def cumprod(x, axis=None, dtype=None):
    """Running product along ``axis`` (over the flattened input for None)."""
    a = _a(x) if dtype is None else _a(x).astype(dtype)
    flat, ax = _flat_axis(a, axis)
    y = xp.cumprod(flat, axis=ax)

    def vjp(dy):
        if xp.all(flat != 0):  # dL/dx_i = sum_{j >= i} dy_j y_j / x_i
            g = xp.flip(xp.cumsum(xp.flip(dy * y, ax), axis=ax), ax) / flat
            return (g.reshape(a.shape),)
        # with zeros, y_j / x_i is undefined: rebuild each position's term with x_i = 1
        moved, dmoved = xp.moveaxis(flat, ax, -1), xp.moveaxis(dy, ax, -1)
        g = xp.empty_like(moved)
        for i in range(moved.shape[-1]):
            without = moved.copy()
            without[..., i] = 1
            g[..., i] = (xp.cumprod(without, axis=-1)[..., i:] * dmoved[..., i:]).sum(-1)
        return (xp.moveaxis(g, -1, ax).reshape(a.shape),)

    return record(y, (x,), vjp)


@keras_op
def average(x, axis=None, weights=None):
    """Mean over ``axis`` weighted by ``weights`` (the shape of ``x``, or 1-D along
    ``axis``), as ``numpy.average``."""
    if weights is None:
        return mean(x, axis=axis)
    a, w = _a(x), _a(weights)
    if w.ndim == 1 and a.ndim > 1:
        if axis is None:
            raise ValueError(
                f"ops.average: 1-D `weights` need an `axis`; received x of shape {a.shape}, "
                f"weights of shape {w.shape} and axis=None."
            )
        shape = [1] * a.ndim
        shape[check_axis("average", axis, a.ndim)] = w.shape[0]
        weights = reshape(weights, shape)
    return divide(sum(multiply(x, weights), axis=axis), sum(weights * xp.ones_like(a), axis=axis))


@keras_op
def count_nonzero(x, axis=None):
    """How many elements are not zero over ``axis``."""
    return xp.count_nonzero(_a(x), axis=axis)


@keras_op
def top_k(x, k, sorted=True):
    """The ``k`` largest values along the last axis and their indices (``(values,
    indices)``; the first of equal values first). Gradients flow to the values."""
    a = _a(x)
    indices = xp.argsort(-a, axis=-1, kind="stable")[..., :k]
    return take_along_axis(x, indices, axis=-1), indices


@keras_op
def in_top_k(targets, predictions, k):
    """Whether each row's ``targets`` class is among the ``k`` highest ``predictions``
    (a tie with the k-th value counts as in)."""
    scores = _a(predictions)
    labels = _a(targets).astype("int64")
    target_scores = xp.take_along_axis(scores, labels[:, None], axis=1)
    return (scores > target_scores).sum(axis=1) < k
