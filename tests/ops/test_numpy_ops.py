"""keras.ops (NumPy-like): forward equals NumPy, every differentiable op's gradient
matches central differences (float64) on several shapes, broadcasting included."""

import math
from functools import partial

import numpy as np
import pytest

from npkeras import GradientTape, Variable, ops
from npkeras.backend import xp
from npkeras.ops.tape import Tape
from tests.ops.checks import check_op_gradients, make_input

BINARY_SHAPES = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3))]
UNARY_SHAPES = [((5,),), ((2, 3, 4),)]


def case(name, fn, ref, shapes, domains=("real",)):
    """One row per shape set: (id, fn, numpy reference, input shapes, input domains)."""
    return [pytest.param(fn, ref, s, domains, id=f"{name}-{s}") for s in shapes]


def binary(name, ref, domains=("real", "real"), shapes=BINARY_SHAPES):
    return case(name, getattr(ops, name), ref, shapes, domains)


def unary(name, ref, domain="real", shapes=UNARY_SHAPES):
    return case(name, getattr(ops, name), ref, shapes, (domain,))


def _joined(concatenate, axis):
    return lambda x, y: concatenate([x, y], axis=axis)


def _numpy_reduce(name, x, axis=None, keepdims=False):
    if name == "logsumexp":
        m = np.max(x, axis=axis, keepdims=True)
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axis)
    return getattr(np, name)(x, axis=axis, keepdims=keepdims)


def _numpy_slice_update(x, start, u):
    y = x.copy()
    y[start[0] : start[0] + u.shape[0], start[1] : start[1] + u.shape[1]] = u
    return y


