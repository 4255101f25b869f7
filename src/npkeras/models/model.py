"""``Model``: a graph of layers built from ``keras.Input`` tensors, or a subclass with
``call``.

A functional model's forward pass runs the layer calls (nodes) in topological order,
keeping each call's cache; the backward pass walks them in reverse, adding gradients
where a tensor feeds several nodes, so a layer used twice gets both contributions. A
subclassed model (``class M(keras.Model)`` with ``call``) runs its ``call`` on the tape:
its built-in layers are one node each with their own backward.
"""

from __future__ import annotations

import warnings

from npkeras import services
from npkeras.backend import xp
from npkeras.layers.base import (
    DEFAULT_BACKWARD,
    BackwardContext,
    Layer,
    accepts_argument,
    backward_takes_context,
    shape_fits,
)
from npkeras.layers.input_layer import InputLayer
from npkeras.layers.node import KerasTensor, format_shape
from npkeras.models.config import functional_config, functional_from_config
from npkeras.naming import to_snake_case, unique_name
from npkeras.ops.tape import no_grad
from npkeras.training import data as data_module
from npkeras.training import outputs as outputs_module
from npkeras.training.loop import Trainer


class _Step:
    """One node of the plan: which slots it reads and writes, and how to call its layer."""

    __slots__ = (
        "layer",
        "node",
        "inputs",
        "outputs",
        "multi_input",
        "multi_output",
        "reads_model_input",
        "kwargs",
        "takes_context",
        "takes_mask",
    )

    def __init__(self, layer, node, inputs, outputs, multi_input, multi_output, reads_model_input):
        self.layer, self.node = layer, node
        self.inputs, self.outputs = inputs, outputs
        self.multi_input, self.multi_output = multi_input, multi_output
        self.reads_model_input = reads_model_input
        # the call's other arguments (mask, initial_state, ...); `training` comes per run
        self.kwargs = {k: v for k, v in node.call_kwargs.items() if k != "training"}
        self.takes_context = backward_takes_context(layer)
        self.takes_mask = accepts_argument(layer.forward, "mask")


def makes_masks(layers) -> bool:
    """Whether any of ``layers`` makes or changes a Keras mask (so the forward pass has
    masks to carry)."""
    return any(type(layer).compute_mask is not Layer.compute_mask for layer in layers)


