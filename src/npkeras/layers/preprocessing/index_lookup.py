"""StringLookup and IntegerLookup: a vocabulary of tokens to integer indices and back.

Index layout (Keras's): with ``output_mode="int"`` and a ``mask_token``, index 0 is the
mask; then ``num_oov_indices`` out-of-vocabulary indices; then the vocabulary. In the
other modes the mask is dropped and the OOV indices come first.
"""

from __future__ import annotations

import collections
import zlib

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.preprocessing.base import (
    PreprocessingLayer,
    check_output_mode,
    encode,
    encoded_shape,
)

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class IndexLookup(PreprocessingLayer):
    """The shared logic of :class:`StringLookup` and :class:`IntegerLookup`."""

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token=None,
        vocabulary=None,
        vocabulary_dtype=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        pad_to_max_tokens=False,
        sparse=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = f"{type(self).__name__} layer '{self.name}'"
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 1
        ):
            raise ValueError(
                f"If set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens!r}"
            )
        if (
            isinstance(num_oov_indices, bool)
            or not isinstance(num_oov_indices, int)
            or num_oov_indices < 0
        ):
            raise ValueError(
                "`num_oov_indices` must be greater than or equal to 0. Received: "
                f"num_oov_indices={num_oov_indices!r}"
            )
        self.output_mode = check_output_mode(owner, output_mode, _MODES)
        if invert and output_mode != "int":
            raise ValueError(
                f"`output_mode` must be 'int' when `invert` is true. Received: "
                f"output_mode={output_mode!r}"
            )
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(
                "If pad_to_max_tokens is True, must set `max_tokens`. Received: "
                f"max_tokens={max_tokens}"
            )
        if sparse:
            raise ValueError(f"{owner}: sparse outputs are not supported; use sparse=False.")
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.vocabulary_dtype = vocabulary_dtype
        self.invert = bool(invert)
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse = False
        self._tokens: list = []
        self._index: dict = {}
        self.idf_weights = None
        self._counts = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif idf_weights is not None:
            raise ValueError("`idf_weights` needs a `vocabulary` of the same length.")

    # -- tokens --------------------------------------------------------------------
    def _keys(self, values):
        """Inputs as the vocabulary's Python type (str or int), in an object array."""
        raise NotImplementedError

    def _oov_start(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self):
        return self._oov_start() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices the layer produces, mask and OOV indices included."""
        return self._token_start() + len(self._tokens)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary, in index order (with the mask and OOV tokens by default)."""
        if not include_special_tokens:
            return list(self._tokens)
        return (
            [self.mask_token] * self._oov_start()
            + [self.oov_token] * self.num_oov_indices
            + list(self._tokens)
        )

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use ``vocabulary`` (a list or 1-D array; the mask and OOV tokens may lead it, in
        index order) and, for ``output_mode="tf_idf"``, its ``idf_weights``."""
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(
                "`idf_weights` should only be set if output_mode is 'tf_idf'. "
                f"Received: output_mode={self.output_mode} and idf_weights={idf_weights}"
            )
        if isinstance(vocabulary, str):
            raise ValueError(
                "npkeras does not read vocabulary files; pass the vocabulary as a "
                f"list (e.g. open('{vocabulary}').read().splitlines())."
            )
        tokens = list(self._keys(xp.asarray(vocabulary, dtype=object).reshape(-1)))
        if not tokens:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        specials = self.get_vocabulary()[: self._token_start()]
        found_specials = tokens[: len(specials)] == specials
        if found_specials:
            tokens = tokens[len(specials) :]
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(
                "The passed vocabulary has at least one repeated term. Please "
                f"uniquify your dataset. The repeated terms are: {repeated}"
            )
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(
                "Found reserved mask token at unexpected location in `vocabulary`. Either "
                "remove all mask and OOV tokens, or include them only at the start of the "
                f"vocabulary in precisely this order: {specials}. Received: "
                f"mask_token={self.mask_token!r}"
            )
        if self.invert and self.oov_token is not None and self.oov_token in tokens:
            raise ValueError(
                "Found reserved OOV token at unexpected location in `vocabulary`. Include it "
                f"only at the start, in this order: {specials}. Received: "
                f"oov_token={self.oov_token!r}"
            )
        size = self._token_start() + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(
                "Attempted to set a vocabulary larger than the maximum vocab size. "
                f"Received vocabulary size is {size}; `max_tokens` is {self.max_tokens}."
            )
        self._set_tokens(tokens)
        if idf_weights is not None:
            weights = xp.asarray(idf_weights, dtype="float64").reshape(-1)
            expected = len(tokens) + (len(specials) if found_specials else 0)
            if len(weights) != expected:
                raise ValueError(
                    "`idf_weights` must be the same length as vocabulary. "
                    f"len(idf_weights) is {len(weights)}; len(vocabulary) is {expected}"
                )
            if not found_specials:  # the special tokens get the mean weight
                weights = xp.concatenate([xp.full(self._token_start(), weights.mean()), weights])
            self._set_idf(weights)

    def _set_tokens(self, tokens):
        self._tokens = list(tokens)
        start = self._token_start()
        self._index = {token: start + i for i, token in enumerate(self._tokens)}

    def _set_idf(self, weights):
        depth = self._depth()
        if len(weights) < depth:  # pad_to_max_tokens: unused indices weigh 0
            weights = xp.concatenate([weights, xp.zeros(depth - len(weights))])
        self.idf_weights = weights.astype(backend.floatx())

    def _depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    # -- lookup --------------------------------------------------------------------
    @property
    def output_dtype(self):
        if self.output_mode != "int":
            return self.dtype if self.dtype and "float" in str(self.dtype) else backend.floatx()
        return object if self.invert else "int64"

    def _oov_index(self, token):
        """Index of an out-of-vocabulary token (several OOV indices: by hash)."""
        if self.num_oov_indices == 1:
            return self._oov_start()
        return self._oov_start() + self._hash(token) % self.num_oov_indices

    def _hash(self, token):
        raise NotImplementedError

    def _lookup(self, x):
        values = self._keys(x)
        unique, inverse = xp.unique(values.reshape(-1), return_inverse=True)
        table = xp.empty(len(unique), dtype="int64")
        missing = []
        for i, token in enumerate(unique.tolist()):
            if self.mask_token is not None and token == self.mask_token:
                table[i] = 0 if self.output_mode == "int" else -1
            elif token in self._index:
                table[i] = self._index[token]
            elif self.num_oov_indices == 0:
                missing.append(token)
            else:
                table[i] = self._oov_index(token)
        if missing:
            raise ValueError(
                "When `num_oov_indices=0` all inputs should be in vocabulary, found "
                f"OOV values {missing[:10]}, consider setting `num_oov_indices=1`."
            )
        return table[inverse].reshape(xp.shape(x))

    def _invert(self, x):
        vocabulary = self.get_vocabulary()
        ids = xp.asarray(x).astype("int64")
        table = xp.asarray(vocabulary + [self.oov_token], dtype=object)
        return table[xp.where((ids >= 0) & (ids < len(vocabulary)), ids, len(vocabulary))]

    def transform(self, x):
        if self.invert:
            return self._invert(x)
        if self.output_mode != "int" and not self.pad_to_max_tokens and not self._tokens:
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, "
                "you must set the layer's vocabulary before calling it. Either pass a "
                "`vocabulary` argument to the layer, or call `adapt` with some sample data."
            )
        ids = self._lookup(x)
        if self.output_mode == "int":
            return ids
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = encode(ids, mode, self._depth(), dtype=self.output_dtype)
        if self.output_mode == "tf_idf":
            out *= self.idf_weights
        return out

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        return encoded_shape(input_shape, mode, self._depth())

    # -- adapt ---------------------------------------------------------------------
    def reset_adapt_state(self):
        self._counts = collections.Counter()
        self._document_counts = collections.Counter()
        self._documents = 0

    def update_adapt_state(self, batch):
        values = self._keys(xp.asarray(batch))
        documents = values.reshape(-1, 1) if values.ndim <= 1 else values.reshape(len(values), -1)
        self._counts.update(documents.reshape(-1).tolist())
        if self.output_mode == "tf_idf":
            for row in documents.tolist():
                self._document_counts.update(set(row))
            self._documents += len(documents)

    def finalize_adapt_state(self):
        counts = self._counts
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        # most frequent first; ties broken by the tokens themselves, high to low (Keras)
        ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[: self.max_tokens - self._token_start()]
        self._set_tokens([token for token, _ in ranked])
        if self.output_mode == "tf_idf":
            document_counts = xp.asarray(
                [self._document_counts[t] for t in self._tokens], "float64"
            )
            idf = xp.log(1.0 + self._documents / (1.0 + document_counts))
            # the OOV (and mask) indices get the mean weight: their counts are unknown
            mean = idf.mean() if idf.size else 0.0
            self._set_idf(xp.concatenate([xp.full(self._token_start(), mean), idf]))
        self._counts = None

    # -- config --------------------------------------------------------------------
    def get_config(self):
        idf = None
        if self.output_mode == "tf_idf" and self.idf_weights is not None:
            start = self._token_start()
            idf = self.idf_weights[start : start + len(self._tokens)].tolist()
        return {
            **super().get_config(),
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype,
            "vocabulary": list(self._tokens) or None,
            "idf_weights": idf,
        }


class StringLookup(IndexLookup):
    """Map strings to integer indices through a vocabulary (given, or learned by ``adapt``).

    Args:
        max_tokens: the largest vocabulary size, mask and OOV indices included.
        num_oov_indices: indices for out-of-vocabulary strings (several: by a hash of
            the string; npkeras hashes with CRC-32, Keras with FarmHash, so which OOV
            index a string gets differs from Keras).
        mask_token: a string meaning "padding" (index 0 in "int" mode), or None.
        oov_token: the string returned for OOV indices by ``invert=True``.
        vocabulary: a list of strings.
        idf_weights: for ``output_mode="tf_idf"``, one weight per vocabulary entry.
        invert: map indices back to strings.
        output_mode: "int", "one_hot", "multi_hot", "count" or "tf_idf".
        pad_to_max_tokens: encode to ``max_tokens`` columns even with a smaller vocabulary.
        sparse: must be False.
        encoding: the text encoding of bytes inputs.

    Inputs: NumPy arrays of ``str`` (or ``object``/``bytes``).

    >>> import numpy as np
    >>> layer = StringLookup(vocabulary=["a", "b", "c"])
    >>> layer(np.array([["a", "c"], ["d", "b"]])).tolist()
    [[1, 3], [0, 2]]
    >>> layer.get_vocabulary()
    ['[UNK]', 'a', 'b', 'c']
    """

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token="[UNK]",
        vocabulary=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        pad_to_max_tokens=False,
        sparse=False,
        encoding="utf-8",
        **kwargs,
    ):
        self.encoding = encoding
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(
            max_tokens,
            num_oov_indices,
            mask_token,
            oov_token,
            vocabulary,
            "string",
            idf_weights,
            invert,
            output_mode,
            pad_to_max_tokens,
            sparse,
            **kwargs,
        )

    def _keys(self, values):
        values = xp.asarray(values)
        if values.dtype.kind == "S":
            values = xp.char.decode(values, self.encoding)
        elif values.dtype.kind == "O":
            values = xp.asarray(
                [
                    v.decode(self.encoding) if isinstance(v, bytes) else v
                    for v in values.reshape(-1)
                ],
                dtype=object,
            ).reshape(values.shape)
        elif values.dtype.kind not in "U":
            raise TypeError(
                f"StringLookup layer '{self.name}' expects string inputs; received "
                f"dtype {values.dtype}. Use IntegerLookup for integers."
            )
        return values.astype(object)

    def _hash(self, token):
        return zlib.crc32(token.encode(self.encoding))

    def get_config(self):
        config = super().get_config()
        config.pop("vocabulary_dtype")
        return {**config, "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Map integer values (ids, years, codes...) to contiguous indices through a vocabulary.

    Args as :class:`StringLookup`, with integer tokens: ``mask_token`` (default None),
    ``oov_token`` (default -1) and ``vocabulary_dtype`` ("int64"). With several OOV
    indices a value ``v`` goes to OOV index ``v % num_oov_indices`` (Keras's default).

    >>> import numpy as np
    >>> layer = IntegerLookup(vocabulary=[12, 36, 1138, 42])
    >>> layer(np.array([[12, 1138, 42], [42, 1000, 36]])).tolist()
    [[1, 3, 4], [4, 0, 2]]
    """

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token=-1,
        vocabulary=None,
        vocabulary_dtype="int64",
        idf_weights=None,
        invert=False,
        output_mode="int",
        sparse=False,
        pad_to_max_tokens=False,
        **kwargs,
    ):
        if vocabulary_dtype not in ("int32", "int64"):
            raise ValueError(
                "`vocabulary_dtype` of IntegerLookup must be 'int32' or 'int64'. "
                f"Received: vocabulary_dtype={vocabulary_dtype!r}"
            )
        super().__init__(
            max_tokens,
            num_oov_indices,
            mask_token,
            oov_token,
            vocabulary,
            vocabulary_dtype,
            idf_weights,
            invert,
            output_mode,
            pad_to_max_tokens,
            sparse,
            **kwargs,
        )

    def _keys(self, values):
        values = xp.asarray(values)
        if values.dtype.kind == "O":
            values = values.astype("int64")
        if values.dtype.kind == "f":
            if values.size and not bool((values == xp.round(values)).all()):
                raise ValueError(
                    f"IntegerLookup layer '{self.name}' expects integer inputs; "
                    "received fractional values."
                )
        elif values.dtype.kind not in "iub":
            raise TypeError(
                f"IntegerLookup layer '{self.name}' expects integer inputs; received "
                f"dtype {values.dtype}. Use StringLookup for strings."
            )
        return values.astype("int64").astype(object)

    def _hash(self, token):
        return int(token)