CASES = [
    *binary("add", np.add),
    *binary("subtract", np.subtract),
    *binary("multiply", np.multiply),
    *binary("divide", np.divide, ("real", "away")),
    *binary("true_divide", np.true_divide, ("real", "away")),
    *binary("power", np.power, ("positive", "real")),
    *binary("maximum", np.maximum),
    *binary("minimum", np.minimum),
    *binary("arctan2", np.arctan2, ("real", "away")),
    *unary("negative", np.negative),
    *unary("abs", np.abs),
    *unary("absolute", np.abs),
    *unary("square", np.square),
    *unary("sqrt", np.sqrt, "positive"),
    *unary("exp", np.exp),
    *unary("expm1", np.expm1),
    *unary("log", np.log, "positive"),
    *unary("log1p", np.log1p, "positive"),
    *unary("log2", np.log2, "positive"),
    *unary("log10", np.log10, "positive"),
    *unary("sin", np.sin),
    *unary("cos", np.cos),
    *unary("tan", np.tan, "unit"),
    *unary("tanh", np.tanh),
    *unary("sinh", np.sinh),
    *unary("cosh", np.cosh),
    *unary("arcsin", np.arcsin, "unit"),
    *unary("arccos", np.arccos, "unit"),
    *unary("arctan", np.arctan),
    *unary("nan_to_num", np.nan_to_num),
    *unary("reciprocal", np.reciprocal, "away"),
    *unary("rsqrt", lambda x: 1 / np.sqrt(x), "positive"),
    *unary("erf", lambda x: np.vectorize(math.erf)(x)),
    *binary("logaddexp", np.logaddexp),
    *binary("mod", np.mod, ("real", "away")),
    *case("clip", lambda x: ops.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), UNARY_SHAPES),
    *case(
        "clip_tensor_bounds",
        lambda x, lo, hi: ops.clip(x, lo - 1.0, hi + 1.0),
        lambda x, lo, hi: np.clip(x, lo - 1.0, hi + 1.0),
        [((3, 4), (4,), ())],
        ("real", "unit", "unit"),
    ),
    *case(
        "where",
        lambda a, b: ops.where(np.arange(4) % 2 == 0, a, b),
        lambda a, b: np.where(np.arange(4) % 2 == 0, a, b),
        [((3, 4), (4,)), ((4,), ())],
        ("real", "real"),
    ),
    # products
    *case(
        "matmul",
        ops.matmul,
        np.matmul,
        [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2))],
        ("real", "real"),
    ),
    *case(
        "dot",
        ops.dot,
        np.dot,
        [((3, 4), (4, 5)), ((2, 3, 4), (5, 4, 2)), ((), (3,)), ((4,), (4,))],
        ("real", "real"),
    ),
    *case("tensordot", ops.tensordot, np.tensordot, [((2, 3, 4), (3, 4, 5))], ("real", "real")),
    *case(
        "tensordot_axes",
        lambda a, b: ops.tensordot(a, b, axes=([1, 0], [0, 1])),
        lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 1])),
        [((3, 2, 4), (2, 3, 5))],
        ("real", "real"),
    ),
    *case(
        "tensordot_unsorted",
        lambda a, b: ops.tensordot(a, b, axes=([0, 2], [2, 0])),
        lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 0])),
        [((2, 3, 4), (4, 5, 2))],
        ("real", "real"),
    ),
    *case("outer", ops.outer, np.outer, [((3,), (4,)), ((2, 2), (3,))], ("real", "real")),
    # reductions
    *[
        p
        for axis, keep in [(None, False), (0, False), (-1, True), ((0, 2), False)]
        for name in ("sum", "mean", "max", "min", "prod", "std", "var", "logsumexp")
        for p in case(
            f"{name}-axis{axis}-keep{keep}",
            partial(getattr(ops, name), axis=axis, keepdims=keep),
            partial(_numpy_reduce, name, axis=axis, keepdims=keep),
            [((2, 3, 4),)],
        )
    ],
    *case(
        "max_initial",
        lambda x: ops.max(x, axis=1, initial=0.0),
        lambda x: np.max(x, axis=1, initial=0.0),
        [((3, 4),)],
    ),
    *[
        p
        for axis in (None, 0, 1)
        for name in ("cumsum", "cumprod")
        for p in case(
            f"{name}-{axis}",
            partial(getattr(ops, name), axis=axis),
            partial(getattr(np, name), axis=axis),
            [((3, 4),)],
        )
    ],
    *[
        p
        for axis in (-1, 0, None)
        for p in case(
            f"sort-{axis}", partial(ops.sort, axis=axis), partial(np.sort, axis=axis), [((3, 4),)]
        )
    ],
    # shapes
    *case("reshape", lambda x: ops.reshape(x, (4, -1)), lambda x: x.reshape(4, -1), [((2, 3, 4),)]),
    *case("transpose", ops.transpose, np.transpose, [((2, 3, 4),)]),
    *case(
        "transpose_axes",
        lambda x: ops.transpose(x, (1, 0, 2)),
        lambda x: np.transpose(x, (1, 0, 2)),
        [((2, 3, 4),)],
    ),
    *case(
        "swapaxes",
        lambda x: ops.swapaxes(x, 0, -1),
        lambda x: np.swapaxes(x, 0, -1),
        [((2, 3, 4),)],
    ),
    *case(
        "moveaxis",
        lambda x: ops.moveaxis(x, [0, 1], [-1, 0]),
        lambda x: np.moveaxis(x, [0, 1], [-1, 0]),
        [((2, 3, 4),)],
    ),
    *case(
        "expand_dims",
        lambda x: ops.expand_dims(x, (0, 2)),
        lambda x: np.expand_dims(x, (0, 2)),
        [((2, 3),)],
    ),
    *case("squeeze", lambda x: ops.squeeze(x, 1), lambda x: np.squeeze(x, 1), [((2, 1, 3),)]),
    *case("ravel", ops.ravel, np.ravel, [((2, 3),)]),
    *case("flatten", ops.flatten, np.ravel, [((2, 3),)]),
    *case(
        "broadcast_to",
        lambda x: ops.broadcast_to(x, (2, 3, 4)),
        lambda x: np.broadcast_to(x, (2, 3, 4)),
        [((3, 1),), ((4,),)],
    ),
    *[
        p
        for axis in (0, 1, None)
        for p in case(
            f"concatenate-{axis}",
            _joined(ops.concatenate, axis),
            _joined(np.concatenate, axis),
            [((2, 3), (2, 3))],
            ("real", "real"),
        )
    ],
    *case(
        "stack",
        lambda x, y: ops.stack([x, y], axis=1),
        lambda x, y: np.stack([x, y], axis=1),
        [((2, 3), (2, 3))],
        ("real", "real"),
    ),
    *case(
        "split", lambda x: ops.split(x, 3, axis=1), lambda x: np.split(x, 3, axis=1), [((2, 6),)]
    ),
    *case(
        "split_indices", lambda x: ops.split(x, [1, 4]), lambda x: np.split(x, [1, 4]), [((6, 2),)]
    ),
    *case(
        "tile",
        lambda x: ops.tile(x, (2, 1, 3)),
        lambda x: np.tile(x, (2, 1, 3)),
        [((2, 3),), ((3,),)],
    ),
    *case(
        "repeat", lambda x: ops.repeat(x, 2, axis=0), lambda x: np.repeat(x, 2, axis=0), [((2, 3),)]
    ),
    *case(
        "repeat_counts",
        lambda x: ops.repeat(x, [1, 0, 3], axis=1),
        lambda x: np.repeat(x, [1, 0, 3], axis=1),
        [((2, 3),)],
    ),
    *case("repeat_flat", lambda x: ops.repeat(x, 2), lambda x: np.repeat(x, 2), [((2, 3),)]),
    *[
        p
        for mode in ("constant", "reflect", "edge", "wrap", "symmetric")
        for p in case(
            f"pad-{mode}",
            partial(ops.pad, pad_width=[[1, 2], [2, 1]], mode=mode),
            partial(np.pad, pad_width=[[1, 2], [2, 1]], mode=mode),
            [((3, 4),)],
        )
    ],
    *case("flip", lambda x: ops.flip(x, axis=1), lambda x: np.flip(x, axis=1), [((2, 3),)]),
    *case("roll", lambda x: ops.roll(x, 2, axis=1), lambda x: np.roll(x, 2, axis=1), [((2, 3),)]),
    *case("roll_flat", lambda x: ops.roll(x, -1), lambda x: np.roll(x, -1), [((2, 3),)]),
    *case("triu", lambda x: ops.triu(x, 1), lambda x: np.triu(x, 1), [((3, 4),), ((2, 3, 3),)]),
    *case("tril", lambda x: ops.tril(x, -1), lambda x: np.tril(x, -1), [((3, 4),)]),
    *case("diag", lambda x: ops.diag(x, 1), lambda x: np.diag(x, 1), [((3,),), ((3, 4),)]),
    *case(
        "unstack",
        lambda x: ops.unstack(x, axis=1),
        lambda x: list(np.moveaxis(x, 1, 0)),
        [((2, 3, 4),)],
    ),
    *case(
        "hstack",
        lambda x, y: ops.hstack([x, y]),
        lambda x, y: np.hstack([x, y]),
        [((2, 3), (2, 1)), ((3,), (2,))],
        ("real", "real"),
    ),
    *case(
        "vstack",
        lambda x, y: ops.vstack([x, y]),
        lambda x, y: np.vstack([x, y]),
        [((3,), (2, 3))],
        ("real", "real"),
    ),
    *case(
        "diagonal",
        lambda x: ops.diagonal(x, 1, 0, 2),
        lambda x: np.diagonal(x, 1, 0, 2),
        [((3, 2, 4),)],
    ),
    *case(
        "trace",
        lambda x: ops.trace(x, -1, 1, 2),
        lambda x: np.trace(x, -1, 1, 2),
        [((2, 3, 4),), ((3, 3, 1),)],
    ),
    *case(
        "average",
        lambda x: ops.average(x, axis=1, weights=[0.5, 1.0, 2.0]),
        lambda x: np.average(x, axis=1, weights=[0.5, 1.0, 2.0]),
        [((2, 3, 4),)],
    ),
    *case(
        "average_full_weights",
        lambda x, w: ops.average(x, axis=0, weights=w),
        lambda x, w: np.average(x, axis=0, weights=w),
        [((3, 4), (3, 4))],
        ("real", "positive"),
    ),
    *case(
        "top_k_values",
        lambda x: ops.top_k(x, 2)[0],
        lambda x: -np.sort(-x, axis=-1)[..., :2],
        [((3, 5),)],
    ),
    # indexing
    *case(
        "get_item_slices",
        lambda x: x[1:, None, ..., ::2],
        lambda x: x[1:, None, ..., ::2],
        [((3, 4, 5),)],
    ),
    *case(
        "get_item_repeated",
        lambda x: ops.get_item(x, (np.array([0, 2, 0]), slice(1, 3))),
        lambda x: x[np.array([0, 2, 0]), 1:3],
        [((3, 4),)],
    ),
    *case(
        "get_item_mask",
        lambda x: ops.get_item(x, np.arange(12).reshape(3, 4) % 3 == 0),
        lambda x: x[np.arange(12).reshape(3, 4) % 3 == 0],
        [((3, 4),)],
    ),
    *case(
        "take_flat",
        lambda x: ops.take(x, [[0, 5], [5, -1]]),
        lambda x: np.take(x, [[0, 5], [5, -1]]),
        [((3, 4),)],
    ),
    *case(
        "take_axis",
        lambda x: ops.take(x, [2, 0, 2], axis=1),
        lambda x: np.take(x, [2, 0, 2], axis=1),
        [((2, 3, 4),)],
    ),
    *case(
        "take_along_axis",
        lambda x: ops.take_along_axis(x, np.array([[0, 2, 0, 1]]), axis=0),
        lambda x: np.take_along_axis(x, np.array([[0, 2, 0, 1]]), axis=0),
        [((3, 4),)],
    ),
    *case(
        "take_along_axis_flat",
        lambda x: ops.take_along_axis(x, np.array([3, 3, 0]), None),
        lambda x: np.take_along_axis(x, np.array([3, 3, 0]), None),
        [((2, 2),)],
    ),
    *case("slice", lambda x: ops.slice(x, (1, 0), (2, 3)), lambda x: x[1:3, 0:3], [((3, 4),)]),
    *case(
        "slice_update",
        lambda x, u: ops.slice_update(x, (1, 1), u),
        lambda x, u: _numpy_slice_update(x, (1, 1), u),
        [((3, 4), (2, 2))],
        ("real", "real"),
    ),
    # norms
    *[
        p
        for order, axis in [
            (None, None),
            (1, -1),
            (np.inf, 0),
            (3, 1),
            (-np.inf, 1),
            ("fro", (0, 1)),
            ("nuc", (0, 1)),
            (2, (0, 1)),
            (-2, (1, 0)),
            (1, (0, 1)),
            (np.inf, (0, 1)),
        ]
        for p in case(
            f"norm-{order}-{axis}",
            partial(ops.norm, ord=order, axis=axis),
            partial(np.linalg.norm, ord=order, axis=axis),
            [((3, 4),)],
        )
    ],
    *case(
        "linalg_norm_keepdims",
        lambda x: ops.linalg.norm(x, axis=-1, keepdims=True),
        lambda x: np.linalg.norm(x, axis=-1, keepdims=True),
        [((2, 3, 4),)],
    ),
    *case(
        "norm_batched_matrix",
        lambda x: ops.norm(x, ord="nuc", axis=(1, 2)),
        lambda x: np.linalg.norm(x, ord="nuc", axis=(1, 2)),
        [((2, 3, 4),)],
    ),
]

EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("ij->", [(3, 4)]),
    ("ij,j", [(3, 4), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...i,...i->...", [(3, 1, 4), (2, 4)]),
    ("iji->j", [(2, 3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
]


def _inputs(shapes, domains, seed=0):
    rng = np.random.default_rng(seed)
    domains = tuple(domains) * len(shapes) if len(domains) == 1 else domains
    return [make_input(s, d, rng) for s, d in zip(shapes, domains)]


def _same(actual, expected):
    actual = actual if isinstance(actual, (list, tuple)) else [actual]
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert np.shape(a) == np.shape(e)
        np.testing.assert_allclose(np.asarray(a), e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn, ref, shapes, domains", CASES)
def test_op_forward_matches_numpy_and_gradient_matches_differences(fn, ref, shapes, domains):
    arrays = _inputs(shapes, domains)
    _same(fn(*arrays), ref(*arrays))
    check_op_gradients(fn, arrays)


@pytest.mark.parametrize("subscripts, shapes", EINSUM, ids=[s for s, _ in EINSUM])
def test_einsum_forward_and_gradients(subscripts, shapes):
    arrays = _inputs(shapes, ("real",))
    _same(ops.einsum(subscripts, *arrays), np.einsum(subscripts, *arrays))
    check_op_gradients(lambda *xs: ops.einsum(subscripts, *xs), arrays)


@pytest.mark.parametrize("values", [[1.5, 0.0, -2.0, 3.0], [0.0, 0.0, 2.0, 1.0]])
def test_prod_and_cumprod_gradients_with_zeros(values):
    x = np.array(values).reshape(2, 2)
    check_op_gradients(lambda a: ops.prod(a), [x])
    check_op_gradients(lambda a: ops.prod(a, axis=1), [x])
    check_op_gradients(lambda a: ops.cumprod(a, axis=0), [x])
    check_op_gradients(lambda a: ops.cumprod(a), [x])


def test_max_shares_the_gradient_among_ties():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    with GradientTape() as tape:
        t = tape.watch(x)
        y = ops.sum(ops.max(t, axis=1))
    np.testing.assert_allclose(tape.gradient(y, t), [[0, 0.5, 0.5], [1, 0, 0]])


def test_operators_on_tracked_tensors_record_gradients():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    with GradientTape() as tape:
        t = tape.watch(x)
        y = ops.sum((2.0 * t - 1.0) ** 2 / 2.0 + abs(-t) @ t.T + t[0])
    # d/dt of (2t-1)^2/2 is 2(2t-1); of sum(|t| @ t.T) is colsum(t) + colsum(|t|) per row
    # terms; of sum(t[0]) is 1 on row 0
    expected = 2 * (2 * x - 1) + np.ones((2, 2)) @ x + np.ones((2, 2)) @ np.abs(x)
    expected[0] += 2.0  # t[0] is broadcast over the two rows of the sum
    np.testing.assert_allclose(tape.gradient(y, t), expected)


def test_constant_ops_match_numpy():
    x = np.array([[-1.5, 0.5, 2.5], [np.nan, np.inf, -3.0]])
    for name in ("sign", "floor", "ceil", "isnan", "isinf", "isfinite", "logical_not"):
        np.testing.assert_array_equal(getattr(ops, name)(x), getattr(np, name)(x))
    for name in (
        "equal",
        "not_equal",
        "greater",
        "greater_equal",
        "less",
        "less_equal",
        "logical_and",
        "logical_or",
    ):
        np.testing.assert_array_equal(getattr(ops, name)(x, 0.5), getattr(np, name)(x, 0.5))
    np.testing.assert_array_equal(ops.floor_divide(np.array([7.0, -7.0]), 2), [3.0, -4.0])
    np.testing.assert_array_equal(ops.round(np.array([0.5, 1.5, 2.567]), 1), [0.5, 1.5, 2.6])
    y = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert ops.argmax(y) == 4 and ops.argmin(y, axis=1).tolist() == [1, 0]
    assert ops.argmax(y, axis=1, keepdims=True).shape == (2, 1)
    np.testing.assert_array_equal(ops.argsort(y, axis=0), np.argsort(y, axis=0))
    assert ops.any(y > 4) and not ops.all(y > 0)
    assert ops.all(y >= 0, axis=0, keepdims=True).shape == (1, 3)
    np.testing.assert_array_equal(ops.where(y > 2)[1], np.nonzero(y > 2)[1])


def test_selection_counts_and_closeness():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 0.0, 5.0, 4.0]])
    values, indices = ops.top_k(x, 3)
    np.testing.assert_array_equal(values, [[3, 3, 1], [5, 4, 2]])
    np.testing.assert_array_equal(indices, [[1, 2, 0], [2, 3, 0]])
    assert ops.in_top_k(np.array([0, 0]), x, 2).tolist() == [False, False]
    assert ops.in_top_k(np.array([2, 3]), x, 2).tolist() == [True, True]
    assert ops.count_nonzero(x) == 6 and ops.count_nonzero(x, axis=0).tolist() == [2, 1, 2, 1]
    assert ops.isclose(np.array([1.0, 1.1]), 1.0 + 1e-9).tolist() == [True, False]
    assert ops.logical_xor(np.array([True, True]), np.array([True, False])).tolist() == [
        False,
        True,
    ]


def test_control_flow_runs_eagerly_and_gradients_flow_through_it():
    x = np.array([1.0, 2.0])
    with GradientTape() as tape:
        t = tape.watch(x)
        doubled = ops.fori_loop(0, 3, lambda i, v: v * 2.0, t)  # 8 t
        halved = ops.while_loop(lambda v: ops.sum(v) > 10.0, lambda v: v / 2.0, doubled)
        picked = ops.cond(ops.sum(halved) > 0, lambda: halved * 3.0, lambda: halved)
        carry, ys = ops.scan(lambda c, row: (c + row, c * row), 0.0, ops.stack([picked, t]))
        loss = ops.sum(carry) + ops.sum(ys) + ops.sum(ops.map(ops.square, t))
    # 8t / 2 / 2 = 2t (sum 6 <= 10 stops the loop); picked = 6t; carry = 7t; ys = [0, 6t^2]
    np.testing.assert_allclose(ys, [[0, 0], 6 * x * x])
    np.testing.assert_allclose(tape.gradient(loss, t), 7 + 12 * x + 2 * x)
    assert ops.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s + i), (0, 0)) == (3, 3)
    assert ops.vectorized_map(lambda r: ops.sum(r), np.ones((2, 3))).tolist() == [3.0, 3.0]


