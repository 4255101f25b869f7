"""Where Keras 3 keeps each layer's variables in a ``.weights.h5`` file.

Keras writes a weights file by walking the model's object tree (``_save_state`` in
keras/src/saving/saving_lib.py). Each object's own variables go to ``<path>/vars/<i>``,
trainable ones first and then non-trainable ones, each group in creation order. Then
come its children, in attribute-name order with private (``_``) names last:

- a Sequential or Functional model's ``layers`` list first (a Functional model's in
  Keras's graph order: see :func:`functional_layers`);
- every attribute holding a layer, saved under the attribute's name (``cell``,
  ``forward_layer``, ``layer``, MultiHeadAttention's ``query_dense``);
- every attribute holding a list, tuple or dict of layers: a group under the attribute's
  name, each layer in it named after its class in snake case and numbered per name
  (``layers/dense``, ``layers/dense_1``, ``cells/gru_cell``; a Functional model is
  ``functional``).

An object reached twice is saved at its first path only. Examples from Keras 3.15:
``layers/multi_head_attention/query_dense/vars/0`` (kernel ``(d, heads, key_dim)``),
``layers/bidirectional/forward_layer/cell/vars/1`` (recurrent kernel),
``layers/rnn/cell/cells/gru_cell/vars/2``, a subclassed model's ``block/d1/vars/0``.
npkeras layers name their attributes as Keras's do, so the same walk over an npkeras
model gives Keras's paths.
"""

from __future__ import annotations

from npkeras.layers.base import Layer
from npkeras.layers.input_layer import InputLayer
from npkeras.models.model import Model
from npkeras.models.sequential import Sequential
from npkeras.naming import to_snake_case

# Keras skips the attributes every layer (or model) has; so does this walk
_LAYER_ATTRIBUTES = frozenset(dir(Layer))
_MODEL_ATTRIBUTES = frozenset(dir(Model))


def _name_key(name: str) -> str:
    """Keras's visiting order: public attribute names first, then private ones."""
    return f"~{name}" if name.startswith("_") else name


def _class_path_name(layer) -> str:
    return "functional" if type(layer) is Model else to_snake_case(type(layer).__name__)


def _is_graph_model(obj) -> bool:
    return isinstance(obj, Model) and not getattr(obj, "_subclassed", False)


def _graph_walk(inputs, outputs):
    """The nodes feeding ``outputs``, each after the nodes it reads (a depth-first walk
    from each output in turn, inputs first), and each layer's first-visit index."""
    input_ids = {id(t) for t in inputs}
    order, first_visit, finished = [], {}, set()
    for output in outputs:
        stack = [(output, False)]
        while stack:
            tensor, leaving = stack.pop()
            node = tensor.node
            if leaving:
                finished.add(id(node))
                order.append(node)
                continue
            if node is None or id(node) in finished:
                continue
            is_input = isinstance(node.layer, InputLayer)
            if not is_input and id(tensor) in input_ids:  # made outside this model
                finished.add(id(node))
                continue
            first_visit.setdefault(id(node.layer), len(first_visit))
            stack.append((tensor, True))
            if not is_input:
                stack.extend((t, False) for t in reversed(node.inputs))
    return order, first_visit


def functional_layers(model) -> list:
    """A functional model's layers in Keras 3's order (``map_graph`` in
    keras/src/ops/function.py), which numbers them in the file (``dense``, ``dense_1``):
    deepest first, a layer's depth being its longest distance to an output, and layers
    of equal depth in the order a depth-first walk from the outputs first meets them."""
    order, first_visit = _graph_walk(model.inputs, model.outputs)
    in_graph = {id(node) for node in order}
    node_depth, layer_depth, layers = {}, {}, {}
    for node in reversed(order):
        depth = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
        node_depth[id(node)] = layer_depth[id(node.layer)] = depth
        layers[id(node.layer)] = node.layer
        for t in node.inputs:
            if t.node is not None and id(t.node) in in_graph:
                node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))
    for t in model.inputs:  # inputs that no output reads still count, at depth 0
        if t.node is not None and id(t.node.layer) not in layer_depth:
            layer_depth[id(t.node.layer)] = 0
            first_visit[id(t.node.layer)] = -1
            layers[id(t.node.layer)] = t.node.layer
    ranked = sorted(layer_depth, key=lambda key: (-layer_depth[key], first_visit[key]))
    return [layers[key] for key in ranked]


def _attribute_names(obj) -> list:
    skipped = _MODEL_ATTRIBUTES if isinstance(obj, Model) else _LAYER_ATTRIBUTES
    names = {name for name in vars(obj) if name not in skipped}
    names.update(
        name
        for name in dir(type(obj))
        if name not in skipped and isinstance(getattr(type(obj), name, None), property)
    )
    if isinstance(obj, Model):
        names.add("layers")  # Keras also walks a subclassed model's `layers` list
    return sorted((n for n in names if not n.startswith("__")), key=_name_key)


def _children(obj):
    """(name, layer) and (name, [layers]) in the order Keras visits them."""
    if _is_graph_model(obj):
        yield "layers", list(obj.layers) if isinstance(obj, Sequential) else functional_layers(obj)
        return
    inner = {id(layer) for layer in obj._sublayers()}
    for name in _attribute_names(obj):
        try:
            value = getattr(obj, name)
        except Exception:  # noqa: BLE001 - Keras skips attributes that fail to read too
            continue
        if isinstance(value, Layer):
            if id(value) in inner:
                yield name, value
        elif isinstance(value, (list, tuple, dict)):
            items = value.values() if isinstance(value, dict) else value
            layers = [item for item in items if isinstance(item, Layer) and id(item) in inner]
            if layers:
                yield name, layers


def keras_layer_paths(model) -> list:
    """[(path, layer)] for ``model`` and every layer inside it, each at the path Keras 3
    gives it (``""`` for the model itself), in Keras's visiting order."""
    entries, visited = [], set()

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        entries.append((path, obj))
        for name, child in _children(obj):
            where = f"{path}/{name}" if path else name
            if isinstance(child, Layer):
                visit(child, where)
                continue
            used = {}
            for layer in child:  # numbered per class name, visited or not, as in Keras
                base = _class_path_name(layer)
                count = used[base] = used.get(base, -1) + 1
                visit(layer, f"{where}/{base}" if count == 0 else f"{where}/{base}_{count}")

    visit(model, "")
    return entries


def keras_variables(layer) -> list:
    """``layer``'s own variables in Keras's saving order: trainable, then non-trainable."""
    own = layer._own_variables()
    return [v for v in own if v._trainable] + [v for v in own if not v._trainable]


def vars_group(path: str) -> str:
    """The group holding the variables of the object at ``path``."""
    return f"{path}/vars" if path else "vars"
