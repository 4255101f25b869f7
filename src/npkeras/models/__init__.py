"""Model classes and loading: ``Model``, ``Sequential``, ``load_model``, ``model_from_json``."""

from npkeras.models.model import Model
from npkeras.models.sequential import Sequential
from npkeras.saving.format import load_model, model_from_json

__all__ = ["Model", "Sequential", "load_model", "model_from_json"]
