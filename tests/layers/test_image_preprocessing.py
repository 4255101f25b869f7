"""Image augmentation and preprocessing layers: real numbers (np.flip, np.rot90, a hand
bilinear resize, fill modes), inference identity, seeds, gradients, errors, training."""

import json

import numpy as np
import pytest

import npkeras as keras
from npkeras import backend
from npkeras.layers import (
    CenterCrop,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Resizing,
    layer_classes,
)
from npkeras.utils.gradcheck import numerical_gradient, relative_error
from tests.helpers import check_layer

RNG = np.random.default_rng(0)
IMAGES = RNG.random((6, 5, 7, 3)).astype("float32") * 255


def seeded_gradient_error(layer, x, seed=3):
    """Relative error of dL/dx in training, the random draw fixed by reseeding the
    layer's generator before every forward call."""

    def run():
        layer._rng = np.random.default_rng(seed)
        return layer.forward(x, training=True)

    r = np.random.default_rng(1).standard_normal(run().shape)
    run()
    dx = layer.backward(r)
    return relative_error(dx, numerical_gradient(lambda: float((run() * r).sum()), x))


RANDOM_LAYERS = [
    lambda: RandomFlip(seed=1),
    lambda: RandomRotation(0.2, seed=1),
    lambda: RandomZoom(0.3, seed=1),
    lambda: RandomTranslation(0.2, 0.3, seed=1),
    lambda: RandomContrast(0.4, seed=1),
    lambda: RandomBrightness(0.2, seed=1),
]


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_random_layers_are_identity_at_inference(make):
    np.testing.assert_array_equal(make()(IMAGES), IMAGES)
    assert not np.allclose(make()(IMAGES, training=True), IMAGES)


@pytest.mark.parametrize("make", RANDOM_LAYERS + [lambda: RandomCrop(3, 4, seed=1)])
def test_seeds_reproduce(make):
    np.testing.assert_array_equal(make()(IMAGES, training=True), make()(IMAGES, training=True))
    unseeded = type(make())
    config = {k: v for k, v in make().get_config().items() if k not in ("name", "seed")}
    keras.utils.set_random_seed(7)
    first = unseeded(**config)(IMAGES, training=True)
    keras.utils.set_random_seed(7)
    np.testing.assert_array_equal(unseeded(**config)(IMAGES, training=True), first)


@pytest.mark.parametrize(
    "make",
    RANDOM_LAYERS
    + [
        lambda: RandomRotation(0.2, fill_mode="constant", fill_value=2.0, seed=1),
        lambda: RandomZoom(
            (-0.3, 0.2), (0.1, 0.4), fill_mode="wrap", interpolation="nearest", seed=1
        ),
        lambda: RandomTranslation(0.3, 0.3, fill_mode="nearest", seed=1),
        lambda: RandomCrop(3, 4, seed=1),
    ],
)
def test_training_gradients(float64, make):
    x = RNG.random((2, 5, 6, 2)) * 100 + 50
    assert seeded_gradient_error(make(), x) < 1e-6


@pytest.mark.parametrize(
    "make, out",
    [
        (lambda: Resizing(3, 9), (3, 9, 2)),
        (lambda: Resizing(2, 3, interpolation="nearest"), (2, 3, 2)),
        (lambda: Resizing(4, 4, crop_to_aspect_ratio=True), (4, 4, 2)),
        (lambda: Resizing(4, 2, pad_to_aspect_ratio=True, fill_value=1.0), (4, 2, 2)),
        (lambda: CenterCrop(3, 4), (3, 4, 2)),
        (lambda: CenterCrop(7, 7), (7, 7, 2)),
        (lambda: RandomCrop(3, 4), (3, 4, 2)),
    ],
)
def test_deterministic_layers_check_layer(make, out):
    check_layer(make, (5, 6, 2), out)


