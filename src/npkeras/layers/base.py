"""The layer protocol every npkeras layer follows.

A layer holds its weights as :class:`~npkeras.ops.variable.Variable` s whose arrays live
in ``params`` (by name) with their gradients in ``grads``. ``build(input_shape)``
creates the weights on first use. Then either:

- **built-in style**: ``forward(x, training)`` computes the output and keeps what the
  backward pass needs in ``self.cache``; ``backward(dy, ctx)`` adds dL/dweights into
  ``grads`` and returns dL/dx. ``backward`` never changes ``params``: optimizers update
  them in place, so a model can pack every weight into one contiguous buffer without
  the layer noticing; or
- **Keras style**: ``call(inputs, training=None, mask=None)`` written with
  ``keras.ops``. Its backward comes from the tape (:mod:`npkeras.ops.tape`): the forward
  records the ops, the backward replays their vector-Jacobian products.

A layer defining ``call`` and ``backward`` uses its own backward. What a call needs for
its backward travels in ``self.cache``, which the engine saves per call site and puts
back before the backward, and the per-call flags travel in a :class:`BackwardContext`:
nothing an engine needs is written onto a layer, so a layer can sit in several models.
"""

from __future__ import annotations

import inspect
import math

from npkeras import backend, constraints, initializers
from npkeras.backend import xp
from npkeras.layers.node import KerasTensor, Node, format_shape
from npkeras.naming import to_snake_case, unique_name
from npkeras.ops.tape import Tape, Tensor, current_tape, grad_enabled, record_multi, value_of
from npkeras.ops.variable import Variable


def shape_fits(expected, shape) -> bool:
    """True when ``shape`` has ``expected``'s rank and matches every known dimension
    after the batch axis (``None`` matches anything)."""
    return len(shape) == len(expected) and all(
        e is None or d is None or e == d for e, d in zip(expected[1:], shape[1:])
    )


class BackwardContext:
    """What the engine asks of one ``backward`` call; it travels with the call, never on
    the layer, so a layer shared by several models (or used twice in one) stays correct.

    Args:
        need_input_grad: False when no one reads dL/dx (the first layer of a model); the
            layer may then skip computing it and return ``None``.
        fused_activation: ``dy`` is already dL/d(pre-activation) (softmax or sigmoid fused
            into the cross-entropy), so the layer skips its activation's derivative.
        fresh: the set of layers whose gradients hold nothing yet this step; a layer in it
            may overwrite its gradients instead of adding to them (see :meth:`take_fresh`).
    """

    __slots__ = ("need_input_grad", "fused_activation", "fresh")

    def __init__(self, need_input_grad: bool = True, fused_activation: bool = False, fresh=None):
        self.need_input_grad = need_input_grad
        self.fused_activation = fused_activation
        self.fresh = fresh

    @classmethod
    def of(cls, need_input_grad: bool, fused_activation: bool, fresh=None) -> BackwardContext:
        """The context for these flags, made once: a training step asks for the same few
        every step. The cache holds ``fresh`` itself, so its ``id`` keys stay unique."""
        key = (need_input_grad, fused_activation, id(fresh))
        ctx = _contexts.get(key)
        if ctx is None:
            if len(_contexts) > 64:  # old steps' fresh sets: start again
                _contexts.clear()
            ctx = _contexts[key] = cls(need_input_grad, fused_activation, fresh)
        return ctx

    def take_fresh(self, layer) -> bool:
        """True (once per step) when ``layer`` may overwrite its gradients rather than add."""
        fresh = self.fresh
        if fresh is not None and layer in fresh:
            fresh.discard(layer)
            return True
        return False


_contexts: dict = {}
#: attributes the engine itself keeps on a layer (weights, caches, graph records): never
#: sub-layers, and scanning them would cost a walk over many arrays
_ENGINE_ATTRIBUTES = frozenset({"params", "grads", "_variables", "cache", "_caches",
                                "_inbound_nodes", "_losses", "input_shape_spec"})
#: the context of a plain ``layer.backward(dy)``: input gradient wanted, gradients added
DEFAULT_BACKWARD = BackwardContext()
_NO_INPUT_GRAD = BackwardContext(need_input_grad=False)


def accepts_argument(function, name) -> bool:
    """Whether ``function`` takes an argument ``name`` (or any keyword argument)."""
    return _accepts(function, name)


_signatures: dict = {}


