"""Building damaged and hostile model files for the safety tests, the fuzzer and
bench/hostile_files.py: a small saved model's members, and writers that keep the
checksums in metadata.json right (they are not a signature), so that a mutation reaches
the parser behind them."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile

import numpy as np

import npkeras as keras


def small_model_members(tmp_dir) -> dict:
    """{member name: bytes} of a small compiled, trained Sequential model."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(4, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="output"),
        ],
        name="small",
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.zeros(4), verbose=0)
    path = f"{tmp_dir}/small.npkeras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def with_checksums(members: dict, metadata_patch: dict | None = None) -> dict:
    """``members`` with metadata.json's checksums recomputed (and ``metadata_patch``
    applied), so that only the mutation itself can make a load fail."""
    meta = json.loads(members["metadata.json"])
    meta["sha256"] = {n: sha256(d) for n, d in members.items() if n != "metadata.json"}
    meta.update(metadata_patch or {})
    return {**members, "metadata.json": json.dumps(meta).encode()}


def zip_bytes(members, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of ``members`` ({name: bytes} or [(name, bytes)], duplicates kept)."""
    items = members.items() if isinstance(members, dict) else members
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": wanted here
        with zipfile.ZipFile(buffer, "w", compression) as zf:
            for name, data in items:
                zf.writestr(name, data)
    return buffer.getvalue()


def write_model(path, members, fix_checksums=True, metadata_patch=None):
    if fix_checksums or metadata_patch:
        members = with_checksums(members, metadata_patch)
    with open(path, "wb") as f:
        f.write(zip_bytes(members))
    return path


def npy_bytes(header: str, data: bytes = b"") -> bytes:
    """A version 1.0 .npy member with a header dict written as given (not checked)."""
    text = header + " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1") + data


def npz_bytes(arrays: dict) -> bytes:
    """``np.savez`` of ``arrays`` (stored, not compressed, as ``model.save`` writes it)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def config_bomb(members: dict, path, size: int) -> int:
    """Write a model whose config.json is valid JSON of ``size`` bytes that deflates to a
    thousandth of that (the padding is one long string in the user metadata), written
    in chunks so that making it costs no memory; returns the file's size in bytes."""
    config = json.loads(members["config.json"])
    config["metadata"] = {"padding": "@@PAD@@"}
    head, tail = json.dumps(config).encode().split(b"@@PAD@@")
    chunk = b"a" * (1 << 20)
    pad = size - len(head) - len(tail)
    digest = hashlib.sha256(head)
    for start in range(0, pad, len(chunk)):
        digest.update(chunk[: min(len(chunk), pad - start)])
    digest.update(tail)
    meta = json.loads(members["metadata.json"])
    meta["sha256"]["config.json"] = digest.hexdigest()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("config.json", "w", force_zip64=True) as f:
            f.write(head)
            for start in range(0, pad, len(chunk)):
                f.write(chunk[: min(len(chunk), pad - start)])
            f.write(tail)
        for name in ("weights.npz", "optimizer.npz"):
            zf.writestr(name, members[name])
        zf.writestr("metadata.json", json.dumps(meta))
    with open(path, "rb") as f:
        return len(f.read())


def huge_npy_header_members(members: dict, shape=(100_000, 200_000)) -> dict:
    """weights.npz whose first kernel declares ``shape`` (74.5 GiB of float32 by
    default) over 16 bytes of data."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    with zipfile.ZipFile(io.BytesIO(members["weights.npz"])) as zf:
        arrays = [(n, zf.read(n)) for n in zf.namelist()]
    arrays[0] = (arrays[0][0], npy_bytes(header, b"\0" * 16))
    return with_checksums({**members, "weights.npz": zip_bytes(arrays, zipfile.ZIP_STORED)})


def config_edit(members: dict, edit) -> dict:
    """``members`` with ``edit(config)`` applied to config.json (checksums recomputed)."""
    config = json.loads(members["config.json"])
    edit(config)
    return with_checksums({**members, "config.json": json.dumps(config).encode()})


def huge_units_members(members: dict, units: int = 10**9) -> dict:
    """A config asking the first Dense layer for ``units`` units; weights unchanged."""

    def edit(config):
        config["model"]["config"]["layers"][0]["config"]["units"] = units

    return config_edit(members, edit)
