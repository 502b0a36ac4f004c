#!/usr/bin/env python
# Copyright 2026 The m2fnet Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Builds an M2FNet around a pretrained (or stage-1 fine-tuned) text encoder and trained stage-1 extractors.

The encoder's config becomes `text_config`, its weights are copied into `model.m2fnet.text_model`, its tokenizer goes
into the `M2FNetProcessor`, and the whole model is saved once, with its code, so that it loads with
`AutoModel.from_pretrained(output_dir, trust_remote_code=True)` (backbone weights live in the checkpoint; nothing
downloads in `__init__`). A text encoder folder written by stage 1 (`train_extractor.py --modality text`) or by
`prepare_text_encoder.py` carries `m2fnet_text_encoder.json`; its pooling, context settings and base model are used
unless given explicitly.

```python
from m2fnet_training.model_building import build_m2fnet, save_m2fnet

model, processor = build_m2fnet("local_models/all-mpnet-base-v2", modalities=["text"], label_names=["a", "b"])
save_m2fnet(model, processor, "outputs/models/m2fnet-mpnet-text")
```
"""

import json
import logging
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.utils import logging as transformers_logging

from modeling_m2fnet import (
    MELD_EMOTIONS,
    M2FNetAudioExtractor,
    M2FNetConfig,
    M2FNetFeatureExtractor,
    M2FNetForEmotionRecognition,
    M2FNetImageProcessor,
    M2FNetProcessor,
    M2FNetVisualExtractor,
    register_auto_classes,
)
from modeling_m2fnet.configuration_m2fnet import MODALITIES

from .io_utils import atomic_output_dir, os_errors_named


TEXT_ENCODER_INFO_NAME = "m2fnet_text_encoder.json"  # written by stage 1 for text and by prepare_text_encoder
PROCESSOR_TEXT_SETTINGS = ("context_window", "include_speaker", "max_text_length")
logger = logging.getLogger(__name__)

# Checkpoint weights that our text model leaves out on purpose: M2FNet reads token states, never the pooler.
IGNORED_TEXT_KEY_PARTS = ("pooler.",)
EXTRACTORS = {
    "audio": (M2FNetAudioExtractor, "m2fnet_audio", "audio_model"),
    "visual": (M2FNetVisualExtractor, "m2fnet_visual", "visual_model"),
}


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def check_model_source(source: str | Path, what: str) -> str:
    """
    Returns `source` as a string after checking that it can be a transformers model: an existing folder with a
    `config.json`, or something shaped like a Hub id (`name` or `org/name`).

    Raises:
        `FileNotFoundError`: for a local-looking path that does not exist.
        `ValueError`: for a file, or a folder without `config.json` (not a transformers model folder).
    """
    source = str(source)
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{what} {source!r} is a file; expected a transformers model folder (with config.json).")
        if not (path / "config.json").is_file():
            found = sorted(child.name for child in path.iterdir())[:10]
            raise ValueError(
                f"{what} {source!r} is not a transformers model folder: it has no config.json (found {found}). "
                "Point it at a folder written by `save_pretrained` (e.g. built by examples/prepare_text_encoder.py)."
            )
        return str(path)
    if _looks_like_path(source):
        raise FileNotFoundError(f"{what} {source!r} does not exist (and is not shaped like a Hub id 'org/name').")
    return source


def _read_model_type(source: str) -> str | None:
    config_file = Path(source) / "config.json"
    if config_file.is_file():
        return json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    return None


def detect_text_pooling(text_encoder: str) -> str | None:
    """
    `"mean"` when `text_encoder` is a local sentence-transformers folder whose pooling module averages the token
    states (`1_Pooling/config.json` with `pooling_mode_mean_tokens`), `"cls"` when it pools the first token, `None`
    when there is no such file (a plain transformers encoder, or a Hub id).
    """
    pooling_file = Path(text_encoder) / "1_Pooling" / "config.json"
    if not pooling_file.is_file():
        return None
    pooling = json.loads(pooling_file.read_text(encoding="utf-8"))
    if pooling.get("pooling_mode_mean_tokens"):
        return "mean"
    if pooling.get("pooling_mode_cls_token"):
        return "cls"
    return None


def read_text_encoder_info(text_encoder: str) -> dict:
    """The `m2fnet_text_encoder.json` record of a local text-encoder folder (pooling, context settings, base model)."""
    path = Path(text_encoder) / TEXT_ENCODER_INFO_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def label_names_from_dataset(dataset_dir: str | Path) -> list[str]:
    """The emotion names of a dataset built by `examples/build_dataset.py` (its `emotion` `ClassLabel`)."""
    import datasets

    from datasets_scripts.schema import dialogue_label_names

    return dialogue_label_names(datasets.load_from_disk(str(dataset_dir)))


def _is_ignored_text_key(key: str) -> bool:
    return any(key.startswith(part) or f".{part}" in key for part in IGNORED_TEXT_KEY_PARTS)


def load_text_encoder_weights(model: M2FNetForEmotionRecognition, text_encoder: str, allow_missing_keys=False) -> dict:
    """
    Copies the pretrained weights of `text_encoder` into `model.m2fnet.text_model` with `load_state_dict`.

    Args:
        model ([`M2FNetForEmotionRecognition`]):
            A model whose `config.text_config` is the encoder's config.
        text_encoder (`str`):
            Local folder or Hub id of the encoder (any `AutoModel`).
        allow_missing_keys (`bool`, *optional*, defaults to `False`):
            Keep going when the checkpoint lacks some of the encoder's weights (they stay randomly initialised).

    Returns:
        `dict` with `missing_keys` (encoder weights absent from the checkpoint), `unexpected_keys` (checkpoint weights
        the encoder does not use, the pooler excepted), `ignored_keys` (the pooler, which M2FNet leaves out on
        purpose) and `copied_tensors`.

    Raises:
        `ValueError`: on missing weights (unless `allow_missing_keys`) or when the loaded encoder does not match the
            model's text model (a `text_config` that is not the encoder's).
    """
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # transformers' own load report: we return (and log) ours
    try:
        try:
            encoder, info = AutoModel.from_pretrained(
                text_encoder, add_pooling_layer=False, output_loading_info=True, use_safetensors=True
            )
        except TypeError:  # encoders without a pooler do not take the argument
            encoder, info = AutoModel.from_pretrained(text_encoder, output_loading_info=True, use_safetensors=True)
    except (OSError, RuntimeError) as error:  # no weight file; weights of the wrong shape
        raise ValueError(f"Could not load the weights of text encoder {text_encoder!r}: {error}") from error
    finally:
        transformers_logging.set_verbosity(verbosity)
    unexpected = sorted(info.get("unexpected_keys", []))
    report = {
        "missing_keys": sorted(info.get("missing_keys", [])),
        "unexpected_keys": [key for key in unexpected if not _is_ignored_text_key(key)],
        "ignored_keys": [key for key in unexpected if _is_ignored_text_key(key)],
        "mismatched_keys": [str(item) for item in info.get("mismatched_keys", [])],
    }
    if (report["missing_keys"] or report["mismatched_keys"]) and not allow_missing_keys:
        raise ValueError(
            f"Text encoder {text_encoder!r}: its checkpoint lacks {len(report['missing_keys'])} weight(s) of "
            f"{type(encoder).__name__} (e.g. {report['missing_keys'][:5]}) and has "
            f"{len(report['mismatched_keys'])} of the wrong shape; they would stay random. Check the folder, or "
            "pass allow_missing_keys=True (--allow_missing_keys)."
        )
    text_model = model.m2fnet.text_model
    result = text_model.load_state_dict(encoder.state_dict(), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"The encoder loaded from {text_encoder!r} ({type(encoder).__name__}) does not match "
            f"model.m2fnet.text_model ({type(text_model).__name__}): missing {list(result.missing_keys)[:5]}, "
            f"unexpected {list(result.unexpected_keys)[:5]}. Was `text_config` changed after it was read?"
        )
    report["copied_tensors"] = len(text_model.state_dict())
    return report


def load_extractor(modality: str, source: str) -> torch.nn.Module:
    """Loads a stage-1 extractor saved with `save_pretrained` (`M2FNetAudioExtractor` or `M2FNetVisualExtractor`)."""
    extractor_class, model_type, _ = EXTRACTORS[modality]
    source = check_model_source(source, f"The {modality} extractor")
    found = _read_model_type(source)
    if found is not None and found != model_type:
        raise ValueError(
            f"The {modality} extractor {source!r} has model_type {found!r}; expected {model_type!r} (a "
            f"{extractor_class.__name__} saved with `save_pretrained`)."
        )
    extractor, info = extractor_class.from_pretrained(source, output_loading_info=True, use_safetensors=True)
    if info.get("missing_keys") or info.get("mismatched_keys"):
        raise ValueError(
            f"The {modality} extractor {source!r} lacks weights: missing {sorted(info['missing_keys'])[:5]}, "
            f"mismatched {list(info.get('mismatched_keys', []))[:5]}."
        )
    return extractor


def _load_base_config(config: M2FNetConfig | str | Path | None) -> M2FNetConfig | None:
    if config is None or isinstance(config, M2FNetConfig):
        return config
    path = Path(config).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"M2FNet config {str(path)!r} does not exist (give a config.json or its folder).")
    config_file = path / "config.json" if path.is_dir() else path
    loaded = M2FNetConfig.from_json_file(str(config_file))
    if loaded.model_type != "m2fnet":
        raise ValueError(f"{config_file} is not an M2FNet config (model_type {loaded.model_type!r}).")
    return loaded


def _sub_processor(source: str | None, key: str, expected: str, processor_class):
    """The feature extractor / image processor saved next to a stage-1 extractor, if any (else the defaults)."""
    if source is not None:
        config_file = Path(source) / "preprocessor_config.json"
        if config_file.is_file() and json.loads(config_file.read_text(encoding="utf-8")).get(key) == expected:
            return processor_class.from_pretrained(source)
    return processor_class()


def _resolve_labels(label_names: list[str] | None, base: M2FNetConfig | None) -> list[str]:
    """`label_names` (checked against a given base config), else the base config's, else MELD's seven."""
    if label_names is None:
        return [base.id2label[index] for index in range(base.num_labels)] if base is not None else list(MELD_EMOTIONS)
    label_names = [str(name) for name in label_names]
    if len(set(label_names)) != len(label_names) or len(label_names) < 2:
        raise ValueError(f"`label_names` must hold at least 2 distinct names, got {label_names}.")
    if base is not None:
        base_names = [base.id2label[index] for index in range(base.num_labels)]
        if base_names != label_names:
            raise ValueError(
                f"`label_names` {label_names} disagree with the given config's labels {base_names} (names and "
                "class-id order must match); drop one of them or fix the config."
            )
    return label_names


def _check_arguments(text_encoder, audio_extractor, visual_extractor, modalities, config_overrides) -> None:
    sources = {"text": text_encoder, "audio": audio_extractor, "visual": visual_extractor}
    conflicts = [
        f"{m}_config" for m, source in sources.items() if source is not None and f"{m}_config" in config_overrides
    ]
    if conflicts:
        raise ValueError(f"{conflicts} are read from the given encoder / extractors; do not also pass them.")
    for name in ("id2label", "label2id", "num_labels"):
        if name in config_overrides:
            raise ValueError(f"Pass the emotion set as `label_names`, not `{name}`.")
    for modality, source in sources.items():
        if source is not None and modality not in modalities:
            raise ValueError(
                f"A {modality} encoder/extractor was given but `modalities` {modalities} lacks {modality!r}."
            )


def _text_encoder_config(text_encoder: str) -> tuple[str, Any, dict]:
    """`(checked source, its config, its m2fnet_text_encoder.json record)`."""
    text_encoder = check_model_source(text_encoder, "The text encoder")
    if _read_model_type(text_encoder) in ("m2fnet", "m2fnet_audio", "m2fnet_visual"):
        raise ValueError(
            f"{text_encoder!r} is an M2FNet checkpoint, not a text encoder: load it with "
            "`AutoModel.from_pretrained(..., trust_remote_code=True)`, or pass it as `config=` to reuse its settings."
        )
    try:
        text_config = AutoConfig.from_pretrained(text_encoder)
    except (OSError, ValueError) as error:
        raise ValueError(f"{text_encoder!r} is not a loadable transformers model: {error}") from error
    info = read_text_encoder_info(text_encoder)
    if info.get("base_model"):
        text_config._name_or_path = info["base_model"]  # what the model card names as `base_model`
    return text_encoder, text_config, info


TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
)


def load_tokenizer(text_encoder: str):
    """
    The tokenizer saved with a text encoder (folder or Hub id). A local folder without tokenizer files is an error
    naming it: transformers would otherwise build an empty tokenizer of the model's type.
    """
    folder = Path(text_encoder).expanduser()
    if folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ValueError(
            f"{text_encoder!r} has no usable tokenizer (none of {', '.join(TOKENIZER_FILES)}); save the encoder's "
            "tokenizer next to it (`tokenizer.save_pretrained(folder)`)."
        )
    try:
        return AutoTokenizer.from_pretrained(text_encoder)
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"{text_encoder!r} has no usable tokenizer: {error}") from error


def _load_tokenizer(text_encoder: str | None, tokenizer, config: M2FNetConfig):
    if tokenizer is None:
        if text_encoder is None:
            raise ValueError(
                "The processor needs a tokenizer: pass `text_encoder` (its tokenizer is used) or `tokenizer`."
            )
        tokenizer = load_tokenizer(text_encoder)
    vocab_size = getattr(config.text_config, "vocab_size", None)
    if "text" in config.modalities and vocab_size is not None and len(tokenizer) > vocab_size:
        raise ValueError(
            f"The tokenizer has {len(tokenizer)} tokens but the text encoder embeds only {vocab_size}: they do not "
            "belong together."
        )
    return tokenizer


def _make_processor(tokenizer, config, label_names, audio_extractor, visual_extractor, processor_kwargs):
    max_positions = getattr(config.text_config, "max_position_embeddings", None)
    max_text_length = processor_kwargs.get("max_text_length", 128)
    if "text" in config.modalities and max_positions is not None and max_text_length > max_positions:
        raise ValueError(
            f"`max_text_length` ({max_text_length}) exceeds the text encoder's max_position_embeddings ({max_positions})."
        )
    feature_extractor = _sub_processor(
        audio_extractor and str(audio_extractor),
        "feature_extractor_type",
        "M2FNetFeatureExtractor",
        M2FNetFeatureExtractor,
    )
    image_processor = _sub_processor(
        visual_extractor and str(visual_extractor),
        "image_processor_type",
        "M2FNetImageProcessor",
        M2FNetImageProcessor,
    )
    return M2FNetProcessor(
        tokenizer,
        feature_extractor,
        image_processor,
        label_names=label_names,
        modalities=list(config.modalities),
        **processor_kwargs,
    )


BASE_CONFIG_DROPPED_KEYS = (
    "model_type",
    "transformers_version",
    "architectures",
    "auto_map",
    "_name_or_path",
    "label2id",
    "num_labels",
)


def _load_extractors(sources: dict, modalities: list[str], config_kwargs: dict) -> dict:
    """`{modality: (source, extractor)}` for the given stage-1 extractors; their configs go into `config_kwargs`."""
    extractors = {}
    for modality, source in sources.items():
        if source is not None:
            extractor = load_extractor(modality, source)
            config_kwargs[f"{modality}_config"] = extractor.config
            extractors[modality] = (source, extractor)
        elif modality in modalities:
            logger.warning(f"No {modality} extractor given: the {modality} extractor is randomly initialised.")
    return extractors


def build_m2fnet(
    text_encoder: str | Path | None = None,
    audio_extractor: str | Path | None = None,
    visual_extractor: str | Path | None = None,
    modalities: list[str] | None = None,
    label_names: list[str] | None = None,
    text_pooling: str | None = None,
    config: M2FNetConfig | str | Path | None = None,
    tokenizer=None,
    processor_kwargs: dict[str, Any] | None = None,
    allow_missing_keys: bool = False,
    return_loading_info: bool = False,
    **config_overrides,
):
    r"""
    Builds an [`M2FNetForEmotionRecognition`] whose utterance-level extractors start from pretrained weights, and
    the matching [`M2FNetProcessor`].

    Args:
        text_encoder (`str` or `Path`, *optional*):
            Local folder or Hub id of any transformers text encoder (`AutoModel` + `AutoTokenizer`). Its config becomes
            `text_config`, its weights are copied into `model.m2fnet.text_model` (a pooler in the checkpoint is left
            out: M2FNet pools token states) and its tokenizer goes into the processor.
        audio_extractor (`str` or `Path`, *optional*):
            Folder of an [`M2FNetAudioExtractor`] saved with `save_pretrained` (stage 1); its config becomes
            `audio_config` and its weights fill `model.m2fnet.audio_model`. A `preprocessor_config.json` of an
            `M2FNetFeatureExtractor` saved next to it is used by the processor.
        visual_extractor (`str` or `Path`, *optional*):
            Folder of an [`M2FNetVisualExtractor`] (stage 1), likewise for `visual_config` / `visual_model` (and an
            `M2FNetImageProcessor` saved next to it).
        modalities (`list[str]`, *optional*):
            Active modalities; defaults to those of `config`, else all three. Active audio / visual modalities
            without an extractor start from random weights (a warning says so).
        label_names (`list[str]`, *optional*):
            Emotion names in class-id order; defaults to those of `config`, else MELD's seven.
        text_pooling (`str`, *optional*):
            `"cls"` (the paper's first-token embedding) or `"mean"` (sentence-transformers encoders). Defaults to
            `config`'s value, else `"mean"` / `"cls"` as a local sentence-transformers folder declares in
            `1_Pooling/config.json`, else `"cls"`.
        config ([`M2FNetConfig`], `str` or `Path`, *optional*):
            A base config (object, `config.json` or a folder holding one) for the dialogue-level settings.
        tokenizer (`PreTrainedTokenizerBase`, *optional*):
            Tokenizer for the processor when there is no `text_encoder` (the processor always holds one).
        processor_kwargs (`dict`, *optional*):
            Extra [`M2FNetProcessor`] arguments (`context_window`, `max_text_length`, `on_media_error`, ...).
        allow_missing_keys (`bool`, *optional*, defaults to `False`):
            Accept a text encoder checkpoint that lacks some weights (left random) instead of raising.
        return_loading_info (`bool`, *optional*, defaults to `False`):
            Also return a dict describing what was loaded (keys per sub-model, parameter counts).
        config_overrides:
            Any other [`M2FNetConfig`] field (`num_hidden_layers=5`, `num_fusion_layers=0`, ...).

    Returns:
        `(model, processor)`, or `(model, processor, loading_info)` with `return_loading_info=True`. The model is in
        eval mode; everything that was not loaded is randomly initialised (seed it with `torch.manual_seed`).

    Raises:
        `FileNotFoundError` / `ValueError`: for a folder that is not a transformers model (or not the right kind of
        extractor), label names that disagree with `config`, an extractor for an inactive modality, conflicting
        overrides, a tokenizer whose vocabulary exceeds the encoder's embeddings, or a checkpoint lacking weights.
    """
    base = _load_base_config(config)
    kwargs = {} if base is None else {k: v for k, v in base.to_dict().items() if k not in BASE_CONFIG_DROPPED_KEYS}
    modalities = [str(m) for m in (modalities or (base.modalities if base is not None else MODALITIES))]
    _check_arguments(text_encoder, audio_extractor, visual_extractor, modalities, config_overrides)
    label_names = _resolve_labels(label_names, base)
    kwargs.update(id2label=dict(enumerate(label_names)), modalities=modalities)
    loading_info: dict[str, Any] = {"modalities": modalities, "label_names": label_names}
    processor_kwargs = dict(processor_kwargs or {})
    if text_encoder is not None:
        text_encoder, kwargs["text_config"], info = _text_encoder_config(text_encoder)
        loading_info["text_encoder"] = text_encoder
        if text_pooling is None and base is None:
            text_pooling = info.get("text_pooling") or detect_text_pooling(text_encoder)
        for name in PROCESSOR_TEXT_SETTINGS:  # the context the encoder was fine-tuned with
            if name in info and name not in processor_kwargs:
                processor_kwargs[name] = info[name]
    if text_pooling is not None:
        kwargs["text_pooling"] = text_pooling

    extractors = _load_extractors({"audio": audio_extractor, "visual": visual_extractor}, modalities, kwargs)
    model = M2FNetForEmotionRecognition(M2FNetConfig(**{**kwargs, **config_overrides}))
    if text_encoder is not None:
        loading_info["text_model"] = load_text_encoder_weights(model, text_encoder, allow_missing_keys)
    for modality, (source, extractor) in extractors.items():
        target = getattr(model.m2fnet, EXTRACTORS[modality][2])
        target.load_state_dict(extractor.state_dict())  # same config, so the keys match exactly
        loading_info[f"{modality}_extractor"] = str(source)
        loading_info[EXTRACTORS[modality][2]] = {"copied_tensors": len(target.state_dict())}
    loading_info["num_parameters"] = sum(parameter.numel() for parameter in model.parameters())
    tokenizer = _load_tokenizer(text_encoder, tokenizer, model.config)
    processor = _make_processor(
        tokenizer, model.config, label_names, audio_extractor, visual_extractor, processor_kwargs
    )
    model.eval()
    if return_loading_info:
        return model, processor, loading_info
    return model, processor


def save_m2fnet(model, processor, output_dir: str | Path, overwrite: bool = False) -> Path:
    """
    Saves model and processor together, with the package's code (`register_auto_classes`), into `output_dir`
    atomically: everything is written to a temporary sibling folder that is renamed at the end.
    """
    register_auto_classes()
    with atomic_output_dir(output_dir, overwrite=overwrite) as staging, os_errors_named(output_dir):
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
    return Path(output_dir).expanduser().resolve()


__all__ = [
    "build_m2fnet",
    "check_model_source",
    "detect_text_pooling",
    "label_names_from_dataset",
    "load_tokenizer",
    "load_text_encoder_weights",
    "read_text_encoder_info",
    "save_m2fnet",
]
