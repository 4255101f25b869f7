"""The compiled kernels (npkeras/_kernels.c): same numbers as the NumPy expressions they
replace, and every bad argument refused before a loop runs."""

import os
import signal
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npkeras import activations, backend, layers

kernels = backend.kernels
needs_kernels = pytest.mark.skipif(kernels is None, reason="the C kernels are not built")


@pytest.mark.skipif(os.environ.get("NPKERAS_KERNELS") == "0", reason="kernels switched off")
def test_kernels_are_built_by_the_install():
    # `pip install -e .` compiles them wherever a C compiler exists, as on CI
    assert kernels is not None


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bias_relu_equals_add_then_maximum(dtype):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((37, 13)).astype(dtype)
    bias = rng.standard_normal(13).astype(dtype)
    expected = np.maximum(z + bias, 0)
    kernels.bias_relu(z, bias)
    assert np.array_equal(z, expected)


@needs_kernels
def test_bias_relu_keeps_nan_like_numpy():
    z = np.array([[np.nan, -1.0, 2.0]], np.float32)
    kernels.bias_relu(z, np.zeros(3, np.float32))
    assert np.isnan(z[0, 0]) and z[0, 1:].tolist() == [0.0, 2.0]


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_grad_equals_the_masked_product(dtype):
    rng = np.random.default_rng(1)
    dy, y = (rng.standard_normal(1003).astype(dtype) for _ in range(2))
    y[::7] = 0.0
    out = np.empty_like(dy)
    kernels.relu_grad(dy, y, out)
    assert np.array_equal(out, dy * (y > 0))


@needs_kernels
def test_dense_relu_layer_gives_the_same_numbers_with_and_without_kernels(monkeypatch):
    rng = np.random.default_rng(2)
    x, dy = rng.standard_normal((16, 5)), rng.standard_normal((16, 7))
    weights = [rng.standard_normal((5, 7)), rng.standard_normal(7)]
    results = []
    for compiled in (None, kernels):
        monkeypatch.setattr(backend, "kernels", compiled)
        layer = layers.Dense(7, activation="relu")
        layer.build(x.shape)
        layer.set_weights(weights)
        y = layer.forward(x.astype(np.float32), training=True)
        dx = layer.backward(dy.astype(np.float32))
        results.append((y, dx, layer.grads["kernel"].copy(), layer.grads["bias"].copy()))
    for ours, reference in zip(results[1], results[0]):
        assert np.array_equal(ours, reference)


@needs_kernels
def test_relu_falls_back_for_arrays_the_kernels_cannot_take():
    relu = activations.get("relu")
    z = np.array([[-1.0, 2.0]], np.float16)
    assert relu.apply_inplace(z, np.ones(2, np.float16)).tolist() == [[0.0, 3.0]]
    dy, y = np.ones((2, 4))[:, ::2], np.array([[1.0, 0.0], [0.0, 2.0]])
    assert relu.grad(dy, None, y).tolist() == [[1.0, 0.0], [0.0, 1.0]]


