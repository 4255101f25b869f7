"""Explicit registry of classes a saved file may name.

A model file only ever holds class *names* and JSON configs. Loading maps each name
to a class that is built into npkeras, registered with :func:`register_serializable`,
or passed in ``custom_objects``; anything else is refused, so a file cannot make the
loader import a module or call a function of its choosing.
"""

from __future__ import annotations

import contextlib
import threading

from npkeras.naming import to_snake_case, unknown_name_error

_REGISTERED: dict[str, type] = {}
_scope = threading.local()


def register_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: make a custom layer, loss, activation... loadable by name.

    The class is stored as ``"package>Name"``.

    >>> import npkeras as keras
    >>> @keras.saving.register_serializable(package="Docs")
    ... class Doubler(keras.activations.Activation):
    ...     name = "doubler"
    ...     def __call__(self, x): return 2 * x
    ...     def grad(self, dy, x, y): return 2 * dy
    >>> keras.saving.get_registered_name(Doubler)
    'Docs>Doubler'
    """
    if ">" in package:
        raise ValueError(f"`package` may not contain '>'; received package={package!r}.")

    def decorator(cls):
        key = f"{package}>{name or cls.__name__}"
        _REGISTERED[key] = cls
        cls._registered_name = key  # classes and functions alike
        return cls

    return decorator


def get_registered_name(cls) -> str:
    """The name a class (or function) is saved under: its registered key, else its name."""
    return getattr(cls, "__dict__", {}).get("_registered_name", cls.__name__)


@contextlib.contextmanager
def custom_object_scope(*custom_objects):
    """Within the block, the given ``{name: class or function}`` dicts are also loadable
    (``keras.saving.custom_object_scope`` / ``CustomObjectScope``)."""
    previous = getattr(_scope, "objects", {})
    merged = dict(previous)
    for objects in custom_objects:
        merged.update(objects or {})
    _scope.objects = merged
    try:
        yield
    finally:
        _scope.objects = previous


CustomObjectScope = custom_object_scope
#: Keras 3's name for :func:`register_serializable`
register_keras_serializable = register_serializable


def get_custom_objects() -> dict:
    """The global ``{name: object}`` registry (mutable, as in Keras): registered classes and
    functions under ``"package>Name"``; entries added here are loadable by their key.

    >>> import npkeras as keras
    >>> @keras.saving.register_keras_serializable(package="Docs")
    ... def triple(x):
    ...     return 3 * x
    >>> keras.saving.get_custom_objects()["Docs>triple"] is triple
    True
    """
    return _REGISTERED


def get_registered_object(
    name: str, custom_objects: dict | None = None, module_objects: dict | None = None
):
    """The object registered (or in scope, or in the given dicts) under ``name``; None if none."""
    for table in (_custom_objects(), custom_objects or {}, module_objects or {}):
        if name in table:
            return table[name]
    return None


def lookup_function(name, kind: str):
    """The registered (or in-scope) function saved as ``name``; a clear error otherwise."""
    function = _custom_objects().get(name) if isinstance(name, str) else None
    if function is None or isinstance(function, type) or not callable(function):
        known = sorted(
            k for k, v in _custom_objects().items() if callable(v) and not isinstance(v, type)
        )
        raise ValueError(
            f"Unknown {kind} function {name!r}: it is not registered. Decorate it with "
            "@keras.saving.register_keras_serializable() or pass it in custom_objects={...} "
            f"when loading. Registered functions: {', '.join(known) or 'none'}."
        )
    return function


def registered_function_name(function):
    """The key a function is saved under, or None when it cannot be saved by name."""
    key = getattr(function, "_registered_name", None)
    if key is not None and _custom_objects().get(key) is function:
        return key
    for key, value in _custom_objects().items():
        if value is function:
            return key
    return None


def _custom_objects() -> dict:
    return {**_REGISTERED, **getattr(_scope, "objects", {})}


def serialize_object(obj) -> dict:
    """``{"class_name": ..., "config": obj.get_config()}`` for any configurable object."""
    return {"class_name": get_registered_name(type(obj)), "config": obj.get_config()}


def lookup_class(class_name: str, kind: str, builtins: dict, base: type | None = None) -> type:
    """The class a saved ``class_name`` stands for; a clear error when it is not allowed."""
    if not isinstance(class_name, str):
        raise ValueError(f"A saved {kind} names its class with a string; received {class_name!r}.")
    custom = _custom_objects()
    by_name = {cls.__name__: cls for cls in builtins.values()}
    cls = custom.get(class_name) or builtins.get(class_name) or by_name.get(class_name)
    if cls is None:
        cls = builtins.get(to_snake_case(class_name))
    if cls is None or not isinstance(cls, type) or (base is not None and not issubclass(cls, base)):
        known = sorted(
            set(by_name)
            | {
                k
                for k, v in custom.items()
                if base is None or (isinstance(v, type) and issubclass(v, base))
            }
        )
        raise ValueError(
            f"Unknown {kind} class {class_name!r}: it is neither built in nor registered. "
            f"Register it with @npkeras.saving.register_serializable() or pass it in "
            f"custom_objects={{...}}. Known {kind} classes: {', '.join(known)}."
        )
    return cls


def deserialize_registered(config: dict, kind: str, builtins: dict, base: type | None = None):
    """Build an object from ``{"class_name", "config"}`` through :func:`lookup_class`."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A saved {kind} must be a dict with 'class_name'; received {config!r}.")
    cls = lookup_class(config["class_name"], kind, builtins, base)
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise ValueError(f"The config of saved {kind} {config['class_name']!r} must be a dict.")
    if hasattr(cls, "from_config"):
        return cls.from_config(inner)
    return cls(**inner)


def resolve(identifier, kind: str, classes: dict, base: type, aliases: dict | None = None):
    """An object from an instance of ``base``, a name in ``classes`` (or ``aliases``),
    or a saved ``{"class_name", "config"}`` dict; the shared body of every ``get()``."""
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        aliases = aliases or {}
        key = aliases.get(identifier.lower(), identifier.lower())
        if key not in classes:
            raise unknown_name_error(kind, identifier, list(classes) + list(aliases))
        return classes[key]()
    if isinstance(identifier, dict):
        return deserialize_registered(identifier, kind, classes, base)
    raise TypeError(f"Could not interpret {kind} identifier: {identifier!r}")
