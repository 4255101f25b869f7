"""Preprocessing layers: rescaling, category encoding, discretization, lookups, text."""

from npkeras.layers.preprocessing.category_encoding import CategoryEncoding
from npkeras.layers.preprocessing.discretization import Discretization
from npkeras.layers.preprocessing.index_lookup import IntegerLookup, StringLookup
from npkeras.layers.preprocessing.rescaling import Rescaling
from npkeras.layers.preprocessing.text_vectorization import TextVectorization

__all__ = [
           "CategoryEncoding",
           "Discretization",
           "IntegerLookup",
           "Rescaling",
           "StringLookup",
           "TextVectorization",
]