@needs_kernels
@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda f, d: kernels.adam(f, f, f, np.ones(4, np.int64), None, 0.1, 0.9, 0.999, 1e-7),
            TypeError,
            "`velocity` must be float32 or float64 like the other arrays",
        ),
        (
            lambda f, d: kernels.adam(f, f, f, d, None, 0.1, 0.9, 0.999, 1e-7),
            TypeError,
            "`velocity` must be float32 or float64 like the other arrays",
        ),
        (
            lambda f, d: kernels.adam(f, f, f, np.ones(5, np.float32), None, 0.1, 0.9, 0.999, 1e-7),
            ValueError,
            "`variable` and `velocity` must have the same size",
        ),
        (
            lambda f, d: kernels.sgd(np.ones(8, np.float32)[::2], f, None, 0.1, 0.0, False),
            TypeError,
            "`variable` must be a writable C-contiguous",
        ),
        (
            lambda f, d: kernels.sgd(
                np.ones(4, np.float32).view(), np.ones(4, np.float32), "m", 0.1, 0.9, False
            ),
            TypeError,
            "`momentum` must be a writable C-contiguous",
        ),
        (
            lambda f, d: kernels.bias_relu(np.ones((2, 3), np.float32), f),
            ValueError,
            "`bias` \\(4 values\\) must hold one value per column of a non-empty `z` \\(2 rows "
            "of 3\\)",
        ),
        (
            lambda f, d: kernels.relu_grad(f, f, _read_only()),
            TypeError,
            "`out` must be a writable C-contiguous",
        ),
        (
            lambda f, d: kernels.row_max(np.ones((2, 3), np.float32), f),
            ValueError,
            "`out` \\(4 values\\) must hold one value per row of a non-empty `z` \\(2 rows of 3\\)",
        ),
        (
            lambda f, d: kernels.row_max(np.ones((2, 0), np.float32), f[:0]),
            ValueError,
            "`out` \\(0 values\\) must hold one value per row of a non-empty `z`",
        ),
        (
            lambda f, d: kernels.row_max(f, d[:1]),
            TypeError,
            "`out` must be float32 or float64 like the other arrays",
        ),
        (
            lambda f, d: kernels.layer_norm_rows(
                f.reshape(2, 2), f[:2], f[:3], 1e-3, f.reshape(2, 2), f[:2], f[:2]
            ),
            ValueError,
            "`beta` \\(3 values\\) must hold one value per column of `x` \\(2 rows of 2\\)",
        ),
        (
            lambda f, d: kernels.layer_norm_rows(f, f, f, 1e-3, _read_only(), f[:1], f[:1]),
            TypeError,
            "`y` must be a writable C-contiguous",
        ),
        (
            lambda f, d: kernels.layer_norm_rows_backward(f, f, f[:1], f[:2], f, None, f, f),
            ValueError,
            "`inv` \\(2 values\\) must hold one value per row of `dy` \\(1 rows of 4\\)",
        ),
        (
            lambda f, d: kernels.layer_norm_rows_backward(f, f, f[:1], f[:1], d, None, f, f),
            TypeError,
            "`gamma` must be float32 or float64 like the other arrays",
        ),
        (
            lambda f, d: kernels.layer_norm_rows_backward(f, f[:3], f[:1], f[:1], f, None, f, f),
            ValueError,
            "`dy` and `x` must have the same size \\(4 and 3 values\\)",
        ),
        (
            lambda f, d: kernels.layer_norm_rows_backward(
                f[:0], f, f[:1], f[:1], f, None, f, f
            ),
            ValueError,
            "`dy` must have a non-empty last axis",
        ),
    ],
)
def test_bad_kernel_arguments_are_refused_with_their_name(call, error, message):
    f, d = np.ones(4, np.float32), np.ones(4, np.float64)
    before = f.copy()
    with pytest.raises(error, match=message):
        call(f, d)
    assert np.array_equal(f, before)  # nothing written


def _read_only():
    a = np.ones(4, np.float32)
    a.setflags(write=False)
    return a


@needs_kernels
def test_relu_grad_is_zero_where_the_unit_was_off_even_for_infinite_gradients():
    out = np.empty(3, np.float32)
    kernels.relu_grad(
        np.array([np.inf, np.nan, 2.0], np.float32), np.array([0.0, -1.0, 1.0], np.float32), out
    )
    assert out.tolist() == [0.0, 0.0, 2.0]


