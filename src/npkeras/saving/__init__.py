"""Saving and loading: the class registry (and, later, the model file format)."""

from npkeras.saving.registry import (custom_object_scope, get_registered_name,
                                     register_serializable)

__all__ = ["register_serializable", "custom_object_scope", "get_registered_name"]
