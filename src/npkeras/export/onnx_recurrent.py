"""ONNX converters for the recurrent layers (LSTM, GRU, SimpleRNN) and the wrappers
(Bidirectional, TimeDistributed).

ONNX's LSTM / GRU / RNN ops are time-major, ``(time, batch, features)``, with weights
``W (directions, gates * units, features)``, ``R (directions, gates * units, units)`` and
``B (directions, 2 * gates * units)`` (input biases, then recurrent biases). The
converters transpose Keras's batch-major input, reorder and transpose Keras's
``(features, gates * units)`` kernels, and take Keras's outputs back out of
``Y (time, directions, batch, units)`` and ``Y_h`` / ``Y_c (directions, batch, units)``.
"""

from __future__ import annotations

from npkeras.backend import host_xp, to_numpy
from npkeras.export.onnx import convert_layer, register_converter
from npkeras.layers.recurrent import GRU, LSTM, SimpleRNN
from npkeras.layers.wrappers import Bidirectional, TimeDistributed

_RNN_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}

# Keras's LSTM gate blocks are i, f, c, o; ONNX's are i, o, f, c: the block of each ONNX
# gate in Keras's weights. GRU's z, r, h and SimpleRNN's single block match ONNX's.
_LSTM_BLOCKS = (0, 3, 1, 2)


def _gates(weight, blocks):
    """Keras ``(..., n_gates * units)`` columns reordered to ONNX's gate order."""
    parts = host_xp.split(weight, len(blocks), axis=-1)
    return host_xp.concatenate([parts[b] for b in blocks], axis=-1)


def _activations(layer, slots):
    names = []
    for slot in slots:
        activation = getattr(layer.cell, slot)
        if activation.name not in _RNN_ACTIVATIONS:
            raise ValueError(
                f"Cannot export {type(layer).__name__} layer '{layer.name}' to ONNX: its "
                f"{slot} '{activation.name}' is not one of {sorted(_RNN_ACTIVATIONS)}."
            )
        names.append(_RNN_ACTIVATIONS[activation.name])
    return names


def _single_bias(cell):
    """Keras's one bias goes in ONNX's input-bias half; the recurrent half is zeros."""
    bias = to_numpy(cell.params["bias"])
    return bias, host_xp.zeros_like(bias)


def _lstm_spec(layer):
    activations = _activations(layer, ("recurrent_activation", "activation", "activation"))
    return "LSTM", _LSTM_BLOCKS, _single_bias, {"activations": activations}


def _gru_spec(layer):
    # reset_after=True (Keras's default): bias (2, 3 units) = [input bias, recurrent bias]
    # and the reset gate multiplies (h @ recurrent_kernel + recurrent bias): ONNX's
    # linear_before_reset=1. reset_after=False: one bias (3 units,), reset applied to h
    # before the product: linear_before_reset=0 with a zero recurrent bias.
    def biases(cell):
        return tuple(to_numpy(cell.params["bias"])) if cell.reset_after else _single_bias(cell)

    attrs = {
        "activations": _activations(layer, ("recurrent_activation", "activation")),
        "linear_before_reset": int(layer.cell.reset_after),
    }
    return "GRU", (0, 1, 2), biases, attrs


def _simple_rnn_spec(layer):
    return "RNN", (0,), _single_bias, {"activations": _activations(layer, ("activation",))}


_SPECS = {LSTM: _lstm_spec, GRU: _gru_spec, SimpleRNN: _simple_rnn_spec}


def _recurrent_op(graph, name, x, directions):
    """One ONNX recurrent node running ``directions`` (one layer, or a forward and a
    backward layer) over batch-major ``x``; returns ``(Y, [Y_h, (Y_c)])``."""
    specs = [_SPECS[type(layer)](layer) for layer in directions]
    op_type, blocks, biases, attrs = specs[0]
    if len(specs) == 2:  # ONNX lists the forward direction's activations, then reverse's
        if specs[1][3].get("linear_before_reset") != attrs.get("linear_before_reset"):
            raise ValueError(
                f"Cannot export Bidirectional layer '{name}' to ONNX: its forward and "
                "backward GRUs differ in reset_after."
            )
        attrs = {**attrs, "activations": attrs["activations"] + specs[1][3]["activations"]}
    cells = [layer.cell for layer in directions]

    def stacked(key):  # Keras (in, gates * units) -> ONNX (directions, gates * units, in)
        return host_xp.stack([_gates(to_numpy(c.params[key]), blocks).T for c in cells])

    operands = [
        graph.op("Transpose", [x], name=f"{name}/time_major", perm=[1, 0, 2]),
        graph.constant(stacked("kernel"), f"{name}/W"),
        graph.constant(stacked("recurrent_kernel"), f"{name}/R"),
    ]
    if cells[0].use_bias:
        rows = [host_xp.concatenate([_gates(b, blocks) for b in biases(c)]) for c in cells]
        operands.append(graph.constant(host_xp.stack(rows), f"{name}/B"))
    direction = "bidirectional" if len(cells) == 2 else "forward"
    n_states = 2 if op_type == "LSTM" else 1
    outputs = graph.op(
        op_type,
        operands,
        name=name,
        outputs=1 + n_states,
        hidden_size=cells[0].units,
        direction=direction,
        **attrs,
    )
    return outputs[0], outputs[1:]