def test_creation_and_shape_ops_follow_keras_dtypes():
    assert ops.zeros((2, 3)).dtype == "float32" and ops.ones(2, dtype="int32").dtype == "int32"
    assert ops.full((2,), 3).dtype == "int32" and ops.full((2,), 3.0).dtype == "float32"
    np.testing.assert_array_equal(ops.full_like(np.zeros((2, 2)), 7.0), np.full((2, 2), 7.0))
    assert ops.zeros_like(np.ones(3, "int64")).dtype == "int64"
    assert ops.ones_like(np.zeros(2), dtype="float32").tolist() == [1.0, 1.0]
    np.testing.assert_array_equal(ops.eye(2, 3, k=1), np.eye(2, 3, k=1))
    np.testing.assert_array_equal(ops.identity(3), np.eye(3))
    assert ops.arange(5).dtype == "int32" and ops.arange(0, 1, 0.25).dtype == "float32"
    np.testing.assert_allclose(ops.linspace(0, 1, 5), np.linspace(0, 1, 5))
    x = np.zeros((2, 3, 4))
    assert ops.shape(x) == (2, 3, 4) and ops.ndim(x) == 3 and ops.size(x) == 24
    assert ops.convert_to_tensor([1.0, 2.0]).dtype == "float32"
    assert ops.convert_to_tensor([1, 2]).dtype.kind == "i"
    assert isinstance(ops.convert_to_numpy(ops.convert_to_tensor([1.0])), np.ndarray)
    assert ops.cast(np.array([1.7, -1.2]), "int32").tolist() == [1, -1]