@needs_kernels
def test_training_without_kernels_gives_the_same_weights(tmp_path):
    # NPKERAS_KERNELS=0 is read at import: compare a fresh interpreter with this one
    import subprocess
    import sys

    script = (
        "import numpy as np, npkeras as keras\n"
        "keras.utils.set_random_seed(0)\n"
        "x = np.random.default_rng(0).standard_normal((256, 5)).astype('float32')\n"
        "y = (x[:, :3] @ np.array([1.0, -2.0, 0.5])).astype('float32')\n"
        "m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation='relu'),\n"
        "                      keras.layers.Dense(3, activation='softmax')])\n"
        "m.compile(optimizer=keras.optimizers.Adam(0.01), loss='sparse_categorical_crossentropy')\n"
        "m.fit(x, (y > 0).astype('int64') + (y > 1), batch_size=32, epochs=3, verbose=0)\n"
        "print(keras.backend.kernels is not None)\n"
        "np.save(__import__('sys').argv[1], np.concatenate([w.ravel() for w in m.get_weights()]))\n"
    )
    results = []
    for flag in ("1", "0"):
        path = tmp_path / f"weights_{flag}.npy"
        env = {**os.environ, "NPKERAS_KERNELS": flag}
        out = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.split() == [str(flag == "1")]
        results.append(np.load(path))
    assert np.array_equal(results[0], results[1])


@needs_kernels
@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(0, 40), cols=st.integers(1, 20), wide=st.booleans(), seed=st.integers(0, 2**16)
)
def test_kernels_equal_numpy_on_any_shape(rows, cols, wide, seed):
    dtype = np.float64 if wide else np.float32
    rng = np.random.default_rng(seed)
    z, dy = (rng.standard_normal((rows, cols)).astype(dtype) for _ in range(2))
    bias = rng.standard_normal(cols).astype(dtype)
    expected = np.maximum(z + bias, 0)
    kernels.bias_relu(z, bias)
    assert np.array_equal(z, expected)
    out = np.empty_like(dy)
    kernels.relu_grad(dy, z, out)
    assert np.array_equal(out, dy * (z > 0))
    if rows:
        top = np.empty((rows, 1), dtype)
        kernels.row_max(dy, top)
        assert np.array_equal(top, dy.max(axis=-1, keepdims=True))


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scatter_add_rows_equals_add_at_and_refuses_bad_ids(dtype):
    rng = np.random.default_rng(3)
    ids = np.array([3, 0, 3, 3, 1])
    rows = rng.standard_normal((5, 4)).astype(dtype)
    table = np.ones((4, 4), dtype)
    expected = table.copy()
    np.add.at(expected, ids, rows)
    kernels.scatter_add_rows(table, ids, rows)
    np.testing.assert_allclose(table, expected, rtol=1e-6)
    with pytest.raises(IndexError, match="id 4 is outside the table's 4 rows"):
        kernels.scatter_add_rows(table, np.array([0, 4]), rows[:2])
    np.testing.assert_allclose(table, expected, rtol=1e-6)  # nothing added before the check
    with pytest.raises(TypeError, match="`ids` must be a C-contiguous int64 array"):
        kernels.scatter_add_rows(table, ids.astype("int32"), rows)
    with pytest.raises(ValueError, match="one row of its width per id"):
        kernels.scatter_add_rows(table, ids, rows[:, :3].copy())