def test_flip_equals_np_flip_and_backward_flips_too():
    for mode, axes in (("horizontal", [2]), ("vertical", [1]), ("horizontal_and_vertical", [1, 2])):
        layer = RandomFlip(mode, seed=4)
        out = layer(IMAGES, training=True)
        candidates = [IMAGES]
        for axis in axes:
            candidates += [np.flip(c, axis=axis) for c in candidates]
        chosen = []
        for i in range(len(IMAGES)):
            matches = [k for k, c in enumerate(candidates) if np.array_equal(out[i], c[i])]
            assert matches, f"image {i} is not a flip of its input ({mode})"
            chosen.append(matches[0])
        assert len(set(chosen)) > 1  # some flipped, some not
        dy = RNG.standard_normal(out.shape).astype("float32")
        dx = layer.backward(dy)
        for i, k in enumerate(chosen):
            flipped = dy[i]
            for bit, axis in enumerate(axes):
                if k >> bit & 1:
                    flipped = np.flip(flipped, axis=axis - 1)
            np.testing.assert_array_equal(dx[i], flipped)


@pytest.mark.parametrize("size", [4, 5])
def test_rotation_by_quarter_turns_equals_rot90(size):
    image = RNG.random((2, size, size, 3)).astype("float32")
    for turns in (1, 2, 3):
        layer = RandomRotation((turns / 4, turns / 4), interpolation="nearest")
        np.testing.assert_array_equal(
            layer(image, training=True), np.rot90(image, turns, axes=(1, 2))
        )
    half = RandomRotation((-0.5, -0.5))(image, training=True)  # bilinear lands on pixels
    np.testing.assert_allclose(half, image[:, ::-1, ::-1], atol=1e-6)


def test_resize_matches_hand_bilinear(float64):
    image = RNG.random((1, 3, 4, 2))
    out = Resizing(5, 3)(image)

    def hand(i, j):  # half-pixel centres, clamped to the edge pixels
        y = min(max((i + 0.5) * 3 / 5 - 0.5, 0.0), 2.0)
        x = min(max((j + 0.5) * 4 / 3 - 0.5, 0.0), 3.0)
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        y1, x1 = min(y0 + 1, 2), min(x0 + 1, 3)
        fy, fx = y - y0, x - x0
        return (
            (1 - fy) * (1 - fx) * image[0, y0, x0]
            + (1 - fy) * fx * image[0, y0, x1]
            + fy * (1 - fx) * image[0, y1, x0]
            + fy * fx * image[0, y1, x1]
        )

    expected = np.array([[hand(i, j) for j in range(3)] for i in range(5)])
    np.testing.assert_allclose(out[0], expected, rtol=1e-12)
    nearest = Resizing(2, 2, interpolation="nearest")(np.arange(16.0).reshape(1, 4, 4, 1))
    # the pixel under each output centre ((o + 0.5) * 2 = 1, 3), as TF and JAX
    np.testing.assert_array_equal(nearest[0, :, :, 0], [[5.0, 7.0], [13.0, 15.0]])


@pytest.mark.parametrize(
    "fill_mode, expected",
    [
        ("constant", [9, 9, 1, 2]),
        ("nearest", [1, 1, 1, 2]),
        ("wrap", [3, 4, 1, 2]),
        ("reflect", [2, 1, 1, 2]),
    ],
)
def test_fill_modes(fill_mode, expected):
    row = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 4, 1)
    shift = RandomTranslation(0.0, (0.5, 0.5), fill_mode=fill_mode, fill_value=9.0)
    np.testing.assert_array_equal(shift(row, training=True).ravel(), expected)


def test_zoom_and_translation_values():
    image = np.arange(25.0).reshape(1, 5, 5, 1)
    zoom_in = RandomZoom((-0.5, -0.5), interpolation="nearest")(image, training=True)
    # half the field of view: the centre 3 x 3 pixels spread over 5 x 5 (nearest)
    assert zoom_in[0, 2, 2, 0] == 12.0 and set(np.unique(zoom_in)) <= set(
        image[0, 1:4, 1:4, 0].ravel()
    )
    shifted = RandomTranslation((0.2, 0.2), (-0.2, -0.2), fill_mode="constant")(
        image, training=True
    )
    np.testing.assert_array_equal(shifted[0, 1:, :4, 0], image[0, :4, 1:, 0])
    np.testing.assert_array_equal(shifted[0, 0, :, 0], 0.0)


