"""Symbolic tensors and graph nodes: what calling a layer on ``keras.Input`` records."""

from __future__ import annotations

from npkeras import backend


def format_shape(shape) -> str:
    """``(None, 3)`` style, with a trailing comma for one dimension."""
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


class KerasTensor:
    """A placeholder for an array in a layer graph: its shape (batch axis None), dtype and
    origin (the node that makes it)."""

    def __init__(
        self, shape, node=None, index: int = 0, name: str | None = None, dtype: str | None = None
    ):
        self.shape = tuple(shape)
        self.node = node
        self.index = index
        self.name = name
        self.dtype = dtype or backend.floatx()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        origin = self.node.layer.name if self.node is not None else "?"
        return (
            f"<KerasTensor shape={format_shape(self.shape)}, dtype={self.dtype}, from '{origin}'>"
        )

    __hash__ = object.__hash__


class Node:
    """One call of a layer in a graph: the tensors it read, the tensors it made, and the
    call's other arguments (``training``, constants, ...)."""

    def __init__(self, layer, inputs, multi_input: bool, call_kwargs=None):
        self.layer = layer
        self.inputs = list(inputs)
        self.multi_input = multi_input
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs: list[KerasTensor] = []
