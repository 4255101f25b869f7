"""The functional ``Model``: a graph of layers built from ``keras.Input`` tensors.

The forward pass runs the layer calls (nodes) in topological order, keeping each
node's cache; the backward pass walks them in reverse, adding gradients where a
tensor feeds several nodes, so a layer used twice gets both contributions.
"""

from __future__ import annotations

from npkeras.layers.base import Layer, _format_shape, shape_fits
from npkeras.layers.input_layer import InputLayer, KerasTensor
from npkeras.models.trainer import Trainer
from npkeras.utils.naming import unique_name


class _Step:
    """One node of the plan: which slots it reads and writes."""

    __slots__ = ("layer", "node", "inputs", "outputs", "multi_input", "multi_output", "reads_model_input")

    def __init__(self, layer, node, inputs, outputs, multi_input, multi_output, reads_model_input):
        self.layer, self.node = layer, node
        self.inputs, self.outputs = inputs, outputs
        self.multi_input, self.multi_output = multi_input, multi_output
        self.reads_model_input = reads_model_input


def _as_list(value, what):
    if isinstance(value, dict):
        return list(value.values()), list(value.keys())
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for t in items:
        if not isinstance(t, KerasTensor):
            raise TypeError(
                f"Model `{what}` must be symbolic tensors from keras.Input or from calling layers; "
                f"received {type(t).__name__}."
            )
    return items, None


