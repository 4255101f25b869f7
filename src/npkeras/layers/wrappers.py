"""Layer wrappers: Bidirectional (an RNN both ways) and TimeDistributed (a layer per step).

A wrapper owns its inner layers' weights under prefixed names (the same arrays), so a
model packs them like any other; before each call it points the inner layers at its
current arrays and bundles their caches into its own.
"""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer
from npkeras.layers.recurrent import RNN
from npkeras.layers.rnn_base import (
    backward_with_context,
    deserialize_layer,
)
from npkeras.registry import serialize_object

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _serialize(layer):

    return serialize_object(layer)


def _renamed_copy(layer, prefix, **changes):
    """A new, unbuilt layer from ``layer``'s config, named ``prefix + name``."""
    config = _serialize(layer)
    name = config["config"]["name"]
    config["config"] = {**config["config"], **changes, "name": prefix + name.removeprefix(prefix)}
    return deserialize_layer(config)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the outputs.

    Args:
        layer: an RNN layer (LSTM, GRU, SimpleRNN, RNN); its copy ``forward_<name>``
            reads the sequence forwards.
        merge_mode: 'concat' (default), 'sum', 'mul', 'ave' or None (a list of both).
        backward_layer: the layer reading backwards; default a copy of ``layer`` with
            ``go_backwards=True`` (as Keras). It must return sequences and states as
            ``layer`` does, and read in the other direction.

    With ``return_sequences`` the backward outputs are flipped back to input order, so
    step t of both halves describes input step t. With ``return_state`` the output is
    ``[merged, *forward_states, *backward_states]``.

    Weights: the forward layer's (``forward_<name>``), then the backward layer's.

    >>> import numpy as np
    >>> from npkeras.layers import LSTM
    >>> Bidirectional(LSTM(3, return_sequences=True))(np.ones((2, 5, 4))).shape
    (2, 5, 6)
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise TypeError(
                f"Bidirectional '{self.name}' wraps a recurrent layer (LSTM, GRU, SimpleRNN, "
                f"RNN); received {type(layer).__name__}."
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Invalid merge_mode for Bidirectional '{self.name}': {merge_mode!r}. Expected "
                "one of 'concat', 'sum', 'mul', 'ave', None."
            )
        self.merge_mode = merge_mode
        self.forward_layer = _renamed_copy(layer, "forward_")
        if backward_layer is None:
            self.backward_layer = _renamed_copy(layer, "backward_", go_backwards=True)
            self._custom_backward = False
        else:
            if not isinstance(backward_layer, RNN):
                raise TypeError(
                    f"`backward_layer` of Bidirectional '{self.name}' must be a recurrent "
                    f"layer; received {type(backward_layer).__name__}."
                )
            for attr in ("return_sequences", "return_state"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(
                        f"Forward layer '{layer.name}' and backward layer "
                        f"'{backward_layer.name}' of Bidirectional '{self.name}' must have "
                        f"the same {attr}; received {getattr(layer, attr)} and "
                        f"{getattr(backward_layer, attr)}."
                    )
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError(
                    f"Forward layer '{layer.name}' and backward layer '{backward_layer.name}' "
                    f"of Bidirectional '{self.name}' must read the sequence in opposite "
                    f"directions; both have go_backwards={layer.go_backwards}."
                )
            self.backward_layer = backward_layer
            self._custom_backward = True
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for inner in (self.forward_layer, self.backward_layer):
            # Keras zeroes masked steps of returned sequences, so both halves agree
            inner.zero_output_for_mask = self.return_sequences

    @property
    def _halves(self):
        return ((self.forward_layer, "forward_"), (self.backward_layer, "backward_"))

    def build(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        for inner, prefix in self._halves:
            inner._maybe_build(tuple(input_shape))
        self.input_shape_spec = (None, None, input_shape[-1])
        self.built = True

    def _merge_shape(self, forward_shape, backward_shape):
        if self.merge_mode == "concat":
            return tuple(forward_shape[:-1]) + (forward_shape[-1] + backward_shape[-1],)
        return tuple(forward_shape)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        forward_shape = self.forward_layer.compute_output_shape(input_shape)
        backward_shape = self.backward_layer.compute_output_shape(input_shape)
        if self.return_state:
            states = forward_shape[1:] + backward_shape[1:]
            forward_shape, backward_shape = forward_shape[0], backward_shape[0]
        if self.merge_mode is None:
            out = [tuple(forward_shape), tuple(backward_shape)]
        else:
            out = [self._merge_shape(forward_shape, backward_shape)]
        if self.return_state:
            return out + [tuple(s) for s in states]
        return out if self.merge_mode is None else out[0]

    def reset_states(self) -> None:
        """Zero the states of both (stateful) halves."""
        for inner, _ in self._halves:
            inner.reset_states()

    reset_state = reset_states

    def compute_mask(self, x, mask=None):
        output_mask = mask if self.return_sequences else None
        outputs = [output_mask] * (2 if self.merge_mode is None else 1)
        if self.return_state:
            count = len(self.forward_layer.state_size) + len(self.backward_layer.state_size)
            return outputs + [None] * count
        return outputs if self.merge_mode is None else outputs[0]

    def forward(self, x, training=False, mask=None, initial_state=None):
        if isinstance(x, (list, tuple)):
            x, extra = x[0], list(x[1:])
            initial_state = extra or initial_state
        halves = [None, None]
        if initial_state is not None:
            split = len(self.forward_layer.state_size)
            if len(initial_state) != split + len(self.backward_layer.state_size):
                raise ValueError(
                    f"Bidirectional '{self.name}' expects {2 * split} initial state arrays "
                    f"(the forward layer's, then the backward layer's), but received "
                    f"{len(initial_state)}."
                )
            halves = [list(initial_state[:split]), list(initial_state[split:])]
        results, caches = [], []
        for (inner, prefix), states in zip(self._halves, halves):
            results.append(inner.forward(x, training=training, mask=mask, initial_state=states))
            caches.append(inner.cache)
        if self.return_state:
            (y_f, *states_f), (y_b, *states_b) = results
        else:
            (y_f, y_b), states_f, states_b = results, [], []
        if self.return_sequences:
            y_b = y_b[:, ::-1]  # back to input order
        self.cache = (caches, y_f, y_b, initial_state is not None)
        if self.merge_mode is None:
            merged = [y_f, y_b]
        elif self.merge_mode == "concat":
            merged = [xp.concatenate([y_f, y_b], axis=-1)]
        elif self.merge_mode == "sum":
            merged = [y_f + y_b]
        elif self.merge_mode == "mul":
            merged = [y_f * y_b]
        else:
            merged = [(y_f + y_b) * 0.5]
        if self.return_state:
            return merged + states_f + states_b
        return merged if self.merge_mode is None else merged[0]

    def _split_output_grad(self, dy, y_f, y_b):
        if self.merge_mode is None:
            return dy[0], dy[1]
        if dy is None:
            return None, None
        if self.merge_mode == "concat":
            units = y_f.shape[-1]
            return dy[..., :units], dy[..., units:]
        if self.merge_mode == "sum":
            return dy, dy
        if self.merge_mode == "mul":
            return dy * y_b, dy * y_f
        return dy * 0.5, dy * 0.5

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        caches, y_f, y_b, given_states = self.cache
        outputs = 2 if self.merge_mode is None else 1
        dys = list(dy) if (self.return_state or self.merge_mode is None) else [dy]
        d_f, d_b = self._split_output_grad(dys[0] if outputs == 1 else dys[:2], y_f, y_b)
        if d_b is not None and self.return_sequences:
            d_b = d_b[:, ::-1]
        dstates = dys[outputs:]
        split = len(self.forward_layer.state_size)
        inner_ctx = BackwardContext(need_input_grad=ctx.need_input_grad)
        dx, dinitial = None, []
        for (inner, prefix), d_out, d_st, cache in zip(
            self._halves, (d_f, d_b), (dstates[:split], dstates[split:]), caches
        ):
            inner.cache = cache
            grad = backward_with_context(
                inner, [d_out] + d_st if self.return_state else d_out, inner_ctx
            )
            if given_states:
                grad, states = grad[0], grad[1:]
                dinitial += states
            if grad is not None:
                dx = grad if dx is None else dx + grad
        return [dx] + dinitial if given_states else dx

    def get_config(self):
        config = {
            **super().get_config(),
            "layer": _serialize(self.forward_layer),
            "merge_mode": self.merge_mode,
        }
        if self._custom_backward:
            config["backward_layer"] = _serialize(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"])
        return cls(**config)


class TimeDistributed(Layer):
    """Applies a layer to every time step: ``(batch, time, ...)`` is folded into
    ``(batch * time, ...)`` for the wrapped layer's forward and backward.

    Args:
        layer: the layer applied to each step (its weights are shared by all steps).

    Shapes: input ``(batch, time, ...)``; output ``(batch, time, ...)`` with the wrapped
    layer's per-sample output shape.

    >>> import numpy as np
    >>> from npkeras.layers import Dense
    >>> TimeDistributed(Dense(2))(np.ones((3, 4, 5))).shape
    (3, 4, 2)
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(
                f"TimeDistributed '{self.name}' wraps a layer; received {type(layer).__name__}."
            )
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                f"TimeDistributed '{self.name}' expects inputs of shape (batch, time, ...) "
                f"(rank 3 or more), but received shape {tuple(input_shape)}."
            )
        self.layer._maybe_build((None,) + tuple(input_shape[2:]))
        self.input_shape_spec = (None, None) + tuple(input_shape[2:])
        self.built = True

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def compute_mask(self, x, mask=None):
        return mask

    def forward(self, x, training=False, mask=None):
        batch, steps = x.shape[:2]
        y = self.layer.forward(x.reshape((batch * steps,) + x.shape[2:]), training=training)
        self.cache = (self.layer.cache, x.shape)
        return y.reshape((batch, steps) + y.shape[1:])

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        cache, x_shape = self.cache
        self.layer.cache = cache
        inner_ctx = BackwardContext(need_input_grad=ctx.need_input_grad)
        dx = backward_with_context(self.layer, dy.reshape((-1,) + dy.shape[2:]), inner_ctx)
        return None if dx is None else dx.reshape(x_shape)

    def get_config(self):
        return {**super().get_config(), "layer": _serialize(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"])
        return cls(**config)
