"""Attention layers: shapes, Keras weight layouts, finite-difference gradients with and
without masks, errors, the functional API, saving, and a Transformer block that learns."""

import json

import numpy as np
import pytest

import npkeras as keras
from npkeras import backend
from npkeras.layers import (
    AdditiveAttention,
    Attention,
    EinsumDense,
    GroupedQueryAttention,
    MultiHeadAttention,
    layer_classes,
)
from npkeras.layers.attention.softmax import masked_softmax, softmax_backward
from npkeras.utils.gradcheck import numerical_gradient, relative_error
from tests.helpers import check_layer

TOL = 1e-6


@pytest.fixture
def float64():
    backend.set_floatx("float64")
    yield
    backend.set_floatx("float32")


def gradient_errors(layer, inputs, **call):
    """Relative errors of dL/d(each input) and dL/d(each weight) for L = sum(y * r), the
    layer called with ``call`` options (masks...). Zero-gradient weights are compared
    absolutely (a key bias cannot change softmax(q k^T): its gradient is exactly 0)."""

    def run():
        out = layer.forward(inputs, **call)
        return out[0] if isinstance(out, tuple) else out

    r = np.random.default_rng(1).standard_normal(run().shape)
    for sub in layer._flatten_layers():
        sub.zero_grads()
    run()
    dxs = layer.backward(r)

    def loss():
        return float((run() * r).sum())

    errors = {}
    for i, (x, dx) in enumerate(zip(inputs, dxs)):
        if dx is not None:
            errors[f"input_{i}"] = relative_error(dx, numerical_gradient(loss, x))
    for sub in layer._flatten_layers():
        for name, value in sub.params.items():
            numeric = numerical_gradient(loss, value)
            if np.abs(numeric).max() < 1e-8:
                errors[f"{sub.name}/{name}"] = float(np.abs(sub.grads[name]).max())
            else:
                errors[f"{sub.name}/{name}"] = relative_error(sub.grads[name], numeric)
    return errors


def assert_gradients(layer, inputs, **call):
    errors = gradient_errors(layer, inputs, **call)
    bad = {k: e for k, e in errors.items() if e > TOL}
    assert not bad, bad
    return errors


# -- the softmax core -------------------------------------------------------------------
def test_masked_softmax_values_and_fully_masked_rows():
    scores = np.array([[1000.0, 1001.0, 0.0], [1.0, 2.0, 3.0]])
    mask = np.array([[True, True, False], [False, False, False]])
    p = masked_softmax(scores.copy(), mask)
    e = np.exp([-1.0, 0.0])
    np.testing.assert_allclose(p[0], [e[0] / e.sum(), e[1] / e.sum(), 0.0])
    np.testing.assert_array_equal(p[1], [0.0, 0.0, 0.0])  # no position to attend to
    dp = np.array([[0.5, -1.0, 3.0], [1.0, 1.0, 1.0]])
    ds = softmax_backward(p, dp.copy())
    expected = p * (dp - (dp * p).sum(-1, keepdims=True))
    np.testing.assert_allclose(ds, expected)
    assert ds[0, 2] == 0.0


# -- EinsumDense ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "equation, output_shape, bias_axes, input_shape, out, kernel, bias",
    [
        ("ab,bc->ac", 4, "c", (3,), (4,), (3, 4), (4,)),
        ("abc,cde->abde", (None, 2, 5), "de", (3, 6), (3, 2, 5), (6, 2, 5), (2, 5)),
        ("abc,cde->abde", (None, 2, 5), "d", (3, 6), (3, 2, 5), (6, 2, 5), (2, 1)),
        ("abcd,cde->abe", (None, 4), "e", (3, 2, 5), (3, 4), (2, 5, 4), (4,)),
        ("...b,bc->...c", 4, None, (2, 3, 6), (2, 3, 4), (6, 4), None),
        ("abc,cd->abd", (None, 3), "b", (5, 2), (5, 3), (2, 3), (5, 1)),
    ],
)
def test_einsum_dense_layouts_and_gradients(
    equation, output_shape, bias_axes, input_shape, out, kernel, bias
):
    def make():
        return EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="tanh")

    layer = check_layer(make, input_shape, out)
    assert layer.params["kernel"].shape == kernel
    assert layer.params.get("bias", np.zeros(0)).shape == (bias or (0,))
    assert layer.compute_output_shape((None,) + input_shape) == (None,) + out


