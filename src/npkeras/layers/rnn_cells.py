"""Recurrent cells: SimpleRNNCell, LSTMCell, GRUCell and StackedRNNCells.

A cell owns the weights of one recurrent step and computes a whole sequence in three
phases that :class:`~npkeras.layers.recurrent.RNN` drives:

1. ``begin(x, states, training)``: the input part of every gate for all time steps as
   one matrix product, ``(time * batch, in) @ (in, gates * units)``, plus the buffers
   the steps write into (arrays ``(time + 1, batch, size)`` per state, entry 0 the
   initial state), returned as a :class:`Sequence`.
2. ``step(seq, t)`` / ``step_backward(seq, t, dstates)``: one time step; only the
   recurrent product ``h @ recurrent_kernel`` and the gate arithmetic happen here,
   in place in the preallocated buffers.
3. ``end_backward(seq, need_dx)``: the weight gradients of every step at once (one
   matrix product each for the kernel and the recurrent kernel) and dL/dx.

Inside a pass everything is time-major and batch-last: a state buffer is
``(time + 1, size, batch)`` and the gates of step t are ``(gates * units, batch)``, so
each gate is a contiguous block of rows. (Batch-first gates would make each gate a
column slice, and NumPy is up to 10x slower on such strided blocks: 26 vs 2 us to
negate 64 x 128 floats here.) The recurrent product is ``recurrent_kernel.T @ h``.
Keras's weight layouts and gate orders: LSTM kernel ``(in, 4u)`` with gates i, f, c, o;
GRU kernel ``(in, 3u)`` with gates z, r, h and bias ``(2, 3u)`` (input and recurrent
bias) when ``reset_after`` else ``(3u,)``.
"""

from __future__ import annotations

from npkeras import activations, backend, initializers, regularizers
from npkeras.backend import xp
from npkeras.layers.base import Layer
from npkeras.layers.core import _positive_int


# -- activations applied in place to gate columns ----------------------------------
def _activate(act, z):
    """Overwrite ``z`` with ``act(z)``; returns the pre-activation when ``act.grad``
    needs it (activations other than sigmoid, tanh and linear), else None.

    Sigmoid and tanh go through one ``exp``: NumPy's float32 ``exp`` takes half the
    time of its ``tanh`` (63 vs 139 us for 64 x 256 here); the callers silence the
    overflow of ``exp`` for large inputs, which gives the right limit (0 or 1).
    """
    kind = type(act)
    if kind is activations.Sigmoid:  # 1 / (1 + exp(-z))
        xp.negative(z, out=z)
        xp.exp(z, out=z)
        z += 1.0
        xp.reciprocal(z, out=z)
        return None
    if kind is activations.Tanh:  # 2 / (1 + exp(-2z)) - 1
        z *= -2.0
        xp.exp(z, out=z)
        z += 1.0
        xp.reciprocal(z, out=z)
        z *= 2.0
        z -= 1.0
        return None
    if kind is activations.Linear:
        return None
    pre = z.copy()
    z[...] = act(pre)
    return pre


def _activation_grad(act, dy, y, pre, out):
    """Write dL/d(pre-activation) into ``out`` from ``dy`` = dL/dy (``out`` may be ``dy``)."""
    kind = type(act)
    if kind is activations.Sigmoid:  # y (1 - y) dy
        tmp = xp.subtract(1.0, y)
        tmp *= y
        xp.multiply(tmp, dy, out=out)
    elif kind is activations.Tanh:  # (1 - y^2) dy
        tmp = xp.multiply(y, y)
        xp.subtract(1.0, tmp, out=tmp)
        xp.multiply(tmp, dy, out=out)
    elif kind is activations.Linear:
        if out is not dy:
            out[...] = dy
    else:
        out[...] = act.grad(dy, pre, y)
    return out


def _dropout_mask(rng, shape, rate, dtype):
    """Inverted-dropout mask: 0 with probability ``rate``, else 1 / (1 - rate)."""
    keep = rng.random(shape) >= rate
    return keep.astype(dtype) / (1.0 - rate)


