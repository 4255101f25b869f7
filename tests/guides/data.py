"""Local stand-ins for the datasets the Keras guides download (MNIST, IMDB, FordA...)."""

import numpy as np
from sklearn.datasets import load_digits


def digits(flat=True):
    """scikit-learn's 8x8 digits as ((x_train, y_train), (x_test, y_test)), like mnist.load_data.

    Pixels are scaled to [0, 1] like the guides' `x / 255`; 1,500 train and 297 test images.
    """
    data = load_digits()
    images = (data.images / 16.0).astype("float32")
    x = images.reshape(len(images), 64) if flat else images[..., None]
    y = data.target.astype("int64")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1500], y[:1500]), (x[1500:], y[1500:])
