"""``modelreuse zoo build``: the image zoo's first candidate (EfficientNet-Lite0 from its PyPI package)
published as a feature-extraction learnware in a new dock, validated in the sandbox; bad presets
and limits are typed CLI errors (the text preset: test_zoo_build_text.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from modelreuse.cli import app
from modelreuse.dock import Dock
from tests.cli.conftest import cli_json
from tests.conftest import DATA


def test_zoo_build_image_limit_1_publishes_efficientnet_lite0(tmp_path):
    report = cli_json("zoo", "build", "--preset", "image", "--out", tmp_path / "dock", "--limit", 1,
                      "--data", DATA, "--cache", tmp_path / "cache")
    assert [(c["name"], c["modality"], c["n_features"]) for c in report["learnwares"]] == \
        [("efficientnet-lite0", "image", 1280)]
    dock = Dock(tmp_path / "dock", create=False)
    lw = dock.get(report["learnwares"][0]["id"])
    m = lw.manifest
    assert (m.task_type, m.input_schema.takes, m.input_schema.image_size, m.input_schema.encoder) == \
        ("feature_extraction", "images", 128, "efficientnet-lite0")
    assert m.output.feature_size == 1280 and len(m.output.classes) == 1000 and m.artifact.format == "safetensors"
    card = lw.spec("semantic")
    assert card.modality == "image" and "source:ImageNet-1k" in card.tags and "parameters: 4652008" in card.description


@pytest.mark.parametrize(("args", "message"), [
    (["--preset", "audio"], "error: UnknownNameError: unknown zoo preset 'audio'"),
    (["--preset", "text", "--limit", "0"], "Invalid value for '--limit'"),
])
def test_zoo_build_bad_arguments(args, message, tmp_path):
    result = CliRunner().invoke(app, ["zoo", "build", *args, "--out", str(tmp_path / "dock")])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "dock").exists()
