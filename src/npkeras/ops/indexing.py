"""Gathering and slicing: ``x[key]`` (``get_item``), ``take``, ``take_along_axis``,
``slice`` and ``slice_update``.

A gather's VJP adds each output gradient back at the position it was read from. The
positions come from running the same gather on ``arange(x.size)`` (the flat index of
every element), so one scatter-add (:func:`~npkeras.ops.core.scatter_add`) serves every
kind of index, repeated positions included.
"""

from __future__ import annotations

import builtins

from npkeras.backend import xp
from npkeras.ops.core import _a, keras_op, scatter_add
from npkeras.ops.tape import Tensor, record, value_of
from npkeras.ops.variable import Variable

__all__ = ["get_item", "slice", "slice_update", "take", "take_along_axis"]


def _positions(a):
    """The flat index of every element of ``a``, in ``a``'s shape."""
    return xp.arange(a.size).reshape(a.shape)


def _normalise_index(key):
    if isinstance(key, tuple):
        return tuple(_normalise_index(k) for k in key)
    if isinstance(key, (Tensor, Variable)):
        return value_of(key)
    if isinstance(key, list):  # a list index is an integer or boolean array index
        return xp.asarray(key)
    return key


def _has_array_index(key) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return builtins.any(getattr(k, "ndim", 0) > 0 for k in keys)


@keras_op
def get_item(x, key):
    """``x[key]`` with NumPy's indexing (slices, ``None``, ``...``, integer and boolean
    arrays)."""
    a = _a(x)
    key = _normalise_index(key)
    y = a[key]

    def vjp(dy):
        if _has_array_index(key):  # positions may repeat: add them up
            return (scatter_add(a.shape, _positions(a)[key], dy, dy.dtype),)
        g = xp.zeros(a.shape, dtype=dy.dtype)
        g[key] = dy
        return (g,)

    return record(y, (x,), vjp)


@keras_op
def take(x, indices, axis=None):
    """Elements of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` for None)."""
    a = _a(x)
    idx = xp.asarray(value_of(indices))
    y = xp.take(a, idx, axis=axis)
    return record(
        y,
        (x,),
        lambda dy: (scatter_add(a.shape, xp.take(_positions(a), idx, axis=axis), dy, dy.dtype),),
    )


@keras_op
def take_along_axis(x, indices, axis=None):
    """``x`` gathered at ``indices`` along ``axis`` (``indices`` has ``x``'s rank; other
    axes broadcast); with ``axis=None``, from the flattened ``x``."""
    a = _a(x)
    idx = xp.asarray(value_of(indices))
    y = xp.take_along_axis(a, idx, axis=axis)
    return record(
        y,
        (x,),
        lambda dy: (
            scatter_add(a.shape, xp.take_along_axis(_positions(a), idx, axis=axis), dy, dy.dtype),
        ),
    )


def _window(start_indices, shape):
    return tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))


@keras_op
def slice(inputs, start_indices, shape):
    """The block of ``shape`` starting at ``start_indices``."""
    return get_item(inputs, _window(value_of(start_indices), value_of(shape)))


@keras_op
def slice_update(inputs, start_indices, updates):
    """A copy of ``inputs`` with the block at ``start_indices`` replaced by ``updates``."""
    a, u = _a(inputs), _a(updates)
    index = _window(value_of(start_indices), u.shape)
    y = a.copy()
    y[index] = u

    def vjp(dy):
        da = dy.copy()
        da[index] = 0
        return da, dy[index]

    return record(y, (inputs, updates), vjp)
