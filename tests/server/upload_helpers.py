"""Uploads for the server tests: the raw ``POST /uploads`` request, and hostile packages made from a
real learnware zip (malformed archives and manifests, a pickled model that writes a marker file when
unpickled, a skops model whose ``alpha`` calls ``os.system``)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import skops.io as sio


def upload(client, body, **params):
    """``POST /uploads`` of ``body`` (bytes, or an iterator of chunks: sent chunked) as a zip."""
    return client.post("/uploads", content=body, params=params, headers={"Content-Type": "application/zip"})


def rewrite(package: bytes, replace: dict[str, bytes | None], extra: dict[str, bytes] | None = None) -> bytes:
    """``package`` with entries replaced (None: dropped) and ``extra`` entries added, names as given."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = replace.get(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            dst.writestr(zipfile.ZipInfo(name), data)
    return out.getvalue()


class _WriteMarker:
    """Unpickling this writes the marker file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "ran"))


def _pickled_model(package: bytes, marker: Path) -> bytes:
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(package)).read("manifest.json"))
    manifest["artifact"] = {"format": "pickle", "file": "model.pkl"}
    return rewrite(package, {"model.skops": None, "manifest.json": json.dumps(manifest).encode()},
                   {"model.pkl": pickle.dumps(_WriteMarker(str(marker)))})


MALFORMED = {
    "empty": (lambda p, m: b"", "UnsafeArchiveError"),
    "not a zip": (lambda p, m: b"PK\x03\x04 this is not a zip" * 50, "UnsafeArchiveError"),
    "manifest not JSON": (lambda p, m: rewrite(p, {"manifest.json": b"{'name': "}), "ManifestError"),
    "no manifest": (lambda p, m: rewrite(p, {"manifest.json": None}), "ManifestError"),
    "path traversal": (lambda p, m: rewrite(p, {}, {"../../escaped.txt": b"outside"}), "UnsafeArchiveError"),
    "pickle model": (_pickled_model, "UntrustedArtifactError"),
}
"""Case name -> (function (a valid package, a marker path) -> the hostile package, the error type)."""


def hostile_skops(package: bytes, command: str) -> bytes:
    """``package`` whose Ridge's ``alpha`` is a skops node that calls ``os.system(command)``."""
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        model = zf.read("model.skops")
    with zipfile.ZipFile(io.BytesIO(sio.dumps((command,)))) as zf:
        args = json.loads(zf.read("schema.json"))
    args.pop("protocol"), args.pop("_skops_version")
    with zipfile.ZipFile(io.BytesIO(model)) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    schema = json.loads(entries["schema.json"])
    schema["content"]["content"]["alpha"] = {"__class__": "system", "__module__": "os",
                                             "__loader__": "ConstructorFromReduceNode", "content": args}
    entries["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return rewrite(package, {"model.skops": out.getvalue()})
