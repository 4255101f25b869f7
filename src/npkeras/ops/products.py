"""Products: ``matmul``, ``dot``, ``tensordot``, ``einsum`` and ``outer``.

Each VJP is another product: for ``y = a @ b``, ``da = dy @ b.T`` and ``db = a.T @ dy``
(batched and broadcast like the forward); ``einsum``'s VJP for an operand is the einsum
of the output gradient with the other operands.
"""

from __future__ import annotations

import string

from npkeras.backend import xp
from npkeras.ops.core import _a, _v, keras_op
from npkeras.ops.math import multiply
from npkeras.ops.tape import record, unbroadcast

__all__ = ["dot", "einsum", "matmul", "outer", "tensordot"]


@keras_op
def matmul(x1, x2):
    """Matrix product with NumPy's rules: vectors are promoted, batch axes broadcast."""
    a, b = _a(x1), _a(x2)
    y = xp.matmul(a, b)

    def vjp(dy, needs):
        need_a, need_b = needs
        if a.ndim == 1 and b.ndim == 1:
            return (dy * b if need_a else None), (dy * a if need_b else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        dy2 = dy
        if a.ndim == 1:
            dy2 = xp.expand_dims(dy2, -2)
        if b.ndim == 1:
            dy2 = xp.expand_dims(dy2, -1)
        da = db = None
        if need_a:
            da = xp.matmul(dy2, xp.swapaxes(b2, -1, -2))
            da = unbroadcast(da[..., 0, :] if a.ndim == 1 else da, a.shape)
        if need_b:
            db = xp.matmul(xp.swapaxes(a2, -1, -2), dy2)
            db = unbroadcast(db[..., 0] if b.ndim == 1 else db, b.shape)
        return da, db

    return record(y, (x1, x2), vjp, selective=True)


@keras_op
def dot(x1, x2):
    """``numpy.dot``: a product over the last axis of ``x1`` and the second-to-last of
    ``x2`` (the only one of a vector); a scalar operand multiplies."""
    a, b = _v(x1), _v(x2)
    if xp.ndim(a) == 0 or xp.ndim(b) == 0:
        return multiply(x1, x2)
    if b.ndim <= 2:
        return matmul(x1, x2)
    return tensordot(x1, x2, axes=([a.ndim - 1], [b.ndim - 2]))


def _axis_list(axes, rank):
    axes = [axes] if isinstance(axes, int) else list(axes)
    return [int(d) % rank for d in axes]


@keras_op
def tensordot(x1, x2, axes=2):
    """Sum of products over ``axes`` (an int: the last ``axes`` of ``x1`` with the first
    of ``x2``; or a pair of axis lists)."""
    a, b = _a(x1), _a(x2)
    if isinstance(axes, int):
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = _axis_list(axes[0], a.ndim), _axis_list(axes[1], b.ndim)
    y = xp.tensordot(a, b, axes=(axes_a, axes_b))
    free_a = [d for d in range(a.ndim) if d not in axes_a]
    free_b = [d for d in range(b.ndim) if d not in axes_b]
    paired_with_b = dict(zip(axes_b, axes_a))
    paired_with_a = dict(zip(axes_a, axes_b))

    def vjp(dy, needs):
        n_free_a = len(free_a)
        da = db = None
        if needs[0]:
            # contracting dy with b over b's free axes leaves free_a, then b's contracted
            # axes in b's order, which stand for the a-axes they were paired with
            da = xp.tensordot(dy, b, axes=(list(range(n_free_a, dy.ndim)), free_b))
            order = free_a + [paired_with_b[d] for d in sorted(axes_b)]
            da = xp.transpose(da, xp.argsort(order))
        if needs[1]:
            db = xp.tensordot(a, dy, axes=(free_a, list(range(n_free_a))))
            order = [paired_with_a[d] for d in sorted(axes_a)] + free_b
            db = xp.transpose(db, xp.argsort(order))
        return da, db

    return record(y, (x1, x2), vjp, selective=True)


@keras_op
def outer(x1, x2):
    """Outer product of the flattened inputs: ``(m,), (n,) -> (m, n)``."""
    a, b = _a(x1), _a(x2)
    y = xp.outer(a, b)
    return record(
        y,
        (x1, x2),
        lambda dy: ((dy @ b.reshape(-1)).reshape(a.shape), (a.reshape(-1) @ dy).reshape(b.shape)),
    )


def _explicit_subscripts(subscripts, values):
    """``subscripts`` with every ``...`` spelled out as letters and the output written
    explicitly (NumPy's implicit mode: broadcast axes first, then the letters used
    once, sorted)."""
    text = subscripts.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    specs = inputs.split(",")
    if len(specs) != len(values):
        raise ValueError(
            f"ops.einsum({subscripts!r}) names {len(specs)} operand(s) but received {len(values)}."
        )
    used = set(text)
    spare = [c for c in string.ascii_letters if c not in used]
    ranks = [xp.ndim(v) - (len(s) - 3 if "..." in s else len(s)) for s, v in zip(specs, values)]
    widest = max([r for r, s in zip(ranks, specs) if "..." in s], default=0)
    broadcast = "".join(spare[:widest])
    specs = [
        s.replace("...", broadcast[widest - r :]) if "..." in s else s for s, r in zip(specs, ranks)
    ]
    if arrow:
        output = output.replace("...", broadcast)
    else:
        letters = "".join(specs)
        single = sorted(c for c in set(letters) if letters.count(c) == 1 and c not in broadcast)
        output = broadcast + "".join(single)
    return specs, output


@keras_op
def einsum(subscripts, *operands):
    """``numpy.einsum`` with gradients: ``...``, repeated letters (diagonals) and
    broadcasting included."""
    values = [_a(o) for o in operands]
    specs, output = _explicit_subscripts(subscripts, values)
    y = xp.einsum(",".join(specs) + "->" + output, *values)

    def vjp(dy, needs):
        return [
            _einsum_operand_grad(i, specs, output, values, dy) if need else None
            for i, need in enumerate(needs)
        ]

    return record(y, operands, vjp, selective=True)


def _einsum_operand_grad(i, specs, output, values, dy):
    spec, value = specs[i], values[i]
    others = specs[:i] + specs[i + 1 :]
    other_values = values[:i] + values[i + 1 :]
    unique = "".join(dict.fromkeys(spec))
    present = set(output).union(*others)
    kept = "".join(c for c in unique if c in present)
    g = xp.einsum(",".join([output] + others) + "->" + kept, dy, *other_values)
    # letters found nowhere else were summed away: the gradient is constant along them
    for axis, c in enumerate(unique):
        if c not in present:
            g = xp.expand_dims(g, axis)
    size = dict(zip(spec, value.shape))
    shrink = tuple(axis for axis, c in enumerate(unique) if size[c] == 1 and g.shape[axis] != 1)
    if shrink:  # the operand was broadcast along these axes
        g = g.sum(axis=shrink, keepdims=True)
    g = xp.broadcast_to(g, tuple(size[c] for c in unique))
    if unique == spec:
        return xp.ascontiguousarray(g)
    # a letter repeated in one operand reads a diagonal: write the gradient there
    full = xp.zeros(value.shape, dtype=g.dtype)
    xp.einsum(spec + "->" + unique, full)[...] = g
    return full
