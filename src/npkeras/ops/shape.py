"""Shape ops: ``reshape transpose swapaxes moveaxis expand_dims squeeze ravel flatten
broadcast_to concatenate stack split unstack hstack vstack tile repeat pad flip roll
triu tril diag diagonal trace``.

They move elements without changing them, so each VJP moves the gradient back:
the inverse permutation, the matching split, a sum over copies (``tile``, ``repeat``,
``broadcast_to``) or the inner region of a padding.
"""

from __future__ import annotations

import builtins

from npkeras.backend import xp
from npkeras.ops.core import _a, check_axis, keras_op, scatter_add
from npkeras.ops.tape import record, record_multi, unbroadcast, value_of

__all__ = [
    "broadcast_to",
    "concatenate",
    "diag",
    "diagonal",
    "expand_dims",
    "flatten",
    "flip",
    "hstack",
    "moveaxis",
    "pad",
    "ravel",
    "repeat",
    "reshape",
    "roll",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "tile",
    "trace",
    "transpose",
    "tril",
    "triu",
    "unstack",
    "vstack",
]


@keras_op
def reshape(x, newshape):
    """``x`` with shape ``newshape`` (one entry may be -1 or None: inferred)."""
    a = _a(x)
    newshape = value_of(newshape)
    newshape = tuple(
        -1 if d is None else int(d)
        for d in ((newshape,) if isinstance(newshape, int) else newshape)
    )
    y = a.reshape(newshape)
    return record(y, (x,), lambda dy: (dy.reshape(a.shape),))


@keras_op
def transpose(x, axes=None):
    """``x`` with its axes permuted (reversed for None)."""
    a = _a(x)
    y = xp.transpose(a, axes)
    inverse = (
        None if axes is None else xp.argsort([check_axis("transpose", d, a.ndim) for d in axes])
    )
    return record(y, (x,), lambda dy: (xp.transpose(dy, inverse),))


@keras_op
def swapaxes(x, axis1, axis2):
    """``x`` with two axes exchanged."""
    n = xp.ndim(value_of(x))
    axes = list(range(n))
    i, j = check_axis("swapaxes", axis1, n), check_axis("swapaxes", axis2, n)
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(x, axes)


@keras_op
def moveaxis(x, source, destination):
    """``x`` with the axes ``source`` moved to positions ``destination``."""
    n = xp.ndim(value_of(x))
    sources = [source] if isinstance(source, int) else list(source)
    targets = [destination] if isinstance(destination, int) else list(destination)
    sources = [check_axis("moveaxis", s, n) for s in sources]
    targets = [check_axis("moveaxis", d, n) for d in targets]
    order = [d for d in range(n) if d not in sources]
    for target, src in sorted(zip(targets, sources)):
        order.insert(target, src)
    return transpose(x, order)


@keras_op
def expand_dims(x, axis):
    """``x`` with new axes of size 1 at ``axis``."""
    a = _a(x)
    y = xp.expand_dims(a, axis)
    return record(y, (x,), lambda dy: (dy.reshape(a.shape),))


@keras_op
def squeeze(x, axis=None):
    """``x`` without its axes of size 1 (only ``axis`` when given)."""
    a = _a(x)
    y = xp.squeeze(a, axis=axis)
    return record(y, (x,), lambda dy: (dy.reshape(a.shape),))


@keras_op
def ravel(x):
    """The elements of ``x`` as a vector."""
    return reshape(x, (-1,))


flatten = ravel


@keras_op
def broadcast_to(x, shape):
    """``x`` broadcast to ``shape``; the gradient sums over the stretched axes."""
    a = _a(x)
    y = xp.broadcast_to(a, tuple(value_of(shape)))
    return record(y, (x,), lambda dy: (unbroadcast(dy, a.shape),))


@keras_op
def concatenate(xs, axis=0):
    """The tensors of ``xs`` joined along ``axis``."""
    values = [_a(x) for x in xs]
    y = xp.concatenate(values, axis=axis)
    if axis is None:  # the inputs were flattened, then joined
        bounds = xp.cumsum([v.size for v in values])[:-1]
        return record(
            y,
            list(xs),
            lambda dy: tuple(g.reshape(v.shape) for g, v in zip(xp.split(dy, bounds), values)),
        )
    axis = check_axis("concatenate", axis, y.ndim)
    bounds = xp.cumsum([v.shape[axis] for v in values])[:-1]
    return record(y, list(xs), lambda dy: tuple(xp.split(dy, bounds, axis=axis)))


@keras_op
def stack(x, axis=0):
    """The tensors of ``x`` (one shape) stacked along a new ``axis``."""
    values = [_a(v) for v in x]
    y = xp.stack(values, axis=axis)
    return record(
        y,
        list(x),
        lambda dy: tuple(xp.squeeze(g, axis=axis) for g in xp.split(dy, len(values), axis=axis)),
    )


