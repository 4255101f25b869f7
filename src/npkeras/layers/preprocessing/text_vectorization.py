"""TextVectorization: strings to token ids or bag-of-words vectors, vocabulary by ``adapt``."""

from __future__ import annotations

import re

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.preprocessing.base import PreprocessingLayer, _batches, check_output_mode
from npkeras.layers.preprocessing.index_lookup import StringLookup

#: the characters Keras strips with standardize="lower_and_strip_punctuation"
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", None)
_SPLIT = ("whitespace", "character", None)


class TextVectorization(PreprocessingLayer):
    """Standardize, split and index text, as ``keras.layers.TextVectorization``.

    Args:
        max_tokens: the largest vocabulary, the mask "" and OOV "[UNK]" included.
        standardize: "lower_and_strip_punctuation" (default), "lower",
            "strip_punctuation", None, or a function ``str -> str``.
        split: "whitespace" (default), "character", None, or a function ``str -> list``.
        ngrams: None, an int n (1..n-grams) or a tuple of n-gram sizes.
        output_mode: "int" (token ids, 0-padded), "multi_hot", "count" or "tf_idf".
        output_sequence_length: for "int": pad or cut every row to this length
            (default: the longest row of the batch).
        pad_to_max_tokens: for the other modes: ``max_tokens`` columns always.
        vocabulary, idf_weights: a fixed vocabulary (and its idf weights) instead of adapt.
        sparse, ragged: must be False.
        encoding: the text encoding of bytes inputs.

    Inputs: a NumPy array of strings, shape ``(batch,)`` or ``(batch, 1)``.

    >>> import numpy as np
    >>> layer = TextVectorization(output_sequence_length=4)
    >>> layer.adapt(np.array(["The cat sat.", "The dog!"]))
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'the', 'sat', 'dog', 'cat']
    >>> layer(np.array(["the cat ran"])).tolist()
    [[2, 5, 1, 0]]
    """

    def __init__(
        self,
        max_tokens=None,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        ngrams=None,
        output_mode="int",
        output_sequence_length=None,
        pad_to_max_tokens=False,
        vocabulary=None,
        idf_weights=None,
        sparse=False,
        ragged=False,
        encoding="utf-8",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = f"TextVectorization layer '{self.name}'"
        if standardize not in _STANDARDIZE and not callable(standardize):
            raise ValueError(
                f"Unknown `standardize` for {owner}: expected one of "
                f"{_STANDARDIZE} or a callable. Received: standardize={standardize!r}"
            )
        if split not in _SPLIT and not callable(split):
            raise ValueError(
                f"Unknown `split` for {owner}: expected one of {_SPLIT} or a "
                f"callable. Received: split={split!r}"
            )
        self.output_mode = check_output_mode(
            owner, output_mode, ("int", "multi_hot", "count", "tf_idf")
        )
        if output_sequence_length is not None and output_mode != "int":
            raise ValueError(
                "`output_sequence_length` must not be set if `output_mode` is not "
                f"'int'. Received: output_sequence_length={output_sequence_length}"
            )
        if (
            ngrams is not None
            and not (isinstance(ngrams, int) and ngrams > 0)
            and not (
                isinstance(ngrams, (list, tuple))
                and all(isinstance(n, int) and n > 0 for n in ngrams)
            )
        ):
            raise ValueError(
                "`ngrams` must be None, a positive integer or a tuple of positive "
                f"integers. Received: ngrams={ngrams!r}"
            )
        if sparse or ragged:
            raise ValueError(f"{owner}: sparse and ragged outputs are not supported.")
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.split = split
        self.ngrams = tuple(ngrams) if isinstance(ngrams, (list, tuple)) else ngrams
        self.output_sequence_length = output_sequence_length
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.encoding = encoding
        self.sparse = self.ragged = False
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens,
            mask_token="",
            output_mode=output_mode,
            pad_to_max_tokens=pad_to_max_tokens,
            vocabulary=vocabulary,
            idf_weights=idf_weights,
            encoding=encoding,
            name=f"{self.name}_lookup",
        )

    # -- text to tokens ------------------------------------------------------------
    def _standardize(self, text: str) -> str:
        if callable(self.standardize):
            return self.standardize(text)
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.lower()
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = _PUNCTUATION.sub("", text)
        return text

    def _split(self, text: str) -> list:
        if callable(self.split):
            return list(self.split(text))
        if self.split == "whitespace":
            return text.split()
        if self.split == "character":
            return list(text)
        return [text]

    def _with_ngrams(self, tokens: list) -> list:
        if self.ngrams is None:
            return tokens
        sizes = range(1, self.ngrams + 1) if isinstance(self.ngrams, int) else self.ngrams
        return [" ".join(tokens[i : i + n]) for n in sizes for i in range(len(tokens) - n + 1)]

    def _tokenize(self, inputs) -> list:
        """One list of tokens per input string."""
        texts = xp.asarray(inputs)
        if texts.ndim == 2 and texts.shape[1] == 1:
            texts = texts[:, 0]
        if texts.ndim > 1:
            raise ValueError(
                f"TextVectorization layer '{self.name}' expects strings of shape "
                f"(batch,) or (batch, 1); received shape {texts.shape}."
            )
        if texts.dtype.kind not in "USO":
            raise TypeError(
                f"TextVectorization layer '{self.name}' expects string inputs; "
                f"received dtype {texts.dtype}."
            )
        rows = []
        for text in texts.reshape(-1).tolist():
            if isinstance(text, bytes):
                text = text.decode(self.encoding)
            rows.append(self._with_ngrams(self._split(self._standardize(str(text)))))
        return rows

    # -- call ----------------------------------------------------------------------
    @property
    def output_dtype(self):
        return "int64" if self.output_mode == "int" else backend.floatx()

    def transform(self, x):
        rows = self._tokenize(x)
        lookup = self._lookup_layer
        if self.output_mode == "int":
            length = self.output_sequence_length
            if length is None:
                length = max((len(r) for r in rows), default=0)
            out = xp.zeros((len(rows), length), "int64")
            for i, row in enumerate(rows):
                row = row[:length]
                if row:
                    out[i, : len(row)] = lookup.transform(xp.asarray(row, dtype=object))
            return out
        # bag of words: each row's tokens, padded with the mask "" (dropped by the lookup)
        width = max((len(r) for r in rows), default=0) or 1
        padded = xp.full((len(rows), width), "", dtype=object)
        for i, row in enumerate(rows):
            padded[i, : len(row)] = row
        return lookup.transform(padded)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0] if input_shape else None
        if self.output_mode == "int":
            return (batch, self.output_sequence_length)
        return (batch, self._lookup_layer._depth())

    # -- vocabulary ----------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and idf weights) from ``data``: strings, or batches of them."""
        lookup = self._lookup_layer
        lookup.reset_adapt_state()

        for batch in _batches(data, batch_size, steps):
            rows = self._tokenize(batch)
            width = max((len(r) for r in rows), default=0) or 1
            padded = xp.full((len(rows), width), "", dtype=object)
            for i, row in enumerate(rows):
                padded[i, : len(row)] = row
            lookup.update_adapt_state(padded)
        lookup.finalize_adapt_state()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights)

    def get_config(self):
        if callable(self.standardize) or callable(self.split):
            raise ValueError(
                f"TextVectorization layer '{self.name}' cannot be saved with a "
                "function as `standardize` or `split`; use the built-in names."
            )
        lookup = self._lookup_layer.get_config()
        return {
            **super().get_config(),
            "max_tokens": self.max_tokens,
            "standardize": self.standardize,
            "split": self.split,
            "ngrams": list(self.ngrams) if isinstance(self.ngrams, tuple) else self.ngrams,
            "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary": lookup["vocabulary"],
            "idf_weights": lookup["idf_weights"],
            "sparse": False,
            "ragged": False,
            "encoding": self.encoding,
        }
