"""Convolutional LSTM layers: ConvLSTM1D, ConvLSTM2D, ConvLSTM3D.

The layer turns its input ``(batch, time, *spatial, channels)`` (or channels-first
``(batch, time, channels, *spatial)``) into time-major channels-last order, lets its
:class:`~npkeras.layers.conv_lstm_cell.ConvLSTMCell` run the sequence (and back through
time), and applies Keras's options around it: masks (a masked step keeps the previous
states), ``go_backwards``, ``return_sequences``, ``return_state``, ``stateful`` and
``initial_state``.
"""

from __future__ import annotations

from npkeras import backend, regularizers
from npkeras.backend import xp
from npkeras.layers import conv_utils as cu
from npkeras.layers.base import DEFAULT_BACKWARD, Layer
from npkeras.layers.conv_lstm_cell import ConvLSTMCell
from npkeras.layers.rnn_base import sequence_options_config


class BaseConvLSTM(Layer):
    """N-d convolutional LSTM over a sequence; subclasses set ``rank``.

    Weights (on ``self.cell``, as Keras stores them): kernel ``(*kernel_size, channels,
    4 filters)``, recurrent_kernel ``(*kernel_size, filters, 4 filters)``, bias ``(4
    filters,)``, gate order i, f, c, o.
    """

    rank = 0
    supports_masking = True

    def __init__(
        self,
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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed=None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cell = ConvLSTMCell(
            self.rank,
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype"),
        )
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for Keras: the NumPy loop is the same
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states = None

    def __getattr__(self, name):  # filters, kernel_size, dropout... are the cell's
        if name != "cell" and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _owner(self) -> str:
        return f"{type(self).__name__} layer '{self.name}'"

    # -- shapes ----------------------------------------------------------------------
    def _check_rank(self, shape):
        if len(shape) != self.rank + 3:
            raise ValueError(
                f"{self._owner()} expects inputs of rank {self.rank + 3} (batch, time, "
                f"{self.rank} spatial axes and channels), but received input shape "
                f"{tuple(shape)}."
            )

    def build(self, input_shape):
        if isinstance(input_shape, list):  # [x, *initial_states]
            input_shape = input_shape[0]
        self._check_rank(input_shape)
        self.cell._maybe_build((input_shape[0],) + tuple(input_shape[2:]))
        self.input_shape_spec = (None, None) + tuple(input_shape[2:])  # any batch and time
        self.built = True

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        self._check_rank(input_shape)
        state = self.cell.state_shape((input_shape[0],) + tuple(input_shape[2:]))
        out = (state[0], input_shape[1]) + state[1:] if self.return_sequences else state
        return [out, state, state] if self.return_state else out

    def compute_mask(self, x, mask=None):
        """The output mask: the input mask with ``return_sequences`` (states: None)."""
        output_mask = mask if self.return_sequences else None
        return [output_mask, None, None] if self.return_state else output_mask

    # -- states ----------------------------------------------------------------------
    def reset_states(self, states=None) -> None:
        """Set the states of a stateful layer to zeros (or to ``[h, c]``)."""
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
        states = list(states)
        self.states = self._check_states(states, states[0].shape if states else None)

    reset_state = reset_states

    def _check_states(self, states, shape):
        """``[h, c]`` in the data format as channels-last arrays of ``shape`` (the data
        format's state shape; None: any batch)."""
        if len(states) != 2:
            raise ValueError(
                f"{self._owner()} expects 2 initial state arrays [h, c], but received "
                f"{len(states)}."
            )
        arrays = []
        for i, s in enumerate(states):
            s = backend.as_float_array(s, "initial_state")
            if tuple(s.shape) != tuple(shape):
                raise ValueError(
                    f"{self._owner()} expects initial state {i} of shape {tuple(shape)}, but "
                    f"received shape {tuple(s.shape)}."
                )
            arrays.append(xp.ascontiguousarray(cu.to_channels_last(s, self.data_format)))
        return arrays

    def _initial_states(self, step_shape, dtype, initial_state):
        state_shape = self.cell.state_shape(step_shape)
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            return self._check_states(list(initial_state), state_shape)
        if self.stateful and self.states is not None:
            if self.states[0].shape[0] != step_shape[0]:
                raise ValueError(
                    f"Stateful layer '{self.name}' keeps states for batches of "
                    f"{self.states[0].shape[0]} samples, but received a batch of "
                    f"{step_shape[0]}. Use one batch size or call reset_states()."
                )
            return self.states
        spatial, _ = cu.spatial_and_channels(state_shape, self.data_format)
        zeros = xp.zeros((step_shape[0],) + spatial + (self.filters,), dtype)
        return [zeros, zeros]

    # -- forward and backward --------------------------------------------------------
    def _to_time_major(self, a):
        """``(batch, time, ...)`` in the data format -> ``(time, batch, *spatial, c)``."""
        if self.data_format == "channels_first":
            a = xp.moveaxis(a, 2, -1)
        return xp.moveaxis(a, 1, 0)

    def _from_time_major(self, a):
        a = xp.moveaxis(a, 0, 1)
        return xp.moveaxis(a, -1, 2) if self.data_format == "channels_first" else a

    def forward(self, x, training=False, mask=None, initial_state=None):
        cu.prepare_blas()
        if isinstance(x, (list, tuple)):
            x, extra = x[0], list(x[1:])
            if extra:
                initial_state = extra
        given_states = initial_state is not None
        self._check_rank(x.shape)
        batch, steps = x.shape[:2]
        h0, c0 = self._initial_states((batch,) + x.shape[2:], x.dtype, initial_state)
        x_tm = self._to_time_major(x)
        if mask is not None:
            mask = xp.asarray(mask, dtype=bool).T
            if mask.shape != (steps, batch):
                raise ValueError(
                    f"{self._owner()} expects a mask of shape (batch, time) = "
                    f"{(batch, steps)}, but received shape {mask.T.shape}."
                )
        if self.go_backwards:
            x_tm = x_tm[::-1]
            mask = None if mask is None else mask[::-1]
        with xp.errstate(over="ignore"):  # exp overflow in the gates gives the right limit
            seq = self.cell.run(xp.ascontiguousarray(x_tm), h0, c0, mask, training)
        state_shape = (batch,) + seq.out_spatial + (self.filters,)
        outputs = seq.h[1:].reshape((steps,) + state_shape)
        if self.zero_output_for_mask and mask is not None:
            outputs = outputs * mask.reshape(mask.shape + (1,) * (self.rank + 1))
        h_final = xp.ascontiguousarray(seq.h[-1].reshape(state_shape))
        c_final = xp.ascontiguousarray(seq.c[-1].reshape(state_shape))
        if self.stateful:
            self.states = [h_final.copy(), c_final.copy()]
        if self.return_sequences:
            y = xp.ascontiguousarray(self._from_time_major(outputs))
        else:
            y = xp.ascontiguousarray(cu.from_channels_last(outputs[-1], self.data_format))
        self.cache = (seq, mask, given_states, y)
        if self.activity_regularizer is not None:
            self.activity_loss = self.activity_regularizer(y)
        if self.return_state:
            return [y] + [cu.from_channels_last(s, self.data_format) for s in (h_final, c_final)]
        return y

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        seq, mask, given_states, y = self.cache
        if self.return_state:  # [d output, dh, dc]; None stands for zeros
            dy, dfinal = dy[0], list(dy[1:])
        else:
            dfinal = [None, None]
        if self.activity_regularizer is not None:
            penalty = self.activity_regularizer.grad(y)
            dy = penalty if dy is None else dy + penalty
        rows, filters = seq.h.shape[1:]
        dtype = seq.h.dtype
        zero_masked = self.zero_output_for_mask and mask is not None
        dh, dc = (
            xp.zeros((rows, filters), dtype)
            if d is None
            else xp.array(cu.to_channels_last(d, self.data_format), dtype=dtype).reshape(rows, -1)
            for d in dfinal
        )
        doutputs = None
        if dy is not None and self.return_sequences:  # (time, rows, filters) like the states
            doutputs = xp.array(self._to_time_major(dy), dtype=dtype).reshape(-1, rows, filters)
            if zero_masked:
                doutputs *= xp.repeat(mask, rows // seq.batch, axis=1)[:, :, None]
        elif dy is not None:
            dlast = cu.to_channels_last(dy, self.data_format).reshape(rows, filters)
            if zero_masked:
                dlast = dlast * xp.repeat(mask[-1], rows // seq.batch)[:, None]
            dh += dlast
        dx, dh0, dc0 = self.cell.run_backward(seq, doutputs, dh, dc, ctx.need_input_grad)
        if dx is not None:
            dx = xp.ascontiguousarray(self._from_time_major(dx[::-1] if self.go_backwards else dx))
        if given_states:
            return [dx] + [cu.from_channels_last(d, self.data_format) for d in (dh0, dc0)]
        return dx

    # -- config ------------------------------------------------------------------------
    def get_config(self):
        return {**sequence_options_config(self), **self.cell.hyper_config()}


_ARGS = """
    Args:
        filters: number of output channels of both convolutions (the states' channels).
        kernel_size: an int or {rank} ints, the window of both convolutions.
        strides: an int or {rank} ints (default 1), of the input convolution only; > 1
            excludes ``dilation_rate`` > 1.
        padding: 'valid' (default) or 'same', of the input convolution; the recurrent
            convolution always pads 'same' with stride 1.
        data_format: 'channels_last' (default, ``(batch, time, {spatial}, channels)``) or
            'channels_first' (``(batch, time, channels, {spatial})``).
        dilation_rate: an int or {rank} ints, of the input convolution.
        activation: of the candidate and the cell state (default tanh).
        recurrent_activation: of the gates i, f, o (default sigmoid).
        use_bias: add a bias ``(4 filters,)``.
        kernel_initializer, recurrent_initializer, bias_initializer: glorot_uniform,
            orthogonal, zeros.
        unit_forget_bias: start the forget gate's bias at 1 (default True).
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
            activity_regularizer: penalties.
        kernel_constraint, recurrent_constraint, bias_constraint: constraints.
        dropout, recurrent_dropout: fractions of the inputs / the previous state dropped
            while training (one mask per gate, fixed for the call, as Keras).
        seed: seed of the dropout masks.
        return_sequences: return every step's output ``(batch, time, {spatial_out},
            filters)`` instead of the last ``(batch, {spatial_out}, filters)``.
        return_state: also return the final states: ``[output, h, c]``.
        go_backwards: process the sequence in reverse (the sequence comes back reversed).
        stateful: the final states of a batch are the next batch's initial states.

    Call: ``layer(x, training=False, mask=None, initial_state=None)`` or
    ``layer([x, h0, c0])``; ``mask`` boolean ``(batch, time)``, a False step keeps the
    states. Output spatial shape: the input convolution's (``{spatial_out}``).

    Weights: kernel ``(*kernel_size, channels, 4 filters)``, recurrent_kernel
    ``(*kernel_size, filters, 4 filters)``, bias ``(4 filters,)``, gate order i, f, c, o.
"""


class ConvLSTM1D(BaseConvLSTM):
    """1-D convolutional LSTM over ``(batch, time, steps, channels)``.
    {args}
    >>> import numpy as np
    >>> layer = ConvLSTM1D(4, 3, return_sequences=True)
    >>> layer(np.ones((2, 5, 10, 3))).shape, layer.count_params()
    ((2, 5, 8, 4), 352)
    """

    rank = 1


class ConvLSTM2D(BaseConvLSTM):
    """2-D convolutional LSTM over frames ``(batch, time, rows, cols, channels)``
    (Shi et al., 2015, https://arxiv.org/abs/1506.04214).
    {args}
    >>> import numpy as np
    >>> ConvLSTM2D(8, 3, padding="same")(np.zeros((2, 5, 16, 16, 1))).shape
    (2, 16, 16, 8)
    """

    rank = 2


class ConvLSTM3D(BaseConvLSTM):
    """3-D convolutional LSTM over volumes ``(batch, time, depth, rows, cols, channels)``.
    {args}
    >>> import numpy as np
    >>> ConvLSTM3D(2, 3, strides=2)(np.zeros((1, 3, 7, 7, 7, 1))).shape
    (1, 3, 3, 3, 2)
    """

    rank = 3


for _cls, _spatial, _spatial_out in (
    (ConvLSTM1D, "steps", "new_steps"),
    (ConvLSTM2D, "rows, cols", "new_rows, new_cols"),
    (ConvLSTM3D, "depth, rows, cols", "new_depth, new_rows, new_cols"),
):
    _cls.__doc__ = _cls.__doc__.replace(
        "{args}", _ARGS.format(rank=_cls.rank, spatial=_spatial, spatial_out=_spatial_out)
    )
