"""``keras.preprocessing`` under Keras 3's names: the ``image`` and ``sequence`` helpers
and the dataset builders (the same functions as in ``keras.utils``).

>>> import npkeras as keras
>>> keras.preprocessing.sequence.pad_sequences([[1, 2], [3]]).tolist()
[[1, 2], [0, 3]]
"""

from npkeras.preprocessing import image, sequence
from npkeras.utils.datasets import timeseries_dataset_from_array
from npkeras.utils.directory_datasets import (
    image_dataset_from_directory,
    text_dataset_from_directory,
)

__all__ = [
    "image",
    "sequence",
    "image_dataset_from_directory",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
]
