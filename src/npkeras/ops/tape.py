"""Reverse-mode automatic differentiation: a define-by-run tape.

Code written with ``keras.ops`` (a custom layer's ``call``, a loss function, a custom
``train_step``) has no hand-written backward. While a :class:`Tape` is active, every op
whose inputs include a tracked value records one :class:`Node`: its output, its inputs
and its vector-Jacobian product (the op's derivative, written beside its forward in
``npkeras.ops``). ``Tape.backprop`` then walks the nodes newest-first, handing each node
dL/d(output) and adding what its VJP returns into its inputs' gradients.

A built-in layer joins the tape as *one* node whose VJP is the layer's own ``backward``,
so its hand-written speed is kept. A trainable :class:`~npkeras.ops.variable.Variable`
read by an op while a tape is active is a leaf: its gradient is added into the
variable's gradient slot, where built-in layers put their weight gradients too.

>>> from npkeras import ops
>>> with GradientTape() as tape:
...     x = tape.watch(ops.convert_to_tensor([1.0, 2.0]))
...     y = ops.sum(x * x)
>>> tape.gradient(y, x).tolist()
[2.0, 4.0]
"""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp

#: the active tapes, innermost last; ops record on the innermost one
_active: list = []
#: inside ``no_grad()``: nothing is recorded (inference, metric updates)
_disabled = [0]


class ArrayLike:
    """The array protocol of :class:`Tensor` and :class:`Leaf` (variables): both hold a
    ``value`` array and answer for its shape, type and conversions."""

    __slots__ = ()

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)
    size = property(lambda self: self.value.size)

    def __len__(self):
        return len(self.value)

    def __array__(self, dtype=None, copy=None):  # ``np.asarray(t)``: a host copy, as asked
        host = backend.to_numpy(self.value)
        return host if dtype is None else host.astype(dtype)

    def __bool__(self):
        return bool(self.value)

    def __float__(self):
        return backend.to_float(self.value)

    def __int__(self):
        return int(backend.to_numpy(self.value))


class Tensor(ArrayLike):
    """An array whose computation is recorded on a tape, so gradients can reach it.

    Ops and operators accept it wherever they accept arrays; ``.numpy()`` (or
    ``np.asarray``) gives the plain array, which is no longer tracked.
    """

    __slots__ = ("value", "node", "index", "tape", "__weakref__")
    __array_priority__ = 100  # ndarray op Tensor defers to Tensor's reflected operator

    def __init__(self, value, node=None, index: int = 0, tape=None):
        self.value = value
        self.node = node
        self.index = index
        self.tape = tape

    def numpy(self):
        return backend.to_numpy(self.value)

    def __repr__(self):
        return f"<Tensor shape={self.value.shape} dtype={self.value.dtype}\n{self.value!r}>"

    def __index__(self):
        return int(backend.to_numpy(self.value))

    def __iter__(self):
        for i in range(len(self.value)):
            yield self[i]

    __hash__ = object.__hash__


class Leaf(ArrayLike):
    """Base of :class:`~npkeras.ops.variable.Variable`: a value that lives outside the
    tape (a weight) and gathers its gradient in ``gradient_slot``."""

    __slots__ = ()


class Node:
    """One recorded op: ``outputs = op(*inputs)`` and how to pull gradients back.

    ``vjp(dy)`` receives dL/d(output) (a list when the op has several outputs, with zeros
    for outputs nothing used) and returns one gradient per input (``None`` for inputs
    that need none). A ``selective`` node's VJP is called ``vjp(dy, needs)``, ``needs``
    telling per input whether any gradient is wanted from it, so that a product skips
    the matrix product of an input nobody differentiates (a model's input data).
    """

    __slots__ = ("inputs", "vjp", "outputs", "multi_output", "selective")

    def __init__(self, inputs, vjp, multi_output=False, selective=False):
        self.inputs = inputs
        self.vjp = vjp
        self.outputs: list = []
        self.multi_output = multi_output
        self.selective = selective