class Model(Trainer, Layer):
    """A model from input and output tensors of a layer graph.

    Args:
        inputs: a ``keras.Input`` tensor, a list of them, or a dict by name.
        outputs: output tensor(s) of layers called on those inputs.
        name: model name.

    >>> import npkeras as keras
    >>> x = keras.Input(shape=(3,))
    >>> model = keras.Model(x, keras.layers.Dense(2)(x))
    >>> model.output_shape
    (None, 2)
    """

    def __init__(self, inputs=None, outputs=None, name: str | None = None, trainable: bool = True,
                 **kwargs):
        Layer.__init__(self, name=name or unique_name(self._default_name()), **kwargs)
        self._init_trainer()
        if self._is_graph:
            if inputs is None or outputs is None:
                raise TypeError("Model(inputs, outputs) needs both `inputs` and `outputs` tensors.")
            self._build_graph(inputs, outputs)
        self.trainable = trainable

    #: built from input and output tensors (False for Sequential, which keeps a stack)
    _is_graph = True

    @staticmethod
    def _default_name():
        return "functional"

    # -- trainable flag propagates to every layer, as in Keras -----------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in getattr(self, "_layers", None) or []:
            layer.trainable = value

    # -- graph ---------------------------------------------------------------------
    def _build_graph(self, inputs, outputs):
        in_list, in_names = _as_list(inputs, "inputs")
        out_list, out_names = _as_list(outputs, "outputs")
        for t in in_list:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(
                    f"Model inputs must come straight from keras.Input; {t!r} is the output of "
                    f"layer '{t.node.layer.name}'."
                )
        order, seen = [], set()

        def visit(node):
            stack = [(node, False)]
            while stack:
                current, expanded = stack.pop()
                if id(current) in seen:
                    continue
                if expanded:
                    seen.add(id(current))
                    order.append(current)
                    continue
                stack.append((current, True))
                for t in reversed(current.inputs):
                    if id(t.node) not in seen:
                        stack.append((t.node, False))

        for t in out_list:
            visit(t.node)
        input_nodes = {id(t.node) for t in in_list}
        for node in order:
            if isinstance(node.layer, InputLayer) and id(node) not in input_nodes:
                raise ValueError(
                    f"Graph disconnected: the outputs depend on input '{node.layer.name}', which "
                    f"is not among the model inputs {[t.node.layer.name for t in in_list]}."
                )
        slots = {}
        for node in order:
            for t in node.outputs:
                slots[id(t)] = len(slots)
        self._n_slots = len(slots)
        self._input_tensors, self._output_tensors = in_list, out_list
        self._input_slots = [slots[id(t)] for t in in_list]
        self._output_slots = [slots[id(t)] for t in out_list]
        model_input_slots = set(self._input_slots)
        self._plan = []
        layers = []
        for node in order:
            if node.layer not in layers:
                layers.append(node.layer)
            if isinstance(node.layer, InputLayer):
                continue
            ins = [slots[id(t)] for t in node.inputs]
            self._plan.append(_Step(node.layer, node, ins, [slots[id(t)] for t in node.outputs],
                                    node.multi_input, len(node.outputs) > 1,
                                    all(s in model_input_slots for s in ins)))
        for t in in_list:
            if t.node.layer not in layers:
                layers.append(t.node.layer)
        self._layers = layers
        self.input_names = in_names or [t.node.layer.name for t in in_list]
        self.output_names = out_names or self._unique_output_names(out_list)
        self.input_shape_spec = in_list[0].shape if len(in_list) == 1 else [t.shape for t in in_list]
        self.built = True

    @staticmethod
    def _unique_output_names(out_list):
        names = []
        for t in out_list:
            base = t.node.layer.name
            name = base if base not in names else f"{base}_{t.index}"
            names.append(name)
        return names

    @property
    def layers(self) -> list:
        return list(self._layers)

    def _all_layers(self) -> list:
        """Every leaf layer, nested models flattened, each once."""
        flat, seen = [], set()
        for layer in self.layers:
            for leaf in (layer._all_layers() if isinstance(layer, Model) else [layer]):
                if id(leaf) not in seen:
                    seen.add(id(leaf))
                    flat.append(leaf)
        return flat

    def _output_producers(self):
        """The layer making each output, when it is safe to fuse its activation into the loss."""
        producers = []
        consumed = {i for step in self._plan for i in step.inputs}
        for slot, t in zip(self._output_slots, self._output_tensors):
            layer = t.node.layer
            uses = sum(1 for step in self._plan if step.layer is layer)
            producers.append(layer if uses == 1 and slot not in consumed and len(t.node.outputs) == 1 else None)
        return producers

    # -- execution -----------------------------------------------------------------
    def _forward(self, inputs, training=False):
        values = [None] * self._n_slots
        for slot, x in zip(self._input_slots, inputs):
            values[slot] = x
        for step in self._plan:
            x = [values[i] for i in step.inputs] if step.multi_input else values[step.inputs[0]]
            y = step.layer.forward(x, training=training)
            step.node.cache = step.layer.cache
            if step.multi_output:
                for slot, v in zip(step.outputs, y):
                    values[slot] = v
            else:
                values[step.outputs[0]] = y
        return [values[s] for s in self._output_slots]

    def _backward(self, output_grads, need_input_grads=False):
        grads = [None] * self._n_slots
        for slot, g in zip(self._output_slots, output_grads):
            if g is not None:
                grads[slot] = g if grads[slot] is None else grads[slot] + g
        for step in reversed(self._plan):
            if step.multi_output:
                dy = [grads[s] for s in step.outputs]
                if all(d is None for d in dy):
                    continue
            else:
                dy = grads[step.outputs[0]]
                if dy is None:
                    continue
            layer = step.layer
            layer.cache = step.node.cache
            layer.input_grad_needed = need_input_grads or not step.reads_model_input
            dx = layer.backward(dy)
            if dx is None:
                continue
            for slot, g in zip(step.inputs, dx if step.multi_input else [dx]):
                if g is not None:
                    grads[slot] = g if grads[slot] is None else grads[slot] + g
        return [grads[s] for s in self._input_slots]

    # -- use as a layer --------------------------------------------------------------
    def forward(self, x, training=False):
        outs = self._forward(x if isinstance(x, list) else [x], training)
        self.cache = [step.node.cache for step in self._plan]
        return outs[0] if len(outs) == 1 else outs

    def backward(self, dy):
        for step, cache in zip(self._plan, self.cache):
            step.node.cache = cache
        dxs = self._backward(dy if isinstance(dy, list) else [dy], need_input_grads=self.input_grad_needed)
        return dxs[0] if len(dxs) == 1 else dxs

    def compute_output_shape(self, input_shape):
        shapes = [t.shape for t in self._output_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    def _ensure_built_for(self, xs):
        if len(xs) != len(self.input_names):
            raise ValueError(
                f"Model '{self.name}' expects {len(self.input_names)} input(s) "
                f"({self.input_names}), but received {len(xs)}."
            )
        for x, t, name in zip(xs, self._input_tensors, self.input_names):
            expected = t.shape
            if not shape_fits(expected, x.shape):
                raise ValueError(
                    f"Input '{name}' of model '{self.name}' expects shape "
                    f"{_format_shape(expected)}, but received an array of shape {tuple(x.shape)}."
                )

    # -- shapes and weights ----------------------------------------------------------
    @property
    def inputs(self) -> list:
        return list(self._input_tensors)

    @property
    def outputs(self) -> list:
        return list(self._output_tensors)

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def weights(self) -> list:
        return [w for layer in self._all_layers() for w in layer.weights]

    @property
    def trainable_weights(self) -> list:
        return [w for layer in self._all_layers() for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list:
        return [w for layer in self._all_layers() for w in layer.non_trainable_weights]

    def get_weights(self) -> list:
        """Copies of every weight, layer by layer in Keras order."""
        return [w for layer in self._all_layers() for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Set every weight from a list like the one :meth:`get_weights` returns."""
        weights = list(weights)
        layers = self._all_layers()
        expected = sum(len(layer.params) for layer in layers)
        if len(weights) != expected:
            raise ValueError(
                f"Model '{self.name}' has {expected} weight arrays, but set_weights received "
                f"{len(weights)}."
            )
        position = 0
        for layer in layers:
            count = len(layer.params)
            layer.set_weights(weights[position:position + count])
            position += count

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    def regularization_loss(self) -> float:
        return sum(layer.regularization_loss() for layer in self._all_layers())

    def add_regularization_grads(self) -> None:
        for layer in self._all_layers():
            layer.add_regularization_grads()

    def zero_grads(self) -> None:
        for layer in self._all_layers():
            layer.zero_grads()

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by ``name`` or by ``index`` in ``model.layers``."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"Model '{self.name}' has {len(self.layers)} layers; index {index} is out of range.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name!r}. Existing layers are: {[layer.name for layer in self.layers]}."
        )

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print a Keras-style table of layers, output shapes and parameter counts.

        ``positions``, ``expand_nested``, ``show_trainable`` and ``layer_range`` are
        accepted so Keras scripts run; nested models are shown as one row.
        """
        from npkeras.utils.summary import print_summary

        print_summary(self, print_fn=print_fn, line_length=line_length)

    def __call__(self, inputs, training=False):
        if isinstance(inputs, dict):
            inputs = [inputs[n] for n in self.input_names]
        return Layer.__call__(self, inputs, training)

    # -- saving --------------------------------------------------------------------
    def save(self, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Save architecture, weights, compile settings and optimizer state to one file."""
        from npkeras.saving.format import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Save only the weights to ``filepath`` (ending in ``.weights.npz``)."""
        from npkeras.saving.format import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch: bool = False) -> None:
        """Load weights from a ``.weights.npz`` or ``.npkeras`` file into this model."""
        from npkeras.saving.format import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON; rebuild with ``keras.models.model_from_json``."""
        from npkeras.saving.format import model_to_json

        return model_to_json(self, **kwargs)

    def export(self, filepath, format: str = "tf_saved_model", verbose=None,
               input_signature=None, **kwargs) -> None:
        """Export for inference elsewhere: ``model.export("m.onnx", format="onnx")`` writes an
        ONNX graph (needs the ``onnx`` package); see :mod:`npkeras.export`."""
        from npkeras.export import export_model

        export_model(self, filepath, format=format, verbose=verbose,
                     input_signature=input_signature, **kwargs)

    # -- config --------------------------------------------------------------------
    def get_config(self) -> dict:
        from npkeras.saving.graph import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from npkeras.saving.graph import functional_from_config

        return functional_from_config(config, custom_objects)
