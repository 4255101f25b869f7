"""Model classes: the functional ``Model`` and ``Sequential``."""

from npkeras.models.model import Model
from npkeras.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
