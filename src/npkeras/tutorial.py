"""The tutorial's own classes, with its own signatures, running on npkeras's math.

"How to Create a Keras-Style Neural Network from Scratch" builds ``Layer``, ``Dense``,
``Activation``, ``Sequential``, ``Loss`` and ``MSE`` on NumPy. This module keeps those
names, arguments and the tutorial's column-major data (one column per sample), so the
tutorial's code runs unchanged with ``from npkeras.tutorial import *``; but every
number is computed by the full library: the dense connection is a
:class:`npkeras.layers.Dense`, the activations are :mod:`npkeras.activations`, the loss
is :class:`npkeras.losses.MeanSquaredError`. Each class's docstring names its Keras
counterpart, and ``docs/from-tutorial-to-keras.md`` walks from one to the other.

Where the tutorial's listing differs from the chain rule, this module follows the chain
rule and says so in the docstring (softmax's axis, the input gradient of a layer).

>>> import numpy as np
>>> from npkeras.tutorial import Dense, MSE, Sequential
>>> model = Sequential()
>>> model.add(Dense(1, 2))
>>> model.compile_(MSE())
>>> X = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 1.0]])   # 2 features x 3 samples
>>> model.forward_pass(X).shape                         # 1 output x 3 samples
(1, 3)
"""

from __future__ import annotations

from npkeras import activations, initializers, layers, losses
from npkeras.backend import host_xp

__all__ = ["MSE", "Activation", "Dense", "Layer", "Loss", "Sequential"]

#: the tutorial's activation names and the npkeras activation behind each
_ACTIVATIONS = {"relu": "relu", "softmax": "softmax", "none": "linear"}


def _uniform_0_1():
    # the tutorial draws weights and biases with np.random.rand: uniform on [0, 1)
    return initializers.RandomUniform(0.0, 1.0)


class Activation:
    """The tutorial's activation: ``Activation("relu" | "softmax" | "none")``.

    Counterpart: :mod:`npkeras.activations` (``keras.activations.get("relu")``), whose
    objects have ``__call__(x)`` and ``grad(dy, x, y)``. Arrays here are column-major
    like the tutorial's: ``(neurons, samples)``.

    Softmax normalises each sample's outputs (down a column). The tutorial's listing
    normalises along axis 1, which in its column-major arrays runs across samples;
    Keras's softmax, used here, normalises over the neurons of one sample.

    Args:
        func: "relu", "softmax" or "none".

    >>> import numpy as np
    >>> Activation("relu").activate(np.array([[-1.0, 2.0]])).tolist()
    [[0.0, 2.0]]
    """

    def __init__(self, func="none"):
        if func not in _ACTIVATIONS:
            raise ValueError(
                f"The tutorial's Activation knows {', '.join(map(repr, _ACTIVATIONS))}; received "
                f"func={func!r}. For other activations use the Keras API: "
                f"keras.layers.Dense(units, activation={func!r})."
            )
        self.func = func
        self.activation = activations.get(_ACTIVATIONS[func])

    def activate(self, X):
        """The activation of ``X`` (column-major: neurons x samples)."""
        return self.activation(host_xp.asarray(X, dtype="float64").T).T

    def activate_derivative(self, X):
        """d activation / d input, elementwise, from the activation's OUTPUT ``X``.

        For softmax this is the Jacobian's diagonal ``s * (1 - s)``; a layer's backward
        uses the whole Jacobian (``activations.Softmax.grad``). The tutorial's listing
        returns ``X`` itself there.
        """
        X = host_xp.asarray(X, dtype="float64")
        if self.func == "softmax":
            return X * (1.0 - X)
        # relu's and linear's derivatives need only the output: grad(1, x, y)
        return self.activation.grad(host_xp.ones_like(X), None, X)


