"""What the built-in recurrent cells share: the pass over a sequence, its buffers and
the in-place gate activations.

A cell owns the weights of one recurrent step and computes a whole sequence in three
phases that :class:`~npkeras.layers.recurrent.RNN` drives:

1. ``begin(x, states, training)``: the input part of every gate for all time steps,
   ``x @ kernel`` over the ``time * batch`` rows at once, before the time loop, plus the
   buffers the steps write into, returned as a :class:`Sequence`.
2. ``step(seq, t)`` / ``step_backward(seq, t, dstates)``: one time step; only the
   recurrent product and the gate arithmetic happen here, in place in preallocated
   buffers.
3. ``end_backward(seq, need_dx)``: after the time loop, the weight gradients of every
   step and dL/dx, each one product over the ``time * batch`` rows.

Inside a pass everything is time-major and batch-first: the inputs are ``(time, batch,
in)``, a state buffer is ``(time + 1, batch, size)`` (entry 0 the initial state) and the
gates of step t are ``(batch, gates * units)`` in Keras's column order, so a buffer seen
as ``(time * batch, n)`` rows is the operand of a whole-sequence product. Per step only
the recurrent product ``h_{t-1} @ recurrent_kernel`` remains, written into the step's
contiguous gate rows (see dot_rows), and dL/dh_{t-1} = dgates @ recurrent_kernel.T. With
Keras's default activations the gate arithmetic of a step is one compiled pass over those
rows (``lstm_step``, ``gru_step`` in ``_kernels.c``). Other activations run NumPy on the
column block of each gate, which is strided and several times slower than a contiguous
block (26 vs 2 us to negate 64 x 128 floats here).

Keras's weight layouts and gate orders: LSTM kernel ``(in, 4u)`` with gates i, f, c, o;
GRU kernel ``(in, 3u)`` with gates z, r, h and bias ``(2, 3u)`` (input and recurrent
bias) when ``reset_after`` else ``(3u,)``.
"""

from __future__ import annotations

from npkeras import activations, backend, constraints, initializers, regularizers
from npkeras.backend import xp
from npkeras.layers import activation_functions
from npkeras.layers.base import Layer, backward_takes_context, builtin_layer_classes
from npkeras.layers.core import _positive_int
from npkeras.registry import deserialize_registered


# -- activations applied in place to gate columns ----------------------------------
def activate(act, z):
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


def activation_grad(act, dy, y, pre, out):
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


def rows(a):
    """A ``(time, batch, n)`` buffer as the ``(time * batch, n)`` rows of one product."""
    return a.reshape(-1, a.shape[-1])


#: multiply-adds of the largest per-step product OpenBLAS 0.3.31 keeps on one thread
#: here ((48, 64) @ (64, 256) stays on one, (64, 64) @ (64, 256) takes two)
ONE_THREAD_WORK = 48 * 64 * 256
#: the thinnest block of a per-step product: thinner ones cost more per row than the second
#: thread saves (2 threads, (64, 128) @ (128, 512): 2.3 us per row in 16-row blocks, 1.5
#: in one product)
MIN_STEP_ROWS = 16