def _parameters(function):
    """``inspect.signature(function).parameters`` (None when it has none), looked up once
    per function: the engine asks on every call of a layer."""
    key = (getattr(function, "__func__", function), hasattr(function, "__self__"))
    if key not in _signatures:
        try:
            _signatures[key] = inspect.signature(function).parameters
        except (TypeError, ValueError):
            _signatures[key] = None
    return _signatures[key]


def _accepts(function, name) -> bool:
    parameters = _parameters(function)
    if parameters is None:
        return False
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _names_parameter(function, name) -> bool:
    parameters = _parameters(function)
    return parameters is not None and name in parameters


def backward_takes_context(layer) -> bool:
    """Whether ``layer.backward`` accepts the :class:`BackwardContext` (user layers written
    before it existed take ``backward(dy)`` only)."""
    parameters = _parameters(layer.backward)
    if parameters is None:
        return False
    return len(parameters) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters.values())


def _flat_arrays(structure) -> list:
    if isinstance(structure, (list, tuple)):
        return [a for item in structure for a in _flat_arrays(item)]
    if isinstance(structure, dict):
        return [a for item in structure.values() for a in _flat_arrays(item)]
    return [structure]


def _map_structure(fn, structure):
    if isinstance(structure, list):
        return [_map_structure(fn, s) for s in structure]
    if isinstance(structure, tuple):
        return tuple(_map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: _map_structure(fn, s) for k, s in structure.items()}
    return fn(structure)