def test_crops():
    image = np.arange(30.0).reshape(1, 5, 6, 1)
    np.testing.assert_array_equal(CenterCrop(3, 2)(image)[0, :, :, 0], image[0, 1:4, 2:4, 0])
    crops = RandomCrop(2, 3, seed=0)(np.repeat(image, 8, axis=0), training=True)
    windows = {tuple(image[0, i : i + 2, j : j + 3, 0].ravel()) for i in range(4) for j in range(4)}
    assert all(tuple(c[:, :, 0].ravel()) in windows for c in crops)
    assert len({tuple(c.ravel()) for c in crops}) > 1  # each image its own window
    # inference: the largest centred window of the target's aspect ratio, resized
    np.testing.assert_allclose(
        RandomCrop(2, 3)(image), Resizing(2, 3, crop_to_aspect_ratio=True)(image)
    )
    np.testing.assert_array_equal(RandomCrop(5, 6)(image, training=True), image)


def test_contrast_and_brightness_values():
    image = np.array([[[[10.0], [30.0]]]])
    out = RandomContrast((0.5, 0.5), seed=0)(image, training=True)
    scale = (out[0, 0, 1, 0] - 20.0) / 10.0
    assert 0.5 <= scale <= 1.5
    np.testing.assert_allclose(out.mean(), 20.0)
    bright = RandomBrightness((0.5, 0.5), value_range=(0, 100))(image, training=True)
    np.testing.assert_array_equal(bright.ravel(), [60.0, 80.0])
    clipped = RandomBrightness((0.95, 0.95), value_range=(0, 100))
    np.testing.assert_array_equal(clipped(image, training=True).ravel(), [100.0, 100.0])
    assert np.all(clipped.backward(np.ones((1, 1, 2, 1))) == 0.0)  # the clip took over


def test_channels_first_and_unbatched():
    first = np.transpose(IMAGES, (0, 3, 1, 2))
    out = RandomRotation(0.3, seed=2, data_format="channels_first")(first, training=True)
    last = RandomRotation(0.3, seed=2)(IMAGES, training=True)
    np.testing.assert_allclose(out, np.transpose(last, (0, 3, 1, 2)), rtol=1e-6)
    single = Resizing(2, 3)(IMAGES[0])
    np.testing.assert_allclose(single, Resizing(2, 3)(IMAGES)[0], rtol=1e-6)
    assert Resizing(2, 3, data_format="channels_first").compute_output_shape((None, 3, 5, 7)) == (
        None,
        3,
        2,
        3,
    )


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: RandomRotation(0.1, fill_mode="mirror"), "`fill_mode`"),
        (lambda: RandomZoom(0.1, interpolation="cubic"), "`interpolation`"),
        (lambda: RandomZoom((-1.5, 0.1)), "`height_factor`"),
        (lambda: RandomTranslation((0.3, 0.1), 0.1), "`height_factor`"),
        (lambda: RandomRotation((0.1, 0.2, 0.3)), "`factor`"),
        (lambda: RandomContrast(1.5), "`factor`"),
        (lambda: RandomBrightness(1.5), "`factor`"),
        (lambda: RandomBrightness(0.1, value_range=(1, 0)), "`value_range`"),
        (lambda: RandomFlip("diagonal"), "`mode`"),
        (lambda: Resizing(0, 3), "`height`"),
        (lambda: Resizing(2, 3, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "only one"),
        (lambda: CenterCrop(2, 2, data_format="channels_middle"), "`data_format`"),
    ],
)
def test_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_rank_error():
    with pytest.raises(ValueError, match="rank 3 \\(unbatched\\) or 4"):
        RandomFlip()(np.ones((2, 3)))


@pytest.mark.parametrize("make", RANDOM_LAYERS + [lambda: RandomCrop(3, 4, seed=1)])
def test_random_configs_round_trip(make):
    layer = make()
    config = json.loads(json.dumps(layer.get_config()))
    twin = layer_classes()[type(layer).__name__].from_config(config)
    np.testing.assert_array_equal(twin(IMAGES, training=True), make()(IMAGES, training=True))


def test_augmentation_after_a_trainable_layer_trains():
    keras.utils.set_random_seed(0)
    x = RNG.random((64, 6, 6, 2)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int64")
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Dense(3),
            RandomRotation(0.1),
            RandomFlip(),
            RandomZoom(0.1),
            RandomContrast(0.1, value_range=(-10, 10)),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = model.layers[0].get_weights()[0].copy()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert not np.allclose(model.layers[0].get_weights()[0], before)
    np.testing.assert_array_equal(model.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0))


@pytest.fixture
def float64():
    backend.set_floatx("float64")
    yield
    backend.set_floatx("float32")
