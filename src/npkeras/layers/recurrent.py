"""Recurrent layers: RNN (over a built-in cell), SimpleRNN, LSTM and GRU.

The layer turns ``(batch, time, features)`` into time-major order, lets each cell
project every step's inputs in one matrix product, loops over time calling the cell's
``step`` (and ``step_backward`` in reverse: backpropagation through time), and applies
Keras's options around the loop: masks (a masked step keeps the previous state and
output), ``go_backwards``, ``return_sequences``, ``return_state``, ``stateful`` and
``initial_state``.
"""

from __future__ import annotations

from npkeras import backend, regularizers
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, Layer
from npkeras.layers.rnn_base import (
    BuiltinCell,
    deserialize_layer,
    sequence_options_config,
)
from npkeras.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from npkeras.registry import serialize_object


# The recurrence is serial in time. A second core helps the products over the whole
# sequence (the input projection, the weight gradients and dL/dx), which BLAS runs on its
# threads, but not the steps: their products are too small to share (see
# rnn_base.dot_rows), and running parts of the batch on two Python threads would hand the
# GIL over at every BLAS and kernel call, a few hundred per pass; that would need the
# whole time loop in C.
def _run_forward(cell, x, states, mask, training):
    """One pass of ``cell`` over time-major ``x``; ``mask`` ``(time, batch)`` or None."""
    seq = cell.begin(x, states, training)
    if mask is None:
        for t in range(seq.steps):
            cell.step(seq, t)
        return seq
    keep_previous = ~mask[:, :, None]  # (time, batch, 1) against states (batch, size)
    for t in range(seq.steps):
        cell.step(seq, t)
        for buf in seq.states:  # a masked sample carries its states over this step
            xp.copyto(buf[t + 1], buf[t], where=keep_previous[t])
    return seq


def _run_backward(cell, seq, doutputs, dstates, mask, need_dx):
    """Backpropagation through time for one pass.

    ``doutputs``: dL/d(output at each step) ``(time, batch, units)`` or None;
    ``dstates``: dL/d(final states) ``(batch, size)``, arrays this function may overwrite.
    Returns (dL/dx time-major or None, dL/d(initial states)).
    """
    cell.begin_backward(seq)
    if mask is not None:
        kept = mask[:, :, None].astype(seq.x.dtype)
    for t in range(seq.steps - 1, -1, -1):
        if doutputs is not None:
            dstates[0] += doutputs[t]
        if mask is not None:  # a masked step passes the gradient straight to its input state
            carried = [d * (1.0 - kept[t]) for d in dstates]
            for d in dstates:
                d *= kept[t]
        dstates = cell.step_backward(seq, t, dstates)
        if mask is not None:
            for d, c in zip(dstates, carried):
                d += c
    return cell.end_backward(seq, need_dx), dstates