def test_einsum_dense_matches_einsum():
    layer = EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de")
    x = np.random.default_rng(0).standard_normal((2, 4, 5)).astype("float32")
    layer(x)
    layer.params["bias"][...] = np.arange(6).reshape(2, 3)
    expected = np.einsum("abc,cde->abde", x, layer.params["kernel"]) + layer.params["bias"]
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"equation": "ab->b", "output_shape": 2}, "`equation`"),
        ({"equation": "ab,bc->ac", "output_shape": 2, "bias_axes": "z"}, "`bias_axes`"),
        ({"equation": "a...b,bc->a...c", "output_shape": 2}, "ellipsis"),
    ],
)
def test_einsum_dense_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EinsumDense(**kwargs)


def test_einsum_dense_unsizeable_kernel_axis():
    with pytest.raises(ValueError, match="cannot size kernel axis 'd'"):
        EinsumDense("abc,cd->abc", output_shape=(None, 3))(np.ones((1, 2, 3)))


# -- MultiHeadAttention / GroupedQueryAttention -------------------------------------------
def test_mha_weights_follow_keras_layout():
    mha = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=5)
    mha(np.ones((1, 4, 6)), np.ones((1, 5, 7)), np.ones((1, 5, 8)))
    assert [w.shape for w in mha.get_weights()] == [
        (6, 2, 3),
        (2, 3),
        (8, 2, 3),
        (2, 3),
        (7, 2, 4),
        (2, 4),
        (2, 4, 5),
        (5,),
    ]
    assert [v.path for v in mha.weights][:2] == ["query/kernel", "query/bias"]
    assert mha.count_params() == 6 * 6 + 6 + 8 * 6 + 6 + 7 * 8 + 8 + 8 * 5 + 5


def test_mha_forward_matches_direct_formula():
    rng = np.random.default_rng(0)
    q, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    mha = MultiHeadAttention(num_heads=2, key_dim=3)
    y = mha(q, v)
    wq, bq, wk, bk, wv, bv, wo, bo = mha.get_weights()
    qh = np.einsum("btd,dhk->bhtk", q, wq) + bq[None, :, None]
    kh = np.einsum("btd,dhk->bhtk", v, wk) + bk[None, :, None]
    vh = np.einsum("btd,dhk->bhtk", v, wv) + bv[None, :, None]
    s = np.einsum("bhqk,bhtk->bhqt", qh / np.sqrt(3), kh)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = np.einsum("bhqt,bhtk->bqhk", p, vh)
    np.testing.assert_allclose(y, np.einsum("bqhk,hkd->bqd", o, wo) + bo, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "call",
    [
        {},
        {"use_causal_mask": True},
        {"value_mask": np.array([[1, 1, 0, 0, 1], [1, 1, 1, 1, 0]], bool)},
        {"query_mask": np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool), "use_causal_mask": True},
        {
            "attention_mask": np.random.default_rng(3).random((2, 4, 5)) > 0.4,
            "key_mask": np.array([[1, 0, 1, 1, 1], [1, 1, 1, 1, 1]], bool),
        },
    ],
)
def test_mha_gradients(float64, call):
    rng = np.random.default_rng(0)
    q, v, k = (
        rng.standard_normal((2, 4, 6)),
        rng.standard_normal((2, 5, 7)),
        rng.standard_normal((2, 5, 3)),
    )
    mha = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=5)
    mha(q, v, k)
    assert_gradients(mha, [q, v, k], **call)


def test_mha_self_attention_gradients_and_scores_output(float64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6))
    mha = MultiHeadAttention(num_heads=3, key_dim=2)
    y, scores = mha(x, x, return_attention_scores=True)
    assert scores.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(scores.sum(-1), 1.0)
    assert_gradients(mha, [x, x.copy()], use_causal_mask=True)
    # with both outputs used, dL/dscores flows back too
    r = rng.standard_normal(scores.shape)
    dy = rng.standard_normal(y.shape)
    xv = x.copy()

    def loss():
        out, s = mha.forward([x, xv], return_attention_scores=True)
        return float((out * dy).sum() + (s * r).sum())

    for sub in mha._flatten_layers():
        sub.zero_grads()
    mha.forward([x, xv], return_attention_scores=True)
    dx = mha.backward([dy, r])
    assert relative_error(dx[0], numerical_gradient(loss, x)) < TOL
    assert (
        relative_error(
            mha._query_dense.grads["kernel"],
            numerical_gradient(loss, mha._query_dense.params["kernel"]),
        )
        < TOL
    )


