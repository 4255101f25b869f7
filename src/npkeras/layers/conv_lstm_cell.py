"""ConvLSTMCell: the weights of a convolutional LSTM and its pass over a sequence, both ways.

An LSTM whose input and recurrent transformations are convolutions (Shi et al., 2015,
https://arxiv.org/abs/1506.04214). The input convolution uses the layer's strides,
padding and dilation; the recurrent one stride 1 and padding 'same', so every state
keeps the input convolution's output shape.

Inside a pass everything is channels-last rows: a state is ``(batch * prod(out),
filters)`` and the gates of a step are ``(4, rows, filters)`` in Keras's gate order i, f,
c, o, each gate one contiguous block (a column slice of ``(rows, 4 * filters)`` would be
strided, which NumPy's elementwise loops run several times slower; see rnn_base). The
input convolution of every step is one patch-matrix product over ``time * batch``
samples before the time loop; the recurrent convolution runs once per step.

Dropout as in Keras: one mask per gate (four), drawn once per call and shared by every
step (see :mod:`~npkeras.layers.gate_conv` for how the masked convolutions run).
"""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers import conv_utils as cu
from npkeras.layers.base import Layer
from npkeras.layers.core import _positive_int
from npkeras.layers.gate_conv import GATES, GateConv
from npkeras.layers.rnn_base import (
    RECURRENT_OPTIONS,
    _dropout_mask,
    activate,
    activation_grad,
    recurrent_options_config,
    set_recurrent_options,
)


class ConvSequence:
    """What one pass keeps: the inputs ``x`` (time-major), the state buffers ``h``, ``c``
    ``(time + 1, rows, filters)`` (entry 0 the initial state), the dropout masks, the
    time mask and per step the gate values and ``activation(c)``."""

    def __init__(self, x, h, c, input_masks, recurrent_masks, keep_previous, out_spatial):
        self.x, self.h, self.c = x, h, c
        self.input_masks, self.recurrent_masks = input_masks, recurrent_masks
        self.keep_previous = keep_previous  # (time, rows, 1) True where a step is masked
        self.batch, self.out_spatial = x.shape[1], out_spatial
        self.steps = []

    def state(self, t):
        """h_t as the recurrent convolution reads it, ``(batch, *out, filters)``."""
        return self.h[t].reshape((self.batch,) + self.out_spatial + self.h.shape[-1:])