def _sum_over_steps(a, b):
    """sum_t a[t] @ b[t].T for ``a`` ``(time, m, batch)`` and ``b`` ``(time, n, batch)``,
    ``(m, n)``.

    One small product per step, not one product over ``time * batch``: that would need
    both operands copied into ``(m, time * batch)`` order first, and the copies plus the
    long product took 77 ms against 27 ms for the steps (LSTM(64), 50 steps, batch 64,
    the three weight and input gradients of bench/rnn.py).
    """
    total = xp.dot(a[0], b[0].T)
    for t in range(1, a.shape[0]):
        total += xp.dot(a[t], b[t].T)
    return total


def _dot_in_blocks(a, b, size):
    """``a @ b`` as a sum of products over slices of ``size`` of the inner dimension.

    The backward recurrent product ``(units, gates * units) @ (gates * units, batch)``
    took OpenBLAS 24 ms for 50 steps of LSTM(64), batch 64, against 9.5 ms as four
    products with an inner dimension of 64 (which is also torch.mm's time).
    """
    total = xp.dot(a[:, :size], b[:size])
    for start in range(size, a.shape[1], size):
        total += xp.dot(a[:, start:start + size], b[start:start + size])
    return total


class Sequence:
    """What one pass of a cell over a sequence keeps: the inputs ``x`` ``(time, batch,
    in)`` (after dropout: ``x_dropped``), their projections ``xw`` ``(time, gates *
    units, batch)``, the state buffers ``states`` (each ``(time + 1, size, batch)``),
    the gradient of the projections ``dxw`` and what the cell saves per step (``saved``).
    """

    def __init__(self, x, x_dropped, xw, states, input_mask, recurrent_mask):
        self.x, self.x_dropped, self.xw = x, x_dropped, xw
        self.states = states
        self.input_mask, self.recurrent_mask = input_mask, recurrent_mask
        self.steps, self.batch = x.shape[0], x.shape[1]
        self.dxw = None
        self.saved = {}

    def recurrent_input(self, t):
        """h_{t-1} ``(units, batch)`` as the recurrent product sees it (after dropout)."""
        h = self.states[0][t]
        if self.recurrent_mask is None:
            return h
        h_dropped = self.saved["h_dropped"][t]
        xp.multiply(h, self.recurrent_mask, out=h_dropped)
        return h_dropped

    def recurrent_inputs(self):
        """Every step's recurrent input, ``(time, units, batch)``."""
        return self.saved["h_dropped"] if self.recurrent_mask is not None else self.states[0][:-1]


