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
"""Builds an M2FNet around a pretrained text encoder (and trained stage-1 extractors); saves model + processor.

This is the documented way to point M2FNet's text extractor at a pretrained encoder (a local folder or a Hub id):
the encoder's config becomes `text_config`, its weights are copied into `model.m2fnet.text_model`, its tokenizer
goes into the `M2FNetProcessor`, and the whole model is saved once, with its code, so that it loads with
`AutoModel.from_pretrained(output_dir, trust_remote_code=True)` (DESIGN decision 3: backbone weights live in the
checkpoint; nothing downloads in `__init__`).

```bash
# text only, with a sentence-transformers encoder (mean pooling), MELD labels
python examples/build_model.py --text_encoder local_models/all-mpnet-base-v2 --modalities text \
    --text_pooling mean --output_dir outputs/models/m2fnet-mpnet-text
# the paper's model: RoBERTa-large + audio and visual extractors trained with examples/train_extractor.py
python examples/build_model.py --text_encoder FacebookAI/roberta-large --audio_extractor outputs/audio-extractor \
    --visual_extractor outputs/visual-extractor --output_dir outputs/models/m2fnet-meld
# IEMOCAP labels and 5 dialogue-encoder layers
python examples/build_model.py --text_encoder local_models/all-MiniLM-L6-v2 --modalities text \
    --label_names happy sad neutral angry excited frustrated --set num_hidden_layers=5 --output_dir out/iemocap
```

In Python:

```python
from examples.build_model import build_m2fnet

model, processor = build_m2fnet("local_models/all-mpnet-base-v2", modalities=["text"], text_pooling="mean")
```
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any


REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a clone without installing
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from transformers import AutoConfig, AutoModel, AutoTokenizer  # noqa: E402
from transformers.utils import logging as transformers_logging  # noqa: E402

from modeling_m2fnet import (  # noqa: E402
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
from modeling_m2fnet.configuration_m2fnet import MODALITIES  # noqa: E402


logger = logging.getLogger("build_model")

# Checkpoint weights that our text model leaves out on purpose: M2FNet reads token states, never the pooler.
IGNORED_TEXT_KEY_PARTS = ("pooler.",)
EXTRACTORS = {"audio": (M2FNetAudioExtractor, "m2fnet_audio", "audio_model"),
              "visual": (M2FNetVisualExtractor, "m2fnet_visual", "visual_model")}  # fmt: skip


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
            encoder, info = AutoModel.from_pretrained(text_encoder, add_pooling_layer=False, output_loading_info=True)
        except TypeError:  # encoders without a pooler do not take the argument
            encoder, info = AutoModel.from_pretrained(text_encoder, output_loading_info=True)
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
    extractor, info = extractor_class.from_pretrained(source, output_loading_info=True)
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
    base_kwargs = {} if base is None else base.to_dict()
    for key in ("model_type", "transformers_version", "architectures", "auto_map", "_name_or_path"):
        base_kwargs.pop(key, None)

    conflicts = [
        name
        for name, source in (("text_config", text_encoder), ("audio_config", audio_extractor),
                             ("visual_config", visual_extractor))
        if source is not None and name in config_overrides
    ]  # fmt: skip
    if conflicts:
        raise ValueError(f"{conflicts} are read from the given encoder / extractors; do not also pass them.")
    for name in ("id2label", "label2id", "num_labels"):
        if name in config_overrides:
            raise ValueError(f"Pass the emotion set as `label_names`, not `{name}`.")

    # Labels: `label_names` wins, but must agree with a given config.
    if label_names is not None:
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
    elif base is not None:
        label_names = [base.id2label[index] for index in range(base.num_labels)]
    else:
        label_names = list(MELD_EMOTIONS)
    base_kwargs.pop("label2id", None)
    base_kwargs.pop("num_labels", None)
    base_kwargs["id2label"] = dict(enumerate(label_names))

    if modalities is None:
        modalities = list(base.modalities) if base is not None else list(MODALITIES)
    modalities = [str(modality) for modality in modalities]
    for modality, source in (("text", text_encoder), ("audio", audio_extractor), ("visual", visual_extractor)):
        if source is not None and modality not in modalities:
            raise ValueError(
                f"A {modality} encoder/extractor was given but `modalities` {modalities} lacks {modality!r}."
            )
    base_kwargs["modalities"] = modalities

    loading_info: dict[str, Any] = {"modalities": modalities, "label_names": label_names}
    if text_encoder is not None:
        text_encoder = check_model_source(text_encoder, "The text encoder")
        if _read_model_type(text_encoder) in ("m2fnet", "m2fnet_audio", "m2fnet_visual"):
            raise ValueError(
                f"{text_encoder!r} is an M2FNet checkpoint, not a text encoder: load it with "
                "`AutoModel.from_pretrained(..., trust_remote_code=True)`, or pass it as `config=` to reuse its settings."
            )
        try:
            base_kwargs["text_config"] = AutoConfig.from_pretrained(text_encoder)
        except (OSError, ValueError) as error:
            raise ValueError(f"{text_encoder!r} is not a loadable transformers model: {error}") from error
        loading_info["text_encoder"] = text_encoder
        if text_pooling is None and base is None:
            text_pooling = detect_text_pooling(text_encoder)
            if text_pooling is not None:
                logger.info(f"text_pooling={text_pooling!r}, as declared by {text_encoder}/1_Pooling/config.json.")
    if text_pooling is not None:
        base_kwargs["text_pooling"] = text_pooling

    extractors = {}
    for modality, source in (("audio", audio_extractor), ("visual", visual_extractor)):
        if source is not None:
            extractors[modality] = load_extractor(modality, source)
            base_kwargs["audio_config" if modality == "audio" else "visual_config"] = extractors[modality].config
            loading_info[f"{modality}_extractor"] = str(source)
        elif modality in modalities:
            logger.warning(f"No {modality} extractor given: the {modality} extractor is randomly initialised.")

    m2fnet_config = M2FNetConfig(**{**base_kwargs, **config_overrides})
    model = M2FNetForEmotionRecognition(m2fnet_config)
    if text_encoder is not None:
        loading_info["text_model"] = load_text_encoder_weights(model, text_encoder, allow_missing_keys)
    for modality, extractor in extractors.items():
        target = getattr(model.m2fnet, EXTRACTORS[modality][2])
        target.load_state_dict(extractor.state_dict())  # same config, so the keys match exactly
        loading_info[EXTRACTORS[modality][2]] = {"copied_tensors": len(target.state_dict())}
    loading_info["num_parameters"] = sum(parameter.numel() for parameter in model.parameters())

    # The processor: the encoder's tokenizer + the audio / visual pre-processing (saved with the extractors, if any).
    if tokenizer is None:
        if text_encoder is None:
            raise ValueError(
                "The processor needs a tokenizer: pass `text_encoder` (its tokenizer is used) or `tokenizer`."
            )
        try:
            tokenizer = AutoTokenizer.from_pretrained(text_encoder)
        except (OSError, ValueError) as error:
            raise ValueError(f"Could not load a tokenizer from {text_encoder!r}: {error}") from error
    vocab_size = getattr(m2fnet_config.text_config, "vocab_size", None)
    if "text" in modalities and vocab_size is not None and len(tokenizer) > vocab_size:
        raise ValueError(
            f"The tokenizer has {len(tokenizer)} tokens but the text encoder embeds only {vocab_size}: they do not "
            "belong together."
        )
    processor_kwargs = dict(processor_kwargs or {})
    max_positions = getattr(m2fnet_config.text_config, "max_position_embeddings", None)
    max_text_length = processor_kwargs.get("max_text_length", 128)
    if "text" in modalities and max_positions is not None and max_text_length > max_positions:
        raise ValueError(
            f"`max_text_length` ({max_text_length}) exceeds the text encoder's max_position_embeddings "
            f"({max_positions})."
        )
    feature_extractor = _sub_processor(audio_extractor and str(audio_extractor), "feature_extractor_type",
                                       "M2FNetFeatureExtractor", M2FNetFeatureExtractor)  # fmt: skip
    image_processor = _sub_processor(visual_extractor and str(visual_extractor), "image_processor_type",
                                     "M2FNetImageProcessor", M2FNetImageProcessor)  # fmt: skip
    processor = M2FNetProcessor(
        tokenizer,
        feature_extractor,
        image_processor,
        label_names=label_names,
        modalities=modalities,
        **processor_kwargs,
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
    from examples.build_dataset import atomic_output_dir

    register_auto_classes()
    with atomic_output_dir(str(output_dir), overwrite=overwrite) as staging:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        umask = os.umask(0)
        os.umask(umask)
        for file in Path(staging).rglob("*"):  # transformers writes the weights owner-only (0600)
            if file.is_file():
                os.chmod(file, 0o666 & ~umask)
    return Path(output_dir).expanduser().resolve()


def _parse_override(item: str) -> tuple[str, Any]:
    key, separator, value = item.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # a plain string


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--text_encoder",
        default=None,
        help="Local folder or Hub id of a transformers text encoder (weights + tokenizer).",
    )
    parser.add_argument("--audio_extractor", default=None, help="Folder of a trained M2FNetAudioExtractor.")
    parser.add_argument("--visual_extractor", default=None, help="Folder of a trained M2FNetVisualExtractor.")
    parser.add_argument(
        "--config",
        default=None,
        help="Base M2FNet config (config.json or its folder) for the dialogue-level settings.",
    )
    parser.add_argument(
        "--modalities",
        nargs="+",
        choices=list(MODALITIES),
        default=None,
        help="Active modalities (default: the base config's, else all three).",
    )
    parser.add_argument(
        "--label_names",
        nargs="+",
        default=None,
        help="Emotion names in class-id order (default: the base config's, else MELD's seven).",
    )
    parser.add_argument(
        "--text_pooling",
        choices=["cls", "mean"],
        default=None,
        help="Utterance embedding from the first token (paper) or the token mean (default: what a "
        "sentence-transformers folder declares, else cls).",
    )
    parser.add_argument("--context_window", type=int, default=1, help="Neighbouring utterances encoded as context.")
    parser.add_argument("--max_text_length", type=int, default=128, help="Tokens per utterance, context included.")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        default=[],
        type=_parse_override,
        metavar="KEY=VALUE",
        help="Other M2FNetConfig fields; values are parsed as JSON (e.g. num_fusion_layers=0).",
    )
    parser.add_argument(
        "--allow_missing_keys",
        action="store_true",
        help="Accept a text encoder checkpoint that lacks weights (they stay random).",
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the randomly initialised layers.")
    parser.add_argument("--output_dir", required=True, help="Where model + processor are saved (with the code).")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing output folder.")
    return parser.parse_args(argv)  # fmt: skip


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    output_dir = Path(args.output_dir).expanduser()
    if output_dir.exists() and not args.overwrite:
        raise SystemExit(f"{output_dir} exists; pass --overwrite to replace it.")
    torch.manual_seed(args.seed)
    model, processor, info = build_m2fnet(
        text_encoder=args.text_encoder,
        audio_extractor=args.audio_extractor,
        visual_extractor=args.visual_extractor,
        modalities=args.modalities,
        label_names=args.label_names,
        text_pooling=args.text_pooling,
        config=args.config,
        processor_kwargs={"context_window": args.context_window, "max_text_length": args.max_text_length},
        allow_missing_keys=args.allow_missing_keys,
        return_loading_info=True,
        **dict(args.overrides),
    )
    saved = save_m2fnet(model, processor, output_dir, overwrite=args.overwrite)
    logger.info(f"Loaded: {json.dumps(info, indent=2, default=str)}")
    logger.info(
        f"Saved M2FNet ({info['num_parameters'] / 1e6:.1f}M parameters, modalities {model.config.modalities}, "
        f"text_pooling={model.config.text_pooling!r}) with its processor and code to {saved}; load it with "
        "AutoModel.from_pretrained(..., trust_remote_code=True)."
    )
    return saved


__all__ = ["build_m2fnet", "check_model_source", "detect_text_pooling", "load_text_encoder_weights", "save_m2fnet"]


if __name__ == "__main__":
    main()