class Tape:
    """Records the ops run while it is active (``with Tape() as tape:``)."""

    def __init__(self):
        self.nodes: list[Node] = []

    def __enter__(self):
        _active.append(self)
        return self

    def __exit__(self, *exc):
        _active.remove(self)
        return False

    def watch(self, value) -> Tensor:
        """A tracked leaf for ``value`` (gradients to it come back from ``backprop``)."""
        return Tensor(value.value if isinstance(value, Tensor) else xp.asarray(value), tape=self)

    def backprop(self, outputs, output_grads, leaves=()):
        """Push ``output_grads`` back through the recorded nodes.

        Gradients of trainable variables are added into their gradient slots; the
        gradients of ``leaves`` (tracked tensors) are returned, ``None`` where no path
        reached one.
        """
        grads: dict = {}
        for out, g in zip(outputs, output_grads):
            if isinstance(out, Tensor) and g is not None:
                _accumulate(grads, out, g)
        wanted = {id(leaf) for leaf in leaves}
        needed = self._needed(wanted)
        for node in reversed(self.nodes):
            if node.multi_output:
                dys = [grads.pop(id(t), None) for t in node.outputs]
                if all(d is None for d in dys):
                    continue
                dy = [xp.zeros_like(t.value) if d is None else d for d, t in zip(dys, node.outputs)]
            else:
                out = node.outputs[0]
                dy = grads.get(id(out)) if id(out) in wanted else grads.pop(id(out), None)
                if dy is None:
                    continue
            if node.selective:
                needs = [
                    x is not None and (id(x) in needed or not isinstance(x, Tensor))
                    for x in node.inputs
                ]
                input_grads = node.vjp(dy, needs)
            else:
                input_grads = node.vjp(dy)
            for x, dx in zip(node.inputs, input_grads):
                if dx is None or x is None:
                    continue
                if isinstance(x, Tensor):
                    if id(x) in needed:
                        _accumulate(grads, x, dx)
                else:  # a trainable variable: its gradient slot, shared with built-in layers
                    slot = x.gradient_slot
                    slot += _unbroadcast(dx, slot.shape)
        return [grads.get(id(leaf)) for leaf in leaves]

    def _needed(self, wanted) -> set:
        """The ids of the tensors a gradient must reach: the ``wanted`` ones and every
        output of a node that reads a needed tensor or a trainable variable, or adds into
        weights of its own (a built-in layer's node). Others (tensors computed from
        untracked data alone) are skipped by the walk."""
        needed = set(wanted)
        for node in self.nodes:
            if getattr(node.vjp, "variables", None) is not None or any(
                x is not None and (id(x) in needed or not isinstance(x, Tensor))
                for x in node.inputs
            ):
                needed.update(id(t) for t in node.outputs)
        return needed


def _accumulate(grads, tensor, g):
    key = id(tensor)
    current = grads.get(key)
    if g.shape != tensor.value.shape:
        g = _unbroadcast(g, tensor.value.shape)
    grads[key] = g if current is None else current + g


