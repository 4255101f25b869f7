"""The shape of ``metadata.json`` and ``config.json``, checked before any field is used.

A spec is a small object with ``check(value, where)``: it raises :class:`SchemaError`
naming the place in the document (``model.config.layers[2].inbound_nodes``), what was
expected and what was found. The loader turns that into a ``ModelFileError`` naming the
file, so a damaged or altered document never reaches code that trusts its types.

>>> LAYER_REF.check(["dense", 0, 0], "ref")
>>> LAYER_REF.check(["dense", -1, 0], "ref")
Traceback (most recent call last):
...
npkeras.saving.schema.SchemaError: ref[1] must be an integer >= 0; received -1
"""

from __future__ import annotations

import math


class SchemaError(ValueError):
    """A JSON document does not have the structure the loader needs."""


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(where: str, expected: str, value):
    raise SchemaError(f"{where} must be {expected}; received {_shown(value)}")


class Spec:
    def check(self, value, where: str) -> None:
        raise NotImplementedError


class Type(Spec):
    """An instance of ``kinds`` (bool is not an int here; floats must be finite)."""

    def __init__(self, *kinds, expected: str):
        self.kinds, self.expected = kinds, expected

    def check(self, value, where):
        if isinstance(value, bool) and bool not in self.kinds:
            _fail(where, self.expected, value)
        if not isinstance(value, self.kinds):
            _fail(where, self.expected, value)
        if isinstance(value, float) and not math.isfinite(value):
            _fail(where, self.expected, value)


