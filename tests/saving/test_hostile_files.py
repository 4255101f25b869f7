"""Every refusal of a model file is a ModelFileError naming the problem; hostile sizes
are refused before memory is spent on them (issue 15, "Model files")."""

import io
import json
import os
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import npkeras as keras
from npkeras.saving import (
    LayerConfigError,
    LoadLimits,
    ModelFileError,
    UnsafeModelFileError,
    UnsupportedFormatVersionError,
)
from tests.saving import hostile


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    return hostile.small_model_members(tmp_path_factory.mktemp("model"))


def _load(path, **kwargs):
    """load_model's result, with its peak traced memory (bytes) and time (s)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        keras.models.load_model(path, **kwargs)
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, seconds


def _refused(path, error, match, **kwargs):
    with pytest.raises(error, match=match) as info:
        keras.models.load_model(path, **kwargs)
    return info.value


# -- bounded memory ------------------------------------------------------------------------


def test_config_bomb_is_refused_before_inflating(members, tmp_path):
    path = tmp_path / "bomb.npkeras"
    size = hostile.config_bomb(members, path, 40 * 1024**2)  # 40 MB of JSON
    assert size < 100_000
    tracemalloc.start()
    with pytest.raises(
        UnsafeModelFileError,
        match=r"Member 'config.json' .* declares 41,943,040 "
        r"bytes uncompressed, over the limit of 16,777,216",
    ):
        keras.models.load_model(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * 1024**2


def test_json_limit_is_a_parameter(members, tmp_path):
    path = hostile.write_model(tmp_path / "m.npkeras", members)
    keras.models.load_model(path)
    with pytest.raises(UnsafeModelFileError, match="over the limit of 100; refusing to inflate"):
        keras.models.load_model(path, limits=LoadLimits(max_json_bytes=100))
    with pytest.raises(ValueError, match="LoadLimits.max_json_bytes must be a positive integer"):
        LoadLimits(max_json_bytes=0)


def test_npy_header_declaring_a_huge_shape_is_refused_before_allocating(members, tmp_path):
    path = hostile.write_model(
        tmp_path / "npy.npkeras", hostile.huge_npy_header_members(members), fix_checksums=False
    )
    tracemalloc.start()
    with pytest.raises(
        UnsafeModelFileError,
        match=r"declares shape \(100000, 200000\) of float32 \(80,000,000,000 bytes\) "
        r"but holds 16 bytes of data; refusing to allocate it",
    ):
        keras.models.load_model(path)
    assert tracemalloc.get_traced_memory()[1] < 2 * 1024**2
    tracemalloc.stop()


def test_absurd_layer_size_is_refused_before_building(members, tmp_path):
    path = hostile.write_model(
        tmp_path / "u.npkeras", hostile.huge_units_members(members), fix_checksums=False
    )
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(
        UnsafeModelFileError,
        match=r"Saved layer 'hidden' \(Dense\) asks for more weights than the file "
        r"stores: a weight of shape \(3, 1000000000\) \(3,000,000,000 values\) "
        r"exceeds the 21 values the file still holds for it; refusing to build it",
    ):
        keras.models.load_model(path)
    assert time.perf_counter() - start < 1.0
    assert tracemalloc.get_traced_memory()[1] < 2 * 1024**2
    tracemalloc.stop()


def test_a_normal_load_stays_small(members, tmp_path):
    path = hostile.write_model(tmp_path / "m.npkeras", members)
    peak, seconds = _load(path)
    assert peak < 2 * 1024**2 and seconds < 1.0


# -- one error class -----------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, -5, True, "1", 1.0, None])
def test_unknown_format_versions_are_refused(members, tmp_path, version):
    path = hostile.write_model(
        tmp_path / "v.npkeras", members, metadata_patch={"format_version": version}
    )
    _refused(
        path,
        UnsupportedFormatVersionError,
        rf"format version {version!r}; this npkeras reads version 1. The file is damaged",
    )


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        (
            {"sha256": ["not", "a", "dict"]},
            (
                r"metadata.sha256 must be an object \(a JSON dict\); "
                r"received \['not', 'a', 'dict'\]"
            ),
        ),
        (
            {"sha256": {"config.json": 5}},
            "metadata.sha256.config.json must be a SHA-256 hex digest",
        ),
        ({"sha256": {"run.py": "0" * 64}}, "metadata.sha256 holds the unknown key 'run.py'"),
        ({"created": 5}, "metadata.created must be a string; received 5"),
        ({"owner": "x"}, "metadata holds the unknown key 'owner'"),
    ],
)
def test_malformed_metadata_is_refused(members, tmp_path, patch, match):
    meta = {**json.loads(hostile.with_checksums(members)["metadata.json"]), **patch}
    path = hostile.write_model(
        tmp_path / "m.npkeras", {**members, "metadata.json": json.dumps(meta)}, fix_checksums=False
    )
    _refused(path, ModelFileError, match)


def _drop(key):
    def edit(config):
        del config["model"]["config"][key]

    return edit


def _set_layers(value):
    def edit(config):
        config["model"]["config"]["layers"] = value

    return edit


def _set(path, value):
    def edit(config):
        target = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda c: c.pop("model"), "config lacks the key 'model'"),
        (_drop("layers"), "config.model.config lacks the key 'layers'"),
        (_set_layers({"a": 1}), "config.model.config.layers must be a list"),
        (_set_layers([5]), r"config.model.config.layers\[0\] must be an object"),
        (
            _set(["model", "config", "input_shape"], [-3]),
            r"config.model.config.input_shape\[0\] must be an integer >= 1; received -3",
        ),
        (_set(["model", "class_name"], 7), "config.model.class_name must be a string; received 7"),
        (_set(["compile", "optimizer"], 3), "config.compile.optimizer must be an optimizer name"),
        (
            _set(["compile", "loss"], {"__object__": 1}),
            r"config.compile.loss.__object__ must be an object",
        ),
        (
            _set(["rng_state", "has_uint32"], 7),
            "config.rng_state.has_uint32 must be an integer >= 0 and <= 1",
        ),
        (
            _set(["training_state"], {"epoch": "3"}),
            "config.training_state.epoch must be an integer",
        ),
        (_set(["surprise"], 1), "config holds the unknown key 'surprise'"),
    ],
)
def test_malformed_config_is_refused(members, tmp_path, edit, match):
    path = hostile.write_model(
        tmp_path / "c.npkeras", hostile.config_edit(members, edit), fix_checksums=False
    )
    _refused(path, ModelFileError, rf"config.json of '.*' is malformed: {match}")


def test_functional_graph_refs_are_checked(tmp_path):
    inputs = keras.Input(shape=(2,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(inputs), name="graph")
    model.save(tmp_path / "f.npkeras")
    with zipfile.ZipFile(tmp_path / "f.npkeras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    bad_ref = _set(["model", "config", "layers", 1, "inbound_nodes", 0, "inputs", 0], ["x", -1, 0])
    path = hostile.write_model(
        tmp_path / "g.npkeras", hostile.config_edit(members, bad_ref), fix_checksums=False
    )
    _refused(
        path,
        ModelFileError,
        r"config.model.config.layers\[1\].inbound_nodes\[0\]"
        r".inputs\[0\]\[1\] must be an integer >= 0; received -1",
    )
    dangling = _set(["model", "config", "output_layers"], [["nowhere", 0, 0]])
    path = hostile.write_model(
        tmp_path / "h.npkeras", hostile.config_edit(members, dangling), fix_checksums=False
    )
    _refused(
        path,
        LayerConfigError,
        r"Saved layer 'graph' \(Functional\) cannot be rebuilt "
        r"from its config: KeyError: \('nowhere', 0, 0\)",
    )


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (
            -3,
            (
                r"Saved layer 'hidden' \(Dense\) cannot be rebuilt from its config: ValueError: "
                r"Received an invalid value for `units`"
            ),
        ),
        ("many", r"Saved layer 'hidden' \(Dense\) cannot be rebuilt from its config: "),
    ],
)
def test_bad_layer_arguments_name_the_layer(members, tmp_path, value, match):
    path = hostile.write_model(
        tmp_path / "l.npkeras", hostile.huge_units_members(members, value), fix_checksums=False
    )
    _refused(path, LayerConfigError, match)


def test_unknown_layer_argument_names_the_layer(members, tmp_path):
    edit = _set(["model", "config", "layers", 1, "config", "unitz"], 3)
    path = hostile.write_model(
        tmp_path / "k.npkeras", hostile.config_edit(members, edit), fix_checksums=False
    )
    _refused(
        path,
        LayerConfigError,
        r"Saved layer 'output' \(Dense\) cannot be rebuilt from its "
        r"config: TypeError: .*unitz",
    )


def test_bad_compile_settings_are_refused(members, tmp_path):
    edit = _set(["compile", "optimizer"], "nonsense")
    path = hostile.write_model(
        tmp_path / "o.npkeras", hostile.config_edit(members, edit), fix_checksums=False
    )
    _refused(
        path,
        ModelFileError,
        r"The compile settings in '.*' cannot be used: ValueError: "
        r".*nonsense",
    )
    keras.models.load_model(path, compile=False)


def test_duplicate_member_names_are_refused(members, tmp_path):
    fixed = hostile.with_checksums(members)
    path = tmp_path / "d.npkeras"
    path.write_bytes(hostile.zip_bytes([*fixed.items(), ("config.json", fixed["config.json"])]))
    _refused(path, UnsafeModelFileError, "holds member\\(s\\) 'config.json' more than once")
    with zipfile.ZipFile(io.BytesIO(members["weights.npz"])) as zf:
        arrays = [(n, zf.read(n)) for n in zf.namelist()]
    weights = hostile.zip_bytes([*arrays, arrays[0]], zipfile.ZIP_STORED)
    path = hostile.write_model(tmp_path / "e.npkeras", {**members, "weights.npz": weights})
    _refused(path, UnsafeModelFileError, "holds the same array name more than once")


def _patch_member_flags(data: bytes, name: bytes, flag_bits=0, method=None) -> bytes:
    """Set general-purpose flag bits or the compression method of member ``name`` in
    both its local and central headers (offsets from the zip specification)."""
    out = bytearray(data)
    headers = ((b"PK\x03\x04", 6, 8, 26, 30), (b"PK\x01\x02", 8, 10, 28, 46))
    for signature, flags_at, method_at, length_at, name_at in headers:
        at = out.find(signature)
        while at >= 0:
            length = int.from_bytes(out[at + length_at : at + length_at + 2], "little")
            if out[at + name_at : at + name_at + length] == name:
                flags = int.from_bytes(out[at + flags_at : at + flags_at + 2], "little") | flag_bits
                out[at + flags_at : at + flags_at + 2] = flags.to_bytes(2, "little")
                if method is not None:
                    out[at + method_at : at + method_at + 2] = method.to_bytes(2, "little")
            at = out.find(signature, at + 4)
    return bytes(out)


@pytest.mark.parametrize(
    ("flag_bits", "method", "match"),
    [
        (0x1, None, "encrypted"),
        (0, 99, "compression"),
    ],
)
def test_encrypted_or_unknown_compression_member_is_refused(
    members, tmp_path, flag_bits, method, match
):
    data = hostile.zip_bytes(hostile.with_checksums(members))
    path = tmp_path / "z.npkeras"
    path.write_bytes(_patch_member_flags(data, b"config.json", flag_bits, method))
    _refused(path, ModelFileError, f"truncated or corrupt: member 'config.json': .*{match}")


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, }", "unreadable .npy header"),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }",
            r"invalid shape \(-1, 4\)",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }",
            (
                r"declares shape \(2, 4\) of "
                r"float32 \(32 bytes\) but holds 48"
            ),
        ),
        ("{'descr': 'O', 'fortran_order': False, 'shape': (3, 4), }", "has dtype object"),
        ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", "has dtype"),
    ],
)
def test_bad_npy_headers_are_refused(members, tmp_path, header, match):
    with zipfile.ZipFile(io.BytesIO(members["weights.npz"])) as zf:
        arrays = {n: zf.read(n) for n in zf.namelist()}
    arrays["layers/dense/kernel.npy"] = hostile.npy_bytes(header, b"\0" * 48)
    weights = hostile.zip_bytes(arrays, zipfile.ZIP_STORED)
    path = hostile.write_model(tmp_path / "h.npkeras", {**members, "weights.npz": weights})
    _refused(path, ModelFileError, f"Array 'layers/dense/kernel' of weights.npz .* {match}")


def _with_arrays(members, member, **replace):
    with zipfile.ZipFile(io.BytesIO(members[member])) as zf:
        arrays = {n[:-4]: np.load(io.BytesIO(zf.read(n))) for n in zf.namelist()}
    arrays.update(replace)
    return {**members, member: hostile.npz_bytes(arrays)}


def test_non_finite_weights_are_refused(members, tmp_path):
    bad = _with_arrays(members, "weights.npz", **{"layers/dense/bias": np.full(4, np.nan, "f4")})
    path = hostile.write_model(tmp_path / "n.npkeras", bad)
    _refused(
        path, ModelFileError, "Array 'layers/dense/bias' of weights.npz .* holds NaN or infinite"
    )
    big = _with_arrays(members, "weights.npz", **{"layers/dense/bias": np.full(4, 1e300)})
    path = hostile.write_model(tmp_path / "b.npkeras", big)
    _refused(
        path,
        ModelFileError,
        "Weight 'layers/dense/bias' .* holds values beyond the range of float32",
    )


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        (
            {"iterations": np.array(-5)},
            r"needs 'iterations', a whole number >= 0; received array\(-5\)",
        ),
        ({"iterations": np.arange(3)}, "needs 'iterations', a whole number"),
        (
            {"0/momentum": np.zeros(7, "f4")},
            (
                r"The optimizer state in .* cannot be used: ValueError: "
                r"Optimizer state entry '0/momentum' has shape \(7,\)"
            ),
        ),
        ({"x/momentum": np.zeros(3, "f4")}, "The optimizer state in .* cannot be used: ValueError"),
    ],
)
def test_bad_optimizer_state_is_refused(members, tmp_path, arrays, match):
    path = hostile.write_model(
        tmp_path / "s.npkeras", _with_arrays(members, "optimizer.npz", **arrays)
    )
    _refused(path, ModelFileError, match)


def test_bad_random_state_is_refused_and_the_generator_is_untouched(members, tmp_path):
    edit = _set(["rng_state", "state"], {"state": "x", "inc": 1})
    path = hostile.write_model(
        tmp_path / "r.npkeras", hostile.config_edit(members, edit), fix_checksums=False
    )
    before = keras.backend.rng().bit_generator.state
    _refused(
        path,
        ModelFileError,
        "The random generator state in .* cannot be used",
        restore_random_state=True,
    )
    assert keras.backend.rng().bit_generator.state == before
    keras.models.load_model(path)  # only used when asked for


def test_a_device_or_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.npkeras")
    _refused(tmp_path / "pipe.npkeras", ModelFileError, "is not a regular file")


# -- load_weights and BackupAndRestore -----------------------------------------------------


def _model():
    return keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )


def test_load_weights_refusals_leave_the_model_unchanged(members, tmp_path):
    model = _model()
    before = model.get_weights()
    path = tmp_path / "w.weights.npz"
    path.write_bytes(
        hostile.zip_bytes(
            {
                "layers/dense/kernel.npy": hostile.npy_bytes(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 200000), }",
                    b"\0" * 8,
                )
            },
            zipfile.ZIP_STORED,
        )
    )
    with pytest.raises(UnsafeModelFileError, match="declares shape .* refusing to allocate"):
        model.load_weights(path)
    short = _with_arrays(members, "weights.npz", **{"layers/dense_1/bias": np.zeros(2, "f4")})
    path.write_bytes(short["weights.npz"])
    with pytest.raises(
        ModelFileError,
        match=r"Weight 'layers/dense_1/bias' .* has shape \(2,\), "
        r"but model .* needs \(1,\)",
    ):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def _backup(tmp_path, members_edit):
    """A BackupAndRestore folder whose backup went through ``members_edit``."""
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    callback = keras.callbacks.BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)
    model.fit(np.ones((4, 3)), np.zeros(4), epochs=1, verbose=0, callbacks=[callback])
    with zipfile.ZipFile(callback.path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    hostile.write_model(callback.path, members_edit(members), fix_checksums=False)
    return model, callback


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda m: hostile.config_edit(m, _set(["training_state"], {"epoch": -1})),
            "config.training_state.epoch must be an integer >= 0",
        ),
        (
            lambda m: hostile.config_edit(m, lambda c: c.pop("training_state")),
            "holds no training state: it is not a BackupAndRestore backup",
        ),
        (
            lambda m: {
                **m,
                "metadata.json": b'{"format": "npkeras", "format_version": 1, "sha256": 7}',
            },
            "metadata.sha256 must be an object",
        ),
        (
            lambda m: hostile.with_checksums(
                _with_arrays(m, "weights.npz", **{"layers/dense/kernel": np.zeros((3, 5), "f4")})
            ),
            r"Weight 'layers/dense/kernel' .* has shape \(3, 5\)",
        ),
    ],
)
def test_tampered_backups_are_refused(tmp_path, edit, match):
    model, callback = _backup(tmp_path, edit)
    before = model.get_weights()
    with pytest.raises(ModelFileError, match=match):
        model.fit(np.ones((4, 3)), np.zeros(4), epochs=2, verbose=0, callbacks=[callback])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def _central_record(data: bytearray, name: bytes) -> int:
    at = data.index(b"PK\x01\x02")
    while data[at + 46 : at + 46 + int.from_bytes(data[at + 28 : at + 30], "little")] != name:
        at = data.index(b"PK\x01\x02", at + 4)
    return at


def test_member_declaring_more_compressed_bytes_than_the_file_is_refused(members, tmp_path):
    # Python would allocate a read buffer of the declared size (here 2 GiB) before reading.
    data = bytearray(hostile.zip_bytes(hostile.with_checksums(members)))
    record = _central_record(data, b"weights.npz")
    data[record + 20 : record + 24] = (2**31).to_bytes(4, "little")  # compressed size
    path = tmp_path / "c.npkeras"
    path.write_bytes(bytes(data))
    _refused(
        path,
        ModelFileError,
        r"Member 'weights.npz' of .* declares 2,147,483,648 compressed "
        r"bytes, more than the [\d,]+-byte archive holds",
    )


def test_too_many_layers_are_refused(members, tmp_path):
    path = hostile.write_model(tmp_path / "m.npkeras", members)
    with pytest.raises(UnsafeModelFileError, match="describes 3 layers, over the limit of 2"):
        keras.models.load_model(path, limits=LoadLimits(max_layers=2))


def test_a_functional_graph_saved_in_reverse_order_loads(tmp_path):
    inputs = keras.Input(shape=(2,), name="x")
    hidden = keras.layers.Dense(3, name="a")(inputs)
    outputs = keras.layers.Add(name="sum")([keras.layers.Dense(3, name="b")(hidden), hidden])
    model = keras.Model(inputs, outputs, name="graph")
    model.save(tmp_path / "f.npkeras")
    with zipfile.ZipFile(tmp_path / "f.npkeras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    reverse = _set(
        ["model", "config", "layers"],
        json.loads(members["config.json"])["model"]["config"]["layers"][::-1],
    )
    path = hostile.write_model(
        tmp_path / "r.npkeras", hostile.config_edit(members, reverse), fix_checksums=False
    )
    loaded = keras.models.load_model(path)
    x = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_member_name_that_is_not_utf8_is_refused(members, tmp_path):
    # flag bit 11 says "the name is UTF-8", and the name's bytes are not: UnicodeDecodeError today
    data = bytearray(hostile.zip_bytes(hostile.with_checksums(members)))
    record = _central_record(data, b"config.json")
    data[record + 46 : record + 57] = b"confi\xffjson"
    data[record + 8 : record + 10] = (
        int.from_bytes(data[record + 8 : record + 10], "little") | 0x800
    ).to_bytes(2, "little")
    path = tmp_path / "n.npkeras"
    path.write_bytes(bytes(data))
    _refused(path, ModelFileError, "not a readable zip archive")