def _linear_chain(plan, input_slots, output_slots):
    """The plan's layers when it is a plain chain (one input, one output, each call taking
    the previous call's only output, no call options), else None: a chain runs as a
    loop over its layers, without slots."""
    if len(input_slots) != 1 or len(output_slots) != 1:
        return None
    slot = input_slots[0]
    for step in plan:
        if step.multi_input or step.multi_output or step.kwargs or step.inputs != [slot]:
            return None
        slot = step.outputs[0]
    return [step.layer for step in plan] if slot == output_slots[0] else None


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

    def __init__(
        self, inputs=None, outputs=None, name: str | None = None, trainable: bool = True, **kwargs
    ):
        subclassed = type(self)._uses_call() and inputs is None and outputs is None
        default = to_snake_case(type(self).__name__) if subclassed else self._default_name()
        Layer.__init__(self, name=name or unique_name(default), **kwargs)
        self._init_trainer()
        self._subclassed = subclassed
        self._makes_masks = False
        self._output_masks = None
        self._caches: list = []
        self._plan: list = []
        self._chain = None
        self._chain_step = None  # the chain's backward contexts for the last step flags
        self._dict_outputs = False
        self._subclass_io = None  # (input names, output names) once a subclass is built
        if self._graph_from_arguments and not subclassed:
            if inputs is None or outputs is None:
                raise TypeError(
                    "Model(inputs, outputs) needs both `inputs` and `outputs` tensors; to "
                    "write a model as code, subclass keras.Model and define `call`."
                )
            self._build_graph(inputs, outputs)
        self._trainable = bool(trainable)

    #: the graph comes from the input and output tensors given to ``__init__`` (Sequential
    #: makes its own graph from its list of layers)
    _graph_from_arguments = True
    #: saved under Keras's class name
    _saved_class_name = "Functional"

    @staticmethod
    def _default_name():
        return "functional"

    def _kind(self) -> str:
        return "model"

    def _has_own_backward(self) -> bool:
        return not self._subclassed

    def _context_driven_layers(self) -> set:
        """The layers whose backward this model calls with its context (so they honour
        the step's ``fresh`` set): plan members, and those of nested graph models."""
        if self._subclassed:
            return set()
        driven = set()
        for step in self._plan:
            if isinstance(step.layer, Model):
                driven |= step.layer._context_driven_layers()
            elif step.takes_context:
                driven.add(step.layer)
        return driven

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
        unused = [t.node.layer.name for t in in_list if id(t.node) not in seen]
        if unused:  # Keras 3 accepts an input no output depends on; its data is ignored
            warnings.warn(f"Model inputs {unused} are not connected to the outputs: the data "
                          "passed for them is ignored.", UserWarning, stacklevel=3)
            for t in in_list:
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
        self._output_masks = None
        layers = []
        for node in order:
            if node.layer not in layers:
                layers.append(node.layer)
            if isinstance(node.layer, InputLayer):
                continue
            ins = [slots[id(t)] for t in node.inputs]
            self._plan.append(
                _Step(
                    node.layer,
                    node,
                    ins,
                    [slots[id(t)] for t in node.outputs],
                    node.multi_input,
                    len(node.outputs) > 1,
                    all(s in model_input_slots for s in ins),
                )
            )
        for t in in_list:
            if t.node.layer not in layers:
                layers.append(t.node.layer)
        names = [layer.name for layer in layers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(
                    f'The name "{name}" is used {names.count(name)} times in the model. All '
                    "layer names should be unique: pass another name= to one of them."
                )
        self._graph_layers = layers
        self._makes_masks = makes_masks(step.layer for step in self._plan)
        self._chain = (
            None
            if self._makes_masks
            else _linear_chain(self._plan, self._input_slots, self._output_slots)
        )
        self._chain_step = None
        self._input_names = list(in_names or [t.node.layer.name for t in in_list])
        self._output_names = list(out_names or self._unique_output_names(out_list))
        self._dict_outputs = out_names is not None  # predict and calls then return a dict
        self.input_shape_spec = (
            in_list[0].shape if len(in_list) == 1 else [t.shape for t in in_list]
        )
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
        if self._subclassed:
            return self._sublayers()
        return list(self._graph_layers)

    def _sublayers(self) -> list:
        """A graph model's layers are its graph's (no attribute scan: its caches and plan
        are many objects); a subclassed model's are found as a custom layer's are."""
        if self._subclassed or getattr(self, "_graph_layers", None) is None:
            return Layer._sublayers(self)
        return [layer for layer in self.layers if layer is not self]

    def _all_layers(self) -> list:
        """Every layer that holds weights or computes, nested models flattened, each once
        (a model itself only when it owns variables of its own)."""
        return [
            layer
            for layer in self._flatten_layers()
            if not isinstance(layer, Model) or layer._variables
        ]

    def _output_producers(self):
        """The layer making each output, when it is safe to fuse its activation into the loss."""
        if self._subclassed:
            return [None] * len(self.output_names)
        producers = []
        consumed = {i for step in self._plan for i in step.inputs}
        for slot, t in zip(self._output_slots, self._output_tensors):
            layer = t.node.layer
            uses = sum(1 for step in self._plan if step.layer is layer)
            producers.append(
                layer if uses == 1 and slot not in consumed and len(t.node.outputs) == 1 else None
            )
        return producers

    # -- execution -----------------------------------------------------------------
    def _forward(self, inputs, training=False):
        chain = self._chain
        if chain is not None:  # a plain chain: a loop
            x = inputs[0]
            caches = self._caches = [None] * len(chain)
            for i, layer in enumerate(chain):
                x = layer.forward(x, training=training)
                caches[i] = layer.cache
            self._output_masks = None
            return [x]
        if self._subclassed:
            y = Layer.forward(self, inputs[0] if len(inputs) == 1 else list(inputs), training)
            return list(y) if isinstance(y, (list, tuple)) else [y]
        values = [None] * self._n_slots
        for slot, x in zip(self._input_slots, inputs):
            values[slot] = x
        # Keras masks (Embedding(mask_zero=True), Masking, ...) flow beside the values, only
        # in models that have a layer making one
        masks = [None] * self._n_slots if self._makes_masks else None
        caches = self._caches = [None] * len(self._plan)
        for i, step in enumerate(self._plan):
            x = [values[j] for j in step.inputs] if step.multi_input else values[step.inputs[0]]
            layer = step.layer
            kwargs = step.kwargs
            if masks is not None:
                mask = ([masks[j] for j in step.inputs] if step.multi_input
                        else masks[step.inputs[0]])
                has_mask = (any(m is not None for m in mask) if step.multi_input
                            else mask is not None)
                if has_mask and step.takes_mask:
                    kwargs = {**kwargs, "mask": mask}
                out_mask = layer.compute_mask(x, mask if has_mask else None)
                for j, slot in enumerate(step.outputs):
                    masks[slot] = out_mask[j] if isinstance(out_mask, list) else out_mask
            y = (
                layer.forward(x, training=training, **kwargs)
                if kwargs
                else layer.forward(x, training=training)
            )
            caches[i] = layer.cache
            if step.multi_output:
                for slot, v in zip(step.outputs, y):
                    values[slot] = v
            else:
                values[step.outputs[0]] = y
        self._output_masks = None if masks is None else [masks[s] for s in self._output_slots]
        return [values[s] for s in self._output_slots]

    def _chain_contexts(self, need_input_grads, fused, fresh) -> list:
        """Each chain layer's backward context (None for a backward that takes none), made
        once per set of step flags: a training step asks for the same ones every step."""
        last = self._chain_step  # (need_input_grads, fused, fresh, contexts)
        if last is None or last[1] is not fused or last[2] is not fresh or (
            last[0] != need_input_grads
        ):
            contexts = [
                BackwardContext(need_input_grads or i > 0, layer in fused, fresh)
                if step.takes_context
                else None
                for i, (layer, step) in enumerate(zip(self._chain, self._plan))
            ]
            # held with the contexts, fused and fresh keep their identity for the test
            last = self._chain_step = (need_input_grads, fused, fresh, contexts)
        return last[3]

    def _backward(self, output_grads, need_input_grads=False, fused=frozenset(), fresh=None):
        """dL/d(each input) from dL/d(each output); weight gradients go into the layers'
        ``grads``. ``fused``: output layers whose gradient arrives already through their
        activation; ``fresh``: layers that may overwrite their gradients this step."""
        chain = self._chain
        if chain is not None:  # a plain chain: a loop
            dy, caches = output_grads[0], self._caches
            contexts = self._chain_contexts(need_input_grads, fused, fresh)
            for i in range(len(chain) - 1, -1, -1):
                if dy is None:
                    break
                layer, ctx = chain[i], contexts[i]
                layer.cache = caches[i]
                dy = layer.backward(dy) if ctx is None else layer.backward(dy, ctx)
            return [dy]
        if self._subclassed:
            dy = output_grads[0] if len(output_grads) == 1 else list(output_grads)
            dx = Layer.backward(self, dy, BackwardContext(need_input_grads, False, fresh))
            return dx if isinstance(dx, list) else [dx]
        grads = [None] * self._n_slots
        for slot, g in zip(self._output_slots, output_grads):
            if g is not None:
                grads[slot] = g if grads[slot] is None else grads[slot] + g
        caches = self._caches
        for i in range(len(self._plan) - 1, -1, -1):
            step = self._plan[i]
            if step.multi_output:
                dy = [grads[s] for s in step.outputs]
                if all(d is None for d in dy):
                    continue
            else:
                dy = grads[step.outputs[0]]
                if dy is None:
                    continue
            layer = step.layer
            layer.cache = caches[i]
            ctx = BackwardContext.of(
                need_input_grads or not step.reads_model_input, layer in fused, fresh
            )
            dx = layer.backward(dy, ctx) if step.takes_context else layer.backward(dy)
            if dx is None:
                continue
            for slot, g in zip(step.inputs, dx if step.multi_input else [dx]):
                if g is not None:
                    grads[slot] = g if grads[slot] is None else grads[slot] + g
        return [grads[s] for s in self._input_slots]

    # -- use as a layer --------------------------------------------------------------
    def forward(self, x, training=False, **kwargs):
        if self._subclassed:
            return Layer.forward(self, x, training, **kwargs)
        outs = self._forward(x if isinstance(x, list) else [x], training)
        self.cache = self._caches
        return outs[0] if len(outs) == 1 else outs

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        if self._subclassed:
            return Layer.backward(self, dy, ctx)
        self._caches = self.cache
        dxs = self._backward(
            dy if isinstance(dy, list) else [dy],
            need_input_grads=ctx.need_input_grad,
            fresh=ctx.fresh,
        )
        return dxs[0] if len(dxs) == 1 else dxs

    def compute_output_shape(self, input_shape):
        if self._subclassed:
            return Layer.compute_output_shape(self, input_shape)
        shapes = [t.shape for t in self._output_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    def _ensure_built_for(self, xs):
        if self._subclassed:
            if not self.built:
                self._build_subclass([x[:2] for x in xs])
            return
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
                    f"{format_shape(expected)}, but received an array of shape {tuple(x.shape)}."
                )

    # -- subclassed models -----------------------------------------------------------
    def _build_subclass(self, xs):
        """Build a subclassed model by calling it on a couple of rows (as Keras does on
        the first batch): its layers build, and the outputs are counted."""
        x = xs[0] if len(xs) == 1 else list(xs)
        shapes = [(None,) + tuple(a.shape[1:]) for a in xs]
        if not self.built:
            self.input_shape_spec = shapes[0] if len(shapes) == 1 else shapes
            if type(self).build is not Model.build:
                self.build(self.input_shape_spec)
        with no_grad():
            y = Layer.forward(self, x, training=False)
        self._adopt_variables()
        outs = list(y) if isinstance(y, (list, tuple)) else [y]
        self._output_shapes = [(None,) + tuple(o.shape[1:]) for o in outs]
        previous = self.output_names
        self._subclass_io = (
            self.input_names,
            [f"output_{i + 1}" for i in range(len(outs))] if len(outs) > 1 else ["output_1"],
        )
        self.built = True
        if self.compiled and len(previous) != len(outs):
            self._resolve_compiled_losses()

    def build(self, input_shape=None):
        """Build a subclassed model for ``input_shape`` (batch axis first) by calling it on
        zeros, as Keras does; graph models are built already."""
        if not self._subclassed or input_shape is None:
            self.built = True
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        probes = [
            xp.zeros((2,) + tuple(1 if d is None else d for d in s[1:]), self.dtype or "float32")
            for s in shapes
        ]
        self._build_subclass(probes)

    def _note_inputs(self, x):
        """A subclassed model learns how many inputs it takes from the first data."""
        if not self._subclassed or self._subclass_io is not None:
            return
        if isinstance(x, dict):
            names = list(x)
        elif isinstance(x, (list, tuple)) and len(x) > 1 and not data_module._looks_like_rows(x):
            names = [f"input_{i + 1}" for i in range(len(x))]
        else:
            names = ["input_1"]
        self._subclass_io = (names, ["output_1"])

    # -- shapes and weights ----------------------------------------------------------
    @property
    def inputs(self) -> list:
        return list(self._input_tensors)

    @property
    def outputs(self) -> list:
        return list(self._output_tensors)

    @property
    def input(self):
        """The input tensor (a list for several), to build new models from this one's
        layers, as in Keras's encoder-decoder examples."""
        inputs = self.inputs
        return inputs[0] if len(inputs) == 1 else inputs

    @property
    def output(self):
        """The output tensor (a list for several)."""
        outputs = self.outputs
        return outputs[0] if len(outputs) == 1 else outputs

    @property
    def input_shape(self):
        if self._subclassed:
            return self.input_shape_spec
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        if self._subclassed:
            shapes = getattr(self, "_output_shapes", None) or [None]
            return shapes[0] if len(shapes) == 1 else shapes
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by ``name`` or by ``index`` in ``model.layers``."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"Model '{self.name}' has {len(self.layers)} layers; index {index} is out "
                    f"of range."
                )
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name!r}. Existing layers are: "
            f"{[layer.name for layer in self.layers]}."
        )

    def summary(
        self,
        line_length=None,
        positions=None,
        print_fn=None,
        expand_nested=False,
        show_trainable=False,
        layer_range=None,
    ):
        """Print a Keras-style table of layers, output shapes and parameter counts.

        ``positions``, ``expand_nested``, ``show_trainable`` and ``layer_range`` are
        accepted so Keras scripts run; nested models are shown as one row.
        """
        services.use("print_summary")(self, print_fn=print_fn, line_length=line_length)

    def __call__(self, inputs=None, *args, training=None, mask=None, **kwargs):
        if isinstance(inputs, dict) and not self._subclassed:
            inputs = [inputs[n] for n in self.input_names]
        if self._subclassed and not self.built:
            self._note_inputs(inputs)
        outputs = Layer.__call__(self, inputs, *args, training=training, mask=mask, **kwargs)
        return outputs_module.as_built(self, outputs)  # a dict for a model built with one

    # -- names -----------------------------------------------------------------------
    @property
    def input_names(self) -> list:
        if self._subclassed:
            return self._subclass_io[0] if self._subclass_io else ["input_1"]
        return self._input_names

    @input_names.setter
    def input_names(self, names):
        self._input_names = list(names)

    @property
    def output_names(self) -> list:
        if self._subclassed:
            return self._subclass_io[1] if self._subclass_io else ["output_1"]
        return self._output_names

    @output_names.setter
    def output_names(self, names):
        self._output_names = list(names)

    def trace_step(self, x, y, sample_weight=None, verbose=1, plot_path=None) -> dict:
        """Run one training step on ``(x, y)`` and report every layer's forward and backward
        (shapes, activations, gradient norms, update ratios, chain-rule formulas) as a
        printed table, a returned dict and, with ``plot_path``, a picture. Weights and
        optimizer state are restored: nothing changes. See :mod:`npkeras.utils.trace`."""
        return services.use("trace_step")(
            self, x, y, sample_weight, verbose=verbose, plot_path=plot_path
        )

    # -- saving --------------------------------------------------------------------
    def save(self, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Save architecture, weights, compile settings and optimizer state to one file."""
        services.use("save_model")(
            self, filepath, overwrite=overwrite, include_optimizer=include_optimizer
        )

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Save only the weights: ``.weights.npz`` (npkeras) or ``.weights.h5`` (Keras 3)."""
        services.use("save_weights")(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch: bool = False) -> None:
        """Load weights from a ``.weights.npz``, model or Keras ``.weights.h5`` file."""
        services.use("load_weights")(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON; rebuild with ``keras.models.model_from_json``."""
        return services.use("model_to_json")(self, **kwargs)

    def export(
        self, filepath, format: str = "tf_saved_model", verbose=None, input_signature=None, **kwargs
    ) -> None:
        """Export for inference elsewhere: ``model.export("m.onnx", format="onnx")`` writes an
        ONNX graph (needs the ``onnx`` package); see :mod:`npkeras.export`."""
        services.use("export_model")(
            self,
            filepath,
            format=format,
            verbose=verbose,
            input_signature=input_signature,
            **kwargs,
        )

    # -- config --------------------------------------------------------------------
    def get_config(self) -> dict:
        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return functional_from_config(cls, config, custom_objects)
