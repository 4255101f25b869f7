"""GateConv: a convolution onto the four gates of a convolutional LSTM, and its adjoint.

It reuses the patch-matrix core of the convolution layers (:mod:`conv_utils`): the
forward pass is one product per gate on the patch matrix, ``(rows, k * c) @ (k * c,
f)``, giving the gates as gate-major blocks ``(4, rows, f)``; the kernel gradient is
``patches.T @ dz`` per gate, the input gradient ``dz @ kernel.T`` added back onto the
input grid (``scatter_products``). Nothing is kept between the two: backward rebuilds
the patch matrix from the input (one copy, against products 4 f times larger).

Dropout as in Keras: one mask per gate. The four masked copies of the input side by side
along the channels make a grouped convolution with one group per gate (group g reads
copy g and writes gate g), so the same code runs with and without dropout.
"""

from __future__ import annotations

import math

from npkeras.backend import xp
from npkeras.layers import conv_utils as cu

GATES = 4
#: OpenBLAS runs a product on several threads once m * n * k exceeds 64^3. The per-step
#: products of small layers are just above that, and on a shared 2-core machine the
#: threads' handshakes cost more than they save (see rnn_base): one epoch of the
#: moving-dot test took 1.43 s of CPU with 2 BLAS threads, 0.43 s with one. Blocks of
#: fewer than MIN_BLOCK_ROWS rows starve BLAS instead (ConvLSTM2D(32) on 16 x 8 frames of
#: 32 x 32 x 8, forward and backward: 2.5 s CPU in 28-row blocks, 2.0 s unblocked on one
#: thread; 6.3 vs 2.8 s on two busy threads), so larger products run whole.
SINGLE_THREAD_WORK = 64**3
MIN_BLOCK_ROWS = 256


def row_blocks(count: int, work_per_item: int, rows_per_item: int = 1) -> list:
    """Slices of ``range(count)`` whose products of ``work_per_item`` flops per item (a
    row, or a sample of ``rows_per_item`` rows) stay below the multi-threading
    threshold; one slice when such blocks would be too thin."""
    size = SINGLE_THREAD_WORK // max(work_per_item, 1)
    if size * rows_per_item < MIN_BLOCK_ROWS:
        return [slice(0, count)]
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


class GateConv:
    """A convolution from some channels to the four gates, ``(4, rows, filters)``, and its
    adjoint, on channels-last arrays whose leading axes all count as samples.

    >>> import numpy as np
    >>> conv = GateConv((3,), (1,), (1,), "same")
    >>> conv.forward(np.ones((2, 5, 1)), np.ones((3, 1, 8))).shape  # 2 samples x 5 steps
    (4, 10, 2)
    """

    def __init__(self, kernel_size, strides, dilation_rate, padding):
        self.kernel_size, self.strides = kernel_size, strides
        self.dilation_rate, self.padding = dilation_rate, padding

    def output_spatial(self, spatial) -> tuple:
        return tuple(
            cu.output_length(n, k, s, d, self.padding)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def _pads(self, spatial) -> list:
        return [
            cu.padding_amounts(n, k, s, d, self.padding)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        ]

    def patches(self, x, masks=None):
        """The patch matrix ``(groups, samples * prod(out), prod(kernel_size) * channels)``
        of ``x`` ``(..., *spatial, channels)``; ``masks``: None (one group) or one dropout
        mask per gate broadcasting against ``x`` (four groups, the masked copies)."""
        rank = len(self.kernel_size)
        spatial = x.shape[-rank - 1 : -1]
        groups = 1 if masks is None else GATES
        inputs = x if masks is None else xp.concatenate([x * m for m in masks], axis=-1)
        padded = cu.pad_spatial(
            inputs.reshape((-1,) + inputs.shape[-rank - 1 :]), self._pads(spatial)
        )
        return cu.im2col(
            padded,
            self.output_spatial(spatial),
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            groups,
        )

    def forward(self, x, kernel, masks=None):
        """The gates' pre-activations ``(4, samples * prod(out), f)`` for kernel
        ``(*kernel_size, channels, 4 f)``. Nothing is kept: backward rebuilds the patch
        matrix from ``x`` (one copy, against products 4 f times larger), so a pass keeps
        its states rather than ``prod(kernel_size)`` times as many patches."""
        cols = self.patches(x, masks)
        # (groups, rows, k * c) @ (4, k * c, f): one product per gate and block of rows
        gate_kernels = cu.grouped_kernel(kernel, GATES)
        z = xp.empty((GATES, cols.shape[1], gate_kernels.shape[-1]), x.dtype)
        for g in range(GATES):
            a = cols[g % len(cols)]
            for rows in row_blocks(a.shape[0], a.shape[1] * z.shape[-1]):
                xp.dot(a[rows], gate_kernels[g], out=z[g, rows])
        return z

    def backward(self, dz, x, kernel, masks, need_dx: bool):
        """(dL/dkernel, dL/dx or None) from ``dz`` = dL/d(gates) ``(4, rows, f)`` for the
        forward call on ``x``, ``kernel``, ``masks``."""
        cols = self.patches(x, masks)
        groups = cols.shape[0]
        dkernel = xp.zeros((GATES,) + cols.shape[2:] + dz.shape[-1:], dz.dtype)
        for g in range(GATES):
            a = cols[g % groups]
            for rows in row_blocks(a.shape[0], a.shape[1] * dz.shape[-1]):
                dkernel[g] += xp.dot(a[rows].T, dz[g, rows])
        dkernel = dkernel.transpose(1, 0, 2).reshape(kernel.shape)
        if not need_dx:
            return dkernel, None
        del cols
        rank = len(self.kernel_size)
        spatial = x.shape[-rank - 1 : -1]
        pads, out_spatial = self._pads(spatial), self.output_spatial(spatial)
        samples = math.prod(x.shape[: -rank - 1])
        padded_shape = (
            (samples,)
            + tuple(n + b + a for n, (b, a) in zip(spatial, pads))
            + (x.shape[-1] * groups,)
        )
        # without dropout one input feeds all gates: dz as rows (rows, 4 f) against the
        # whole kernel; with it, gate g's rows go back to masked copy g
        dz_rows = cu.ungroup_rows(dz)[None] if groups == 1 else dz
        grouped = cu.grouped_kernel(kernel, groups)
        slabs = grouped.reshape((groups, self.kernel_size[0], -1, grouped.shape[-1]))
        slab_kernels = [slabs[:, i].transpose(0, 2, 1) for i in range(self.kernel_size[0])]
        # a few samples at a time, so that each product stays on one thread
        per_sample = math.prod(out_spatial)
        width = dz_rows.shape[-1] * slab_kernels[0].shape[-1] * per_sample
        dpadded = xp.empty(padded_shape, dz.dtype)
        for chunk in row_blocks(samples, width, per_sample):
            dpadded[chunk] = cu.scatter_products(
                dz_rows[:, chunk.start * per_sample : chunk.stop * per_sample],
                slab_kernels,
                (chunk.stop - chunk.start,) + padded_shape[1:],
                out_spatial,
                self.kernel_size,
                self.strides,
                self.dilation_rate,
            )
        dx = dpadded[cu.interior(spatial, pads)]
        if masks is None:
            return dkernel, dx.reshape(x.shape)
        copies = xp.split(dx, GATES, axis=-1)
        total = copies[0].reshape(x.shape) * masks[0]
        for part, mask in zip(copies[1:], masks[1:]):
            total += part.reshape(x.shape) * mask
        return dkernel, total
