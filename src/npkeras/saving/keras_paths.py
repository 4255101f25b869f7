"""Where Keras 3 keeps each layer's variables in a ``.weights.h5`` file.

Keras writes a weights file by walking the model's object tree (``_save_state`` in
keras/src/saving/saving_lib.py). Each object's own variables go to ``<path>/vars/<i>``,
trainable ones first and then non-trainable ones, each group in creation order. Then
come its children, in attribute-name order with private (``_``) names last:

- a Sequential or Functional model's ``layers`` list first;
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
from npkeras.models.model import Model
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
        yield "layers", list(obj.layers)
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
