"""Recurrent cells: SimpleRNNCell, LSTMCell, GRUCell and StackedRNNCells.

Each built-in cell defines one time step forwards (``step``) and backwards
(``step_backward``) on the buffers of a :class:`~npkeras.layers.rnn_base.Sequence`;
:mod:`npkeras.layers.rnn_base` describes the pass and its layout.
"""

from __future__ import annotations

from npkeras import activations, backend
from npkeras.backend import xp
from npkeras.layers.base import Layer
from npkeras.layers.rnn_base import (
    BuiltinCell,
    activate,
    activation_grad,
    deserialize_layer,
    dot_rows,
    rows,
)
from npkeras.registry import serialize_object


def _split(gates, count):
    """The ``count`` gate blocks of ``(batch, count * units)`` gates, as column views."""
    u = gates.shape[-1] // count
    return [gates[:, k * u : (k + 1) * u] for k in range(count)]


class SimpleRNNCell(BuiltinCell):
    """One step of a fully connected RNN: ``h = activation(x @ kernel + h_prev @
    recurrent_kernel + bias)``.

    Args: those of :class:`BuiltinCell` except ``recurrent_activation``.

    Weights: kernel ``(in, units)``, recurrent_kernel ``(units, units)``, bias ``(units,)``.

    >>> from npkeras.layers import RNN
    >>> import numpy as np
    >>> RNN(SimpleRNNCell(3))(np.ones((2, 5, 4))).shape
    (2, 3)
    """

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)

    def _allocate(self, seq):
        if type(self.activation) not in (activations.Sigmoid, activations.Tanh, activations.Linear):
            seq.saved["pre"] = [None] * seq.steps

    def step(self, seq, t):
        h = seq.states[0][t + 1]
        dot_rows(seq.recurrent_input(t), self.params["recurrent_kernel"], h)
        h += seq.xw[t]
        pre = activate(self.activation, h)
        if pre is not None:
            seq.saved["pre"][t] = pre

    def step_backward(self, seq, t, dstates):
        pre = seq.saved["pre"][t] if "pre" in seq.saved else None
        dpre = activation_grad(self.activation, dstates[0], seq.states[0][t + 1], pre, seq.dxw[t])
        return [self._recurrent_backward(seq, dpre, None)]

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class LSTMCell(BuiltinCell):
    """One step of a long short-term memory cell (Hochreiter & Schmidhuber, 1997).

    ``i, f, o = recurrent_activation(...)``, ``g = activation(...)``,
    ``c = f * c_prev + i * g``, ``h = o * activation(c)``, each gate from
    ``x @ kernel + h_prev @ recurrent_kernel + bias`` (gate order i, f, c, o).

    Args: those of :class:`BuiltinCell`, plus ``unit_forget_bias``: start the forget gate's
        bias at 1 (Jozefowicz et al., 2015).

    Weights: kernel ``(in, 4u)``, recurrent_kernel ``(u, 4u)``, bias ``(4u,)``.
    States: ``[h, c]``.

    >>> from npkeras.layers import RNN
    >>> import numpy as np
    >>> RNN(LSTMCell(3), return_state=True)(np.ones((2, 5, 4)))[2].shape
    (2, 3)
    """

    gates = 4

    def __init__(self, units, *args, unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, *args, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self) -> list:
        return [self.units, self.units]

    def build(self, input_shape):
        super().build(input_shape)
        if self.use_bias and self.unit_forget_bias:
            self.params["bias"][self.units : 2 * self.units] = 1.0

    def _allocate(self, seq):
        u, shape = self.units, (seq.steps,)
        seq.saved["gates"] = xp.empty(shape + (seq.batch, 4 * u), seq.x.dtype)  # i, f, g, o
        seq.saved["tanh_c"] = xp.empty(shape + (seq.batch, u), seq.x.dtype)
        seq.saved["pre"] = [None] * seq.steps
        if self._fused_gates():
            # -z for the sigmoid gates, -2z for the candidate: one exp over all four
            scale = xp.full(4 * u, -1.0, seq.x.dtype)
            scale[2 * u : 3 * u] = -2.0
            seq.saved["scale"] = scale

    def _fused_gates(self):
        """Keras's default activations: every gate is one sigmoid, tanh(z) = 2 sigmoid(2z) - 1."""
        return (
            type(self.recurrent_activation) is activations.Sigmoid
            and type(self.activation) is activations.Tanh
        )

    def step(self, seq, t):
        u = self.units
        h_seq, c_seq = seq.states
        gates = seq.saved["gates"][t]
        dot_rows(seq.recurrent_input(t), self.params["recurrent_kernel"], gates)
        c, tanh_c = c_seq[t + 1], seq.saved["tanh_c"][t]
        if "scale" in seq.saved and backend.kernels_accept(gates, seq.xw[t], c):
            backend.kernels.lstm_step(gates, seq.xw[t], c_seq[t], c, tanh_c, h_seq[t + 1])
            return
        gates += seq.xw[t]
        if "scale" in seq.saved:  # 6 passes instead of 14 for three separate activations
            gates *= seq.saved["scale"]
            xp.exp(gates, out=gates)
            gates += 1.0
            xp.reciprocal(gates, out=gates)
            candidate = gates[:, 2 * u : 3 * u]
            candidate *= 2.0
            candidate -= 1.0
            pre_if = pre_g = pre_o = None
        else:
            pre_if = activate(self.recurrent_activation, gates[:, : 2 * u])
            pre_g = activate(self.activation, gates[:, 2 * u : 3 * u])
            pre_o = activate(self.recurrent_activation, gates[:, 3 * u :])
        i, f, g, o = _split(gates, 4)
        xp.multiply(f, c_seq[t], out=c)
        xp.multiply(i, g, out=tanh_c)
        c += tanh_c
        tanh_c[...] = c
        pre_c = activate(self.activation, tanh_c)
        xp.multiply(o, tanh_c, out=h_seq[t + 1])
        if pre_if is not None or pre_g is not None or pre_c is not None:
            seq.saved["pre"][t] = (pre_if, pre_g, pre_o, pre_c)

    def step_backward(self, seq, t, dstates):
        u = self.units
        dh, dc = dstates
        gates, tanh_c = seq.saved["gates"][t], seq.saved["tanh_c"][t]
        dgates = seq.dxw[t]  # written as dL/d(gate value), then turned into dL/d(pre-activation)
        if "scale" in seq.saved and backend.kernels_accept(gates, dgates, dh, dc):
            backend.kernels.lstm_step_backward(gates, dgates, seq.states[1][t], tanh_c, dh, dc)
            return [self._recurrent_backward(seq, dgates, None), dc]
        pre_if, pre_g, pre_o, pre_c = seq.saved["pre"][t] or (None,) * 4
        i, f, g, o = _split(gates, 4)
        di, df, dg, do = _split(dgates, 4)
        xp.multiply(dh, tanh_c, out=do)
        dh *= o
        dc += activation_grad(self.activation, dh, tanh_c, pre_c, dh)  # dL/dc_t
        xp.multiply(dc, g, out=di)
        xp.multiply(dc, seq.states[1][t], out=df)
        xp.multiply(dc, i, out=dg)
        dc *= f  # dL/dc_{t-1}
        if "scale" in seq.saved:  # y (1 - y) for the sigmoid gates, 1 - g^2 for the candidate
            slope = seq.saved["slope"]
            xp.subtract(1.0, gates, out=slope)
            slope *= gates
            slope_g = slope[:, 2 * u : 3 * u]
            xp.multiply(g, g, out=slope_g)
            xp.subtract(1.0, slope_g, out=slope_g)
            dgates *= slope
        else:
            dif, gates_if = dgates[:, : 2 * u], gates[:, : 2 * u]
            activation_grad(self.recurrent_activation, dif, gates_if, pre_if, dif)
            activation_grad(self.activation, dg, g, pre_g, dg)
            activation_grad(self.recurrent_activation, do, o, pre_o, do)
        return [self._recurrent_backward(seq, dgates, None), dc]

    def begin_backward(self, seq):
        super().begin_backward(seq)
        if "scale" in seq.saved:
            seq.saved["slope"] = xp.empty_like(seq.xw[0])

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(BuiltinCell):
    """One step of a gated recurrent unit (Cho et al., 2014), gate order z, r, h.

    ``z, r = recurrent_activation(...)``, ``h = z * h_prev + (1 - z) * hh`` with
    ``hh = activation(x_h + r * (h_prev @ U_h + b_rec_h))`` when ``reset_after``
    (Keras 3's default, cuDNN's form) or ``activation(x_h + (r * h_prev) @ U_h)``.

    Args: those of :class:`BuiltinCell`, plus ``reset_after``: apply the reset gate after
        the recurrent product; the bias is then ``(2, 3u)`` (input and recurrent bias).

    Weights: kernel ``(in, 3u)``, recurrent_kernel ``(u, 3u)``, bias ``(2, 3u)`` or ``(3u,)``.

    >>> from npkeras.layers import RNN
    >>> import numpy as np
    >>> RNN(GRUCell(3))(np.ones((2, 5, 4))).shape
    (2, 3)
    """

    gates = 3

    def __init__(self, units, *args, reset_after: bool = True, **kwargs):
        super().__init__(units, *args, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if not self.use_bias:
            return None
        return self.params["bias"][0] if self.reset_after else self.params["bias"]

    def _fused_step(self):
        """Keras's default activations: the compiled step kernels apply (reset_after)."""
        return (
            type(self.recurrent_activation) is activations.Sigmoid
            and type(self.activation) is activations.Tanh
        )

    def _allocate(self, seq):
        u, steps, batch = self.units, seq.steps, seq.batch
        seq.saved["gates"] = xp.empty((steps, batch, 3 * u), seq.x.dtype)  # z, r, hh
        # reset_after: h_rec @ U + recurrent bias; else r * h_rec (the product's input)
        width = (3 if self.reset_after else 1) * u
        seq.saved["inner"] = xp.empty((steps, batch, width), seq.x.dtype)
        seq.saved["pre"] = [None] * steps

    def begin_backward(self, seq):
        super().begin_backward(seq)
        if self.reset_after:
            seq.saved["dinner"] = xp.empty_like(seq.xw)

    def step(self, seq, t):
        u = self.units
        kernel = self.params["recurrent_kernel"]
        gates, inner = seq.saved["gates"][t], seq.saved["inner"][t]
        h_prev, xw = seq.states[0][t], seq.xw[t]
        h_rec = seq.recurrent_input(t)
        zr, hh = gates[:, : 2 * u], gates[:, 2 * u :]
        if self.reset_after:
            dot_rows(h_rec, kernel, inner)
            if self.use_bias:
                inner += self.params["bias"][1]
            h = seq.states[0][t + 1]
            if self._fused_step() and backend.kernels_accept(gates, inner, xw, h_prev, h):
                backend.kernels.gru_step(gates, inner, xw, h_prev, h)
                return
            xp.add(xw[:, : 2 * u], inner[:, : 2 * u], out=zr)
        else:
            xp.matmul(h_rec, kernel[:, : 2 * u], out=zr)  # a column block: matmul takes it
            zr += xw[:, : 2 * u]
        pre_zr = activate(self.recurrent_activation, zr)
        z, r = zr[:, :u], zr[:, u:]
        if self.reset_after:
            xp.multiply(r, inner[:, 2 * u :], out=hh)
        else:
            xp.multiply(r, h_rec, out=inner)
            xp.matmul(inner, kernel[:, 2 * u :], out=hh)
        hh += xw[:, 2 * u :]
        pre_hh = activate(self.activation, hh)
        h = seq.states[0][t + 1]
        xp.subtract(h_prev, hh, out=h)  # h = hh + z * (h_prev - hh)
        h *= z
        h += hh
        if pre_zr is not None or pre_hh is not None:
            seq.saved["pre"][t] = (pre_zr, pre_hh)

    def step_backward(self, seq, t, dstates):
        u = self.units
        (dh,) = dstates
        gates, inner = seq.saved["gates"][t], seq.saved["inner"][t]
        h_prev = seq.states[0][t]
        dgates = seq.dxw[t]  # dL/d(input part of each pre-activation)
        if self.reset_after and self._fused_step() and backend.kernels_accept(gates, dgates, dh):
            dinner = seq.saved["dinner"][t]
            backend.kernels.gru_step_backward(gates, inner, dgates, dinner, h_prev, dh)
            return [self._recurrent_backward(seq, dinner, dh)]
        pre_zr, pre_hh = seq.saved["pre"][t] or (None, None)
        z, r, hh = _split(gates, 3)
        dz, dr, dhh = _split(dgates, 3)
        dzr, zr = dgates[:, : 2 * u], gates[:, : 2 * u]
        xp.subtract(h_prev, hh, out=dz)
        dz *= dh  # dL/dz = dh * (h_prev - hh)
        xp.subtract(1.0, z, out=dhh)
        dhh *= dh  # dL/dhh = dh * (1 - z)
        activation_grad(self.activation, dhh, hh, pre_hh, dhh)
        dh *= z  # the direct path h_prev -> h
        if self.reset_after:
            xp.multiply(dhh, inner[:, 2 * u :], out=dr)  # hh_pre = x_h + r * inner_h
            activation_grad(self.recurrent_activation, dzr, zr, pre_zr, dzr)
            dinner = seq.saved["dinner"][t]  # dL/d(h_rec @ U + recurrent bias)
            dinner[:, : 2 * u] = dzr
            xp.multiply(dhh, r, out=dinner[:, 2 * u :])
            return [self._recurrent_backward(seq, dinner, dh)]
        kernel_t = seq.saved["recurrent_kernel_t"]  # rows z, r, h of U.T
        drh = xp.dot(dhh, kernel_t[2 * u :])  # hh_pre = x_h + (r * h_rec) @ U_h
        h_rec = seq.saved["h_dropped"][t] if seq.recurrent_mask is not None else h_prev
        xp.multiply(drh, h_rec, out=dr)
        activation_grad(self.recurrent_activation, dzr, zr, pre_zr, dzr)
        dh_rec = xp.dot(dzr, kernel_t[: 2 * u])
        drh *= r
        dh_rec += drh
        if seq.recurrent_mask is not None:
            dh_rec *= seq.recurrent_mask
        dh_rec += dh
        return [dh_rec]

    def _add_recurrent_grads(self, seq):
        u = self.units
        h_rec = rows(seq.recurrent_inputs()).T
        if self.reset_after:
            dinner = rows(seq.saved["dinner"])
            self.grads["recurrent_kernel"] += backend.dot_blocked(h_rec, dinner)
            if self.use_bias:
                self.grads["bias"][1] += backend.column_sum(dinner)
            return
        dxw = rows(seq.dxw)
        grad = self.grads["recurrent_kernel"]
        grad[:, : 2 * u] += backend.dot_blocked(h_rec, dxw[:, : 2 * u])
        grad[:, 2 * u :] += backend.dot_blocked(rows(seq.saved["inner"]).T, dxw[:, 2 * u :])

    def _add_bias_grad(self, grad):
        bias_grad = self.grads["bias"][0] if self.reset_after else self.grads["bias"]
        bias_grad += grad

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


class StackedRNNCells(Layer):
    """Cells applied one after the other at each time step, as one cell.

    Each cell's output is the next cell's input; the states are every cell's states
    in order. An RNN over a stack computes the same as RNNs over each cell in turn, so
    it runs cell by cell over the whole sequence (each keeps its one big input product).

    Args:
        cells: built-in cells (SimpleRNNCell, LSTMCell, GRUCell).

    Weights: each cell's, named ``cell_<i>_<name>``.

    >>> from npkeras.layers import RNN
    >>> import numpy as np
    >>> RNN(StackedRNNCells([LSTMCell(3), GRUCell(2)]))(np.ones((2, 5, 4))).shape
    (2, 2)
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells or not all(isinstance(c, BuiltinCell) for c in cells):
            raise TypeError(
                f"StackedRNNCells '{self.name}' expects a non-empty list of built-in cells "
                "(SimpleRNNCell, LSTMCell, GRUCell); received "
                f"{[type(c).__name__ for c in cells]}."
            )
        self.cells = cells

    @property
    def state_size(self) -> list:
        return [size for cell in self.cells for size in cell.state_size]

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    def build(self, input_shape):
        for i, cell in enumerate(self.cells):
            cell._maybe_build(tuple(input_shape))
            input_shape = tuple(input_shape[:-1]) + (cell.output_size,)
        self.built = True

    def get_config(self):

        return {**super().get_config(), "cells": [serialize_object(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cells"] = [deserialize_layer(c) for c in config["cells"]]
        return cls(**config)
