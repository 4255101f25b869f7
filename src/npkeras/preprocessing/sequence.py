"""``keras.preprocessing.sequence``: padding ragged sequences to one array."""

from npkeras.utils.sequences import pad_sequences

__all__ = ["pad_sequences"]
