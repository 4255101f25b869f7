"""``keras.utils.pad_sequences``: ragged lists of sequences to one padded array."""

from __future__ import annotations

from npkeras.backend import xp


def pad_sequences(
    sequences,
    maxlen: int | None = None,
    dtype="int32",
    padding: str = "pre",
    truncating: str = "pre",
    value=0.0,
):
    """Pad (or truncate) each sequence to ``maxlen``, as Keras does.

    Args:
        sequences: a list of sequences (lists or arrays, possibly of vectors).
        maxlen: the output length (default: the longest sequence).
        dtype: the output type ("int32" by default, as in Keras: float values are cut).
        padding: "pre" or "post": pad before or after each sequence.
        truncating: "pre" or "post": drop values from the start or the end of longer
            sequences.
        value: the padding value.

    Returns:
        An array of shape ``(len(sequences), maxlen) + item_shape``.

    >>> pad_sequences([[1, 2, 3], [4, 5], [6]], maxlen=2).tolist()
    [[2, 3], [4, 5], [0, 6]]
    >>> pad_sequences([[1], [2, 3]], padding="post", value=-1).tolist()
    [[1, -1], [2, 3]]
    """
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood; expected "pre" or "post".')
    if truncating not in ("pre", "post"):
        raise ValueError(
            f'Truncating type "{truncating}" not understood; expected "pre" or "post".'
        )
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"`sequences` must be iterable with a length; received {sequences!r}.")
    arrays = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise ValueError(
                f"`sequences` must be a list of iterables. Found non-iterable: "
                f"{s!r} at position {i}."
            )
        arrays.append(xp.asarray(s))
    if maxlen is None:
        maxlen = max((len(a) for a in arrays), default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 0:
        raise ValueError(
            f"`maxlen` must be a non-negative integer or None; received maxlen={maxlen!r}."
        )
    item_shape = next((a.shape[1:] for a in arrays if len(a)), ())
    if xp.dtype(dtype).kind not in "USO" and isinstance(value, str):
        raise ValueError(
            f"`dtype` {dtype} is not compatible with `value`'s type {type(value)}; "
            "use dtype=object to pad with strings."
        )
    out = xp.full((len(arrays), maxlen) + item_shape, value, dtype=dtype)
    for i, a in enumerate(arrays):
        if not len(a) or not maxlen:
            continue
        kept = a[-maxlen:] if truncating == "pre" else a[:maxlen]
        if kept.shape[1:] != item_shape:
            raise ValueError(
                f"Shape of sample {kept.shape[1:]} of sequence at position {i} is "
                f"different from expected shape {item_shape}."
            )
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, maxlen - len(kept) :] = kept
    return out
