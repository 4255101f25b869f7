"""Name lookup helpers shared by every ``get(identifier)`` function."""

from __future__ import annotations

import difflib
import re


def to_snake_case(name: str) -> str:
    """'BatchNormalization' -> 'batch_normalization'."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unknown_name_error(kind: str, name: str, valid) -> ValueError:
    """A ValueError naming the unknown ``name``, the valid ones and the closest match."""
    valid = sorted(valid)
    close = difflib.get_close_matches(str(name).lower(), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(f"Unknown {kind}: {name!r}.{hint} Valid {kind}s are: {', '.join(valid)}.")


_counters: dict[str, int] = {}


def unique_name(base: str) -> str:
    """Keras-style automatic names: 'dense', 'dense_1', 'dense_2', ..."""
    count = _counters.get(base, 0)
    _counters[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names() -> None:
    """Forget automatic names (``keras.backend.clear_session`` in Keras)."""
    _counters.clear()
