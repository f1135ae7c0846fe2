"""The text and image zoos as feature-extraction learnware packages (what ``modelreuse zoo build``
puts in a dock).

Each candidate of :mod:`modelreuse.zoo.text` / :mod:`modelreuse.zoo.image` becomes one package
(:meth:`modelreuse.learnware.Learnware.build_extractor`), in the zoo's order:

* text TF-IDF/SVD encoders: the fitted scikit-learn pipeline with its source head (logistic
  regression on the source corpus's labels) as the last step, saved with skops (the TF-IDF
  vocabulary as an array of terms, :func:`~modelreuse.models.extractors.compact_vocabularies`);
* MiniLM with its AG News head: the named encoder ``all-MiniLM-L6-v2`` plus the head (skops);
* EfficientNet-Lite0/1/2: the named encoder at ``EFFICIENTNET_SIZE`` px plus its ImageNet head
  (the 1280 -> 1000 linear layer, as the registered ``mlp`` architecture with no hidden layer,
  safetensors); the 1000 source classes are ImageNet class indices;
* small CNNs: the registered ``small_cnn`` architecture and its weights (safetensors), 32 px,
  the 10 source classes of the dataset it was trained on.

``limit`` builds only the first candidates, so a small zoo is quick to make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from modelreuse.learnware import Learnware
from modelreuse.models.extractors import compact_vocabularies, n_parameters
from modelreuse.zoo.text import TextModel

PRESETS = ("text", "image")


def build_zoo_packages(preset: str, out: str | Path, data_root: str | Path, cache: Path, *, limit: int | None = None,
                       progress: Callable[[str], None] = lambda _: None) -> list[Path]:
    """Write the ``preset`` zoo's first ``limit`` (default: all) candidates as packages under
    ``out`` (one folder each, ``000-<name>``) and return their folders."""
    if preset not in PRESETS:
        raise ValueError(f"unknown zoo preset {preset!r}; use one of {PRESETS}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    builders = _text_packages if preset == "text" else _image_packages
    out = Path(out)
    paths = []
    for i, build in enumerate(builders(data_root, cache, limit, progress)):
        paths.append(build(out / f"{i:03d}"))
    return paths


Builder = Callable[[Path], Path]


def _text_packages(data_root, cache, limit, progress) -> Iterator[Builder]:
    from modelreuse.zoo.text import iter_text_zoo

    for model in iter_text_zoo(data_root, cache, progress, limit=limit):
        yield lambda folder, model=model: text_package(folder, model)


def text_package(folder: Path, model: TextModel) -> Path:
    """One text zoo member as a package: its scikit-learn encoder with the head as the last pipeline
    step, or (named encoder) the head alone on the encoder's features."""
    from sklearn.pipeline import Pipeline

    if model.pipeline is not None:
        artifact = compact_vocabularies(Pipeline([*model.pipeline.steps, ("head", model.head)]))
        size, params = int(artifact[:-1].transform(["probe"]).shape[1]), n_parameters(artifact)
    else:
        artifact, size = model.head, int(model.head.n_features_in_)
        params = n_parameters(model.head) + _minilm_parameters()
    Learnware.build_extractor(folder, artifact, name=model.name, modality="text", feature_size=size,
                              classes=model.classes, encoder=model.encoder, n_parameters=params,
                              source_data=model.source, tags=["zoo:text"],
                              description=f"Text encoder {model.name} from modelreuse's text zoo.")
    return folder


def _minilm_parameters() -> int:
    from modelreuse.models.encoders import _minilm

    return n_parameters(_minilm())


def _image_packages(data_root, cache, limit, progress) -> Iterator[Builder]:
    from modelreuse.models.encoders import EFFICIENTNET_LITE
    from modelreuse.zoo.image import CNN_RECIPES, DATASETS

    names = [*EFFICIENTNET_LITE, *((source, recipe) for source in DATASETS for recipe in CNN_RECIPES)]
    for name in names[:limit]:
        yield (lambda folder, name=name: _efficientnet_package(folder, name, progress)) if isinstance(name, str) \
            else (lambda folder, name=name: _cnn_package(folder, *name, data_root, cache, progress))


def _efficientnet_package(folder: Path, name: str, progress: Callable[[str], None]) -> Path:
    import torch

    from modelreuse.models.architectures import mlp
    from modelreuse.models.encoders import _efficientnet
    from modelreuse.zoo.image import EFFICIENTNET_SIZE

    progress(name)
    backbone = _efficientnet(name)[0]
    fc = backbone._fc
    head = mlp(fc.in_features, fc.out_features, hidden=[])
    with torch.no_grad():
        head[0].weight.copy_(fc.weight)
        head[0].bias.copy_(fc.bias)
    Learnware.build_extractor(
        folder, head, name=name, modality="image", feature_size=fc.in_features, classes=list(range(fc.out_features)),
        encoder=name, image_size=EFFICIENTNET_SIZE, n_parameters=n_parameters(backbone),
        architecture={"name": "mlp", "kwargs": {"in_features": fc.in_features, "out_features": fc.out_features,
                                                "hidden": []}},
        source_data="ImageNet-1k", tags=["zoo:image"],
        description=f"{name} ImageNet classifier (PyPI efficientnet-lite-pytorch): pooled features of the last "
                    "convolution; the source head is its 1000-way ImageNet layer.")
    return folder


def _cnn_package(folder: Path, source: str, recipe: str, data_root, cache: Path, progress: Callable[[str], None]) -> Path:
    from modelreuse.zoo.image import CNN_RECIPES, train_source_cnn

    progress(f"cnn {source}/{recipe}")
    model = train_source_cnn(source, recipe, data_root, cache)
    width, blocks, feature_dim, _ = CNN_RECIPES[recipe]
    Learnware.build_extractor(
        folder, model, name=f"cnn/{source}/{recipe}", modality="image", feature_size=feature_dim,
        classes=list(range(10)), image_size=32, source_data=source, tags=["zoo:image"],
        architecture={"name": "small_cnn", "kwargs": {"width": width, "blocks": blocks, "feature_dim": feature_dim,
                                                      "num_classes": 10}},
        description=f"Small CNN ({recipe}) trained on {source} by modelreuse's image zoo; features are its "
                    "penultimate layer, the source head its 10-way classifier.")
    return folder