def test_integer_inputs_to_real_valued_ops_give_floatx():
    assert ops.sqrt(np.array([4, 9])).dtype == "float32"
    assert ops.mean(np.array([1, 2])).dtype == "float32"
    assert ops.divide(np.array([1, 2]), np.array([2, 2])).tolist() == [0.5, 1.0]
    assert ops.abs(np.array([-1, 2])).dtype.kind == "i"


def test_cast_between_floats_keeps_the_gradient_and_stop_gradient_cuts_it():
    x = np.array([1.0, 2.0])
    with GradientTape(persistent=True) as tape:
        t = tape.watch(x)
        y = ops.sum(ops.cast(t, "float32") * 3.0)
        z = ops.sum(ops.stop_gradient(t) * t)
    assert tape.gradient(y, t).tolist() == [3.0, 3.0]
    assert tape.gradient(z, t).tolist() == [1.0, 2.0]


def test_one_namespace_per_family():
    assert ops.numpy.add is ops.add and ops.linalg.norm is ops.norm
    assert ops.nn.softmax is ops.softmax and ops.nn.relu is ops.relu


@pytest.mark.parametrize(
    "product",
    [
        lambda x, w: ops.matmul(x, w),
        lambda x, w: ops.tensordot(x, w, axes=1),
        lambda x, w: ops.einsum("ij,jk->ik", x, w),
    ],
)
def test_products_skip_the_gradient_of_an_input_nobody_differentiates(monkeypatch, product):
    # a layer's input data: watched on its tape, but the model needs no gradient for it
    rng = np.random.default_rng(0)
    x_value = rng.standard_normal((5, 3))
    w = Variable(rng.standard_normal((3, 4)), dtype="float64")
    w.gradient_slot.fill(0)
    with Tape() as tape:
        x = tape.watch(x_value)
        y = product(x, w)
    calls = []
    for name in ("matmul", "tensordot", "einsum"):
        original = getattr(xp, name)
        monkeypatch.setattr(xp, name, lambda *a, _f=original, _n=name, **k: (
            calls.append(_n), _f(*a, **k))[1])
    assert tape.backprop([y], [np.ones((5, 4))], ()) == []
    assert len(calls) == 1  # the weight's gradient only
    np.testing.assert_allclose(w.gradient_slot, x_value.T @ np.ones((5, 4)), rtol=1e-12)
    w.gradient_slot.fill(0)
    calls.clear()
    (dx,) = tape.backprop([y], [np.ones((5, 4))], [x])  # now asked for: both products
    assert len(calls) == 2
    np.testing.assert_allclose(dx, np.ones((5, 4)) @ w.numpy().T, rtol=1e-12)