def test_mha_attention_axes_2d(float64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 6))
    whole = MultiHeadAttention(num_heads=2, key_dim=3)
    _, scores = whole(x, x, return_attention_scores=True)
    assert scores.shape == (2, 2, 3, 4, 3, 4)
    rows = MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=2)
    y, scores = rows(x, x, return_attention_scores=True)
    assert y.shape == (2, 3, 4, 6) and scores.shape == (2, 3, 2, 4, 4)
    # attending along axis 2 only = attending each row separately
    plain = MultiHeadAttention(num_heads=2, key_dim=3)
    plain(x[:, 1], x[:, 1])
    plain.set_weights(rows.get_weights())
    row0 = plain(x[:, 1], x[:, 1])
    np.testing.assert_allclose(y[:, 1], row0, rtol=1e-10)
    assert_gradients(rows, [x, x.copy()])


def test_mha_dropout_only_in_training():
    x = np.random.default_rng(0).standard_normal((2, 6, 8)).astype("float32")
    mha = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.5, seed=1)
    a, b = mha(x, x), mha(x, x)
    np.testing.assert_array_equal(a, b)
    _, probs = mha(x, x, training=True, return_attention_scores=True)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)  # scores are pre-dropout
    assert not np.allclose(mha(x, x, training=True), a)


def test_mha_dropout_gradients(float64):
    x = np.random.default_rng(0).standard_normal((2, 4, 6))
    mha = MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.3)
    mha(x, x)
    # the same dropout mask for every finite-difference evaluation: reseed before each
    original = mha.forward

    def seeded(inputs, **call):
        mha._rng = np.random.default_rng(5)
        return original(inputs, training=True, **call)

    mha.forward = seeded
    assert_gradients(mha, [x, x.copy()])


def test_gqa_gradients_and_layout(float64):
    rng = np.random.default_rng(0)
    q, v = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 7))
    gqa = GroupedQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2)
    gqa(q, v)
    assert [w.shape for w in gqa.get_weights()] == [
        (6, 4, 3),
        (4, 3),
        (7, 2, 3),
        (2, 3),
        (7, 2, 3),
        (2, 3),
        (4, 3, 6),
        (6,),
    ]
    assert_gradients(
        gqa,
        [q, v],
        use_causal_mask=True,
        value_mask=np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool),
    )


def test_gqa_equals_mha_with_repeated_kv_heads():
    rng = np.random.default_rng(0)
    q, v = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 6))
    gqa = GroupedQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2)
    y = gqa(q, v)
    mha = MultiHeadAttention(num_heads=4, key_dim=3)
    mha(q, v)
    wq, bq, wk, bk, wv, bv, wo, bo = gqa.get_weights()
    mha.set_weights(
        [
            wq,
            bq,
            np.repeat(wk, 2, axis=1),
            np.repeat(bk, 2, axis=0),
            np.repeat(wv, 2, axis=1),
            np.repeat(bv, 2, axis=0),
            wo,
            bo,
        ]
    )
    np.testing.assert_allclose(mha(q, v), y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: MultiHeadAttention(num_heads=0, key_dim=2), "`num_heads`"),
        (lambda: MultiHeadAttention(num_heads=2, key_dim=2, dropout=1.0), "`dropout`"),
        (lambda: MultiHeadAttention(2, 2, output_shape=(3, 4)), "one axis"),
        (lambda: GroupedQueryAttention(2, 3, 2), "divisible"),
    ],
)
def test_heads_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_mha_call_errors():
    mha = MultiHeadAttention(2, 2)
    with pytest.raises(ValueError, match="needs both `query` and `value`"):
        mha(np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="`attention_axes` must leave out"):
        MultiHeadAttention(2, 2, attention_axes=(0,))(np.ones((1, 2, 3)), np.ones((1, 2, 3)))