class Layer:
    """Base class of all layers.

    Args:
        name: unique name; defaults to the snake-case class name, numbered (``dense_1``).
        trainable: whether the optimizer updates this layer's weights.
        dtype: the float type of the layer's weights (default ``keras.backend.floatx()``).
        input_shape: per-sample shape, for the first layer of a ``Sequential``.
        input_dim: shorthand for ``input_shape=(input_dim,)``.

    A Keras-style custom layer:

    >>> import numpy as np
    >>> import npkeras as keras
    >>> class Scale(keras.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, inputs):
    ...         return inputs * self.w
    >>> Scale()(np.array([[1.0, 2.0]])).tolist()
    [[1.0, 2.0]]
    """

    #: whether ``backward`` honours ``ctx.take_fresh`` by overwriting every gradient it
    #: owns on its first call of a step (so the engine need not zero the gradients first)
    supports_fresh_grads = False
    #: whether ``forward`` takes a ``mask=`` argument (Keras's masking)
    supports_masking = False
    #: whether integer inputs are passed as they are (Embedding, lookups) instead of
    #: being converted to the float type
    integer_inputs = False

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
        input_shape=None,
        input_dim: int | None = None,
        batch_size=None,
        autocast: bool = True,
        **kwargs,
    ):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s): "
                f"{', '.join(sorted(kwargs))}."
            )
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(
                f"A layer name must be a non-empty string without '/'; received name={name!r}."
            )
        # A plain attribute dict of its own from the start (keeping any attribute a
        # subclass set before calling this): CPython 3.11 keeps a new object's attributes
        # inline, and the first vars() (the sub-layer scan) moved them into a split dict
        # for good, after which every attribute read took the generic lookup, 3x slower
        # (9 -> 28 ns for Dense, which reads a dozen a step). A plain dict reads as fast
        # as the inline ones and vars() then changes nothing.
        self.__dict__ = dict(vars(self))
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        if isinstance(dtype, dict):  # a Keras DTypePolicy config
            dtype = dtype.get("config", {}).get("name")
        self.dtype = dtype
        self.params: dict = {}
        self.grads: dict = {}
        self._variables: dict = {}
        self.built = False
        self.cache = None
        self.input_shape_spec = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._declared_input_shape = tuple(input_shape) if input_shape is not None else None
        self._inbound_nodes: list = []
        self._losses: list = []

    # -- trainable flag ------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    # -- weights -------------------------------------------------------------------
    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable: bool = True,
        autocast: bool = True,
        regularizer=None,
        constraint=None,
        aggregation: str = "none",
        overwrite_with_gradient: bool = False,
        name: str | None = None,
        *legacy,
    ):
        """Create a weight; returns its :class:`~npkeras.ops.variable.Variable`.

        Keras 3's signature (``add_weight(shape, initializer, dtype, trainable, ...,
        name)``); the older ``add_weight(name, shape, initializer, ...)`` order is accepted
        too. ``initializer`` defaults to glorot_uniform for floats, zeros otherwise.
        """
        if isinstance(shape, str):  # add_weight("kernel", shape, initializer, trainable, ...)
            name, shape, initializer = shape, initializer, dtype
            dtype = None
            if not isinstance(trainable, bool):  # the legacy 4th positional was trainable
                trainable = bool(trainable)
        if shape is None:
            shape = ()
        key = self._weight_key(name)
        dtype = dtype or self.dtype or backend.floatx()
        if initializer is None:
            initializer = "glorot_uniform" if "float" in str(dtype) else "zeros"
        if initializers.draws_skipped():  # loading: zeros, counted against the file's weights
            initial = initializers.skipped_draw(tuple(int(d) for d in shape), dtype)
        else:
            initial = initializers.get(initializer)
        variable = Variable(
            initial,
            shape=shape,
            dtype=dtype,
            trainable=trainable,
            name=key,
            regularizer=regularizer,
            constraint=constraints.get(constraint),
        )
        variable._bind(self, self.params, self.grads, key)
        self._variables[key] = variable
        return variable

    def _weight_key(self, name):
        base = name or "variable"
        key, count = base, 0
        while key in self._variables:
            count += 1
            key = f"{base}_{count}"
        return key

    def _adopt_variables(self) -> None:
        """Variables created with ``keras.Variable(...)`` and assigned as attributes join
        the layer's weights, as in Keras."""
        for attr, value in list(vars(self).items()):
            if isinstance(value, Variable) and value.owner is None:
                key = self._weight_key(value.name if value.name != "variable" else attr)
                value._bind(self, self.params, self.grads, key)
                self._variables[key] = value

    def _weight_is_trainable(self, name) -> bool:
        return self._trainable and self._variables[name]._trainable

    def _own_variables(self) -> list:
        return list(self._variables.values())

    def _sublayers(self) -> list:
        """Layers assigned as attributes (also inside lists, tuples and dicts), in order."""
        found, seen = [], set()

        def visit(value, depth=0):
            if isinstance(value, Layer):
                if id(value) not in seen and value is not self:
                    seen.add(id(value))
                    found.append(value)
            elif depth < 3 and isinstance(value, (list, tuple)):
                for item in value:
                    visit(item, depth + 1)
            elif depth < 3 and isinstance(value, dict):
                for item in value.values():
                    visit(item, depth + 1)

        for attr, value in vars(self).items():
            if attr not in _ENGINE_ATTRIBUTES:
                visit(value)
        return found

    def _flatten_layers(self, include_self: bool = True) -> list:
        """This layer and every layer inside it, depth first, each once."""
        out, seen = [], set()
        stack = [self] if include_self else list(reversed(self._sublayers()))
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            stack.extend(reversed(layer._sublayers()))
        return out

    @property
    def weights(self) -> list:
        """Every variable of this layer and the layers inside it."""
        return [v for layer in self._flatten_layers() for v in layer._own_variables()]

    @property
    def trainable_weights(self) -> list:
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list:
        return [v for v in self.weights if not v.trainable]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def count_params(self) -> int:
        """Total number of scalars in the layer's weights."""
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has not been built yet, so it has no weights to count. "
                "Call it on data or build it with an input shape first."
            )
        return int(sum(math.prod(v.shape) for v in self.weights))

    def get_weights(self) -> list:
        """Copies of the weights in creation order (Keras order: kernel, then bias)."""
        return [backend.to_numpy(v.value).copy() for v in self.weights]

    def set_weights(self, weights) -> None:
        """Overwrite the weights in place with arrays of the same shapes."""
        weights = list(weights)
        variables = self.weights
        if len(weights) != len(variables) and self._kind() != "layer":
            raise ValueError(
                f"Model '{self.name}' has {len(variables)} weight arrays, but set_weights "
                f"received {len(weights)}."
            )
        if len(weights) != len(variables):
            raise ValueError(
                f"Layer '{self.name}' expects {len(variables)} weight array(s) "
                f"({', '.join(self._label(v) for v in variables) or 'none'}), but received "
                f"{len(weights)}."
            )
        for variable, new in zip(variables, weights):
            new = xp.asarray(new)
            if new.shape != variable.shape:
                raise ValueError(
                    f"Layer '{self.name}' weight '{self._label(variable)}' has shape "
                    f"{variable.shape}, "
                    f"but the array provided has shape {new.shape}."
                )
        for variable, new in zip(variables, weights):
            variable.value[...] = xp.asarray(new)

    def _kind(self) -> str:
        """'layer', or 'model' for models (in messages)."""
        return "layer"

    def _label(self, variable) -> str:
        return variable._key if variable.owner is self else variable.path

    def regularization_loss(self) -> float:
        """Sum of the weight penalties of this layer (not of the layers inside it)."""
        total = 0.0
        for name, variable in self._variables.items():
            if variable.regularizer is not None:
                total += variable.regularizer(self.params[name])
        return total

    def add_regularization_grads(self) -> None:
        for name, variable in self._variables.items():
            if variable.regularizer is not None and self._weight_is_trainable(name):
                self.grads[name] += variable.regularizer.grad(self.params[name])

    def zero_grads(self) -> None:
        """Zero the gradients of this layer and of the layers inside it."""
        for layer in self._flatten_layers():
            for g in layer.grads.values():
                g.fill(0)

    # -- losses added during a call ----------------------------------------------------
    def add_loss(self, loss) -> None:
        """Add a scalar to the training loss (Keras's ``add_loss``), from inside ``call``."""
        self._losses.append(loss)

    @property
    def losses(self) -> list:
        """The losses added by ``add_loss`` in the latest call, of this layer and those
        inside it (as floats), plus weight penalties."""
        values = []
        for layer in self._flatten_layers():
            values += [backend.to_float(value_of(v)) for v in layer._losses]
            if layer._variables:
                penalty = layer.regularization_loss()
                if penalty:
                    values.append(backend.to_float(penalty))
        return values

    # -- lifecycle -----------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis first, may be None)."""
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self.input_shape_spec = input_shape
            build = self.build
            if _accepts(build, "input_shape") or len(_parameters(build) or ()) >= 1:
                build(input_shape)
            else:
                build()
            self._adopt_variables()
            self.built = True

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape``. Layers written with ``call`` get it by running
        ``call`` once on a probe batch; built-in layers keep the shape unless they say."""
        if self._uses_call():
            return self._probe_output_shape(input_shape)
        return input_shape

    @property
    def input(self):
        """The symbolic input of this layer's first call in a graph (Keras's ``layer.input``)."""
        return self._first_node("input").inputs[0] if len(
            self._first_node("input").inputs) == 1 else list(self._first_node("input").inputs)

    @property
    def output(self):
        """The symbolic output of this layer's first call in a graph (``layer.output``)."""
        outputs = self._first_node("output").outputs
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def _first_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called on a symbolic tensor, so it has no "
                f"{what}: call it on keras.Input(...) or another layer's output first.")
        return self._inbound_nodes[0]

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output (Keras masking): the input's mask for layers
        that support masking, else None. Layers that make or change a mask override it."""
        return mask if self.supports_masking else None

    def check_input_shape(self, shape) -> None:
        """Raise a ValueError when ``shape`` differs from the built input shape."""
        spec = self.input_shape_spec
        if spec is None or isinstance(spec, list) or not isinstance(spec, tuple):
            return
        if not shape_fits(spec, shape):
            if len(spec) == 2 and len(shape) >= 2 and spec[-1] != shape[-1]:
                raise ValueError(
                    f"Layer '{self.name}' expects inputs whose last dimension is {spec[-1]}, "
                    f"but received shape {tuple(shape)}."
                )
            raise ValueError(
                f"Layer '{self.name}' expects inputs of shape {format_shape(spec)}, but "
                f"received shape {tuple(shape)}."
            )

    # -- the two ways to define a layer ------------------------------------------------
    @classmethod
    def _uses_call(cls) -> bool:
        return cls.call is not Layer.call

    def call(self, inputs, *args, **kwargs):
        """The layer's computation on arrays; built-in layers run their ``forward``."""
        if type(self).forward is Layer.forward:
            raise NotImplementedError(
                f"Layer {type(self).__name__} defines neither `call` nor `forward`: write "
                "`call(self, inputs)` with keras.ops, or `forward` and `backward`."
            )
        return self.forward(inputs, training=bool(kwargs.get("training")))

    def _has_own_backward(self) -> bool:
        """Whether ``backward`` is written out (else it comes from the tape)."""
        return type(self).backward is not Layer.backward

    def _run_call(self, inputs, training, call_kwargs):
        kwargs = dict(call_kwargs or {})
        if _accepts(self.call, "training"):
            kwargs["training"] = training
        self._losses = []
        return self.call(inputs, **kwargs)

    def forward(self, x, training: bool = False, **call_kwargs):
        """For a layer written with ``call``: run it, recording its ops on a tape so that
        :meth:`backward` can replay their derivatives."""
        if not self._uses_call():
            raise NotImplementedError(
                f"Layer {type(self).__name__} defines neither `call` nor `forward`."
            )
        own_backward = self._has_own_backward()
        if own_backward or not grad_enabled():
            y = self._run_call(x, training, call_kwargs)
            if not own_backward:
                self.cache = None
            return _map_structure(value_of, y)
        with Tape() as tape:
            leaves = _map_structure(tape.watch, x)
            y = self._run_call(leaves, training, call_kwargs)
        self.cache = (tape, leaves, y, list(self._losses))
        return _map_structure(value_of, y)

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        """For a layer written with ``call``: replay the tape recorded by :meth:`forward`,
        adding weight gradients into ``grads``; returns dL/d(inputs)."""
        if self.cache is None:
            raise RuntimeError(
                f"Layer '{self.name}' has no recorded call to differentiate: run it in "
                "training (or under keras.GradientTape) before asking for gradients."
            )
        tape, leaves, y, added_losses = self.cache
        # add_loss terms join the training loss with weight 1: d(total)/d(term) = 1
        outputs = _flat_arrays(y) + added_losses
        grads = _flat_arrays(dy) + [xp.ones_like(value_of(loss)) for loss in added_losses]
        flat_leaves = _flat_arrays(leaves)
        leaf_grads = tape.backprop(outputs, grads, flat_leaves if ctx.need_input_grad else ())
        if not ctx.need_input_grad:
            return None
        leaf_grads = [
            xp.zeros_like(leaf.value) if g is None else g
            for g, leaf in zip(leaf_grads, flat_leaves)
        ]
        return leaf_grads if isinstance(leaves, (list, tuple)) else leaf_grads[0]

    # -- calling -------------------------------------------------------------------
    def __call__(self, inputs=None, *args, training=None, mask=None, **kwargs):
        """Apply the layer to arrays, to tensors on a tape, or to symbolic ``Input``
        tensors to build a graph."""
        spec = self.input_shape_spec
        if (
            type(inputs) is xp.ndarray
            and inputs.ndim == 2
            and type(spec) is tuple
            and len(spec) == 2
            and inputs.shape[1] == spec[1]
            and inputs.dtype == backend.floatx()
            and not args
            and not kwargs
            and mask is None
            and current_tape() is None
        ):
            return self.forward(inputs, training=bool(training))  # built, right shape: no checks
        if args:
            kwargs.update(zip(self._extra_positional_names(len(args)), args))
        if mask is not None and self.supports_masking:
            kwargs["mask"] = mask
        flat = _flat_arrays(inputs)
        first = flat[0] if flat else inputs
        if isinstance(first, KerasTensor):
            return call_symbolic(self, inputs, kwargs, training)
        x = _map_structure(self._convert_input, inputs)
        if not self.built:
            self._maybe_build(_shapes_of(x))
        elif not isinstance(x, (list, tuple, dict)):
            self.check_input_shape(value_of(x).shape)
        tape = current_tape()
        if tape is None:
            return self._forward_with(x, bool(training), kwargs)
        return self._record_call(x, bool(training), kwargs)

    def _extra_positional_names(self, count):
        names = list(_parameters(self.call) or ())[1:]  # after `inputs`
        return names[:count]

    def _convert_input(self, value):
        if isinstance(value, (Tensor, Variable)):
            return value
        if self.integer_inputs:
            array = xp.asarray(value)
            if array.dtype.kind in "iub":
                return array
        return backend.as_float_array(value, "inputs", dtype=self.dtype)

    def _forward_with(self, x, training, kwargs):
        x = _map_structure(value_of, x)
        if kwargs:
            return self.forward(x, training=training, **kwargs)
        return self.forward(x, training=training)

    def _record_call(self, x, training, kwargs):
        """One tape node for this layer: its forward now, its backward as the VJP."""
        flat = _flat_arrays(x)
        y = self._forward_with(x, training, kwargs)
        cache = self.cache
        layer = self
        takes_context = backward_takes_context(self)
        multi_output = isinstance(y, (list, tuple))
        outputs = list(y) if multi_output else [y]

        def vjp(dys):
            layer.cache = cache
            dy = dys if multi_output else dys[0]
            if not takes_context:
                dx = layer.backward(dy)
            else:
                need = any(isinstance(t, Tensor) for t in flat)
                dx = layer.backward(dy, DEFAULT_BACKWARD if need else _NO_INPUT_GRAD)
            if dx is None:
                return [None] * len(flat)
            return _flat_arrays(dx)

        vjp.variables = lambda: layer.trainable_weights
        recorded = record_multi(outputs, flat + layer.trainable_weights[:1], vjp)
        if isinstance(recorded, list) and recorded and isinstance(recorded[0], Tensor):
            if not multi_output:
                return recorded[0]
            return type(y)(recorded) if isinstance(y, tuple) else recorded
        return y

    # -- config --------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable}
        if self.dtype is not None:
            config["dtype"] = self.dtype
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def _probe_output_shape(self, input_shape):
        """Run ``call`` on a zero batch of two to learn the output shape (Keras traces it
        symbolically; a probe gives the same answer for shape-only code)."""

        def probe(shape):
            if isinstance(shape, list):
                return [probe(s) for s in shape]
            dims = tuple(2 if d is None else d for d in shape)
            return xp.zeros(dims, backend.floatx())

        with xp.errstate(all="ignore"):
            y = self.forward(probe(input_shape), training=False)

        def shape_of(a):
            a = value_of(a)
            return (None,) + tuple(a.shape[1:])

        if isinstance(y, (list, tuple)):
            return [shape_of(a) for a in y]
        return shape_of(y)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def builtin_layer_classes() -> dict:
    """Every npkeras layer class by its saved name, found by walking the subclasses of
    :class:`Layer` (so no list can miss one); models are among them once
    ``npkeras.models`` is imported, the functional ``Model`` saved as "Functional"."""
    found, stack = {}, [Layer]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("npkeras.") and not cls.__name__.startswith("_"):
            found.setdefault(cls.__name__, cls)
    if "Model" in found:
        found["Functional"] = found["Model"]
    return found


