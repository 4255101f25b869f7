"""``keras.Variable``: a named weight whose value lives in its layer's (or model's) storage.

A layer's weights are arrays in ``layer.params``; a model packs them into one flat buffer
and re-points those entries to views of it. A Variable is a handle on one entry, so it
always reads the current array, built-in layers keep reading plain arrays at full speed,
and ``assign`` writes in place (the buffer's views keep their identity).
"""

from __future__ import annotations

from npkeras import backend, initializers, regularizers
from npkeras.backend import xp
from npkeras.ops.tape import Leaf, value_of


class Variable(Leaf):
    """A trainable (or not) weight, as ``keras.Variable``.

    Args:
        initializer: an initializer (name or object) or the initial value (array-like).
        shape: the shape, needed when ``initializer`` is an initializer.
        dtype: float type (default ``keras.backend.floatx()``; the value's own for arrays).
        trainable: whether optimizers update it and gradients reach it.
        name: a name for messages and saved files.

    >>> v = Variable([1.0, 2.0], name="w")
    >>> v.assign_add([1.0, 1.0]).numpy().tolist()
    [2.0, 3.0]
    >>> (v * 2).tolist()
    [4.0, 6.0]
    """

    __slots__ = (
        "_store",
        "_grads",
        "_key",
        "_trainable",
        "name",
        "regularizer",
        "constraint",
        "owner",
        "__weakref__",
    )

    def __init__(
        self,
        initializer=None,
        shape=None,
        dtype=None,
        trainable: bool = True,
        autocast: bool = True,
        aggregation: str = "none",
        synchronization: str = "auto",
        name: str | None = None,
        regularizer=None,
        constraint=None,
    ):
        value = _initial_value(initializer, shape, dtype, name)
        self._store = {"value": value}
        self._grads = {"value": xp.zeros_like(value)}
        self._key = "value"
        self._trainable = bool(trainable)
        self.name = name or "variable"
        self.regularizer = regularizers.get(regularizer)
        self.constraint = constraint
        self.owner = None

    def _bind(self, owner, store: dict, grads: dict, key: str) -> None:
        """Hand the value over to ``owner``'s storage (a layer's params and grads)."""
        store[key] = self._store[self._key]
        grads[key] = self._grads[self._key]
        self._store, self._grads, self._key, self.owner = store, grads, key, owner

    # -- value ---------------------------------------------------------------------
    @property
    def value(self):
        """The current array (a view into the model's buffer once a model trains it)."""
        return self._store[self._key]

    @property
    def gradient_slot(self):
        """Where gradients for this variable are added up during a backward pass."""
        return self._grads[self._key]

    def numpy(self):
        return backend.to_numpy(self.value).copy()

    def assign(self, value):
        """Overwrite the value in place with ``value`` (same shape); returns the variable."""
        new = xp.asarray(getattr(value, "value", value))
        if new.shape != self.value.shape and new.size != 1:
            raise ValueError(
                f"Variable '{self.name}' has shape {self.value.shape}; cannot assign a value of "
                f"shape {new.shape}."
            )
        self.value[...] = new
        return self

    def assign_add(self, value):
        # in place (``+=`` on the stored array keeps its identity, so buffer views stay
        # views); metrics call it every batch, so no conversions beyond the unwrap
        store, key = self._store, self._key
        store[key] += value_of(value)
        return self

    def assign_sub(self, value):
        store, key = self._store, self._key
        store[key] -= value_of(value)
        return self

    # -- description ---------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        owner = self.owner
        return self._trainable and (owner is None or owner.trainable)

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)

    @property
    def path(self) -> str:
        return f"{self.owner.name}/{self._key}" if self.owner is not None else self.name

    def __repr__(self):
        return (
            f"<Variable path={self.path}, shape={self.value.shape}, "
            f"dtype={self.value.dtype}, value={self.value!r}>"
        )

    __hash__ = object.__hash__


def _initial_value(initializer, shape, dtype, name):
    if initializer is None:
        initializer = "glorot_uniform" if dtype is None or "float" in str(dtype) else "zeros"
    if isinstance(initializer, (str, initializers.Initializer)):
        if shape is None:
            raise ValueError(
                f"Variable '{name or 'variable'}': an initializer needs a `shape`; received "
                f"initializer={initializer!r} and shape=None."
            )
        shape = tuple(int(d) for d in shape)
        dtype = dtype or backend.floatx()
        return initializers.get(initializer)(shape, dtype)
    if callable(initializer) and not hasattr(initializer, "__array__"):
        return xp.asarray(initializer(tuple(shape), dtype or backend.floatx()))
    value = xp.array(getattr(initializer, "value", initializer), dtype=dtype)
    if value.dtype.kind == "f" and dtype is None:  # Python floats: the default float type
        value = value.astype(backend.floatx())
    if shape is not None and tuple(shape) != value.shape:
        raise ValueError(
            f"Variable '{name or 'variable'}': the initial value has shape {value.shape}, but "
            f"shape={tuple(shape)} was given."
        )
    return value
