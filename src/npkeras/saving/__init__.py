"""Saving and loading models: the safe ``.npkeras`` format and the class registry."""

from npkeras.saving.format import (load_model, load_weights, model_from_json, model_to_json,
                                   save_model, save_weights)
from npkeras.saving.graph import LayerConfigError
from npkeras.saving.keras_h5 import load_keras_weights, save_keras_weights
from npkeras.saving.registry import (custom_object_scope, get_registered_name,
                                     register_serializable)
from npkeras.saving.safety import (ChecksumMismatchError, LoadLimits, ModelFileError,
                                   UnsafeModelFileError, UnsupportedFormatVersionError)

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_to_json",
           "model_from_json", "load_keras_weights", "save_keras_weights", "register_serializable",
           "custom_object_scope",
           "get_registered_name", "ModelFileError", "UnsafeModelFileError",
           "ChecksumMismatchError", "UnsupportedFormatVersionError",
           "LoadLimits", "LayerConfigError"]