def _take(graph, name, tensor, axis, index):
    """``tensor[index]`` along ``axis`` (the size-1 or size-2 directions axis)."""
    index = graph.constant(index, f"{name}/index", dtype="int64")  # a scalar: axis dropped
    return graph.op("Gather", [tensor, index], axis=axis)


def _batch_major(graph, name, sequence_of_direction):
    """``Y[:, d]`` (time, batch, units) back to Keras's (batch, time, units)."""
    return graph.op(
        "Transpose", [sequence_of_direction], name=f"{name}/batch_major", perm=[1, 0, 2]
    )


def _refuse(layer, owner, go_backwards):
    if layer.go_backwards != go_backwards or layer.stateful:
        raise ValueError(
            f"Cannot export {owner} to ONNX with go_backwards={layer.go_backwards} or "
            "stateful=True."
        )


@register_converter(LSTM, GRU, SimpleRNN)
def convert_recurrent(graph, layer, inputs):
    _refuse(layer, f"{type(layer).__name__} layer '{layer.name}'", go_backwards=False)
    sequence, states = _recurrent_op(graph, layer.name, inputs[0], [layer])
    states = [_take(graph, layer.name, s, 0, 0) for s in states]  # (batch, units)
    if layer.return_sequences:
        y = _batch_major(graph, layer.name, _take(graph, layer.name, sequence, 1, 0))
    else:
        y = states[0]  # the last output is the final h
    return [y, *states] if layer.return_state else y


_MERGES = {"concat": "Concat", "sum": "Add", "mul": "Mul", "ave": "Mean"}


@register_converter(Bidirectional)
def convert_bidirectional(graph, layer, inputs):
    # ONNX's reverse direction reads the sequence backwards and writes Y in input order,
    # as Keras's Bidirectional flips its go_backwards layer's sequence back
    forward, backward = layer.forward_layer, layer.backward_layer
    owner = f"Bidirectional layer '{layer.name}'"
    _refuse(forward, owner, go_backwards=False)
    _refuse(backward, owner, go_backwards=True)
    if type(forward) is not type(backward) or type(forward) not in _SPECS or layer.return_state:
        raise ValueError(
            f"Cannot export {owner} to ONNX: it exports two LSTMs, GRUs or SimpleRNNs of the "
            f"same class without return_state. Received {type(forward).__name__} and "
            f"{type(backward).__name__}, return_state={layer.return_state}."
        )
    sequence, states = _recurrent_op(graph, layer.name, inputs[0], [forward, backward])
    if layer.return_sequences:
        halves = [
            _batch_major(graph, layer.name, _take(graph, layer.name, sequence, 1, d))
            for d in (0, 1)
        ]
    else:
        halves = [_take(graph, layer.name, states[0], 0, d) for d in (0, 1)]
    if layer.merge_mode is None:
        return halves
    attrs = {"axis": -1} if layer.merge_mode == "concat" else {}
    return graph.op(_MERGES[layer.merge_mode], halves, name=layer.name, **attrs)


@register_converter(TimeDistributed)
def convert_time_distributed(graph, layer, inputs):
    # fold time into the batch, (batch * time, *rest), convert the wrapped layer on that,
    # and unfold with the input's own (batch, time), read at run time
    x, shape = inputs[0], graph.shape(inputs[0])
    inner = layer.layer
    rest = tuple(shape[2:])
    folded = graph.op(
        "Reshape",
        [x, graph.constant([-1, *rest], f"{layer.name}/folded", dtype="int64")],
        name=f"{layer.name}/fold",
    )
    graph.set_shape(folded, (None, *rest))
    (y,) = convert_layer(graph, inner, [folded])
    out_rest = inner.compute_output_shape((None, *rest))[1:]
    batch_and_time = graph.op(
        "Slice",
        [
            graph.op("Shape", [x]),
            graph.constant([0], f"{layer.name}/start", dtype="int64"),
            graph.constant([2], f"{layer.name}/end", dtype="int64"),
        ],
    )
    target = graph.op(
        "Concat",
        [batch_and_time, graph.constant(list(out_rest), f"{layer.name}/rest", dtype="int64")],
        axis=0,
    )
    return graph.op("Reshape", [y, target], name=layer.name)
