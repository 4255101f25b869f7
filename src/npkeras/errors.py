"""The errors of reading saved models, at the bottom of the house: model configs (in
``models/``) and the file readers (in ``saving/``) raise the same family."""

from __future__ import annotations


class ModelFileError(ValueError):
    """The file is not a valid npkeras model file."""


class UnsafeModelFileError(ModelFileError):
    """The file holds something a model file never holds (code, odd paths, huge members)."""


class LayerConfigError(ModelFileError):
    """A saved layer's config is refused by the layer (bad or missing arguments)."""


#: what model and layer code raises when a saved file's values do not make sense to it
BAD_VALUE_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    ZeroDivisionError,
    NotImplementedError,
    RuntimeError,
    RecursionError,
)
