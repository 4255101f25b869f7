"""Model classes and loading: ``Model``, ``Sequential``, ``load_model``, ``model_from_json``."""

from npkeras import services
from npkeras.models.model import Model
from npkeras.models.sequential import Sequential

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json"]


def load_model(
    filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True, **kwargs
):
    """A model saved with ``model.save`` (see :func:`npkeras.saving.load_model`)."""
    return services.use("load_model")(
        filepath, custom_objects=custom_objects, compile=compile, **kwargs
    )


def model_from_json(json_string, custom_objects=None):
    """A model rebuilt from ``model.to_json()`` (see :func:`npkeras.saving.model_from_json`)."""
    return services.use("model_from_json")(json_string, custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, **kwargs):
    """A new model with ``model``'s architecture and freshly initialised weights
    (``keras.models.clone_model``): every layer is rebuilt from its config.

    >>> import npkeras as keras
    >>> model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    >>> twin = clone_model(model)
    >>> twin.output_shape, twin is model
    ((None, 2), False)
    """
    if input_tensors is not None or clone_function is not None:
        raise ValueError(
            "npkeras's clone_model rebuilds the model from its config; `input_tensors` and "
            "`clone_function` are not supported. Build the new graph with the functional API.")
    return type(model).from_config(model.get_config())
