"""Model classes and loading: ``Model``, ``Sequential``, ``load_model``, ``model_from_json``."""

from npkeras import services
from npkeras.models.model import Model
from npkeras.models.sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "model_from_json"]


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