def _with_and_without_kernels(monkeypatch, run):
    """``run()`` with the compiled kernels, then with the NumPy path."""
    results = []
    for compiled in (kernels, None):
        monkeypatch.setattr(backend, "kernels", compiled)
        results.append(run())
    return results


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "cls,shape,kwargs",
    [
        (layers.MaxPooling2D, (3, 7, 9, 5), {}),  # odd remainders cropped
        (layers.MaxPooling2D, (2, 8, 6, 70), {"pool_size": (2, 3)}),  # > one channel block
        (layers.MaxPooling2D, (2, 7, 5, 3), {"pool_size": 3, "padding": "same"}),
        (layers.MaxPooling2D, (2, 4, 6, 3), {"data_format": "channels_first"}),
        (layers.MaxPooling1D, (3, 11, 4), {"pool_size": 3}),
        (layers.MaxPooling3D, (2, 5, 4, 6, 3), {"pool_size": (2, 1, 3)}),
    ],
)
def test_max_pooling_kernels_equal_numpy_with_ties_and_nan(monkeypatch, cls, shape, kwargs, dtype):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, shape).astype(dtype)  # many ties: the first maximum wins
    x.flat[::17] = np.nan
    layer = cls(**kwargs)
    dy = rng.standard_normal(layer.compute_output_shape(shape)).astype(dtype)

    def run():
        y = layer.forward(x, training=True)
        return y, layer.backward(dy)

    (y, dx), (y_np, dx_np) = _with_and_without_kernels(monkeypatch, run)
    assert np.array_equal(y, y_np, equal_nan=True)
    assert np.array_equal(dx, dx_np, equal_nan=True)


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "cls,shape,kwargs",
    [
        (layers.Conv2D, (3, 9, 8, 1), {"kernel_size": 3}),
        (layers.Conv2D, (2, 9, 8, 5), {"kernel_size": (3, 2), "strides": (2, 1)}),
        (layers.Conv2D, (2, 9, 8, 4), {"kernel_size": 3, "dilation_rate": (1, 2)}),
        (layers.Conv2D, (2, 6, 7, 3), {"kernel_size": 3, "padding": "same"}),
        (layers.Conv1D, (2, 12, 3), {"kernel_size": 4, "strides": 3, "padding": "causal"}),
        (layers.Conv3D, (2, 5, 6, 4, 2), {"kernel_size": (2, 3, 2), "dilation_rate": 2}),
        # 16 channels and more: the patches are copied out by the im2col kernel
        (layers.Conv2D, (3, 9, 8, 17), {"kernel_size": 3, "strides": (2, 1)}),
        (layers.Conv2D, (2, 7, 6, 16), {"kernel_size": 2, "padding": "same"}),
        (layers.Conv3D, (2, 5, 6, 4, 16), {"kernel_size": (2, 3, 2), "dilation_rate": 2}),
    ],
)
def test_convolution_patch_kernels_equal_numpy(monkeypatch, cls, shape, kwargs, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    layer = cls(filters=4, **kwargs)
    layer.build(shape)
    layer.set_weights([w.astype(dtype) for w in layer.get_weights()])
    dy = rng.standard_normal(layer.compute_output_shape(shape)).astype(dtype)

    def run():
        layer.grads["kernel"][...] = 0
        y = layer.forward(x, training=True)
        return y, layer.backward(dy), layer.grads["kernel"].copy()

    ours, reference = _with_and_without_kernels(monkeypatch, run)
    for a, b in zip(ours, reference):
        assert np.array_equal(a, b)


def _grid(shape, dtype=np.float32):
    return np.zeros(shape, dtype)


_IMAGE, _POOLED, _PATCHES = (1, 1, 4, 4, 2), (1, 1, 2, 2, 2), (1, 1, 3, 3, 1, 3, 3, 2)
_ONE_STEP = (1, 1, 1, 1, 1, 1)  # strides and dilations of 1


@needs_kernels
@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda: kernels.max_pool(
                _grid((1, 4, 4)), _grid(_POOLED), _grid(_POOLED, "u1"), 1, 2, 2
            ),
            ValueError,
            "`x` must have 5 axes \\(received 3\\)",
        ),
        (
            lambda: kernels.max_pool(_grid(_IMAGE), _grid(_POOLED), _grid(_POOLED), 1, 2, 2),
            TypeError,
            "`offsets` must be a C-contiguous uint8 array",
        ),
        (
            lambda: kernels.max_pool(
                _grid(_IMAGE), _grid((1, 1, 3, 2, 2)), _grid((1, 1, 3, 2, 2), "u1"), 1, 2, 2
            ),
            ValueError,
            "windows \\(1, 1, 3, 2, 2\\) of size 1 x 2 x 2 do not fit the grid \\(1, 1, 4, 4, 2\\)",
        ),
        (
            lambda: kernels.max_pool(_grid(_IMAGE), _grid(_POOLED), _grid((1, 2), "u1"), 1, 2, 2),
            ValueError,
            "`offsets` must have 5 axes",
        ),
        (
            lambda: kernels.max_pool(
                _grid(_IMAGE), _grid(_POOLED), _grid((1, 1, 2, 1, 2), "u1"), 1, 2, 2
            ),
            ValueError,
            "`y` and `offsets` must have the same shape",
        ),
        (
            lambda: kernels.max_pool_grad(
                _grid(_POOLED), _grid(_POOLED, "u1"), _grid((1, 1, 40, 40, 2)), 1, 20, 20
            ),
            ValueError,
            "pool sizes must be positive with at most 256 offsets \\(received 1 x 20 x 20\\)",
        ),
        (
            lambda: kernels.max_pool_grad(
                _grid(_POOLED), _grid(_POOLED, "u1"), _read_only_grid(), 1, 2, 2
            ),
            TypeError,
            "`dx` must be a writable C-contiguous",
        ),
        (
            lambda: kernels.col2im_add(
                _grid((1, 1, 5, 5, 2)), _grid(_PATCHES), 0, 0, 0, 1, 2, 1, 1, 1, 1
            ),
            ValueError,
            "patches \\(1, 1, 3, 3, 1, 3, 3, 2\\) from tap \\(0, 0, 0\\), strides \\(1, 2, 1\\), "
            "dilations \\(1, 1, 1\\) do not fit the grid \\(1, 1, 5, 5, 2\\)",
        ),
        (
            lambda: kernels.col2im_add(
                _grid((1, 1, 5, 5, 2)), _grid((1, 1, 3, 3, 1, 1, 3, 2)), 0, 3, 0, *_ONE_STEP
            ),
            ValueError,
            "from tap \\(0, 3, 0\\)",
        ),
        (
            lambda: kernels.col2im_add(
                _grid((1, 1, 5, 5, 2)), _grid(_PATCHES, "f8"), 0, 0, 0, *_ONE_STEP
            ),
            TypeError,
            "`cols` must be float32 or float64 like the other arrays",
        ),
        (
            lambda: kernels.col2im_add(_grid((1, 5, 5, 2)), _grid(_PATCHES), 0, 0, 0, *_ONE_STEP),
            ValueError,
            "`grid` must have 5 axes \\(received 4\\)",
        ),
        (
            lambda: kernels.im2col(_grid((1, 1, 4, 5, 2)), _grid(_PATCHES), 0, 0, 0, *_ONE_STEP),
            ValueError,
            "do not fit the grid \\(1, 1, 4, 5, 2\\)",
        ),
        (
            lambda: kernels.im2col(
                _grid((1, 1, 5, 5, 2)), _frozen(_grid(_PATCHES)), 0, 0, 0, *_ONE_STEP
            ),
            TypeError,
            "`cols` must be a writable C-contiguous",
        ),
    ],
)
def test_bad_window_kernel_arguments_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def _frozen(a):
    a.setflags(write=False)
    return a