class Int(Spec):
    def __init__(self, minimum: int | None = None, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum

    def check(self, value, where):
        low = "" if self.minimum is None else f" >= {self.minimum}"
        high = "" if self.maximum is None else f" <= {self.maximum}"
        expected = "an integer" + (low + " and" + high if low and high else low or high)
        if type(value) is not int:
            _fail(where, expected, value)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            _fail(where, expected, value)


class Const(Spec):
    def __init__(self, *values):
        self.values = values

    def check(self, value, where):
        if type(value) not in (str, int) or value not in self.values:
            _fail(where, "one of " + ", ".join(map(repr, self.values)), value)


class Optional(Spec):
    """``None`` or ``inner``."""

    def __init__(self, inner: Spec):
        self.inner = inner

    def check(self, value, where):
        if value is not None:
            self.inner.check(value, where)


class AnyOf(Spec):
    def __init__(self, *options: Spec, expected: str):
        self.options, self.expected = options, expected

    def check(self, value, where):
        for option in self.options:
            try:
                option.check(value, where)
                return
            except SchemaError:
                continue
        _fail(where, self.expected, value)


class ListOf(Spec):
    def __init__(self, item: Spec, length: int | None = None, max_length: int = 1_000_000):
        self.item, self.length, self.max_length = item, length, max_length

    def check(self, value, where):
        if not isinstance(value, list):
            _fail(where, "a list", value)
        if self.length is not None and len(value) != self.length:
            _fail(where, f"a list of {self.length} items", value)
        if len(value) > self.max_length:
            _fail(where, f"a list of at most {self.max_length:,} items", f"{len(value):,} items")
        for i, item in enumerate(value):
            self.item.check(item, f"{where}[{i}]")


class Tuple(Spec):
    """A list with one spec per position."""

    def __init__(self, *items: Spec):
        self.items = items

    def check(self, value, where):
        if not isinstance(value, list) or len(value) != len(self.items):
            _fail(where, f"a list of {len(self.items)} items", value)
        for i, (spec, item) in enumerate(zip(self.items, value)):
            spec.check(item, f"{where}[{i}]")


class Record(Spec):
    """A dict with known keys: every ``required`` key, any ``optional`` one, no other
    unless ``open`` (then the others are left to whoever reads them)."""

    def __init__(
        self, required: dict | None = None, optional: dict | None = None, open: bool = False
    ):
        self.required, self.optional, self.open = required or {}, optional or {}, open

    def check(self, value, where):
        if not isinstance(value, dict):
            _fail(where, "an object (a JSON dict)", value)
        for key in self.required:
            if key not in value:
                raise SchemaError(f"{where} lacks the key {key!r}")
        known = {**self.required, **self.optional}
        for key, item in value.items():
            if key in known:
                known[key].check(item, f"{where}.{key}")
            elif not self.open:
                raise SchemaError(
                    f"{where} holds the unknown key {_shown(key)}; known keys are "
                    f"{', '.join(sorted(known))}"
                )


class DictOf(Spec):
    """A dict of string keys (all in ``keys`` when given) to ``value`` items."""

    def __init__(self, value: Spec, keys: tuple | None = None):
        self.value, self.keys = value, keys

    def check(self, value, where):
        if not isinstance(value, dict):
            _fail(where, "an object (a JSON dict)", value)
        for key, item in value.items():
            if self.keys is not None and key not in self.keys:
                raise SchemaError(
                    f"{where} holds the unknown key {_shown(key)}; known keys are "
                    f"{', '.join(self.keys)}"
                )
            self.value.check(item, f"{where}.{key}")


class Layer(Spec):
    """``{"class_name", "config"}`` of one layer; a nested Sequential or functional model
    is checked all the way down."""

    def __init__(self, in_graph: bool):
        self.in_graph = in_graph

    def check(self, value, where):
        optional = {"name": STR, "inbound_nodes": ListOf(INBOUND_NODE)} if self.in_graph else {}
        required = {"class_name": STR, "config": Record(open=True)}
        if self.in_graph:
            required["name"] = optional.pop("name")
        Record(required, optional).check(value, where)
        model_spec = {"Sequential": SEQUENTIAL, "Functional": FUNCTIONAL}.get(value["class_name"])
        if model_spec is not None:
            model_spec.check(value["config"], f"{where}.config")


STR = Type(str, expected="a string")
BOOL = Type(bool, expected="true or false")
NUMBER = Type(int, float, expected="a finite number")
ANY_DICT = Record(open=True)
LAYER_REF = Tuple(STR, Int(0), Int(0))  # [layer name, node index, output index]
INBOUND_NODE = Record({"inputs": ListOf(LAYER_REF)}, {"multi": BOOL, "kwargs": ANY_DICT})
SEQUENTIAL = Record(
    {"layers": ListOf(Layer(in_graph=False))},
    {
        "name": Optional(STR),
        "trainable": BOOL,
        "input_shape": Optional(ListOf(Optional(Int(1)), max_length=64)),
    },
)
FUNCTIONAL = Record(
    {
        "layers": ListOf(Layer(in_graph=True)),
        "input_layers": ListOf(LAYER_REF),
        "output_layers": ListOf(LAYER_REF),
    },
    {
        "name": Optional(STR),
        "trainable": BOOL,
        "input_names": ListOf(STR),
        "output_names": ListOf(STR),
        "dict_outputs": BOOL,
    },
)
SAVED_OBJECT = Record({"class_name": STR}, {"config": ANY_DICT})


class CompileArgument(Spec):
    """A loss, metric or loss weight as compile() got it, in the form ``_serialize_spec``
    writes: a name or number, ``{"__object__": saved object}``, ``{"__dict__": {...}}``
    or a list of those."""

    def check(self, value, where):
        if value is None or isinstance(value, str):
            return
        if isinstance(value, list):
            ListOf(self, max_length=10_000).check(value, where)
        elif isinstance(value, dict) and "__dict__" in value:
            Record({"__dict__": DictOf(self)}).check(value, where)
        elif isinstance(value, dict):
            Record({"__object__": SAVED_OBJECT}).check(value, where)
        else:
            NUMBER.check(value, where)


COMPILE = Record(
    {"optimizer": AnyOf(STR, SAVED_OBJECT, expected="an optimizer name or a saved optimizer")},
    {"loss": CompileArgument(), "metrics": CompileArgument(), "loss_weights": CompileArgument()},
)
RNG_STATE = Record(
    {"bit_generator": STR, "state": ANY_DICT},
    {"has_uint32": Int(0, 1), "uinteger": Int(0, 2**32 - 1)},
)
TRAINING_STATE = Record({"epoch": Int(0, 10**9)})
CONFIG = Record(
    {"model": Layer(in_graph=False)},
    {
        "metadata": ANY_DICT,
        "compile": Optional(COMPILE),
        "rng_state": Optional(RNG_STATE),
        "training_state": Optional(TRAINING_STATE),
    },
)


class Sha256(Spec):
    def check(self, value, where):
        if not (
            isinstance(value, str)
            and len(value) == 64
            and all(c in "0123456789abcdef" for c in value)
        ):
            _fail(where, "a SHA-256 hex digest (64 lowercase hex digits)", value)


def metadata_spec(members: tuple, versions: tuple) -> Record:
    """``metadata.json`` of a file holding ``members`` (checksums of exactly those)."""
    return Record(
        {
            "format": Const("npkeras"),
            "format_version": Const(*versions),
            "sha256": DictOf(Sha256(), keys=members),
        },
        {"npkeras_version": STR, "numpy_version": STR, "python_version": STR, "created": STR},
    )