# With several BLAS threads a per-step product runs in blocks of batch rows small enough
# for one thread: OpenBLAS's handshake between threads costs more than a product of a small
# layer saves, and on a shared 2-core machine it stalls while the other core is busy
# (2 threads, 2026-12-02, 50 steps of (64, 64) @ (64, 256): 11.5 ms as one product per
# step, 2.3 ms in two 32-row blocks, 2.6-3.8 ms as one product per gate; dL/dh, 50 steps
# of (64, 256) @ (256, 64): 2.5-6.9 ms as one product, 1.2 ms in two blocks). With one
# BLAS thread blocks gain little for such a layer (318 vs 368 ns per row) and lose for
# larger ones (6.5 vs 8.1 us per row for (64, 256) @ (256, 1024) in 32-row blocks), so
# there it is one product.
def dot_rows(a, b, out):
    """``out = a @ b`` for a per-step product (``out`` C-contiguous): in blocks of rows
    that stay on one BLAS thread, or one product with one BLAS thread."""
    count = a.shape[0]
    if not backend.one_blas_thread:
        work = a.shape[1] * b.shape[1]
        blocks = -(-count * work // ONE_THREAD_WORK)
        size = -(-count // blocks)
        if blocks > 1 and size >= MIN_STEP_ROWS:
            for start in range(0, count, size):
                xp.dot(a[start : start + size], b, out=out[start : start + size])
            return out
    return xp.dot(a, b, out=out)


class Sequence:
    """What one pass of a cell over a sequence keeps: the inputs ``x`` ``(time, batch,
    in)`` (after dropout: ``x_dropped``), their projections ``xw`` ``(time, batch, gates
    * units)``, the state buffers ``states`` (each ``(time + 1, batch, size)``), the
    gradient of the projections ``dxw`` (written over ``xw`` by the backward pass) and
    what the cell saves per step (``saved``).
    """

    def __init__(self, x, x_dropped, xw, states, input_mask, recurrent_mask):
        self.x, self.x_dropped, self.xw = x, x_dropped, xw
        self.states = states
        self.input_mask, self.recurrent_mask = input_mask, recurrent_mask
        self.steps, self.batch = x.shape[0], x.shape[1]
        self.dxw = None
        self.saved = {}

    def recurrent_input(self, t):
        """h_{t-1} ``(batch, units)`` as the recurrent product sees it (after dropout)."""
        h = self.states[0][t]
        if self.recurrent_mask is None:
            return h
        h_dropped = self.saved["h_dropped"][t]
        xp.multiply(h, self.recurrent_mask, out=h_dropped)
        return h_dropped

    def recurrent_inputs(self):
        """Every step's recurrent input, ``(time, batch, units)``."""
        return self.saved["h_dropped"] if self.recurrent_mask is not None else self.states[0][:-1]


class BuiltinCell(Layer):
    """Base of the built-in cells: their shared arguments, weights and input projection.

    Args:
        units: size of the state and output.
        activation: applied to the candidate state (default tanh).
        recurrent_activation: applied to the gates (default sigmoid).
        use_bias: add bias vectors.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers
            (glorot_uniform, orthogonal, zeros).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: weight penalties.
        kernel_constraint, recurrent_constraint, bias_constraint: projections of the
            weights after every optimizer step.
        dropout: fraction of the inputs dropped while training (one mask per call,
            shared by every time step and gate).
        recurrent_dropout: fraction of the previous state dropped in the recurrent
            product while training (one mask per call).
        seed: seed of the dropout masks; default draws from the backend generator.
    """

    gates = 1

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        options = {k: v for k, v in locals().items() if k in RECURRENT_OPTIONS}
        super().__init__(**kwargs)
        owner = f"{type(self).__name__} '{self.name}'"
        self.units = _positive_int(owner, "units", units)
        set_recurrent_options(self, owner, options)

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
        self.add_weight(
            "kernel",
            (input_dim, width),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.add_weight(
            "recurrent_kernel",
            (self.units, width),
            self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.add_weight(
                "bias",
                self._bias_shape(),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
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
            recurrent_mask = _dropout_mask(
                rng, (batch, self.units), self.recurrent_dropout, x.dtype
            )
        # the input part of every gate of every step, before the time loop, as one product
        xw = xp.dot(rows(x_dropped), self.params["kernel"]).reshape(steps, batch, -1)
        bias = self._input_bias()
        if bias is not None:
            xw += bias
        buffers = []
        for size, initial in zip(self.state_size, states):
            buf = xp.empty((steps + 1, batch, size), x.dtype)
            buf[0] = initial
            buffers.append(buf)
        seq = Sequence(x, x_dropped, xw, buffers, input_mask, recurrent_mask)
        if recurrent_mask is not None:
            seq.saved["h_dropped"] = xp.empty((steps, batch, self.units), x.dtype)
        self._allocate(seq)
        return seq

    def _allocate(self, seq):
        """Per-step buffers of a subclass, into ``seq.saved``."""

    def begin_backward(self, seq):
        # no backward step reads the input part of the gates: its gradient takes its memory
        seq.dxw = seq.xw
        # a contiguous copy is faster in the backward products than the transposed view
        # (one BLAS thread: 1.3 vs 1.9 ms for 50 steps of (64, 256) @ (256, 64))
        seq.saved["recurrent_kernel_t"] = xp.ascontiguousarray(self.params["recurrent_kernel"].T)

    def _recurrent_backward(self, seq, dpre, dh_direct):
        """dL/dh_{t-1} = dh_direct + (dpre @ recurrent_kernel.T) * recurrent dropout mask."""
        kernel_t = seq.saved["recurrent_kernel_t"]
        dh = dot_rows(dpre, kernel_t, xp.empty((seq.batch, kernel_t.shape[1]), dpre.dtype))
        if seq.recurrent_mask is not None:
            dh *= seq.recurrent_mask
        if dh_direct is not None:
            dh += dh_direct
        return dh

    def _add_recurrent_grads(self, seq):
        """dL/d(recurrent_kernel) of every step in one product (subclasses may add more)."""
        self.grads["recurrent_kernel"] += backend.dot_blocked(
            rows(seq.recurrent_inputs()).T, rows(seq.dxw)
        )

    def end_backward(self, seq, need_dx=True):
        """Weight gradients of the whole pass, each one product over every step; returns
        dL/dx ``(time, batch, in)`` or None."""
        self._add_recurrent_grads(seq)
        dxw = rows(seq.dxw)  # (time * batch, gates * units)
        self.grads["kernel"] += backend.dot_blocked(rows(seq.x_dropped).T, dxw)
        if self.use_bias:
            self._add_bias_grad(backend.column_sum(dxw))
        if not need_dx:
            return None
        dx = xp.dot(dxw, self.params["kernel"].T).reshape(seq.steps, seq.batch, -1)
        if seq.input_mask is not None:
            dx *= seq.input_mask
        return dx

    def _add_bias_grad(self, grad):
        self.grads["bias"] += grad

    def get_config(self):
        owner = f"{type(self).__name__} '{self.name}'"
        return {
            **super().get_config(),
            "units": self.units,
            **recurrent_options_config(self, owner),
        }


#: the constructor options every recurrent cell takes (SimpleRNN/LSTM/GRU and ConvLSTM)
RECURRENT_OPTIONS = (
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
)


def set_recurrent_options(cell, owner: str, options: dict) -> None:
    """Resolve, check and set the :data:`RECURRENT_OPTIONS` of ``cell`` from its
    constructor's arguments (``options``: name -> value)."""
    cell.activation = activation_functions.get(options["activation"])
    cell.recurrent_activation = activation_functions.get(options["recurrent_activation"])
    cell.use_bias = bool(options["use_bias"])
    for kind, module in (
        ("initializer", initializers),
        ("regularizer", regularizers),
        ("constraint", constraints),
    ):
        for weight in ("kernel", "recurrent", "bias"):
            setattr(cell, f"{weight}_{kind}", module.get(options[f"{weight}_{kind}"]))
    for name in ("dropout", "recurrent_dropout"):
        rate = options[name]
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(
                f"Received an invalid value for `{name}` of {owner}, expected a float in "
                f"[0, 1). Received: {name}={rate!r}"
            )
        setattr(cell, name, float(rate))
    cell.seed = options["seed"]
    cell._rng = None if cell.seed is None else xp.random.default_rng(cell.seed)


def sequence_options_config(layer) -> dict:
    """The options of a layer that runs a cell over time (return_sequences, ...) as its
    config saves them, beside the Layer's own (name, trainable, dtype...)."""
    config = {
        **Layer.get_config(layer),
        "return_sequences": layer.return_sequences,
        "return_state": layer.return_state,
        "go_backwards": layer.go_backwards,
        "stateful": layer.stateful,
        "unroll": layer.unroll,
        "zero_output_for_mask": layer.zero_output_for_mask,
    }
    if layer.activity_regularizer is not None:
        config["activity_regularizer"] = regularizers.serialize(layer.activity_regularizer)
    return config


def recurrent_options_config(cell, owner: str) -> dict:
    """The :data:`RECURRENT_OPTIONS` of ``cell`` as its config saves them."""
    config = {
        "activation": activation_functions.serialize(cell.activation, owner),
        "recurrent_activation": activation_functions.serialize(cell.recurrent_activation, owner),
        "use_bias": cell.use_bias,
    }
    for kind, module in (
        ("initializer", initializers),
        ("regularizer", regularizers),
        ("constraint", constraints),
    ):
        for weight in ("kernel", "recurrent", "bias"):
            name = f"{weight}_{kind}"
            config[name] = module.serialize(getattr(cell, name))
    config.update(dropout=cell.dropout, recurrent_dropout=cell.recurrent_dropout, seed=cell.seed)
    return config


def backward_with_context(layer, dy, ctx):
    """``layer.backward(dy, ctx)``, or ``layer.backward(dy)`` for a user layer whose
    backward takes no context."""
    if backward_takes_context(layer):
        return layer.backward(dy, ctx)
    return layer.backward(dy)


def deserialize_layer(config):
    """A layer from ``{"class_name", "config"}`` (built-in or registered classes only)."""

    return deserialize_registered(config, "layer", builtin_layer_classes(), Layer)