class RNN(Layer):
    """A recurrent layer that runs a cell over the time axis.

    Args:
        cell: a built-in cell (SimpleRNNCell, LSTMCell, GRUCell), a StackedRNNCells or a
            list of cells (stacked).
        return_sequences: return the output of every step ``(batch, time, units)``
            instead of the last one ``(batch, units)``.
        return_state: also return the final states: ``[output, *states]``.
        go_backwards: process the sequence in reverse (and return the reversed sequence).
        stateful: the final states of a batch are the initial states of the next one
            (same batch size); ``reset_states()`` sets them to zeros.
        unroll: accepted for Keras compatibility; the NumPy loop is the same either way.
        zero_output_for_mask: masked steps output zeros instead of the previous output.

    Call: ``layer(x, training=False, mask=None, initial_state=None)``, or
    ``layer([x, *initial_states])``. ``mask``: boolean ``(batch, time)``, False steps are
    skipped (states and output carried over).

    >>> import numpy as np
    >>> out, h, c = RNN(LSTMCell(4), return_sequences=True, return_state=True)(
    ...     np.ones((2, 6, 3)))
    >>> out.shape, h.shape, c.shape
    ((2, 6, 4), (2, 4), (2, 4))
    """

    supports_masking = True

    def __init__(
        self,
        cell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        activity_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not isinstance(cell, (BuiltinCell, StackedRNNCells)):
            raise TypeError(
                f"RNN layer '{self.name}' needs a built-in cell (SimpleRNNCell, LSTMCell, "
                f"GRUCell or StackedRNNCells); received {type(cell).__name__}. Cells with a "
                "custom `call(inputs, states)` are not supported yet."
            )
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.states = None

    @property
    def _cells(self) -> list:
        return self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]

    @property
    def state_size(self) -> list:
        return self.cell.state_size

    # -- shapes ----------------------------------------------------------------------
    def build(self, input_shape):
        if isinstance(input_shape, list):  # [x, *initial_states]
            input_shape = input_shape[0]
        if len(input_shape) != 3:
            raise ValueError(
                f"RNN layer '{self.name}' expects inputs of shape (batch, time, features), "
                f"but received shape {tuple(input_shape)}."
            )
        self.cell._maybe_build(tuple(input_shape))
        # any number of time steps may follow
        self.input_shape_spec = (None, None, input_shape[-1])
        self.built = True

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        units = self.cell.output_size
        if self.return_sequences:
            out = (input_shape[0], input_shape[1], units)
        else:
            out = (input_shape[0], units)
        if self.return_state:
            return [out] + [(input_shape[0], size) for size in self.state_size]
        return out

    def compute_mask(self, x, mask=None):
        """The output mask: the input mask with ``return_sequences`` (states: None)."""
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    # -- states ----------------------------------------------------------------------
    def reset_states(self, states=None) -> None:
        """Set the states of a stateful layer to zeros (or to ``states``)."""
        if not self.stateful:
            raise AttributeError(
                f"Layer '{self.name}' is not stateful: only layers created with "
                "`stateful=True` keep states between calls."
            )
        if states is None:
            if self.states is not None:
                for s in self.states:
                    s.fill(0)
            return
        self.states = self._check_states(list(states), None)

    reset_state = reset_states

    def _check_states(self, states, batch):
        sizes = self.state_size
        if len(states) != len(sizes):
            raise ValueError(
                f"Layer '{self.name}' expects {len(sizes)} initial state array(s), one per "
                f"state of sizes {sizes}, but received {len(states)}."
            )
        arrays = []
        for i, (s, size) in enumerate(zip(states, sizes)):
            s = backend.as_float_array(s, "initial_state")
            if s.ndim != 2 or s.shape[1] != size or (batch is not None and s.shape[0] != batch):
                expected = f"({'batch' if batch is None else batch}, {size})"
                raise ValueError(
                    f"Layer '{self.name}' expects initial state {i} of shape {expected}, but "
                    f"received shape {tuple(s.shape)}."
                )
            arrays.append(s)
        return arrays

    def _initial_states(self, batch, dtype, initial_state):
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            return self._check_states(list(initial_state), batch)
        if self.stateful and self.states is not None:
            if self.states[0].shape[0] != batch:
                raise ValueError(
                    f"Stateful layer '{self.name}' keeps states for batches of "
                    f"{self.states[0].shape[0]} samples, but received a batch of {batch}. "
                    "Use one batch size (drop the last partial batch) or call reset_states()."
                )
            return self.states
        return [xp.zeros((batch, size), dtype) for size in self.state_size]

    # -- forward and backward --------------------------------------------------------
    def forward(self, x, training=False, mask=None, initial_state=None):
        given_states = initial_state is not None
        if isinstance(x, (list, tuple)):
            x, extra = x[0], list(x[1:])
            if extra:
                initial_state, given_states = extra, True
        if x.ndim != 3:
            raise ValueError(
                f"RNN layer '{self.name}' expects inputs of shape (batch, time, features), "
                f"but received shape {tuple(x.shape)}."
            )
        batch = x.shape[0]
        states = self._initial_states(batch, x.dtype, initial_state)
        x_tm = x.transpose(1, 0, 2)
        if mask is not None:
            mask = xp.asarray(mask, dtype=bool).T
            if mask.shape != x_tm.shape[:2]:
                raise ValueError(
                    f"Layer '{self.name}' expects a mask of shape (batch, time) = "
                    f"{(batch, x.shape[1])}, but received shape {mask.T.shape}."
                )
        if self.go_backwards:
            x_tm = x_tm[::-1]
            mask = None if mask is None else mask[::-1]
        inputs = xp.ascontiguousarray(x_tm)
        seqs, offset = [], 0
        with xp.errstate(over="ignore"):  # exp overflow in the gates gives the right limit
            for cell in self._cells:
                if seqs:  # a stacked cell reads the outputs of the one below
                    inputs = seqs[-1].states[0][1:]
                count = len(cell.state_size)
                seqs.append(
                    _run_forward(cell, inputs, states[offset : offset + count], mask, training)
                )
                offset += count
        outputs = seqs[-1].states[0][1:]  # (time, batch, units)
        if self.zero_output_for_mask and mask is not None:
            outputs = outputs * mask[:, :, None]
        final_states = [buf[-1].copy() for seq in seqs for buf in seq.states]
        if self.stateful:
            self.states = [s.copy() for s in final_states]
        if self.return_sequences:
            y = xp.ascontiguousarray(outputs.transpose(1, 0, 2))
        else:
            y = outputs[-1].copy()
        self.cache = (seqs, mask, given_states, y)
        if self.activity_regularizer is not None:
            self.activity_loss = self.activity_regularizer(y)
        return [y] + final_states if self.return_state else y

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        seqs, mask, given_states, y = self.cache
        if self.return_state:  # [d output, *d states]; None stands for zeros
            dy, dfinal = dy[0], list(dy[1:])
        else:
            dfinal = [None] * len(self.state_size)
        last = seqs[-1]
        batch, dtype = last.batch, last.x.dtype
        if self.activity_regularizer is not None:
            penalty = self.activity_regularizer.grad(y)
            dy = penalty if dy is None else dy + penalty
        zero_masked = self.zero_output_for_mask and mask is not None
        doutputs = dlast = None
        if dy is not None and self.return_sequences:  # (time, batch, units) like the states
            doutputs = xp.ascontiguousarray(dy.transpose(1, 0, 2))
            if zero_masked:
                doutputs *= mask[:, :, None]
        elif dy is not None:
            dlast = dy * mask[-1][:, None] if zero_masked else dy
        need_dx = ctx.need_input_grad
        dinitial, offset = [], len(dfinal)
        for i in range(len(seqs) - 1, -1, -1):
            cell, seq = self._cells[i], seqs[i]
            count = len(cell.state_size)
            offset -= count
            dstates = [
                xp.zeros((batch, size), dtype) if d is None else xp.array(d, dtype=dtype, order="C")
                for d, size in zip(dfinal[offset : offset + count], cell.state_size)
            ]
            if dlast is not None and i == len(seqs) - 1:
                dstates[0] += dlast
            dx, dstates = _run_backward(cell, seq, doutputs, dstates, mask, need_dx or i > 0)
            dinitial = list(dstates) + dinitial
            if i > 0:  # the outputs of the cell below, (time, batch, units)
                doutputs = dx
        if dx is not None:
            dx = xp.ascontiguousarray((dx[::-1] if self.go_backwards else dx).transpose(1, 0, 2))
        return [dx] + dinitial if given_states else dx

    # -- config ------------------------------------------------------------------------
    def get_config(self):
        return {**sequence_options_config(self), "cell": serialize_object(self.cell)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = deserialize_layer(config["cell"])
        return cls(**config)


_RNN_ARGS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
    "activity_regularizer",
    "name",
    "trainable",
    "dtype",
    "input_shape",
    "input_dim",
    "batch_size",
)


class _CellLayer(RNN):
    """An RNN whose cell is built from the layer's own arguments (Keras's LSTM, GRU...)."""

    cell_class = None

    def __init__(self, units, **kwargs):
        layer_kwargs = {k: kwargs.pop(k) for k in _RNN_ARGS if k in kwargs}
        for choice in ("use_cudnn", "implementation"):  # Keras's kernel choices: no choice here
            kwargs.pop(choice, None)
        cell = self.cell_class(units, name=None, dtype=layer_kwargs.get("dtype"), **kwargs)
        super().__init__(cell, **layer_kwargs)

    def __getattr__(self, name):  # units, activation, dropout... are the cell's
        if name != "cell" and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {**sequence_options_config(self), **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SimpleRNN(_CellLayer):
    """Fully connected RNN: ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``.

    Args: ``units`` and :class:`SimpleRNNCell`'s arguments (activation='tanh', use_bias,
        initializers glorot_uniform / orthogonal / zeros, regularizers, dropout,
        recurrent_dropout, seed), plus :class:`RNN`'s (return_sequences, return_state,
        go_backwards, stateful, ...).

    Shapes: input ``(batch, time, features)``; output ``(batch, units)`` or with
    ``return_sequences`` ``(batch, time, units)``.

    >>> import numpy as np
    >>> SimpleRNN(4, return_sequences=True)(np.ones((2, 5, 3))).shape
    (2, 5, 4)
    """

    cell_class = SimpleRNNCell


class LSTM(_CellLayer):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997).

    Args: ``units`` and :class:`LSTMCell`'s arguments (activation='tanh',
        recurrent_activation='sigmoid', use_bias, unit_forget_bias=True, initializers
        glorot_uniform / orthogonal / zeros, regularizers, dropout, recurrent_dropout,
        seed), plus :class:`RNN`'s (return_sequences, return_state, go_backwards,
        stateful, ...).

    Weights: kernel ``(features, 4 units)``, recurrent_kernel ``(units, 4 units)``, bias
    ``(4 units,)``, gate order i, f, c, o. States ``[h, c]``.

    >>> import numpy as np
    >>> LSTM(4)(np.ones((2, 5, 3))).shape
    (2, 4)
    """

    cell_class = LSTMCell


class GRU(_CellLayer):
    """Gated recurrent unit layer (Cho et al., 2014).

    Args: ``units`` and :class:`GRUCell`'s arguments (activation='tanh',
        recurrent_activation='sigmoid', use_bias, reset_after=True, initializers,
        regularizers, dropout, recurrent_dropout, seed), plus :class:`RNN`'s.

    Weights: kernel ``(features, 3 units)``, recurrent_kernel ``(units, 3 units)``, bias
    ``(2, 3 units)`` (``(3 units,)`` when ``reset_after=False``), gate order z, r, h.

    >>> import numpy as np
    >>> GRU(4)(np.ones((2, 5, 3))).shape
    (2, 4)
    """

    cell_class = GRUCell
