"""Hostile and damaged files are refused with a specific error; nothing runs, nothing
outside the target is touched."""

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import npkeras as keras
from npkeras.saving import (
    ChecksumMismatchError,
    ModelFileError,
    UnsafeModelFileError,
    UnsupportedFormatVersionError,
)
from npkeras.saving.safety import sha256

RAN = []


class Payload:
    def __reduce__(self):
        return (RAN.append, ("pickle executed",))


def _saved(tmp_path):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((4, 2)), np.zeros(4), verbose=0)
    path = tmp_path / "good.npkeras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path, members, fix_checksums=True, metadata_patch=None):
    members = dict(members)
    if fix_checksums or metadata_patch:
        meta = json.loads(members["metadata.json"])
        if fix_checksums:
            meta["sha256"] = {n: sha256(d) for n, d in members.items() if n != "metadata.json"}
        meta.update(metadata_patch or {})
        members["metadata.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.fixture
def files(tmp_path):
    RAN.clear()
    before = set(os.listdir(tmp_path.parent))
    yield tmp_path, _saved(tmp_path)
    assert RAN == [], "code from the file was executed"
    assert set(os.listdir(tmp_path.parent)) == before, "a file outside the target folder appeared"


def test_pickled_weights_are_refused(files):
    tmp, members = files
    path = _write(tmp / "p.npkeras", {**members, "weights.npz": pickle.dumps(Payload())})
    with pytest.raises(UnsafeModelFileError, match="could not be read as plain numeric arrays"):
        keras.models.load_model(path)


def test_object_dtype_array_is_refused(files):
    tmp, members = files
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        inner = io.BytesIO()
        np.save(inner, np.array([Payload()], dtype=object), allow_pickle=True)
        zf.writestr("layers/dense/kernel.npy", inner.getvalue())
    path = _write(tmp / "o.npkeras", {**members, "weights.npz": buf.getvalue()})
    with pytest.raises(
        UnsafeModelFileError, match="'layers/dense/kernel' .* has dtype object; only numeric arrays"
    ):
        keras.models.load_model(path)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil"])
def test_unsafe_member_paths_are_refused(files, name):
    tmp, members = files
    path = _write(tmp / "z.npkeras", {**members, name: b"boom"}, fix_checksums=False)
    with pytest.raises(UnsafeModelFileError, match="unsafe path"):
        keras.models.load_model(path)


def test_unexpected_member_is_refused(files):
    tmp, members = files
    path = _write(tmp / "x.npkeras", {**members, "run.py": b"import os"}, fix_checksums=False)
    with pytest.raises(UnsafeModelFileError, match="unexpected member 'run.py'"):
        keras.models.load_model(path)


def test_zip_bomb_is_refused(files):
    tmp, members = files
    big = b"\0" * (4 * 1024 * 1024)
    path = _write(tmp / "bomb.npkeras", {**members, "weights.npz": big})
    assert path.stat().st_size < 20_000  # a few kilobytes that inflate to megabytes
    limits = keras.saving.LoadLimits(max_member_bytes=1024 * 1024)
    with pytest.raises(
        UnsafeModelFileError, match=r"declares 4,194,304 bytes uncompressed, over the limit"
    ):
        keras.models.load_model(path, limits=limits)


def test_member_lying_about_its_size_is_refused(files):
    tmp, members = files
    path = _write(tmp / "lie.npkeras", {**members, "weights.npz": b"\0" * 100_000})
    data = bytearray(path.read_bytes())
    # make the central-directory record of weights.npz claim 10 bytes uncompressed
    record = data.index(b"PK\x01\x02")
    while True:
        name_length = int.from_bytes(data[record + 28 : record + 30], "little")
        if data[record + 46 : record + 46 + name_length] == b"weights.npz":
            break
        record = data.index(b"PK\x01\x02", record + 4)
    data[record + 24 : record + 28] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        keras.models.load_model(path)


def test_unregistered_class_and_callable_paths_are_refused(files):
    tmp, members = files
    for class_name in ("EvilLayer", "os.system", "subprocess.Popen", "builtins.eval"):
        config = json.loads(members["config.json"])
        config["model"]["config"]["layers"][0]["class_name"] = class_name
        path = _write(tmp / "c.npkeras", {**members, "config.json": json.dumps(config).encode()})
        with pytest.raises(
            ValueError,
            match=rf"Unknown layer class '{class_name}': it is neither built in nor registered",
        ):
            keras.models.load_model(path)


def test_callable_in_activation_config_is_refused(files):
    tmp, members = files
    config = json.loads(members["config.json"])
    config["model"]["config"]["layers"][0]["config"]["activation"] = {
        "class_name": "os.system",
        "config": {},
    }
    path = _write(tmp / "a.npkeras", {**members, "config.json": json.dumps(config).encode()})
    with pytest.raises(ValueError, match="Unknown activation class 'os.system'"):
        keras.models.load_model(path)


def test_deeply_nested_json_is_refused(files):
    tmp, members = files
    deep = ("[" * 10000 + "]" * 10000).encode()
    path = _write(tmp / "d.npkeras", {**members, "config.json": deep})
    with pytest.raises(UnsafeModelFileError, match="nests 10000 levels deep"):
        keras.models.load_model(path)


def test_truncated_file_is_refused(files):
    tmp, _ = files
    data = (tmp / "good.npkeras").read_bytes()
    path = tmp / "t.npkeras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        keras.models.load_model(path)


def test_flipped_byte_is_refused(files):
    tmp, members = files
    raw = bytearray(members["config.json"])
    raw[10] ^= 0x01
    path = _write(tmp / "f.npkeras", {**members, "config.json": bytes(raw)}, fix_checksums=False)
    with pytest.raises(ChecksumMismatchError, match="config.json .* does not match the SHA-256"):
        keras.models.load_model(path)


def test_flipped_byte_in_the_archive_itself_is_refused(files):
    tmp, _ = files
    data = bytearray((tmp / "good.npkeras").read_bytes())
    with zipfile.ZipFile(tmp / "good.npkeras") as zf:
        info = zf.getinfo("weights.npz")
    data[info.header_offset + 30 + len("weights.npz") + 5] ^= 0xFF
    path = tmp / "flip.npkeras"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        keras.models.load_model(path)


def test_future_format_version_is_refused(files):
    tmp, members = files
    path = _write(tmp / "v.npkeras", members, metadata_patch={"format_version": 99})
    with pytest.raises(
        UnsupportedFormatVersionError,
        match="format version 99; this npkeras reads version 1. Upgrade npkeras",
    ):
        keras.models.load_model(path)


def test_not_a_model_file(files):
    tmp, _ = files
    path = tmp / "n.npkeras"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match="is not an npkeras model file"):
        keras.models.load_model(path)
    with pytest.raises(FileNotFoundError, match="No model file at"):
        keras.models.load_model(tmp / "nothing.npkeras")
