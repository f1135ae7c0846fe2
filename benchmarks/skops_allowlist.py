"""Generate ``modelreuse.models.skops_allowlist.SKOPS_ALLOWED``: fit every real model of
``tests/security/test_deserialisers.py::REAL_MODELS`` on Beijing air-quality rows, dump it with
skops, and print the types skops does not trust by default with the loader each node uses.

Run from the repository root: ``.venv/bin/python benchmarks/skops_allowlist.py``; review the
output (classes only, never functions) before pasting it into the module.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import skops.io as sio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.security.test_deserialisers import REAL_MODELS, fit_real_model, load_table


def untrusted_loaders(data: bytes) -> dict[str, set[str]]:
    """Type name -> loaders, for the types of one skops dump that skops does not trust by default."""
    untrusted = set(sio.get_untrusted_types(data=data))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        stack, found = [json.loads(zf.read("schema.json"))], {}
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            name = f"{node.get('__module__')}.{node.get('__class__')}"
            if "__loader__" in node and name in untrusted:
                found.setdefault(name, set()).add(node["__loader__"])
            stack.extend(node.values())
    return found


def main() -> None:
    table, allowed = load_table(), {}
    for name in sorted(REAL_MODELS):
        for type_name, loaders in untrusted_loaders(sio.dumps(fit_real_model(name, table)[0])).items():
            allowed.setdefault(type_name, set()).update(loaders)
    print("SKOPS_ALLOWED: dict[str, str] = {")
    for type_name, loaders in sorted(allowed.items()):
        print(f"    {type_name!r}: {' | '.join(sorted(loaders))!r},")
    print("}")


if __name__ == "__main__":
    main()