# -- Attention / AdditiveAttention ------------------------------------------------------
ATTENTION_LAYERS = [
    lambda: Attention(),
    lambda: Attention(use_scale=True),
    lambda: Attention(score_mode="concat"),
    lambda: Attention(score_mode="concat", use_scale=True),
    lambda: AdditiveAttention(),
    lambda: AdditiveAttention(use_scale=False),
]


@pytest.mark.parametrize("make", ATTENTION_LAYERS)
def test_attention_layers_check_layer(make):
    check_layer(make, [(4, 6), (5, 6), (5, 6)], (4, 6))
    check_layer(make, [(4, 6), (5, 6)], (4, 6))


@pytest.mark.parametrize("make", ATTENTION_LAYERS)
def test_attention_layers_masked_gradients(float64, make):
    rng = np.random.default_rng(0)
    q, v = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 6))
    layer = make()
    layer([q, v])
    for name in layer.params:  # move scales away from 1 so their gradient shows
        layer.params[name][...] = 1.3 * layer.params[name] + 0.1
    mask = [
        np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool),
        np.array([[1, 1, 0, 0, 1], [1, 1, 1, 1, 0]], bool),
    ]
    assert_gradients(layer, [q, v], mask=mask, use_causal_mask=True)


def test_attention_dot_values_and_masks():
    q = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    v = np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    out, scores = Attention()(
        [q, v],
        return_attention_scores=True,
        mask=[np.array([[True, False]]), np.array([[True, True, False]])],
    )
    s = q[0] @ v[0, :2].T
    p = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    np.testing.assert_allclose(scores[0, :, :2], p, rtol=1e-6)
    np.testing.assert_array_equal(scores[0, :, 2], [0.0, 0.0])
    np.testing.assert_allclose(out[0, 0], p[0] @ v[0, :2], rtol=1e-6)
    np.testing.assert_array_equal(out[0, 1], [0.0, 0.0])  # masked query position


def test_attention_errors():
    with pytest.raises(ValueError, match="`score_mode`"):
        Attention(score_mode="cosine")
    with pytest.raises(ValueError, match="list of 2 or 3 inputs"):
        Attention()(np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match=r"\[query_mask, value_mask\]"):
        Attention()([np.ones((1, 2, 3)), np.ones((1, 2, 3))], mask=np.ones((1, 2), bool))


def test_configs_round_trip():
    for layer in (
        MultiHeadAttention(
            2,
            3,
            value_dim=4,
            dropout=0.1,
            output_shape=5,
            attention_axes=[1],
            use_bias=False,
            seed=3,
        ),
        GroupedQueryAttention(2, 4, 2, dropout=0.2),
        Attention(use_scale=True, score_mode="concat", dropout=0.1),
        AdditiveAttention(use_scale=False),
    ):
        config = json.loads(json.dumps(layer.get_config()))
        twin = layer_classes()[type(layer).__name__].from_config(config)
        assert twin.get_config() == {**config, "name": twin.name}


# -- the functional API, saving, a Transformer block that learns ---------------------------
def encoder_block(x, heads, key_dim, ff, causal=False):
    attended = MultiHeadAttention(heads, key_dim)(x, x, use_causal_mask=causal)
    x = keras.layers.LayerNormalization(epsilon=1e-5)(keras.layers.Add()([x, attended]))
    hidden = keras.layers.Dense(ff, activation="relu")(x)
    out = keras.layers.Dense(x.shape[-1])(hidden)
    return keras.layers.LayerNormalization(epsilon=1e-5)(keras.layers.Add()([x, out]))


def test_functional_two_inputs_and_scores():
    q, v = keras.Input((5, 8)), keras.Input((7, 6))
    out, scores = MultiHeadAttention(2, 4)(query=q, value=v, return_attention_scores=True)
    assert out.shape == (None, 5, 8) and scores.shape == (None, 2, 5, 7)
    model = keras.Model([q, v], [out, scores])
    y, s = model.predict([np.ones((3, 5, 8)), np.ones((3, 7, 6))], verbose=0)
    assert y.shape == (3, 5, 8) and s.shape == (3, 2, 5, 7)


