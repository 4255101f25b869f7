"""``model.summary()``: Keras's table of layers, output shapes and parameter counts."""

from __future__ import annotations

from npkeras import services
from npkeras.layers.input_layer import InputLayer
from npkeras.layers.node import format_shape


def _bytes(n_params, itemsize=4):
    size = n_params * itemsize
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def _rows(model):
    """[(layer, output shape, source layer names)] and whether to show the sources: one
    row per call of a layer in the model's graph; Sequential models read as a stack."""
    if getattr(model, "_subclassed", False) or not model.built:
        return [(layer, None, None) for layer in model.layers], False
    rows = []
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            rows.append((layer, layer.output.shape, []))
            continue
        for node in (step.node for step in model._plan if step.layer is layer):
            shape = (
                node.outputs[0].shape if len(node.outputs) == 1 else [t.shape for t in node.outputs]
            )
            rows.append((layer, shape, [t.node.layer.name for t in node.inputs]))
    return rows, model._graph_from_arguments


def _count(layer):
    return layer.count_params() if layer.built else 0


@services.provide("print_summary")
def print_summary(model, print_fn=None, line_length=None):
    """Print the summary table through ``print_fn`` (default ``print``)."""
    print_fn = print_fn or print
    rows, connected = _rows(model)
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    cells = []
    for layer, shape, sources in rows:
        shape_text = (
            "?"
            if shape is None
            else (
                ", ".join(format_shape(s) for s in shape)
                if isinstance(shape, list)
                else format_shape(shape)
            )
        )
        row = [f"{layer.name} ({type(layer).__name__})", shape_text, f"{_count(layer):,}"]
        if connected:
            row.append(", ".join(sources) if sources else "-")
        cells.append(row)
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) + 2 if cells else len(h) + 2
        for i, h in enumerate(headers)
    ]
    if line_length:
        widths[0] = max(widths[0], line_length - sum(widths[1:]) - len(widths) - 1)

    def line(left, fill, mid, right):
        return left + mid.join(fill * w for w in widths) + right

    def row_text(values, edge="│"):
        parts = []
        for i, (v, w) in enumerate(zip(values, widths)):
            parts.append(f" {v:>{w - 2}} " if i == 2 else f" {v:<{w - 2}} ")
        return edge + edge.join(parts) + edge

    print_fn(f'Model: "{model.name}"')
    print_fn(line("┏", "━", "┳", "┓"))
    print_fn(row_text(headers, "┃"))
    print_fn(line("┡", "━", "╇", "┩"))
    for i, r in enumerate(cells):
        print_fn(row_text(r))
        if i < len(cells) - 1:
            print_fn(line("├", "─", "┼", "┤"))
    print_fn(line("└", "─", "┴", "┘"))
    total = sum(w.size for w in model.weights)
    trainable = sum(w.size for w in model.trainable_weights)
    print_fn(f" Total params: {total:,} ({_bytes(total)})")
    print_fn(f" Trainable params: {trainable:,} ({_bytes(trainable)})")
    print_fn(f" Non-trainable params: {total - trainable:,} ({_bytes(total - trainable)})")