def _read_only_grid():
    return _frozen(_grid(_IMAGE))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kernels_on", [True, False])
def test_all_finite_finds_every_infinity_and_nan(monkeypatch, dtype, kernels_on):
    if not kernels_on:
        monkeypatch.setattr(backend, "kernels", None)
    info = np.finfo(dtype)
    for size in (1, 7, 1000):
        a = np.full(size, info.max, dtype)  # the largest finite value: its square overflows
        assert backend.all_finite(a) is True
        for bad in (np.inf, -np.inf, np.nan):
            b = a.copy()
            b[size // 2] = bad
            assert backend.all_finite(b) is False
    assert backend.all_finite(np.zeros((3, 4), dtype)[:, ::2]) is True  # strided: NumPy path
    assert backend.all_finite(np.zeros(0, dtype)) is True


# -- several threads: the same bits as one ---------------------------------------------


@pytest.fixture
def thread_counts():
    """Runs each call at 1, 2 and 3 kernel threads; restores the count after."""
    yield (1, 2, 3)
    kernels.set_threads(backend.num_threads())


def _each_thread_count(counts, run):
    results = []
    for count in counts:
        kernels.set_threads(count)
        results.append(run())
    return results


def _rows_kernels(z, bias):
    out, y, top = np.empty_like(z), z.copy(), np.empty(z.shape[0], z.dtype)
    kernels.bias_relu(y, bias)
    kernels.relu_grad(z, y, out)
    kernels.row_max(z, top)
    return y, out, top


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [1, 3, 4099, 40001])  # below the split size, odd, above it
def test_row_kernels_give_the_same_bits_on_any_thread_count(thread_counts, rows, dtype):
    rng = np.random.default_rng(6)
    z = rng.standard_normal((rows, 9)).astype(dtype)
    z.flat[::13] = np.nan
    bias = rng.standard_normal(9).astype(dtype)
    first, *others = _each_thread_count(thread_counts, lambda: _rows_kernels(z, bias))
    for other in others:
        for a, b in zip(first, other):
            assert a.tobytes() == b.tobytes()


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "grid,pool",
    [((1, 1, 4, 4, 2), (1, 2, 2)), ((65, 1, 27, 26, 33), (1, 2, 2)), ((3, 9, 8, 7, 40), (2, 2, 3))],
)
def test_pooling_kernels_give_the_same_bits_on_any_thread_count(thread_counts, grid, pool, dtype):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, grid).astype(dtype)  # ties: the first maximum wins
    pooled = tuple(g // p for g, p in zip(grid[1:4], pool))
    out = grid[:1] + pooled + grid[4:]
    dy = rng.standard_normal(out).astype(dtype)

    def run():
        y, offsets = np.empty(out, dtype), np.empty(out, np.uint8)
        kernels.max_pool(x, y, offsets, *pool)
        dx = np.full(grid, 7.0, dtype)  # cropped positions keep their value
        kernels.max_pool_grad(dy, offsets, dx, *pool)
        return y, offsets, dx

    first, *others = _each_thread_count(thread_counts, run)
    for other in others:
        for a, b in zip(first, other):
            assert a.tobytes() == b.tobytes()


@needs_kernels
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", [1, 3, 65])
def test_patch_kernels_give_the_same_bits_on_any_thread_count(thread_counts, batch, dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((batch, 1, 14, 13, 32)).astype(dtype)
    patches = rng.standard_normal((batch, 1, 11, 11, 1, 3, 3, 32)).astype(dtype)

    def run():
        cols = np.empty((batch, 1, 12, 11, 1, 3, 3, 32), dtype)
        kernels.im2col(x, cols, 0, 0, 0, *_ONE_STEP)
        grid = x.copy()
        kernels.col2im_add(grid, patches, 0, 1, 0, *_ONE_STEP)  # overlapping windows add
        return cols, grid

    first, *others = _each_thread_count(thread_counts, run)
    for other in others:
        for a, b in zip(first, other):
            assert a.tobytes() == b.tobytes()


@needs_kernels
def test_set_threads_refuses_a_count_below_one():
    with pytest.raises(ValueError, match="positive thread count, received 0"):
        kernels.set_threads(0)


@needs_kernels
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_threaded_kernels_run_in_a_forked_child(thread_counts):
    kernels.set_threads(2)
    z = np.ones((40001, 9), np.float32)
    out = np.empty_like(z)
    kernels.relu_grad(z, z, out)  # the parent's worker threads are running
    pid = os.fork()
    if pid == 0:  # the child has no worker threads: it starts its own
        out[...] = 0
        kernels.relu_grad(z, z, out)
        os._exit(0 if out.all() else 1)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:  # a child waiting on threads it does not have
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done[0] == pid and os.waitstatus_to_exitcode(done[1]) == 0


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_row_max_falls_back_for_arrays_the_kernels_cannot_take(dtype):
    z = np.arange(24, dtype=dtype).reshape(4, 6)[:, ::-2]  # strided (and float16): NumPy
    np.testing.assert_array_equal(backend.reduce_max(z), z.max(axis=-1, keepdims=True))
    assert backend.reduce_max(z).dtype == z.dtype