class _Cell(Layer):
    """Shared arguments, weights and input projection of the built-in cells.

    Args:
        units: size of the state and output.
        activation: applied to the candidate state (default tanh).
        recurrent_activation: applied to the gates (default sigmoid).
        use_bias: add bias vectors.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers
            (glorot_uniform, orthogonal, zeros).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: weight penalties.
        dropout: fraction of the inputs dropped while training (one mask per call,
            shared by every time step and gate).
        recurrent_dropout: fraction of the previous state dropped in the recurrent
            product while training (one mask per call).
        seed: seed of the dropout masks; default draws from the backend generator.
    """

    gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        owner = f"{type(self).__name__} '{self.name}'"
        self.units = _positive_int(owner, "units", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(
                    f"Received an invalid value for `{name}` of {owner}, expected a float in "
                    f"[0, 1). Received: {name}={rate!r}"
                )
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.seed = seed
        self._rng = None if seed is None else xp.random.default_rng(seed)

    @property
    def state_size(self) -> list:
        return [self.units]

    @property
    def output_size(self) -> int:
        return self.units

    def _bias_shape(self):
        return (self.gates * self.units,)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' needs a known last input dimension; "
                f"received input shape {tuple(input_shape)}."
            )
        width = self.gates * self.units
        self.add_weight("kernel", (input_dim, width), self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self.bias_initializer,
                            regularizer=self.bias_regularizer)
        self.built = True

    def _input_bias(self):
        return self.params["bias"] if self.use_bias else None

    # -- one pass over a sequence ------------------------------------------------
    def begin(self, x, states, training=False) -> Sequence:
        """Project the inputs of every step at once and allocate the step buffers.

        ``x``: ``(time, batch, in)`` contiguous; ``states``: initial states ``(batch, size)``.
        """
        steps, batch, _ = x.shape
        rng = self._rng if self._rng is not None else backend.rng()
        input_mask = recurrent_mask = None
        x_dropped = x
        if training and self.dropout > 0:
            input_mask = _dropout_mask(rng, (batch, x.shape[2]), self.dropout, x.dtype)
            x_dropped = x * input_mask
        if training and self.recurrent_dropout > 0:
            recurrent_mask = _dropout_mask(rng, (self.units, batch), self.recurrent_dropout,
                                           x.dtype)
        # the input part of every gate, before the time loop: kernel.T @ x_t per step
        # (written in the (gates, batch) order of the steps: no transposed copy)
        kernel_t = self.params["kernel"].T
        xw = xp.empty((steps, kernel_t.shape[0], batch), x.dtype)
        for t in range(steps):
            xp.dot(kernel_t, x_dropped[t].T, out=xw[t])
        bias = self._input_bias()
        if bias is not None:
            xw += bias[:, None]
        buffers = []
        for size, initial in zip(self.state_size, states):
            buf = xp.empty((steps + 1, size, batch), x.dtype)
            buf[0] = initial.T
            buffers.append(buf)
        seq = Sequence(x, x_dropped, xw, buffers, input_mask, recurrent_mask)
        if recurrent_mask is not None:
            seq.saved["h_dropped"] = xp.empty((steps, self.units, batch), x.dtype)
        self._allocate(seq)
        return seq

    def _allocate(self, seq):
        """Per-step buffers of a subclass, into ``seq.saved``."""

    def begin_backward(self, seq):
        seq.dxw = xp.empty_like(seq.xw)

    def _recurrent_backward(self, seq, dpre, dh_direct):
        """dL/dh_{t-1} = dh_direct + (recurrent_kernel @ dpre) * recurrent dropout mask."""
        dh = _dot_in_blocks(self.params["recurrent_kernel"], dpre, self.units)
        if seq.recurrent_mask is not None:
            dh *= seq.recurrent_mask
        if dh_direct is not None:
            dh += dh_direct
        return dh

    def _add_recurrent_grads(self, seq):
        """dL/d(recurrent_kernel) of every step in one product (subclasses may add more)."""
        self.grads["recurrent_kernel"] += _sum_over_steps(seq.recurrent_inputs(), seq.dxw)

    def end_backward(self, seq, need_dx=True):
        """Weight gradients of the whole pass; returns dL/dx ``(time, batch, in)`` (a
        transposed view) or None."""
        self._add_recurrent_grads(seq)
        dxw = seq.dxw  # (time, gates * units, batch)
        self.grads["kernel"] += _sum_over_steps(seq.x_dropped.transpose(0, 2, 1), dxw)
        if self.use_bias:
            self._add_bias_grad(xp.dot(dxw.reshape(-1, seq.batch), xp.ones(seq.batch, dxw.dtype))
                                .reshape(seq.steps, -1).sum(axis=0))
        if not need_dx:
            return None
        kernel = self.params["kernel"]
        dx = xp.empty((seq.steps, kernel.shape[0], seq.batch), dxw.dtype)  # (time, in, batch)
        for t in range(seq.steps):
            dx[t] = _dot_in_blocks(kernel, dxw[t], self.units)
        if seq.input_mask is not None:
            dx *= seq.input_mask.T
        return dx.transpose(0, 2, 1)

    def _add_bias_grad(self, grad):
        self.grads["bias"] += grad

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class SimpleRNNCell(_Cell):
    """One step of a fully connected RNN: ``h = activation(x @ kernel + h_prev @
    recurrent_kernel + bias)``.

    Args: those of :class:`_Cell` except ``recurrent_activation``.

    Weights: kernel ``(in, units)``, recurrent_kernel ``(units, units)``, bias ``(units,)``.

    >>> from npkeras.layers import RNN
    >>> import numpy as np
    >>> RNN(SimpleRNNCell(3))(np.ones((2, 5, 4))).shape
    (2, 3)
    """

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)

    def _allocate(self, seq):
        if type(self.activation) not in (activations.Sigmoid, activations.Tanh,
                                         activations.Linear):
            seq.saved["pre"] = [None] * seq.steps

    def step(self, seq, t):
        h = seq.states[0][t + 1]
        xp.dot(self.params["recurrent_kernel"].T, seq.recurrent_input(t), out=h)
        h += seq.xw[t]
        pre = _activate(self.activation, h)
        if pre is not None:
            seq.saved["pre"][t] = pre

    def step_backward(self, seq, t, dstates):
        pre = seq.saved["pre"][t] if "pre" in seq.saved else None
        dpre = _activation_grad(self.activation, dstates[0], seq.states[0][t + 1], pre,
                                seq.dxw[t])
        return [self._recurrent_backward(seq, dpre, None)]

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class LSTMCell(_Cell):
    """One step of a long short-term memory cell (Hochreiter & Schmidhuber, 1997).

    ``i, f, o = recurrent_activation(...)``, ``g = activation(...)``,
    ``c = f * c_prev + i * g``, ``h = o * activation(c)``, each gate from
    ``x @ kernel + h_prev @ recurrent_kernel + bias`` (gate order i, f, c, o).

    Args: those of :class:`_Cell`, plus ``unit_forget_bias``: start the forget gate's
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
            self.params["bias"][self.units:2 * self.units] = 1.0

    def _allocate(self, seq):
        u, shape = self.units, (seq.steps,)
        seq.saved["gates"] = xp.empty(shape + (4 * u, seq.batch), seq.x.dtype)  # i, f, g, o
        seq.saved["tanh_c"] = xp.empty(shape + (u, seq.batch), seq.x.dtype)
        seq.saved["pre"] = [None] * seq.steps
        if self._fused_gates():
            # -z for the sigmoid gates, -2z for the candidate: one exp over all four
            scale = xp.full((4 * u, 1), -1.0, seq.x.dtype)
            scale[2 * u:3 * u] = -2.0
            seq.saved["scale"] = scale

    def _fused_gates(self):
        """Keras's default activations: every gate is one sigmoid, tanh(z) = 2 sigmoid(2z) - 1."""
        return (type(self.recurrent_activation) is activations.Sigmoid
                and type(self.activation) is activations.Tanh)

    def step(self, seq, t):
        u = self.units
        h_seq, c_seq = seq.states
        gates = seq.saved["gates"][t]
        xp.dot(self.params["recurrent_kernel"].T, seq.recurrent_input(t), out=gates)
        gates += seq.xw[t]
        if "scale" in seq.saved:  # 6 passes instead of 14 for three separate activations
            gates *= seq.saved["scale"]
            xp.exp(gates, out=gates)
            gates += 1.0
            xp.reciprocal(gates, out=gates)
            candidate = gates[2 * u:3 * u]
            candidate *= 2.0
            candidate -= 1.0
            pre_if = pre_g = pre_o = None
        else:
            pre_if = _activate(self.recurrent_activation, gates[:2 * u])
            pre_g = _activate(self.activation, gates[2 * u:3 * u])
            pre_o = _activate(self.recurrent_activation, gates[3 * u:])
        i, f, g, o = gates[:u], gates[u:2 * u], gates[2 * u:3 * u], gates[3 * u:]
        c = c_seq[t + 1]
        xp.multiply(f, c_seq[t], out=c)
        tanh_c = seq.saved["tanh_c"][t]
        xp.multiply(i, g, out=tanh_c)
        c += tanh_c
        tanh_c[...] = c
        pre_c = _activate(self.activation, tanh_c)
        xp.multiply(o, tanh_c, out=h_seq[t + 1])
        if pre_if is not None or pre_g is not None or pre_c is not None:
            seq.saved["pre"][t] = (pre_if, pre_g, pre_o, pre_c)

    def step_backward(self, seq, t, dstates):
        u = self.units
        dh, dc = dstates
        gates, tanh_c = seq.saved["gates"][t], seq.saved["tanh_c"][t]
        pre_if, pre_g, pre_o, pre_c = seq.saved["pre"][t] or (None,) * 4
        i, f, g, o = gates[:u], gates[u:2 * u], gates[2 * u:3 * u], gates[3 * u:]
        dgates = seq.dxw[t]  # written as dL/d(gate value), then turned into dL/d(pre-activation)
        xp.multiply(dh, tanh_c, out=dgates[3 * u:])  # dL/do
        dh *= o
        dc += _activation_grad(self.activation, dh, tanh_c, pre_c, dh)  # dL/dc_t
        xp.multiply(dc, g, out=dgates[:u])  # dL/di
        xp.multiply(dc, seq.states[1][t], out=dgates[u:2 * u])  # dL/df
        xp.multiply(dc, i, out=dgates[2 * u:3 * u])  # dL/dg
        dc *= f  # dL/dc_{t-1}
        if "scale" in seq.saved:  # y (1 - y) for the sigmoid gates, 1 - g^2 for the candidate
            slope = seq.saved["slope"]
            xp.subtract(1.0, gates, out=slope)
            slope *= gates
            xp.multiply(g, g, out=slope[2 * u:3 * u])
            xp.subtract(1.0, slope[2 * u:3 * u], out=slope[2 * u:3 * u])
            dgates *= slope
        else:
            _activation_grad(self.recurrent_activation, dgates[:2 * u], gates[:2 * u], pre_if,
                             dgates[:2 * u])
            _activation_grad(self.activation, dgates[2 * u:3 * u], g, pre_g, dgates[2 * u:3 * u])
            _activation_grad(self.recurrent_activation, dgates[3 * u:], o, pre_o, dgates[3 * u:])
        return [self._recurrent_backward(seq, dgates, None), dc]

    def begin_backward(self, seq):
        super().begin_backward(seq)
        if "scale" in seq.saved:
            seq.saved["slope"] = xp.empty_like(seq.xw[0])

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """One step of a gated recurrent unit (Cho et al., 2014), gate order z, r, h.

    ``z, r = recurrent_activation(...)``, ``h = z * h_prev + (1 - z) * hh`` with
    ``hh = activation(x_h + r * (h_prev @ U_h + b_rec_h))`` when ``reset_after``
    (Keras 3's default, cuDNN's form) or ``activation(x_h + (r * h_prev) @ U_h)``.

    Args: those of :class:`_Cell`, plus ``reset_after``: apply the reset gate after
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

    def _allocate(self, seq):
        u, steps, batch = self.units, seq.steps, seq.batch
        seq.saved["gates"] = xp.empty((steps, 3 * u, batch), seq.x.dtype)  # z, r, hh
        # reset_after: U.T @ h_prev + recurrent bias; else r * h_prev (the product's input)
        rows = (3 if self.reset_after else 1) * u
        seq.saved["inner"] = xp.empty((steps, rows, batch), seq.x.dtype)
        seq.saved["pre"] = [None] * steps

    def begin_backward(self, seq):
        super().begin_backward(seq)
        if self.reset_after:
            seq.saved["dinner"] = xp.empty_like(seq.xw)

    def step(self, seq, t):
        u = self.units
        kernel_t = self.params["recurrent_kernel"].T
        gates, inner = seq.saved["gates"][t], seq.saved["inner"][t]
        h_prev, xw = seq.states[0][t], seq.xw[t]
        h_rec = seq.recurrent_input(t)
        zr = gates[:2 * u]
        if self.reset_after:
            xp.dot(kernel_t, h_rec, out=inner)
            if self.use_bias:
                inner += self.params["bias"][1][:, None]
            xp.add(xw[:2 * u], inner[:2 * u], out=zr)
        else:
            xp.dot(kernel_t[:2 * u], h_rec, out=zr)
            zr += xw[:2 * u]
        pre_zr = _activate(self.recurrent_activation, zr)
        z, r, hh = gates[:u], gates[u:2 * u], gates[2 * u:]
        if self.reset_after:
            xp.multiply(r, inner[2 * u:], out=hh)
        else:
            xp.multiply(r, h_rec, out=inner)
            xp.dot(kernel_t[2 * u:], inner, out=hh)
        hh += xw[2 * u:]
        pre_hh = _activate(self.activation, hh)
        h = seq.states[0][t + 1]
        xp.subtract(h_prev, hh, out=h)  # h = hh + z * (h_prev - hh)
        h *= z
        h += hh
        if pre_zr is not None or pre_hh is not None:
            seq.saved["pre"][t] = (pre_zr, pre_hh)

    def step_backward(self, seq, t, dstates):
        u = self.units
        (dh,) = dstates
        kernel = self.params["recurrent_kernel"]
        gates, inner = seq.saved["gates"][t], seq.saved["inner"][t]
        pre_zr, pre_hh = seq.saved["pre"][t] or (None, None)
        z, r, hh = gates[:u], gates[u:2 * u], gates[2 * u:]
        h_prev = seq.states[0][t]
        dgates = seq.dxw[t]  # dL/d(input part of each pre-activation)
        dz, dr, dhh = dgates[:u], dgates[u:2 * u], dgates[2 * u:]
        xp.subtract(h_prev, hh, out=dz)
        dz *= dh  # dL/dz = dh * (h_prev - hh)
        xp.subtract(1.0, z, out=dhh)
        dhh *= dh  # dL/dhh = dh * (1 - z)
        _activation_grad(self.activation, dhh, hh, pre_hh, dhh)
        dh *= z  # the direct path h_prev -> h
        if self.reset_after:
            xp.multiply(dhh, inner[2 * u:], out=dr)  # hh_pre = x_h + r * inner_h
            _activation_grad(self.recurrent_activation, dgates[:2 * u], gates[:2 * u], pre_zr,
                             dgates[:2 * u])
            dinner = seq.saved["dinner"][t]  # dL/d(U.T @ h_rec + recurrent bias)
            dinner[:2 * u] = dgates[:2 * u]
            xp.multiply(dhh, r, out=dinner[2 * u:])
            return [self._recurrent_backward(seq, dinner, dh)]
        drh = xp.dot(kernel[:, 2 * u:], dhh)  # hh_pre = x_h + U_h.T @ (r * h_rec)
        h_rec = seq.saved["h_dropped"][t] if seq.recurrent_mask is not None else h_prev
        xp.multiply(drh, h_rec, out=dr)
        _activation_grad(self.recurrent_activation, dgates[:2 * u], gates[:2 * u], pre_zr,
                         dgates[:2 * u])
        dh_rec = _dot_in_blocks(kernel[:, :2 * u], dgates[:2 * u], u)
        drh *= r
        dh_rec += drh
        if seq.recurrent_mask is not None:
            dh_rec *= seq.recurrent_mask
        dh_rec += dh
        return [dh_rec]

    def _add_recurrent_grads(self, seq):
        u = self.units
        h_rec = seq.recurrent_inputs()
        if self.reset_after:
            dinner = seq.saved["dinner"]
            self.grads["recurrent_kernel"] += _sum_over_steps(h_rec, dinner)
            if self.use_bias:
                self.grads["bias"][1] += dinner.sum(axis=(0, 2))
            return
        self.grads["recurrent_kernel"][:, :2 * u] += _sum_over_steps(h_rec, seq.dxw[:, :2 * u])
        self.grads["recurrent_kernel"][:, 2 * u:] += _sum_over_steps(seq.saved["inner"],
                                                                    seq.dxw[:, 2 * u:])

    def _add_bias_grad(self, grad):
        bias_grad = self.grads["bias"][0] if self.reset_after else self.grads["bias"]
        bias_grad += grad

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


def adopt_weights(outer: Layer, inner: Layer, prefix: str = "") -> None:
    """Make ``inner``'s weights ``outer``'s too, named ``prefix + name`` (same arrays)."""
    for name in inner.params:
        outer.params[prefix + name] = inner.params[name]
        outer.grads[prefix + name] = inner.grads[name]
        outer._weight_specs[prefix + name] = inner._weight_specs[name]


def point_weights(outer: Layer, inner: Layer, prefix: str = "") -> None:
    """Point ``inner`` at ``outer``'s current arrays: a model may have moved the weights
    of ``outer`` into its flat buffer since :func:`adopt_weights`."""
    for name in inner.params:
        inner.params[name] = outer.params[prefix + name]
        inner.grads[name] = outer.grads[prefix + name]
    inner.trainable = outer.trainable


def deserialize_layer(config):
    """A layer from ``{"class_name", "config"}`` (built-in or registered classes only)."""
    from npkeras.layers import layer_classes
    from npkeras.saving.registry import deserialize_registered

    return deserialize_registered(config, "layer", layer_classes(), Layer)


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
        if not cells or not all(isinstance(c, _Cell) for c in cells):
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
            adopt_weights(self, cell, f"cell_{i}_")
            input_shape = tuple(input_shape[:-1]) + (cell.output_size,)
        self.built = True

    def point_cells(self):
        for i, cell in enumerate(self.cells):
            point_weights(self, cell, f"cell_{i}_")

    def get_config(self):
        from npkeras.saving.registry import serialize_object

        return {**super().get_config(), "cells": [serialize_object(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cells"] = [deserialize_layer(c) for c in config["cells"]]
        return cls(**config)