@keras_op
def split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into equal sections or at the given indices (a list)."""
    a = _a(x)
    parts = xp.split(a, indices_or_sections, axis=axis)
    return record_multi(parts, (x,), lambda dys: (xp.concatenate(dys, axis=axis),))


@keras_op
def tile(x, repeats):
    """``x`` repeated ``repeats`` times along each axis (``numpy.tile``)."""
    a = _a(x)
    reps = (repeats,) if isinstance(repeats, int) else tuple(int(r) for r in repeats)
    y = xp.tile(a, reps)

    def vjp(dy):
        # view dy as (reps, size) pairs per axis and sum over the copies
        full = (1,) * (dy.ndim - a.ndim) + a.shape
        reps_full = (1,) * (dy.ndim - len(reps)) + reps
        split_shape = [s for pair in zip(reps_full, full) for s in pair]
        g = dy.reshape(split_shape).sum(axis=tuple(range(0, 2 * dy.ndim, 2)))
        return (g.reshape(a.shape),)

    return record(y, (x,), vjp)


@keras_op
def repeat(x, repeats, axis=None):
    """Each element repeated ``repeats`` times along ``axis`` (flattened for None)."""
    a = _a(x)
    repeats = value_of(repeats)
    y = xp.repeat(a, repeats, axis=axis)
    positions = xp.repeat(xp.arange(a.size).reshape(a.shape), repeats, axis=axis)
    return record(y, (x,), lambda dy: (scatter_add(a.shape, positions, dy, dy.dtype),))


_COPYING_MODES = ("edge", "reflect", "symmetric", "wrap")


@keras_op
def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` padded by ``pad_width`` (``[[before, after], ...]`` per axis) with
    ``numpy.pad``'s ``mode``. Gradients flow for 'constant' and the modes that copy
    elements ('edge', 'reflect', 'symmetric', 'wrap')."""
    a = _a(x)
    if constant_values is not None and mode != "constant":
        raise ValueError(
            f"ops.pad: `constant_values` only applies with mode='constant'; received "
            f"mode={mode!r}, constant_values={constant_values!r}."
        )
    kwargs = {} if constant_values is None else {"constant_values": constant_values}
    width = xp.broadcast_to(xp.asarray(value_of(pad_width), dtype=int), (a.ndim, 2))
    y = xp.pad(a, width, mode=mode, **kwargs)
    if mode == "constant":
        region = tuple(builtins.slice(int(lo), int(lo) + n) for (lo, _), n in zip(width, a.shape))
        return record(y, (x,), lambda dy: (dy[region],))
    if mode in _COPYING_MODES:
        positions = xp.pad(xp.arange(a.size).reshape(a.shape), width, mode=mode)
        return record(y, (x,), lambda dy: (scatter_add(a.shape, positions, dy, dy.dtype),))
    return y


@keras_op
def flip(x, axis=None):
    """``x`` reversed along ``axis`` (all axes for None)."""
    a = _a(x)
    y = xp.flip(a, axis=axis)
    return record(y, (x,), lambda dy: (xp.flip(dy, axis=axis),))


@keras_op
def roll(x, shift, axis=None):
    """``x`` shifted cyclically by ``shift`` along ``axis`` (flattened for None)."""
    a = _a(x)
    y = xp.roll(a, shift, axis=axis)
    back = -shift if isinstance(shift, int) else tuple(-s for s in shift)
    return record(y, (x,), lambda dy: (xp.roll(dy, back, axis=axis),))


@keras_op
def triu(x, k=0):
    """The upper triangle of the last two axes (from diagonal ``k``), zeros elsewhere."""
    a = _a(x)
    return record(xp.triu(a, k), (x,), lambda dy: (xp.triu(dy, k),))


@keras_op
def tril(x, k=0):
    """The lower triangle of the last two axes (to diagonal ``k``), zeros elsewhere."""
    a = _a(x)
    return record(xp.tril(a, k), (x,), lambda dy: (xp.tril(dy, k),))


@keras_op
def diag(x, k=0):
    """A vector's diagonal matrix, or a matrix's ``k``-th diagonal."""
    a = _a(x)
    y = xp.diag(a, k)
    if a.ndim == 1:  # vector -> matrix: the gradient is the matrix's k-th diagonal
        return record(y, (x,), lambda dy: (xp.diagonal(dy, k).copy(),))
    return record(y, (x,), lambda dy: (_scatter_diagonal(dy, k, a.shape),))


def _scatter_diagonal(d, k, shape):
    g = xp.zeros(shape, d.dtype)
    rows = xp.arange(len(d)) + builtins.max(-k, 0)
    g[rows, rows + k] = d
    return g


@keras_op
def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``, as a list."""
    a = _a(x)
    axis = check_axis("unstack", axis, a.ndim)
    parts = [xp.take(a, i, axis=axis) for i in range(a.shape[axis])]
    return record_multi(parts, (x,), lambda dys: (xp.stack(dys, axis=axis),))


@keras_op
def hstack(xs):
    """The tensors joined along their second axis (the first for vectors)."""
    return concatenate(list(xs), axis=0 if all(xp.ndim(value_of(x)) == 1 for x in xs) else 1)


@keras_op
def vstack(xs):
    """The tensors joined along their first axis (vectors become rows)."""
    return concatenate(
        [reshape(x, (1, -1)) if xp.ndim(value_of(x)) == 1 else x for x in xs], axis=0
    )


@keras_op
def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal ``offset`` of the planes spanned by ``axis1`` and ``axis2`` (moved to
    the last axis)."""
    a = _a(x)
    y = xp.diagonal(a, offset, axis1, axis2).copy()
    positions = xp.diagonal(xp.arange(a.size).reshape(a.shape), offset, axis1, axis2)
    return record(y, (x,), lambda dy: (scatter_add(a.shape, positions, dy, dy.dtype),))


@keras_op
def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the diagonal ``offset`` of the planes spanned by ``axis1`` and ``axis2``."""
    a = _a(x)
    y = xp.trace(a, offset, axis1, axis2)
    positions = xp.diagonal(xp.arange(a.size).reshape(a.shape), offset, axis1, axis2)
    return record(
        y,
        (x,),
        lambda dy: (
            scatter_add(
                a.shape,
                positions,
                xp.broadcast_to(xp.expand_dims(dy, -1), positions.shape),
                xp.result_type(dy),
            ),
        ),
    )
