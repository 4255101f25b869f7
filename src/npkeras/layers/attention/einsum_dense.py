"""EinsumDense: a dense layer whose product with the kernel is an Einstein summation."""

from __future__ import annotations

import re

from npkeras import activations, constraints, initializers, regularizers
from npkeras.backend import xp
from npkeras.layers import activation_functions
from npkeras.layers.base import DEFAULT_BACKWARD, Layer

_EQUATION = re.compile(r"^([a-zA-Z.]+),([a-zA-Z]+)->([a-zA-Z.]+)$")


def parse_equation(owner, equation):
    """``(input_spec, kernel_spec, output_spec)`` of ``equation``, each a string where the
    ellipsis, if any, leads the input and output specs ("...b,bc->...c")."""
    match = _EQUATION.match(equation.replace(" ", "")) if isinstance(equation, str) else None
    if match is None:
        raise ValueError(
            f"Received an invalid value for `equation` of {owner}, expected a string of the "
            f"form 'ab,bc->ac' (one input, one kernel, one output). Received: "
            f"equation={equation!r}"
        )
    specs = match.groups()
    for spec in (specs[0], specs[2]):
        if "." in spec and (not spec.startswith("...") or "." in spec[3:]):
            raise ValueError(
                f"{owner} supports an ellipsis only at the start of the input and output "
                f"specs ('...b,bc->...c'). Received: equation={equation!r}"
            )
    return specs


class EinsumDense(Layer):
    """A dense layer computing ``activation(einsum(equation, inputs, kernel) + bias)``.

    Args:
        equation: ``"ab,bc->ac"``-style equation; the first operand is the input (its
            first letter, or a leading ``...``, covers the batch), the second the kernel.
        output_shape: the output's shape without the batch axis (or the axes the
            ellipsis covers); ``None`` entries take the input's size of that letter.
        activation: applied to the result (default linear).
        bias_axes: output letters the bias varies along (``"de"``); None for no bias.
        kernel_initializer, bias_initializer: glorot_uniform, zeros.
        kernel_regularizer, bias_regularizer: weight penalties.
        kernel_constraint, bias_constraint: projections after every optimizer step.

    Shapes: the kernel takes, per letter, the input's size when the input has the letter,
    else the output's; the bias spans the output from its first bias letter to the end,
    with size 1 on letters not in ``bias_axes`` (Keras's layout).

    >>> import numpy as np
    >>> layer = EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c")
    >>> layer(np.ones((2, 3))).shape, layer.params["kernel"].shape
    ((2, 4), (3, 4))
    """

    def __init__(
        self,
        equation,
        output_shape,
        activation=None,
        bias_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = f"EinsumDense layer '{self.name}'"
        self.equation = equation
        self._specs = parse_equation(owner, equation)
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        self.partial_output_shape = tuple(output_shape)
        self.bias_axes = bias_axes
        if bias_axes is not None:
            missing = [c for c in bias_axes if c not in self._specs[2]]
            if missing:
                raise ValueError(
                    f"Received an invalid value for `bias_axes` of {owner}: every bias axis "
                    f"must be a letter of the output spec '{self._specs[2]}'. Received: "
                    f"bias_axes={bias_axes!r}"
                )
        if lora_rank is not None:
            raise ValueError(f"{owner}: LoRA (lora_rank) is not supported.")
        self.activation = activation_functions.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        in_spec, kernel_spec, out_spec = self._specs
        self._dx_equation = f"{out_spec},{kernel_spec}->{in_spec}"
        self._dkernel_equation = f"{in_spec},{out_spec}->{kernel_spec}"

    def _sizes(self, input_shape):
        """Size of every letter, from the input shape and ``output_shape``."""
        in_spec, kernel_spec, out_spec = self._specs
        letters = in_spec.replace("...", "")
        sizes = dict(zip(letters, tuple(input_shape)[len(input_shape) - len(letters) :]))
        out_letters = out_spec.replace("...", "")
        given = self.partial_output_shape
        owner = f"EinsumDense layer '{self.name}'"
        covered = out_letters[len(out_letters) - len(given) :] if given else ""
        if len(given) > len(out_letters):
            raise ValueError(
                f"{owner}: `output_shape` {given} has more axes than the output spec "
                f"'{out_spec}' can hold."
            )
        for letter, size in zip(covered, given):
            if size is not None:
                if letter in sizes and sizes[letter] is not None and sizes[letter] != size:
                    raise ValueError(
                        f"{owner}: output axis '{letter}' has size {size} in `output_shape` "
                        f"but {sizes[letter]} in the input shape {tuple(input_shape)}."
                    )
                sizes[letter] = size
        for letter in kernel_spec:
            if sizes.get(letter) is None:
                raise ValueError(
                    f"{owner} cannot size kernel axis '{letter}' of '{self.equation}' from "
                    f"input shape {tuple(input_shape)} and output_shape {given}."
                )
        return sizes

    def build(self, input_shape):
        sizes = self._sizes(input_shape)
        _, kernel_spec, out_spec = self._specs
        self.add_weight(
            "kernel",
            tuple(sizes[c] for c in kernel_spec),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.bias_axes is not None:
            letters = out_spec.replace("...", "")
            first = min(letters.index(c) for c in self.bias_axes)
            shape = tuple(sizes[c] if c in self.bias_axes else 1 for c in letters[first:])
            self.add_weight("bias", shape, self.bias_initializer,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape):
        sizes = self._sizes(input_shape)
        in_spec, _, out_spec = self._specs
        letters = out_spec.replace("...", "")
        lead = ()
        if out_spec.startswith("..."):
            lead = tuple(input_shape)[: len(input_shape) - len(in_spec.replace("...", ""))]
        return lead + tuple(sizes.get(c) for c in letters)

    def forward(self, x, training=False):
        z = xp.einsum(self.equation, x, self.params["kernel"], optimize=True)
        if self.bias_axes is not None:
            z += self.params["bias"]
        y = self.activation(z)
        self.cache = (x, z, y)
        return y

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        x, z, y = self.cache
        dz = (
            dy
            if isinstance(self.activation, activations.Linear)
            else self.activation.grad(dy, z, y)
        )
        if "bias" in self.params:
            bias = self.params["bias"]
            lead = dz.ndim - bias.ndim
            axes = tuple(range(lead)) + tuple(
                lead + i for i, size in enumerate(bias.shape) if size == 1
            )
            self.grads["bias"] += dz.sum(axis=axes).reshape(bias.shape)
        self.grads["kernel"] += xp.einsum(self._dkernel_equation, x, dz, optimize=True)
        if not ctx.need_input_grad:
            return None
        return xp.einsum(self._dx_equation, dz, self.params["kernel"], optimize=True)

    def get_config(self):
        return {
            **super().get_config(),
            "equation": self.equation,
            "output_shape": list(self.partial_output_shape),
            "activation": activation_functions.serialize(
                self.activation, f"EinsumDense layer '{self.name}'"
            ),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }
