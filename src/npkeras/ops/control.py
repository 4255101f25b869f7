"""Control flow: ``cond``, ``fori_loop``, ``while_loop``, ``scan``, ``map`` and
``vectorized_map``, as in ``keras.ops``.

Ops run eagerly here, so these are plain Python control flow around the functions
given; gradients flow through whatever ops those functions call. They take Python
functions, so they cannot be saved inside a functional graph (call them inside a
layer's ``call`` instead).

>>> from npkeras import ops
>>> int(ops.fori_loop(0, 4, lambda i, total: total + i, 0))
6
"""

from __future__ import annotations

from npkeras.ops.shape import stack
from npkeras.ops.tape import value_of

__all__ = ["cond", "fori_loop", "map", "scan", "vectorized_map", "while_loop"]


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` holds, else ``false_fn()``."""
    return true_fn() if bool(value_of(pred)) else false_fn()


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``; returns ``val``."""
    value = init_val
    for i in range(int(lower), int(upper)):
        value = body_fun(i, value)
    return value


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds (at most
    ``maximum_iterations`` times); a single non-tuple ``loop_vars`` is passed as is."""
    single = not isinstance(loop_vars, (list, tuple))
    state = (loop_vars,) if single else tuple(loop_vars)
    count = 0
    while bool(value_of(cond(*state))) and (
        maximum_iterations is None or count < maximum_iterations
    ):
        result = body(*state)
        state = (result,) if single else tuple(result)
        count += 1
    return state[0] if single else type(loop_vars)(state)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the slices ``x`` of ``xs`` (or ``length`` times
    with ``x = None``); returns the last carry and the stacked ``y``."""
    count = len(xs) if xs is not None else int(length)
    order = range(count - 1, -1, -1) if reverse else range(count)
    carry, ys = init, [None] * count
    for i in order:
        carry, ys[i] = f(carry, None if xs is None else xs[i])
    return carry, (stack(ys) if ys and ys[0] is not None else None)


def map(f, xs):
    """``f`` applied to each slice of ``xs`` along its first axis, results stacked."""
    return stack([f(x) for x in xs])


def vectorized_map(function, elements):
    """As :func:`map` (there is no separate vectorising compiler here)."""
    return map(function, elements)
