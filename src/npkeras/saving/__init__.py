"""Saving and loading models: the safe ``.npkeras`` format and the class registry.

``model.save("model.keras")`` writes npkeras's own zip format (config.json, weights.npz,
optimizer.npz, metadata.json) under the ``.keras`` name the program asked for, so Keras
programs run unchanged; ``keras.models.load_model("model.keras")`` of npkeras reads it
back. It is not Keras's ``.keras`` format: Keras cannot read it, and npkeras does not
read Keras's ``.keras`` files (load Keras weights from ``.weights.h5`` instead, which
``save_weights``/``load_weights`` read and write in Keras 3's layout).
"""

from npkeras.errors import LayerConfigError
from npkeras.registry import custom_object_scope, get_registered_name, register_serializable
from npkeras.saving.format import load_model, model_from_json, model_to_json, save_model
from npkeras.saving.keras_h5 import load_keras_weights, save_keras_weights
from npkeras.saving.safety import (
    ChecksumMismatchError,
    LoadLimits,
    ModelFileError,
    UnsafeModelFileError,
    UnsupportedFormatVersionError,
)
from npkeras.saving.weights import load_weights, save_weights

__all__ = [
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
    "model_to_json",
    "model_from_json",
    "load_keras_weights",
    "save_keras_weights",
    "register_serializable",
    "custom_object_scope",
    "get_registered_name",
    "ModelFileError",
    "UnsafeModelFileError",
    "ChecksumMismatchError",
    "UnsupportedFormatVersionError",
    "LoadLimits",
    "LayerConfigError",
]
from npkeras.registry import (  # noqa: E402
    CustomObjectScope,
    get_custom_objects,
    get_registered_object,
    register_keras_serializable,
)
from npkeras.saving.serialization import deserialize_keras_object, serialize_keras_object  # noqa: E402

__all__ += [
    "register_keras_serializable",
    "get_custom_objects",
    "get_registered_object",
    "CustomObjectScope",
    "serialize_keras_object",
    "deserialize_keras_object",
]