class Layer:
    """The tutorial's layer base: ``weights`` ``(output_size, input_size)``, ``bias``
    ``(output_size, 1)``, both drawn uniformly from [0, 1) as the tutorial does.

    Counterpart: :class:`npkeras.layers.Layer`. The weights live in a
    :class:`npkeras.layers.Dense` (``self.keras_layer``), whose kernel is the transpose
    ``(input_size, output_size)``; ``weights`` and ``bias`` are views of its arrays, so
    writing to them changes the Keras layer and the other way round.

    Args:
        output_size: number of neurons.
        input_size: number of inputs (features, or neurons of the previous layer).
        activation: "relu", "softmax" or "none".
    """

    def __init__(self, output_size, input_size, activation="none"):
        self._activation = Activation(activation)
        # float64 like the tutorial's NumPy arrays; Keras's default would be float32
        self.keras_layer = layers.Dense(
            output_size,
            activation=self._activation.activation,
            kernel_initializer=_uniform_0_1(),
            bias_initializer=_uniform_0_1(),
            dtype="float64",
        )
        self.keras_layer.build((None, input_size))
        self.keras_layer.built = True
        self.input_size = int(input_size)
        self.output = None

    @property
    def weights(self):
        """``(output_size, input_size)``: a view of the Keras kernel, transposed."""
        return self.keras_layer.params["kernel"].T

    @weights.setter
    def weights(self, value):
        self.keras_layer.params["kernel"][...] = host_xp.asarray(value).T

    @property
    def bias(self):
        """``(output_size, 1)``: a view of the Keras bias as a column."""
        return self.keras_layer.params["bias"].reshape(-1, 1)

    @bias.setter
    def bias(self, value):
        self.keras_layer.params["bias"][...] = host_xp.asarray(value).reshape(-1)

    def activate(self, X):
        return self._activation.activate(X)

    def activation_derivative(self):
        return self._activation.activate_derivative(self.output)


class Dense(Layer):
    """The tutorial's dense layer: ``Dense(output_size, input_size, activation="none")``.

    Counterpart: ``keras.layers.Dense(units, activation=...)``, which infers the input
    size from the data and takes row-major data ``(samples, features)``.

    ``forward_pass(data)`` takes ``(input_size, samples)`` and returns
    ``(output_size, samples)``: the Keras layer's forward on the transposed data.
    ``backward_pass(loss_gradient, learning_rate)`` runs the Keras layer's backward
    (dL/dW = x.T @ dL/dz, dL/db = column sums of dL/dz, dL/dx = dL/dz @ W.T) and then
    the plain gradient-descent step ``W -= learning_rate * dL/dW`` that
    ``keras.optimizers.SGD(learning_rate)`` applies. The input gradient uses the weights
    of the forward pass, as the chain rule asks; the tutorial's listing computes it
    after the update.

    >>> import numpy as np
    >>> layer = Dense(2, 3, "relu")
    >>> layer.weights.shape, layer.bias.shape
    ((2, 3), (2, 1))
    >>> layer.forward_pass(np.ones((3, 5))).shape
    (2, 5)
    """

    def __init__(self, output_size, input_size, activation="none"):
        Layer.__init__(self, output_size, input_size, activation)

    def forward_pass(self, data):
        self.input = host_xp.asarray(data, dtype="float64")
        if self.input.ndim != 2 or self.input.shape[0] != self.input_size:
            raise ValueError(
                f"Dense(output_size={self.keras_layer.units}, input_size={self.input_size}) "
                f"expects data of shape ({self.input_size}, n_samples), one column per sample; "
                f"received shape {self.input.shape}. Transpose row-major data with X.T."
            )
        self.output = self.keras_layer.forward(self.input.T).T
        return self.output

    def backward_pass(self, loss_gradient, learning_rate):
        layer = self.keras_layer
        layer.zero_grads()
        dy = host_xp.asarray(loss_gradient, dtype="float64")
        input_gradient = layer.backward(host_xp.ascontiguousarray(dy.T)).T
        for name in layer.params:  # gradient descent: w -= learning_rate * dL/dw
            layer.params[name] -= learning_rate * layer.grads[name]
        return input_gradient


class Sequential:
    """The tutorial's network: ``add``, ``compile_(loss)``, ``fit(X, Y, epochs,
    learning_rate)``, ``predict(X)``, ``coef()``.

    Counterpart: :class:`npkeras.Sequential` (``model.compile(optimizer, loss)``,
    ``model.fit(x, y, epochs, batch_size)``). Here ``fit`` takes column-major ``X``
    ``(features, samples)`` and runs full-batch gradient descent, one step per epoch,
    printing the loss every 100th epoch; ``predict`` takes row-major ``X`` (as the
    tutorial's does) and returns the rounded mean of the output neurons per sample.

    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0, 3.0, 4.0]])  # 1 feature x 4 samples; learn y = 2x
    >>> model = Sequential()
    >>> model.add(Dense(1, 1))
    >>> model.compile_(MSE())
    >>> model.fit(X, 2 * X[0], epochs=500, learning_rate=0.05)  # doctest: +ELLIPSIS
    Epoch 100/500, Loss: ...
    >>> model.predict(np.array([[10.0]]))
    [20]
    """

    def __init__(self):
        self._layers = []
        self._loss = None

    def add(self, layer):
        self._layers.append(layer)

    def forward_pass(self, data):
        output = data
        for layer in self._layers:
            output = layer.forward_pass(output)
        return output

    def backward_pass(self, loss_gradient, learning_rate):
        for layer in reversed(self._layers):
            loss_gradient = layer.backward_pass(loss_gradient, learning_rate)

    def compile_(self, loss):
        self._loss = loss

    def fit(self, X, Y, epochs, learning_rate):
        if self._loss is None:
            raise RuntimeError("Call compile_(loss) before fit(), e.g. model.compile_(MSE()).")
        X = host_xp.asarray(X)
        Y = host_xp.asarray(Y)
        for epoch in range(1, epochs + 1):
            output = self.forward_pass(X)
            loss_gradient = self._loss.gradient(output, Y)
            self.backward_pass(loss_gradient, learning_rate)
            loss_value = self._loss.calculate(output, Y)
            if epoch % 100 == 0:
                print(f"Epoch {epoch}/{epochs}, Loss: {loss_value}")

    def predict(self, X):
        pred = self.forward_pass(host_xp.asarray(X).T)
        return [round(float(value)) for value in host_xp.mean(pred, axis=0)]

    def coef(self):
        """(weights, bias) of the last layer."""
        return self._layers[-1].weights, self._layers[-1].bias


class Loss:
    """The tutorial's loss interface: ``calculate(output, y)`` and ``gradient(output, y)``.

    Counterpart: :class:`npkeras.losses.Loss` (``loss(y_true, y_pred)`` and
    ``value_and_grad``); note Keras puts ``y_true`` first.
    """

    def calculate(self, output, y):
        raise NotImplementedError

    def gradient(self, output, y):
        raise NotImplementedError


def _targets(loss, output, Y):
    """``Y`` (one value per sample, or one row per output neuron) as ``output``'s shape."""
    output = host_xp.asarray(output, dtype="float64")
    return output, loss.prepare_targets(
        host_xp.broadcast_to(host_xp.asarray(Y), output.shape), output
    )


class MSE(Loss):
    """The tutorial's mean squared error on column-major outputs ``(neurons, samples)``.

    Counterpart: ``keras.losses.MeanSquaredError`` (``loss="mse"``). The tutorial's
    value is half of Keras's: ``mean((output - Y)**2 / 2)``. Its gradient,
    ``(output - Y) / n_samples``, treats each output neuron as its own regression
    (the sum over neurons of each neuron's mean), which is half the gradient of
    ``MeanSquaredError(reduction="sum")`` over the rows of the column-major arrays.

    >>> import numpy as np
    >>> MSE().calculate(np.array([[1.0, 3.0]]), np.array([0.0, 0.0]))
    2.5
    >>> MSE().gradient(np.array([[1.0, 3.0]]), np.array([0.0, 0.0])).tolist()
    [[0.5, 1.5]]
    """

    _mean = losses.MeanSquaredError()
    _per_neuron = losses.MeanSquaredError(reduction="sum")

    def calculate(self, output, Y):
        output, target = _targets(self._mean, output, Y)
        return 0.5 * float(self._mean(target, output))

    def gradient(self, output, Y):
        output, target = _targets(self._per_neuron, output, Y)
        return 0.5 * self._per_neuron.value_and_grad(target, output)[1]
