"""Hostile and malformed feature-extraction learnwares (issue 19, part 1): a pickle payload, an
unregistered architecture, weights or outputs of the wrong shape, an inconsistent manifest. Each is
built from a real, valid extractor package and must be refused by ``Dock.submit`` (sandboxed
validation) with a typed error, with the dock unchanged and the payload never run."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from modelreuse.dock import Dock
from modelreuse.errors import ManifestError, ModelLoadError, SchemaError, UntrustedArtifactError
from modelreuse.learnware import Learnware
from modelreuse.models.architectures import small_cnn
from tests.security.conftest import copy_package, dock_state
from tests.zoo.extractors import text_pipeline

CNN_KWARGS = {"width": 8, "blocks": 2, "feature_dim": 16, "num_classes": 10}


class _Payload:
    """Unpickling this runs code that writes the canary."""

    def __init__(self, canary):
        self.canary = str(canary)

    def __reduce__(self):
        return (exec, (f"open({self.canary!r}, 'w').write('pwned')",))


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("extractor-packages")
    model, classes = text_pipeline("sms_spam", 16, rows=600)
    text = Learnware.build_extractor(folder / "text", model, name="sms/svd16", modality="text", feature_size=16,
                                     classes=classes, source_data="sms_spam").root
    torch.manual_seed(0)
    cnn = Learnware.build_extractor(folder / "cnn", small_cnn(**CNN_KWARGS).eval(), name="cnn", modality="image",
                                    feature_size=16, classes=list(range(10)),
                                    architecture={"name": "small_cnn", "kwargs": CNN_KWARGS}).root
    return {"text": text, "cnn": cnn}


def _edit(package: Path, change) -> None:
    manifest = json.loads((package / "manifest.json").read_text())
    change(manifest, package)
    (package / "manifest.json").write_text(json.dumps(manifest))


def _pickle_artifact(canary):
    def change(manifest, package):
        (package / "model.pkl").write_bytes(pickle.dumps(_Payload(canary)))
        manifest["artifact"] = {"format": "pickle", "file": "model.pkl"}
    return change


def _set(*path, value):
    def change(manifest, package):
        node = manifest
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _both_widths(width):
    def change(manifest, package):
        manifest["output"]["feature_size"] = manifest["input_schema"]["n_features"] = width
    return change


CASES = {  # name -> (base package, change(canary), error type, message)
    "pickle payload": ("text", _pickle_artifact, UntrustedArtifactError, "executes code"),
    "unknown architecture": ("cnn", lambda c: _set("artifact", "architecture", "name", value="evil_net"),
                             ModelLoadError, "unknown torch architecture 'evil_net'"),
    "weights of another shape": ("cnn", lambda c: _set("artifact", "architecture", "kwargs", "feature_dim", value=32),
                                 ModelLoadError, "do not belong|is .* in the file"),
    "declared feature size": ("text", lambda c: _both_widths(99), SchemaError, r"declares \(8, 99\)"),
    "source head classes": ("text", lambda c: _set("output", "classes", value=["a", "b", "c"]), SchemaError,
                            r"source head .* declares \(8, 3\)"),
    "takes for another modality": ("text", lambda c: _set("modality", value="image"), ManifestError,
                                   "image feature extractor takes 'images'"),
}


@pytest.mark.parametrize("case", CASES)
def test_malformed_extractor_is_refused_and_nothing_is_stored(case, packages, canary, tmp_path):
    base, change, error, message = CASES[case]
    package = copy_package(packages[base], tmp_path / "package")
    _edit(package, change(canary))
    dock = Dock(tmp_path / "dock")
    before = dock_state(dock)
    with pytest.raises(error, match=message):
        dock.submit(package)
    assert dock_state(dock) == before and len(dock) == 0


def test_valid_extractors_pass_validation_and_load_without_trust(packages, tmp_path):
    dock = Dock(tmp_path / "dock")
    ids = dock.submit_many(list(packages.values()))
    for learnware_id in ids:
        card = dock.card(learnware_id)
        assert card["task_type"] == "feature_extraction" and "feature-extractor" in card["tags"]
        assert "features: 16" in card["description"] and "parameters:" in card["description"]
        assert dock.load_model(learnware_id).feature_size == 16
