import numpy as np

from npkeras import layers
from npkeras.attributes import instance_attributes


class Holder:
    def __init__(self):
        self.first, self.second = 1, [2]


def test_instance_attributes_lists_them_in_assignment_order():
    holder = Holder()
    assert list(instance_attributes(holder).items()) == [("first", 1), ("second", [2])]


def test_instance_attributes_is_the_objects_own_dict():
    holder = Holder()
    attributes = instance_attributes(holder)
    attributes["third"] = 3  # writes through, as vars() does
    holder.fourth = 4
    assert holder.third == 3 and attributes["fourth"] == 4
    assert vars(holder) is attributes


def test_a_scanned_layer_keeps_its_attributes_and_weights():
    layer = layers.Dense(2, kernel_initializer="ones")
    layer(np.ones((1, 3), np.float32))
    assert layer._sublayers() == []  # the scan
    assert layer.units == 2 and layer.kernel.shape == (3, 2)
    np.testing.assert_array_equal(layer(np.ones((1, 3), np.float32)), [[3.0, 3.0]])
