"""CategoryEncoding: integer categories to one-hot, multi-hot or count vectors."""

from __future__ import annotations

from npkeras import backend
from npkeras.layers.preprocessing.base import (
    ENCODINGS,
    PreprocessingLayer,
    check_output_mode,
    encode,
    encoded_shape,
    integer_array,
)


class CategoryEncoding(PreprocessingLayer):
    """Encode integer category ids in ``[0, num_tokens)``.

    Args:
        num_tokens: the number of categories.
        output_mode: "multi_hot" (default: 1 for each id present in a sample's row),
            "one_hot" (one vector per id) or "count" (occurrences per id).
        sparse: must be False (dense arrays only).

    Call arguments:
        count_weights: weights of each input id for ``output_mode="count"``.

    Shapes: one_hot ``(batch,)`` or ``(batch, 1)`` -> ``(batch, num_tokens)``;
    multi_hot/count ``(batch, k)`` -> ``(batch, num_tokens)``.

    >>> import numpy as np
    >>> CategoryEncoding(num_tokens=4, output_mode="one_hot")(np.array([3, 0])).tolist()
    [[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    >>> CategoryEncoding(4, output_mode="count")(np.array([[0, 1, 1], [3, 3, 2]])).tolist()
    [[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0]]
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        owner = f"CategoryEncoding layer '{self.name}'"
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 1:
            raise ValueError(
                f"Received an invalid value for `num_tokens` of {owner}, expected "
                f"a positive integer. Received: num_tokens={num_tokens!r}"
            )
        if sparse:
            raise ValueError(f"{owner}: sparse outputs are not supported; use sparse=False.")
        self.num_tokens = num_tokens
        self.output_mode = check_output_mode(owner, output_mode, ENCODINGS)
        self.sparse = False

    @property
    def output_dtype(self):
        return self.dtype or backend.floatx()

    def forward(self, x, training=False, count_weights=None):
        self.cache = x.shape
        ids = integer_array(x, f"CategoryEncoding layer '{self.name}'")
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= self.num_tokens):
            raise ValueError(
                f"Input values must be in the range 0 <= values < num_tokens with "
                f"num_tokens={self.num_tokens}. Received: values between {int(ids.min())} "
                f"and {int(ids.max())} (layer '{self.name}')."
            )
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(
                "`count_weights` is only used with output_mode='count'; received "
                f"output_mode={self.output_mode!r}."
            )
        return encode(ids, self.output_mode, self.num_tokens, count_weights, self.output_dtype)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }
