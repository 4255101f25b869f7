"""The N-d core shared by convolution, transposed convolution and pooling layers.

Every layer works internally on channels-last arrays ``(batch, *spatial, channels)``.
A convolution is one matrix product on the patch matrix: ``window_view`` exposes the
sliding windows of the (padded) input as an ``as_strided`` view of shape
``(batch, *out, *kernel, channels)`` (channels innermost, the same order as a Keras
kernel ``(*kernel, in, out)`` flattened), ``im2col`` copies it once into a contiguous
matrix, and ``scatter_products`` is the adjoint of that product: per kernel offset one
matrix product and one strided addition onto the input grid (never a loop over samples
or pixels).
"""

from __future__ import annotations

import itertools
import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD

DATA_FORMATS = ("channels_last", "channels_first")
#: below this many channels :func:`im2col` copies per kernel offset instead of per window
FEW_CHANNELS = 16


_blas_prepared = False


def prepare_blas() -> None:
    """Run one mid-sized float32 product, once per process, before the first convolution.

    Measured with the OpenBLAS 0.3.31 (Haswell kernel) that NumPy wheels ship: until a
    product with at least ~600 columns and ~256 inner terms has run in the process, the
    tall thin products of a convolution run at a third of their speed and stay there
    (one thread: ``cols.T @ dz`` for 7744 x 288 x 64 takes 26 ms, 9.3 ms afterwards;
    ``cols @ kernel`` 17 -> 9 ms). Dense models meet such a product in their first step;
    a small CNN never does. This product costs ~2 ms, once.
    """
    global _blas_prepared
    if not _blas_prepared:
        _blas_prepared = True
        xp.dot(xp.ones((32, 512), xp.float32), xp.ones((512, 1024), xp.float32))


def normalize_tuple(value, rank: int, arg: str, owner: str, allow_none: bool = False):
    """``value`` (an int or ``rank`` ints) as a tuple of ``rank`` positive ints."""
    if value is None and allow_none:
        return None
    values = (value,) * rank if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if len(values) != rank or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ValueError(
            f"Received an invalid value for `{arg}` of {owner}, expected an integer or a "
            f"tuple of {rank} positive integers. Received: {arg}={value!r}"
        )
    return values


def normalize_choice(value, choices, arg: str, owner: str) -> str:
    """``value`` lower-cased when it is one of ``choices``; a ValueError listing them otherwise."""
    text = value.lower() if isinstance(value, str) else value
    if text not in choices:
        raise ValueError(
            f"Received an invalid value for `{arg}` of {owner}, expected one of "
            f"{', '.join(repr(c) for c in choices)}. Received: {arg}={value!r}"
        )
    return text


def normalize_data_format(value, owner: str) -> str:
    """Keras's ``data_format``: None means 'channels_last' (Keras's image_data_format default)."""
    return (
        "channels_last"
        if value is None
        else normalize_choice(value, DATA_FORMATS, "data_format", owner)
    )


def effective_size(kernel: int, dilation: int) -> int:
    """The extent of a dilated kernel: ``(k - 1) * d + 1``."""
    return (kernel - 1) * dilation + 1


def padding_amounts(size: int, kernel: int, stride: int, dilation: int, padding: str):
    """Zeros added (before, after) one spatial axis, as Keras/TensorFlow pad.

    'same' gives ``ceil(size / stride)`` outputs with the odd extra zero after;
    'causal' pads only before, so output t sees inputs up to t.
    """
    extent = effective_size(kernel, dilation)
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return extent - 1, 0
    total = max((-(-size // stride) - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


def output_length(size, kernel: int, stride: int, dilation: int, padding: str):
    """Outputs along one axis (None stays None); may be <= 0 for too-small inputs."""
    if size is None:
        return None
    before, after = padding_amounts(size, kernel, stride, dilation, padding)
    return (size + before + after - effective_size(kernel, dilation)) // stride + 1


def pad_spatial(x, pads, value=0.0):
    """``x`` (batch, *spatial, channels) with ``pads[i] = (before, after)`` added to axis i+1."""
    if not any(before or after for before, after in pads):
        return x
    shape = (
        (x.shape[0],) + tuple(n + b + a for n, (b, a) in zip(x.shape[1:-1], pads)) + (x.shape[-1],)
    )
    out = xp.full(shape, value, x.dtype)
    out[interior(x.shape[1:-1], pads)] = x
    return out


def interior(spatial, pads):
    """The index of the unpadded region inside an array padded by ``pads``."""
    return (
        (slice(None),) + tuple(slice(b, b + n) for n, (b, _) in zip(spatial, pads)) + (slice(None),)
    )


def window_view(x, out_shape, kernel, strides, dilation):
    """Read-only view ``(batch, *out, *kernel, channels)`` of the windows of ``x``.

    ``x`` is ``(batch, *spatial, channels)`` with any strides; window ``o`` at kernel
    offset ``k`` reads ``x[:, o * stride + k * dilation, :]`` on every axis.
    """
    step = x.strides
    rank = len(kernel)
    shape = (x.shape[0],) + tuple(out_shape) + tuple(kernel) + (x.shape[-1],)
    strides = (
        (step[0],)
        + tuple(step[1 + i] * strides[i] for i in range(rank))
        + tuple(step[1 + i] * dilation[i] for i in range(rank))
        + (step[-1],)
    )
    return xp.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


def offset_regions(out_shape, kernel, strides, dilation):
    """For each kernel offset (row-major order): the offset and the strided index of the
    input positions it reads, ``[:, k * d : k * d + s * (o - 1) + 1 : s, ..., :]``."""
    for offset in itertools.product(*(range(k) for k in kernel)):
        region = (
            (slice(None),)
            + tuple(
                slice(k * d, k * d + s * (o - 1) + 1, s)
                for k, d, s, o in zip(offset, dilation, strides, out_shape)
            )
            + (slice(None),)
        )
        yield offset, region


def padded3(values, fill: int = 1) -> tuple:
    """Up to 3 per-axis values as 3, ``fill`` first: the compiled kernels see every
    layer of rank 1 or 2 as rank 3 with unit axes first."""
    return (fill,) * (3 - len(values)) + tuple(values)


def as_grid5(a):
    """``(batch, *spatial, c)`` with 1-3 spatial axes as ``(batch, d, h, w, c)``, unit axes
    before the real ones (a view of a contiguous array)."""
    return a.reshape(a.shape[:1] + (1,) * (5 - a.ndim) + a.shape[1:])


def _patches8(cols, batch, out_shape, taps, channels):
    """``cols`` as the kernels' ``(batch, od, oh, ow, kd, kh, kw, c)`` patch array."""
    return cols.reshape((batch,) + padded3(out_shape) + padded3(taps) + (channels,))


def im2col(x, out_shape, kernel, strides, dilation, groups: int = 1):
    """The patch matrix of padded ``x``:
    ``(groups, batch * prod(out), prod(kernel) * c/groups)``."""
    rows = x.shape[0] * math.prod(out_shape)
    channels = x.shape[-1]
    if groups == 1 and backend.kernels_accept(x):
        # one pass over the windows through a table of tap offsets, split over threads
        # when large (one core, one channel: 2.5x faster than a copy per kernel offset;
        # 32 channels: 1.2x faster than copying the window view)
        cols = xp.empty((rows, math.prod(kernel) * channels), x.dtype)
        backend.kernels.im2col(
            as_grid5(x),
            _patches8(cols, x.shape[0], out_shape, kernel, channels),
            0,
            0,
            0,
            *padded3(strides),
            *padded3(dilation),
        )
        return cols.reshape(1, rows, -1)
    if groups == 1 and channels < FEW_CHANNELS:
        # a copy per kernel offset: each moves whole rows of the input, where copying the
        # 6-d window view would step through inner loops only `channels` long (3x faster
        # for one channel)
        cols = xp.empty((x.shape[0],) + tuple(out_shape) + tuple(kernel) + (channels,), x.dtype)
        lead = (slice(None),) * (1 + len(kernel))
        for offset, region in offset_regions(out_shape, kernel, strides, dilation):
            cols[lead + offset] = x[region]
        return cols.reshape(1, rows, -1)
    windows = window_view(x, out_shape, kernel, strides, dilation)
    if groups == 1:
        return xp.ascontiguousarray(windows).reshape(1, rows, -1)
    windows = windows.reshape(windows.shape[:-1] + (groups, channels // groups))
    return xp.ascontiguousarray(xp.moveaxis(windows, -2, 0)).reshape(groups, rows, -1)


def scatter_products(rows, slab_kernels, grid_shape, out_shape, kernel, strides, dilation):
    """The adjoint of :func:`im2col` fused with its matrix product: a zero ``grid_shape``
    array ``(batch, *grid, c)`` plus every window's ``rows @ kernel`` block added at the
    positions that window read.

    ``rows`` is ``(groups, batch * prod(out), a)``; ``slab_kernels[i]`` is ``(groups, a,
    prod(kernel[1:]) * c / groups)``, the kernel taps whose first-axis offset is i. One
    product per first-axis offset (3 for a 3x3 kernel), then one strided addition per
    tap: a single product over all taps was twice as slow on one OpenBLAS thread, and one
    product per tap (9 calls) three times as slow on two busy threads.
    """
    grid = xp.zeros(grid_shape, rows.dtype)
    groups, count = rows.shape[0], rows.shape[1]
    channels = grid_shape[-1]
    inner = math.prod(kernel[1:])
    windows = (grid_shape[0],) + tuple(out_shape) + (channels,)
    regions = [region for _, region in offset_regions(out_shape, kernel, strides, dilation)]
    slab = xp.empty((count, inner * channels), rows.dtype) if groups == 1 else None
    compiled = groups == 1 and backend.kernels_accept(grid, slab)
    for i, weights in enumerate(slab_kernels):
        if groups == 1:
            backend.dot_into(rows[0], weights[0], slab)
            if compiled:  # the same additions in one pass (5.5 -> 1 ms for the CNN)
                backend.kernels.col2im_add(
                    as_grid5(grid),
                    _patches8(slab, grid_shape[0], out_shape, (1,) + kernel[1:], channels),
                    *padded3((i,) + (0,) * (len(kernel) - 1), 0),
                    *padded3(strides),
                    *padded3(dilation),
                )
                continue
            taps = slab.reshape(1, count, inner, channels)
        else:
            taps = xp.matmul(rows, weights).reshape(groups, count, inner, channels // groups)
        for q in range(inner):
            part = taps[0, :, q] if groups == 1 else taps[:, :, q].transpose(1, 0, 2)
            grid[regions[i * inner + q]] += part.reshape(windows)
    return grid


def grouped_kernel(kernel, groups: int):
    """Keras kernel ``(*k, in/groups, filters)`` as
    ``(groups, prod(k) * in/groups, filters/groups)``:
    filters ``[j*f/g, (j+1)*f/g)`` read input channels ``[j*c/g, (j+1)*c/g)``."""
    filters = kernel.shape[-1]
    return kernel.reshape(-1, groups, filters // groups).transpose(1, 0, 2)


def ungroup_rows(z):
    """``(groups, rows, f/groups)`` -> ``(rows, f)``, filters of group j in block j."""
    if z.shape[0] == 1:
        return z[0]
    return xp.ascontiguousarray(z.transpose(1, 0, 2)).reshape(z.shape[1], -1)


def group_rows(dz, groups: int):
    """``(rows, f)`` -> ``(groups, rows, f/groups)``, the inverse of :func:`ungroup_rows`."""
    return dz.reshape(dz.shape[0], groups, -1).transpose(1, 0, 2)


def to_channels_last(x, data_format):
    return x if data_format == "channels_last" else xp.moveaxis(x, 1, -1)


def from_channels_last(x, data_format):
    return x if data_format == "channels_last" else xp.moveaxis(x, -1, 1)


def spatial_and_channels(input_shape, data_format):
    """(spatial dims, channels) of a batch-first shape in ``data_format``."""
    if data_format == "channels_last":
        return tuple(input_shape[1:-1]), input_shape[-1]
    return tuple(input_shape[2:]), input_shape[1]


def with_channels(batch, spatial, channels, data_format):
    """The batch-first shape ``(batch, *spatial, channels)`` in ``data_format``."""
    if data_format == "channels_last":
        return (batch,) + tuple(spatial) + (channels,)
    return (batch, channels) + tuple(spatial)


def backward_flags(layer, ctx=DEFAULT_BACKWARD):
    """(need dL/dx, dy is already dL/d(pre-activation), may overwrite gradients) for one
    backward call. The context carries them; an engine that sets them as layer attributes
    instead (``input_grad_needed``, ``fused_activation_grad``, ``grads_fresh``) is honoured
    too, where the layer has them."""
    need_input_grad = ctx.need_input_grad and getattr(layer, "input_grad_needed", True)
    fused = ctx.fused_activation or getattr(layer, "fused_activation_grad", False)
    fresh = ctx.take_fresh(layer)
    if getattr(layer, "grads_fresh", False):
        fresh, layer.grads_fresh = True, False
    return need_input_grad, fused, fresh


def store_grad(layer, name, value, fresh: bool) -> None:
    """Write (first contribution of a step) or add ``value`` into ``layer.grads[name]``."""
    grad = layer.grads[name]
    if fresh:
        grad[...] = value.reshape(grad.shape)
    else:
        grad += value.reshape(grad.shape)
