"""Which kind of model file this is, by its first bytes and its name. Pickle and joblib are refused.

Loading a pickle (or a joblib file, which is a pickle, often zlib-compressed) runs whatever code the
file names, so the platform never loads one. Model owners convert theirs on their own machine with
`gaodi model pack`, which writes ONNX or skops.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from gaodi.engines.evaluation.errors import ModelError

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".jl", ".sav", ".dill", ".pt", ".pth"}
_COMPRESSED = {
    b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"\x04\x22\x4d\x18": "lz4", b"ZF": "zlib",
}
_ZLIB_SECOND = {0x01, 0x5E, 0x9C, 0xDA}


def pack_hint(path: Path) -> str:
    return (f"convert it on your own machine with `gaodi model pack --model {path.name} --format skops "
            f"--sample data.csv --out model.skops` (or --format onnx) and upload the result")


def sniff(head: bytes) -> str | None:
    """Name what the first bytes say the file is, when they say pickle or compressed data."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"a pickle file (protocol {head[1]})"
    if len(head) >= 2 and head[0] == 0x78 and head[1] in _ZLIB_SECOND:
        return "zlib-compressed data, as joblib writes"
    for magic, name in _COMPRESSED.items():
        if head.startswith(magic):
            return f"{name}-compressed data, as joblib writes"
    return None


def detect_format(path: Path) -> str:
    """'onnx' or 'skops'; raises ModelError for pickle, joblib and anything else."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    found = sniff(head)
    if found is not None or path.suffix.lower() in PICKLE_SUFFIXES:
        what = found or f"a pickle/joblib file ({path.suffix})"
        raise ModelError(f"model file {path.name} is {what}; Gaodi never loads pickle or joblib files because "
                         f"loading one runs the code inside it: {pack_hint(path)}")
    if head.startswith(b"PK\x03\x04"):
        return _zip_format(path)
    if path.suffix.lower() == ".onnx":
        return "onnx"
    raise ModelError(f"model file {path.name} is neither ONNX (.onnx) nor skops (.skops); {pack_hint(path)}")


def _zip_format(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise ModelError(f"model file {path.name} is a damaged zip archive") from None
    if "schema.json" in names:
        return "skops"
    raise ModelError(f"model file {path.name} is a zip archive but not a skops file (it may hold pickles); "
                     f"{pack_hint(path)}")
