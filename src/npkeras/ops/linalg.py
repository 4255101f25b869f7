"""``keras.ops.linalg``: norms of vectors and matrices with their gradients.

>>> from npkeras import ops
>>> float(ops.linalg.norm([3.0, 4.0]))
5.0
"""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.ops.core import _float, keras_op
from npkeras.ops.math import absolute, power, sqrt, square
from npkeras.ops.reduce import max, min, sum
from npkeras.ops.tape import record

__all__ = ["norm"]

_INF = float("inf")


def _vector_norm(x, order, axis, keepdims):
    if order is None or order == 2:
        return sqrt(sum(square(x), axis=axis, keepdims=keepdims))
    if order == _INF:
        return max(absolute(x), axis=axis, keepdims=keepdims)
    if order == -_INF:
        return min(absolute(x), axis=axis, keepdims=keepdims)
    if order == 0:  # the count of non-zero elements: no gradient
        return sum(_float(x) != 0, axis=axis, keepdims=keepdims).astype(_float(x).dtype)
    if order == 1:
        return sum(absolute(x), axis=axis, keepdims=keepdims)
    return power(sum(power(absolute(x), order), axis=axis, keepdims=keepdims), 1.0 / order)


def _matrix_norm(x, order, axes, keepdims):
    rows, cols = axes
    if order in (None, "fro"):
        return sqrt(sum(square(x), axis=axes, keepdims=keepdims))
    if order in (1, -1, _INF, -_INF):
        # 1: the largest column sum of |x| (over rows); inf: the largest row sum
        inner, outer = (rows, cols) if order in (1, -1) else (cols, rows)
        pick = max if order in (1, _INF) else min
        sums = sum(absolute(x), axis=inner, keepdims=True)
        out = pick(sums, axis=outer, keepdims=True)
        return out if keepdims else sum(out, axis=axes)  # drop the two size-1 axes
    if order in ("nuc", 2, -2):
        return _singular_value_norm(x, order, axes, keepdims)
    raise ValueError(
        f"ops.norm: invalid `ord` {order!r} for a matrix norm. Use one of None, 'fro', "
        "'nuc', 1, -1, 2, -2, inf, -inf."
    )


def _singular_value_norm(x, order, axes, keepdims):
    """Nuclear norm (sum of singular values) or the largest/smallest singular value; the
    gradients are U V^T and the outer product of the chosen singular vectors."""
    a = _float(x)
    moved = xp.moveaxis(a, axes, (-2, -1))
    u, s, vt = xp.linalg.svd(moved, full_matrices=False)
    if order == "nuc":
        y = s.sum(-1)
        direction = u @ vt
    else:
        k = 0 if order == 2 else -1
        y = s[..., k]
        direction = u[..., :, k, None] * vt[..., k, None, :]
    out = y
    if keepdims:
        for axis in sorted(axes):
            out = xp.expand_dims(out, axis)

    def vjp(dy):
        d = dy if not keepdims else xp.squeeze(dy, axis=axes)
        return (xp.moveaxis(d[..., None, None] * direction, (-2, -1), axes),)

    return record(out, (x,), vjp)


@keras_op
def norm(x, ord=None, axis=None, keepdims=False):
    """A vector norm (``axis`` an int, or None on a vector or with ``ord=None``) or a
    matrix norm (``axis`` a pair, or None on a matrix), as ``numpy.linalg.norm``."""
    rank = xp.ndim(_float(x))
    if axis is None:
        if ord is None:  # the 2-norm of all elements, whatever the rank
            return _vector_norm(x, None, None, keepdims)
        axis = tuple(range(rank))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % rank for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(
        f"ops.norm: `axis` must be None, an int or a pair of ints; received axis={axis!r}."
    )