def _shapes_of(x):
    if isinstance(x, (list, tuple)):
        return [_shapes_of(v) for v in x]
    if isinstance(x, dict):
        return {k: _shapes_of(v) for k, v in x.items()}
    return (None,) + tuple(value_of(x).shape[1:])


def call_symbolic(layer: Layer, inputs, call_kwargs=None, training=None):
    """Record a call of ``layer`` on KerasTensors; returns the output KerasTensor(s)."""
    multi = isinstance(inputs, (list, tuple))
    tensors = list(inputs) if multi else [inputs]
    for t in tensors:
        if not isinstance(t, KerasTensor):
            raise TypeError(
                f"Layer '{layer.name}' was called on a mix of symbolic tensors and "
                f"{type(t).__name__}; pass only outputs of `keras.Input` or of other layers."
            )
    shapes = [t.shape for t in tensors]
    input_shape = shapes if multi else shapes[0]
    if layer.built:
        if not multi:
            layer.check_input_shape(input_shape)
    else:
        layer._maybe_build(input_shape)
    kwargs = dict(call_kwargs or {})
    if training is not None:
        kwargs["training"] = training
    out_shape = _output_shape(layer, input_shape, kwargs)
    node = Node(layer, tensors, multi_input=multi, call_kwargs=kwargs)
    out_shapes = out_shape if isinstance(out_shape, list) else [out_shape]
    dtype = getattr(layer, "output_dtype", None)
    node.outputs = [
        KerasTensor(s, node=node, index=i, dtype=dtype) for i, s in enumerate(out_shapes)
    ]
    layer._inbound_nodes.append(node)
    return node.outputs if isinstance(out_shape, list) else node.outputs[0]


def _output_shape(layer, input_shape, kwargs):
    if (
        kwargs
        and layer._uses_call()
        and type(layer).compute_output_shape is Layer.compute_output_shape
    ):
        return layer._probe_output_shape(input_shape)
    # call options that change the output's structure (return_attention_scores) reach
    # compute_output_shape when it names them
    named = {
        k: v
        for k, v in kwargs.items()
        if k != "training" and _names_parameter(layer.compute_output_shape, k)
    }
    shape = layer.compute_output_shape(input_shape, **named)
    if isinstance(shape, tuple) and shape and isinstance(shape[0], (tuple, list)):
        return [tuple(s) for s in shape]
    return shape