class ConvLSTMCell(Layer):
    """The weights and step of a convolutional LSTM (used by ConvLSTM1D/2D/3D).

    Args:
        rank: number of spatial axes (1, 2 or 3).
        filters, kernel_size, strides, padding, data_format, dilation_rate: the input
            convolution (as :class:`~npkeras.layers.Conv2D`); the recurrent convolution
            uses ``kernel_size`` with stride 1 and padding 'same'.
        activation: of the candidate and the cell state (default tanh).
        recurrent_activation: of the gates i, f, o (default sigmoid).
        use_bias: add a bias ``(4 * filters,)``.
        kernel_initializer, recurrent_initializer, bias_initializer: glorot_uniform,
            orthogonal, zeros.
        unit_forget_bias: start the forget gate's bias at 1.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: penalties.
        kernel_constraint, recurrent_constraint, bias_constraint: constraints.
        dropout, recurrent_dropout: fractions of the inputs / previous state dropped
            while training (one mask per gate and call).
        seed: seed of the dropout masks.

    Weights: kernel ``(*kernel_size, in_channels, 4 filters)``, recurrent_kernel
    ``(*kernel_size, filters, 4 filters)``, bias ``(4 filters,)``, gates i, f, c, o.

    >>> cell = ConvLSTMCell(2, 3, 3)
    >>> cell.build((None, 8, 8, 2))
    >>> [tuple(w.shape) for w in cell.weights]
    [(3, 3, 2, 12), (3, 3, 3, 12), (12,)]
    """

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed=None,
        **kwargs,
    ):
        options = {k: v for k, v in locals().items() if k in RECURRENT_OPTIONS}
        super().__init__(**kwargs)
        owner = self._owner()
        if rank not in (1, 2, 3):
            raise ValueError(
                f"Received an invalid value for `rank` of {owner}, expected 1, 2 or 3. "
                f"Received: rank={rank!r}"
            )
        self.rank = rank
        self.filters = _positive_int(owner, "filters", filters)
        self.kernel_size = cu.normalize_tuple(kernel_size, rank, "kernel_size", owner)
        self.strides = cu.normalize_tuple(strides, rank, "strides", owner)
        self.padding = cu.normalize_choice(padding, ("valid", "same"), "padding", owner)
        self.data_format = cu.normalize_data_format(data_format, owner)
        self.dilation_rate = cu.normalize_tuple(dilation_rate, rank, "dilation_rate", owner)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{owner}: `strides > 1` is not compatible with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        set_recurrent_options(self, owner, options)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.input_conv = GateConv(self.kernel_size, self.strides, self.dilation_rate, self.padding)
        ones = (1,) * rank
        self.recurrent_conv = GateConv(self.kernel_size, ones, ones, "same")

    # -- shapes ----------------------------------------------------------------------
    def _owner(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def state_shape(self, step_shape) -> tuple:
        """The shape of h and c for one step's input ``(batch, *spatial, channels)`` in
        the data format, in the same format; raises when the input is too small."""
        spatial, _ = cu.spatial_and_channels(step_shape, self.data_format)
        out = self.input_conv.output_spatial(spatial)
        if any(n is not None and n <= 0 for n in out):
            raise ValueError(
                f"{self._owner()}: the input shape {tuple(step_shape)} is too small for "
                f"kernel_size={self.kernel_size}, dilation_rate={self.dilation_rate} with "
                f"padding='{self.padding}' (computed output spatial shape {out}). Use "
                "padding='same' or larger inputs."
            )
        return cu.with_channels(step_shape[0], out, self.filters, self.data_format)

    def build(self, input_shape):
        """``input_shape``: one step's ``(batch, *spatial, channels)`` in the data format."""
        spatial, channels = cu.spatial_and_channels(input_shape, self.data_format)
        if None in spatial:
            raise ValueError(
                f"{self._owner()}: ConvLSTM layers only support static input shapes for the "
                f"spatial dimensions. Received input shape {tuple(input_shape)}."
            )
        if channels is None:
            raise ValueError(
                f"{self._owner()} needs a known channel dimension; received input shape "
                f"{tuple(input_shape)}."
            )
        width = GATES * self.filters
        self.add_weight(
            "kernel",
            self.kernel_size + (channels, width),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.add_weight(
            "recurrent_kernel",
            self.kernel_size + (self.filters, width),
            self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.add_weight(
                "bias",
                (width,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
            if self.unit_forget_bias:
                self.params["bias"][self.filters : 2 * self.filters] = 1.0
        self.built = True

    # -- one pass over a sequence ------------------------------------------------------
    def run(self, x, h0, c0, mask=None, training=False) -> ConvSequence:
        """``x`` ``(time, batch, *spatial, channels)`` contiguous; ``h0``, ``c0`` ``(batch,
        *out, filters)``; ``mask`` ``(time, batch)`` bool (False: the step keeps the
        previous states) or None. Both states live channels-last in the result."""
        steps, batch = x.shape[:2]
        filters = self.filters
        out_spatial = self.input_conv.output_spatial(x.shape[2:-1])
        rows = batch * math.prod(out_spatial)
        rng = self._rng if self._rng is not None else backend.rng()
        input_masks = recurrent_masks = None
        if training and self.dropout > 0:
            shape = (batch,) + x.shape[2:]
            input_masks = [_dropout_mask(rng, shape, self.dropout, x.dtype) for _ in range(GATES)]
        if training and self.recurrent_dropout > 0:
            shape = (batch,) + out_spatial + (filters,)
            rate = self.recurrent_dropout
            recurrent_masks = [_dropout_mask(rng, shape, rate, x.dtype) for _ in range(GATES)]
        xw = self.input_conv.forward(x, self.params["kernel"], input_masks)
        if self.use_bias:
            xw += self.params["bias"].reshape(GATES, 1, filters)
        xw = xw.reshape(GATES, steps, rows, filters)
        h = xp.empty((steps + 1, rows, filters), x.dtype)
        c = xp.empty_like(h)
        h[0], c[0] = h0.reshape(rows, filters), c0.reshape(rows, filters)
        keep_previous = None
        if mask is not None:
            keep_previous = xp.repeat(~mask, rows // batch, axis=1)[:, :, None]
        seq = ConvSequence(x, h, c, input_masks, recurrent_masks, keep_previous, out_spatial)
        for t in range(steps):
            gates = self.recurrent_conv.forward(
                seq.state(t), self.params["recurrent_kernel"], recurrent_masks
            )
            gates += xw[:, t]
            seq.steps.append((gates,) + self._gate_step(gates, c[t], h[t + 1], c[t + 1]))
            if keep_previous is not None:  # a masked sample carries its states over
                xp.copyto(h[t + 1], h[t], where=keep_previous[t])
                xp.copyto(c[t + 1], c[t], where=keep_previous[t])
        return seq

    def _gate_step(self, gates, c_prev, h_out, c_out):
        """Activate ``gates`` in place and write ``c = f c_prev + i g``, ``h = o act(c)``;
        returns (act(c), the pre-activations that non-fused activations need)."""
        pre_if = activate(self.recurrent_activation, gates[:2])
        pre_g = activate(self.activation, gates[2])
        pre_o = activate(self.recurrent_activation, gates[3])
        i, f, g, o = gates
        xp.multiply(f, c_prev, out=c_out)
        act_c = xp.multiply(i, g)
        c_out += act_c
        act_c[...] = c_out
        pre_c = activate(self.activation, act_c)
        xp.multiply(o, act_c, out=h_out)
        return act_c, (pre_if, pre_g, pre_o, pre_c)

    def run_backward(self, seq, doutputs, dh, dc, need_dx: bool):
        """Backpropagation through time. ``doutputs``: dL/dh_t ``(time, rows, filters)``
        or None; ``dh``, ``dc``: dL/d(final states) ``(rows, filters)``, arrays this
        function may overwrite. Adds the weight gradients; returns (dL/dx like the
        input or None, dL/dh_0, dL/dc_0)."""
        steps = len(seq.steps)
        filters = self.filters
        rows = dh.shape[0]
        state_shape = (seq.batch,) + seq.out_spatial + (filters,)
        recurrent_kernel = self.params["recurrent_kernel"]
        dxw = xp.empty((GATES, steps, rows, filters), dh.dtype)
        drecurrent = xp.zeros_like(recurrent_kernel) if self.trainable else None
        kept = None if seq.keep_previous is None else (~seq.keep_previous).astype(dh.dtype)
        for t in range(steps - 1, -1, -1):
            if doutputs is not None:
                dh += doutputs[t]
            if kept is not None:  # a masked step hands its gradient straight to the last one
                carried = (dh * (1.0 - kept[t]), dc * (1.0 - kept[t]))
                dh *= kept[t]
                dc *= kept[t]
            gates, act_c, pres = seq.steps[t]
            dgates = dxw[:, t]  # the input projection is added unchanged: same gradient
            self._gate_step_backward(dgates, dh, dc, gates, act_c, seq.c[t], pres)
            dkernel, dh_prev = self.recurrent_conv.backward(
                dgates, seq.state(t), recurrent_kernel, seq.recurrent_masks, True
            )
            if drecurrent is not None:
                drecurrent += dkernel
            dh = dh_prev.reshape(rows, filters)
            if kept is not None:
                dh += carried[0]
                dc += carried[1]
        dkernel, dx = self.input_conv.backward(
            dxw.reshape(GATES, steps * rows, filters),
            seq.x,
            self.params["kernel"],
            seq.input_masks,
            need_dx,
        )
        if self.trainable:
            self.grads["kernel"] += dkernel
            self.grads["recurrent_kernel"] += drecurrent
            if self.use_bias:
                self.grads["bias"] += dxw.sum(axis=(1, 2)).reshape(-1)
        return dx, dh.reshape(state_shape), dc.reshape(state_shape)

    def _gate_step_backward(self, dgates, dh, dc, gates, act_c, c_prev, pres):
        """Write dL/d(gate pre-activations) into ``dgates``; ``dc`` becomes dL/dc_{t-1}
        (``dh`` is overwritten)."""
        pre_if, pre_g, pre_o, pre_c = pres
        i, f, g, o = gates
        xp.multiply(dh, act_c, out=dgates[3])  # dL/do
        dh *= o
        dc += activation_grad(self.activation, dh, act_c, pre_c, dh)  # dL/dc_t
        xp.multiply(dc, g, out=dgates[0])  # dL/di
        xp.multiply(dc, c_prev, out=dgates[1])  # dL/df
        xp.multiply(dc, i, out=dgates[2])  # dL/dg
        dc *= f  # dL/dc_{t-1}
        activation_grad(self.recurrent_activation, dgates[:2], gates[:2], pre_if, dgates[:2])
        activation_grad(self.activation, dgates[2], g, pre_g, dgates[2])
        activation_grad(self.recurrent_activation, dgates[3], o, pre_o, dgates[3])

    def _owner(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def get_config(self):
        return {
            **super().get_config(),
            "rank": self.rank,
            **self.hyper_config(),
        }

    def hyper_config(self) -> dict:
        """The constructor arguments other than rank and the Layer's own (name, dtype...)."""
        return {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "unit_forget_bias": self.unit_forget_bias,
            **recurrent_options_config(self, self._owner()),
        }