def test_model_gradients_through_encoder_block(float64):
    inp = keras.Input((4, 6))
    model = keras.Model(inp, keras.layers.Flatten()(encoder_block(inp, 2, 3, 8, causal=True)))
    x = np.random.default_rng(0).standard_normal((2, 4, 6))
    report = (
        keras.utils.check_gradients(model, x) if hasattr(keras.utils, "check_gradients") else None
    )
    if report is None:
        from npkeras.utils.gradcheck import check_gradients

        report = check_gradients(model, x)
    bad = {k: e for k, e in report.errors.items() if e > TOL and "key/bias" not in k}
    assert not bad, bad


def _sequence_task(n, rng):
    """Label: is the token marked in feature 0 (one position) carrying feature 1 > 0?
    Needs attention from every position to the marked one."""
    x = rng.standard_normal((n, 8, 4)).astype("float32")
    x[:, :, 0] = 0.0
    marked = rng.integers(0, 8, n)
    x[np.arange(n), marked, 0] = 3.0
    y = (x[np.arange(n), marked, 1] > 0).astype("int64")
    return x, y


@pytest.mark.slow
def test_transformer_block_learns_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = _sequence_task(1024, rng)
    inp = keras.Input((8, 4))
    h = keras.layers.Dense(16)(inp)
    h = encoder_block(h, heads=2, key_dim=8, ff=32)
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    x_test, y_test = _sequence_task(512, rng)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert accuracy > 0.9, accuracy
    path = str(tmp_path / "block.keras")
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(
        again.predict(x_test, verbose=0), model.predict(x_test, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_saved_graph_keeps_call_options(tmp_path):
    inp = keras.Input((4, 6))
    model = keras.Model(inp, MultiHeadAttention(2, 3)(inp, inp, use_causal_mask=True))
    x = np.random.default_rng(0).standard_normal((2, 4, 6)).astype("float32")
    path = str(tmp_path / "causal.keras")
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    # causal: the first position's output ignores later positions
    x2 = x.copy()
    x2[:, 1:] += 1.0
    np.testing.assert_allclose(
        again.predict(x2, verbose=0)[:, 0], model.predict(x, verbose=0)[:, 0], rtol=1e-5, atol=1e-6
    )


def test_blocked_threaded_core_equals_one_block(float64, monkeypatch):
    from npkeras.layers.attention import softmax

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6, 8))
    mha = MultiHeadAttention(2, 4, dropout=0.3)
    mha(x, x)
    dy = rng.standard_normal((5, 6, 8))
    mask = rng.random((5, 6)) > 0.3

    def run():
        mha._rng = np.random.default_rng(1)
        y = mha.forward([x, x], training=True, value_mask=mask, use_causal_mask=True)
        return y, mha.backward(dy)

    y_one, dx_one = run()
    monkeypatch.setattr(softmax, "BLOCK_BYTES", 1)  # one batch element per block
    monkeypatch.setenv("NPKERAS_NUM_THREADS", "3")
    y_blocks, dx_blocks = run()
    np.testing.assert_array_equal(y_blocks, y_one)
    for a, b in zip(dx_blocks, dx_one):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shared", ["query_value", "query_key", "value_key", "all"])
def test_shared_inputs_project_once_and_gradients_add(float64, shared):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 4, 6))
    q, v, k = {
        "query_value": (a, a, b),
        "query_key": (a, b, a),
        "value_key": (a, b, b),
        "all": (a, a, a),
    }[shared]
    mha = MultiHeadAttention(2, 3)
    mha(q, v, k)
    distinct = MultiHeadAttention(2, 3)
    distinct(q, v, k)
    distinct.set_weights(mha.get_weights())
    dy = rng.standard_normal((2, 4, 6))
    shared_y = mha.forward([q, v, k])
    dxs = mha.backward(dy)
    copies = [q.copy(), v.copy(), k.copy()]
    np.testing.assert_allclose(distinct.forward(copies), shared_y, rtol=1e-12)
    distinct_dxs = distinct.backward(dy)
    totals = {}
    for array, dx in zip((q, v, k), distinct_dxs):
        totals[id(array)] = totals.get(id(array), 0) + dx
    seen = set()
    for array, dx in zip((q, v, k), dxs):
        if id(array) in seen:
            assert dx is None
        else:
            np.testing.assert_allclose(dx, totals[id(array)], rtol=1e-10, atol=1e-12)
        seen.add(id(array))
