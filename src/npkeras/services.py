"""Functions the upper floors of npkeras lend to the lower ones.

A model saves, summarises, traces and exports itself, and a checkpoint callback saves
the model it watches; but saving, the summary table, the tracer and the exporters live
on floors above models and callbacks, and import them. Instead of importing upwards,
each of those modules provides its function here as it is imported (``import npkeras``
imports them all), and the lower floor looks it up by name when called.

>>> @provide("greeting")
... def hello():
...     return "hello"
>>> use("greeting")()
'hello'
"""

from __future__ import annotations

_provided: dict = {}


def provide(name: str):
    """Decorator: make the function available as ``use(name)``."""

    def register(function):
        _provided[name] = function
        return function

    return register


def use(name: str):
    """The function provided under ``name``."""
    function = _provided.get(name)
    if function is None:
        raise RuntimeError(
            f"npkeras's `{name}` is not loaded: `import npkeras` loads every part of the "
            "library before models use it."
        )
    return function