def _unbroadcast(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


unbroadcast = _unbroadcast


def current_tape():
    """The innermost active tape, or None (also inside ``no_grad``)."""
    if _active and not _disabled[0]:
        return _active[-1]
    return None


def grad_enabled() -> bool:
    """False inside ``no_grad()``: layers written with ``call`` then record nothing."""
    return not _disabled[0]


class no_grad:
    """Run without recording (inference and metric updates)."""

    def __enter__(self):
        _disabled[0] += 1

    def __exit__(self, *exc):
        _disabled[0] -= 1
        return False


def tracked(x) -> bool:
    """Whether ``x`` takes part in differentiation: a tensor, or a trainable variable."""
    if isinstance(x, Tensor):
        return True
    return isinstance(x, Leaf) and x.trainable


def record(value, inputs, vjp, selective=False):
    """The result of an op: a tracked :class:`Tensor` with a node on the innermost tape
    when an input is tracked there, else the plain array ``value``.

    ``inputs`` are the op's operands as given (tensors, variables, arrays, numbers);
    ``vjp(dy)`` returns one gradient per operand (``vjp(dy, needs)`` when ``selective``:
    see :class:`Node`).
    """
    tape = current_tape()
    if tape is None:
        return value
    parents = [x if tracked(x) else None for x in inputs]
    if not any(p is not None for p in parents):
        return value
    node = Node(parents, vjp, selective=selective)
    out = Tensor(value, node, 0, tape)
    node.outputs = [out]
    tape.nodes.append(node)
    return out


def record_multi(values, inputs, vjp):
    """:func:`record` for an op with several outputs (``vjp`` gets a list of gradients)."""
    tape = current_tape()
    if tape is None:
        return list(values)
    parents = [x if tracked(x) else None for x in inputs]
    if not any(p is not None for p in parents):
        return list(values)
    node = Node(parents, vjp, multi_output=True)
    node.outputs = [Tensor(v, node, i, tape) for i, v in enumerate(values)]
    tape.nodes.append(node)
    return list(node.outputs)


def value_of(x):
    """The plain array (or number) behind a tensor or variable; anything else unchanged."""
    if isinstance(x, Tensor):
        return x.value
    if isinstance(x, Leaf):
        return x.value
    return x


class GradientTape(Tape):
    """Records operations for automatic differentiation, as ``tf.GradientTape`` does.

    Trainable variables are watched automatically; other tensors with :meth:`watch`.

    Args:
        persistent: allow several ``gradient`` calls on one tape.
        watch_accessed_variables: accepted for compatibility (variables are always
            watched).

    >>> import npkeras as keras
    >>> v = keras.Variable([3.0])
    >>> with keras.GradientTape() as tape:
    ...     loss = keras.ops.sum(v * v)
    >>> float(tape.gradient(loss, v)[0])
    6.0
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        super().__init__()
        self.persistent = persistent
        self._used = False
        self._watched: dict = {}

    def watch(self, value):
        """Track ``value`` (a tensor or array); returns the tracked tensor to compute with.

        Variables are tracked already; watching one returns it unchanged.
        """
        if isinstance(value, Leaf):
            return value
        array = value.value if isinstance(value, Tensor) else xp.asarray(value)
        if array.dtype.kind in "biu":
            raise TypeError(
                f"GradientTape.watch: cannot differentiate with respect to an integer "
                f"tensor (dtype {array.dtype}, shape {array.shape}); gradients exist only "
                "for float tensors. Cast it first: keras.ops.cast(x, 'float32')."
            )
        if isinstance(value, Tensor):
            self._watched[id(value)] = value
            return value
        tensor = Tensor(array, tape=self)
        self._watched[id(tensor)] = tensor
        return tensor

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d(target)/d(sources): one array per source, in the structure given.

        A target that is not a scalar is summed first (or weighted by
        ``output_gradients``), as TensorFlow does. Sources no path reaches get ``None``
        (or zeros with ``unconnected_gradients="zero"``).
        """
        if self._used and not self.persistent:
            raise RuntimeError(
                "A non-persistent GradientTape can only compute one gradient; create it "
                "with keras.GradientTape(persistent=True) to call gradient() several times."
            )
        self._used = True
        single = not isinstance(sources, (list, tuple, dict))
        items = (
            list(sources.values())
            if isinstance(sources, dict)
            else ([sources] if single else list(sources))
        )
        variables = [s for s in items if isinstance(s, Leaf)]
        # gradient slots may hold an earlier step's numbers: start every reachable one at 0
        touched = _variables_written(self.nodes)
        for var in touched.values():
            var.gradient_slot.fill(0)
        for var in variables:
            var.gradient_slot.fill(0)
        targets = target if isinstance(target, (list, tuple)) else [target]
        if output_gradients is None:
            seeds = [xp.ones_like(value_of(t)) for t in targets]
        else:
            given = (
                output_gradients
                if isinstance(output_gradients, (list, tuple))
                else [output_gradients]
            )
            seeds = [xp.asarray(value_of(g)) for g in given]
        leaves = [s for s in items if isinstance(s, Tensor)]
        leaf_grads = dict(zip(map(id, leaves), self.backprop(targets, seeds, leaves)))
        result = []
        for s in items:
            if isinstance(s, Tensor):
                g = leaf_grads.get(id(s))
            elif isinstance(s, Leaf):
                g = s.gradient_slot.copy() if id(s) in touched else None
            else:
                raise TypeError(
                    "GradientTape.gradient sources must be variables or tensors watched with "
                    f"tape.watch(...); received {type(s).__name__}."
                )
            if g is None and unconnected_gradients == "zero":
                g = xp.zeros_like(value_of(s))
            result.append(g)
        if isinstance(sources, dict):
            return dict(zip(sources.keys(), result))
        return result[0] if single else result


def _variables_written(nodes) -> dict:
    """Every variable whose gradient slot a backprop over ``nodes`` may add to."""
    found: dict = {}
    for node in nodes:
        for x in node.inputs:
            if x is not None and not isinstance(x, Tensor):
                found[id(x)] = x
        writes = getattr(node.vjp, "variables", None)
        if writes is not None:
            for var in writes():
                found[id(var)] = var
    return found
