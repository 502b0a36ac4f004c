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
"""Runs M2FNet's utterance-level extractors over a row-per-dialogue dataset and caches the embeddings as Arrow.

```python
from datasets import load_from_disk
from m2fnet_training.features import extract_features

features, report = extract_features(model, processor, load_from_disk("out/meld"), "out/features/meld")
```

The input is a dataset built by the builders of this folder (one row per dialogue, an `utterances` list); the
output is a `DatasetDict` saved with `save_to_disk`, one row per dialogue in the format of
`m2fnet_training/collators.py` (`dialogue_id`, `labels`, `{text,audio,visual}_embeds`, `modality_mask`), plus
`extraction_report.json` (label names, embedding widths, counts, unusable media, shards, timings).

**Resume.** Each split is processed in shards of `shard_size` dialogues with `Dataset.map(batched=True)`; every
finished shard is written to its own Arrow file in `cache_dir`, named by a fingerprint of everything that determines
its content: the extractor configs and a hash of their weights, the processor's settings (tokenizer included), the
modalities, the media-error policy, the batch size (audio spectrograms are padded per batch), the shard index and
size, and a hash of the shard's rows (with the size and modification time of the media files they reference). A run
that is killed and restarted with the same arguments loads the finished shards and computes only the others; any
change of model, processor or data gives new names, so stale shards are never reused. The final `DatasetDict` is
written to a temporary folder and renamed to `output_dir`; the shard files are then deleted (`keep_cache=True`
keeps them).

**Media.** Text, audio and video go through the processor one modality at a time, so that each uses the right
source: audio is the utterance's `audio` file, else the audio track of its video; video is the utterance's `video`,
else the dialogue's `video` (IEMOCAP) cut at the utterance's `start_time` / `end_time`. Times are used only with a
dialogue-level video (MELD's times locate a clip in its episode, not in the clip). A clip the processor cannot use
follows its `on_media_error`: `"raise"` stops with an error naming the dialogue; `"skip"` marks the modality missing
(`modality_mask` 0, zero embedding) and counts it in the report (`unusable_media`), as are empty clips and videos
without an audio track.
"""

import contextlib
import copy
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from datasets.arrow_writer import ArrowWriter
from datasets.fingerprint import Hasher
from datasets.utils import logging
from tqdm.auto import tqdm

from modeling_m2fnet.configuration_m2fnet import MODALITIES

from .collators import EMBED_COLUMNS
from .hashing import fingerprint as _fingerprint
from .hashing import tokenizer_signature as _tokenizer_signature
from .hashing import weights_hash
from .io_utils import atomic_output_dir, atomic_output_file, write_json


MAX_REPORTED_EXAMPLES = 20

logger = logging.get_logger(__name__)

# Bump when the content of a shard changes for the same inputs (invalidates every cached shard).
FEATURES_FORMAT_VERSION = 2
REPORT_FILENAME = "extraction_report.json"
DEFAULT_SHARD_UTTERANCES = 256
DEFAULT_BATCH_SIZE = 4
# Columns kept in the cached shards for the report, dropped from the final output.
UNUSABLE_MEDIA_COLUMN = "unusable_media"
# Config keys that name or date a config without changing what it computes.
VOLATILE_CONFIG_KEYS = (
    "_name_or_path",
    "transformers_version",
    "architectures",
    "auto_map",
    "dtype",
    "torch_dtype",
    "feature_extractor_type",
    "image_processor_type",
    "processor_class",
)
# Submodule of `M2FNetModel` that computes each modality's utterance embeddings, and its config.
EXTRACTOR_ATTRIBUTES = {
    "text": ("text_model", "text_config"),
    "audio": ("audio_model", "audio_config"),
    "visual": ("visual_model", "visual_config"),
}


def features_schema(embed_dims: dict[str, int]) -> datasets.Features:
    """
    The features of a cached split (the collator's format) for the given modalities and embedding widths.

    Args:
        embed_dims (`dict[str, int]`):
            Embedding width per extracted modality, e.g. `{"text": 768}`.
    """
    columns = {"dialogue_id": datasets.Value("string"), "labels": datasets.List(datasets.Value("int64"))}
    for modality in MODALITIES:
        if modality in embed_dims:
            column = datasets.List(datasets.List(datasets.Value("float32"), length=embed_dims[modality]))
            columns[EMBED_COLUMNS[modality]] = column
    columns["modality_mask"] = datasets.List(datasets.List(datasets.Value("int8"), length=len(MODALITIES)))
    columns["speaker_ids"] = datasets.List(datasets.Value("int64"))
    return datasets.Features(columns)


def _shard_schema(embed_dims: dict[str, int]) -> datasets.Features:
    features = features_schema(embed_dims)
    features[UNUSABLE_MEDIA_COLUMN] = datasets.List(
        {"utterance": datasets.Value("int32"), "modality": datasets.Value("string")}
    )
    return features


# ------------------------------------------------------------------------------------------------------------------
# Fingerprints
# ------------------------------------------------------------------------------------------------------------------


def _stable_dict(config_dict: dict) -> dict:
    """`config_dict` without the keys that name or date it, recursively."""
    return {
        key: _stable_dict(value) if isinstance(value, dict) else value
        for key, value in config_dict.items()
        if key not in VOLATILE_CONFIG_KEYS
    }


def extraction_signature(model, processor, modalities: list[str], on_media_error: str, batch_size: int) -> dict:
    """
    Everything, besides the data, that determines the cached embeddings: per extracted modality the extractor's
    config and weights hash and the processor's settings for that modality, plus the policy and batch size.
    The dialogue-level weights are left out: they do not change the utterance embeddings.
    """
    config = model.config
    signature = {
        "format_version": FEATURES_FORMAT_VERSION,
        "modalities": list(modalities),
        "on_media_error": on_media_error,
        "batch_size": batch_size,
        "max_utterances": processor.max_utterances,
    }
    for modality in modalities:
        attribute, config_name = EXTRACTOR_ATTRIBUTES[modality]
        entry = {
            "config": _stable_dict(getattr(config, config_name).to_dict()),
            "weights": weights_hash(getattr(model.m2fnet, attribute)),
        }
        if modality == "text":
            entry["text_pooling"] = config.text_pooling
            entry["processor"] = {
                "tokenizer": _tokenizer_signature(processor.tokenizer),
                "context_window": processor.context_window,
                "include_speaker": processor.include_speaker,
                "max_text_length": processor.max_text_length,
            }
        elif modality == "audio":
            entry["processor"] = _stable_dict(processor.feature_extractor.to_dict())
        else:
            entry["processor"] = _stable_dict(processor.image_processor.to_dict())
        signature[modality] = entry
    return signature


def _media_files(value: Any, found: list[str]) -> None:
    """Collects the paths of media stored by reference (`{"bytes": None, "path": ...}`) in a row, recursively."""
    if isinstance(value, dict):
        if set(value) == {"bytes", "path"} and value["bytes"] is None and isinstance(value["path"], str):
            found.append(value["path"])
            return
        for item in value.values():
            _media_files(item, found)
    elif isinstance(value, list):
        for item in value:
            _media_files(item, found)


def shard_content_hash(shard: datasets.Dataset) -> str:
    """
    A hash of a shard's rows (their Arrow storage, media undecoded), features, and of the size and modification time
    of every media file they reference by path, so that replacing a clip invalidates the shards that use it.
    """
    rows = shard.with_format("arrow")[:].to_pylist()
    media = []
    _media_files(rows, media)
    stats = []
    for path in media:
        try:
            status = os.stat(path)
            stats.append((path, status.st_size, status.st_mtime_ns))
        except OSError:
            stats.append((path, None, None))
    return Hasher.hash([rows, shard.features.to_dict(), stats])


# ------------------------------------------------------------------------------------------------------------------
# Encoding
# ------------------------------------------------------------------------------------------------------------------


def add_context(error: Exception, context: str) -> Exception:
    """Adds `context` to `error` as a note (kept by tracebacks and by the CLIs' one-line errors); same object."""
    if hasattr(error, "add_note"):
        error.add_note(context)
    return error


def speaker_ids(speakers: list) -> list[int]:
    """Speakers numbered by first appearance in the dialogue (0 = first); each utterance without a speaker is new."""
    numbers, ids = {}, []
    for speaker in speakers:
        key = None if speaker is None or str(speaker).strip() == "" else str(speaker).strip()
        if key is not None and key in numbers:
            ids.append(numbers[key])
            continue
        new_id = max(ids, default=-1) + 1
        if key is not None:
            numbers[key] = new_id
        ids.append(new_id)
    return ids


def shard_bounds(lengths: list[int], shard_utterances: int) -> list[tuple[int, int]]:
    """Consecutive dialogues grouped into shards of about `shard_utterances` utterances (a longer dialogue alone)."""
    bounds, start, count = [], 0, 0
    for index, length in enumerate(lengths):
        if count and count + length > shard_utterances:
            bounds.append((start, index))
            start, count = index, 0
        count += length
    if start < len(lengths):
        bounds.append((start, len(lengths)))
    return bounds


class M2FNetUtteranceEmbedder:
    """
    The `Dataset.map(batched=True)` function of [`extract_features`]: turns a batch of dialogue rows (builder schema)
    into cached-feature rows, encoding the utterances of all dialogues of the batch together.

    Args:
        model ([`M2FNetForEmotionRecognition`] or [`M2FNetModel`]):
            The model whose utterance-level extractors are run (in eval mode, without gradients).
        processor ([`M2FNetProcessor`]):
            Its processor; one shallow copy per modality is used.
        modalities (`list[str]`):
            Modalities to extract, a subset of the model's.
        on_media_error (`str`, *optional*):
            `"raise"` or `"skip"`; defaults to the processor's.
        utterances_per_forward (`int`, *optional*, defaults to 64):
            Most utterances per extractor forward pass (bounds memory for long dialogues or video).
        device (`torch.device`, *optional*):
            Where the model runs; defaults to the model's device.
    """

    def __init__(self, model, processor, modalities, on_media_error=None, utterances_per_forward=64, device=None):
        self.m2fnet = getattr(model, "m2fnet", model)
        self.modalities = list(modalities)
        self.utterances_per_forward = utterances_per_forward
        self.device = device if device is not None else next(self.m2fnet.parameters()).device
        self.max_utterances = processor.max_utterances
        self.processors = {}
        for modality in self.modalities:
            clone = copy.copy(processor)
            clone.modalities = [modality]
            if on_media_error is not None:
                clone.on_media_error = on_media_error
            clone._validate_settings()
            self.processors[modality] = clone
        self.embed_dims = {modality: self.m2fnet.config.embed_dim(modality) for modality in self.modalities}

    # What each modality's processor call sees of an utterance.
    @staticmethod
    def _utterance_input(modality: str, utterance: dict, dialogue_video) -> dict:
        if modality == "text":
            return {"speaker": utterance.get("speaker"), "text": utterance.get("text")}
        own_audio, own_video = utterance.get("audio"), utterance.get("video")
        if modality == "audio" and own_audio is not None:
            return {"audio": own_audio}
        if own_video is not None:
            return {"video": own_video}  # MELD's start/end times locate the clip in its episode: not used
        if dialogue_video is not None:  # IEMOCAP: one video per dialogue, cut at the utterance's times
            return {
                "video": dialogue_video,
                "start_time": utterance.get("start_time"),
                "end_time": utterance.get("end_time"),
            }
        return {}

    def _process(self, modality: str, conversations: list[list[dict]], dialogue_ids: list[str]):
        processor = self.processors[modality]
        try:
            return processor(conversations=conversations, return_tensors="pt")
        except Exception:  # name the dialogue: rerun one by one to find it
            for conversation, dialogue_id in zip(conversations, dialogue_ids):
                try:
                    processor(conversations=[conversation], return_tensors="pt")
                except Exception as single_error:
                    raise add_context(
                        single_error, f"while extracting the {modality} of dialogue {dialogue_id!r}"
                    ) from None
            raise

    def _encode(self, modality: str, inputs, selected: torch.Tensor) -> torch.Tensor:
        """Embeddings `(batch, num_utterances, embed_dim)` of the `selected` utterances, in chunks."""
        output = torch.zeros(*selected.shape, self.embed_dims[modality], dtype=torch.float32)
        positions = selected.nonzero()
        if len(positions) == 0:
            return output
        device = self.device
        if modality == "text":
            # Similar lengths together, and each chunk cut to its longest utterance (right padding): less padding.
            lengths = inputs["attention_mask"][selected].sum(-1)
            positions = positions[torch.argsort(lengths, stable=True)]
            input_ids, attention_mask = inputs["input_ids"].to(device), inputs["attention_mask"].to(device)
        elif modality == "audio":
            input_features = inputs["input_features"].to(device, self.m2fnet.dtype)
            audio_attention_mask = inputs["audio_attention_mask"].to(device)
        else:
            visual = {
                key: inputs[key].to(device, self.m2fnet.dtype) if key in inputs else None
                for key in ("pixel_values", "face_pixel_values", "face_weights")
            }
        for start in range(0, len(positions), self.utterances_per_forward):
            chunk = positions[start : start + self.utterances_per_forward]
            mask = torch.zeros_like(selected)
            mask[chunk[:, 0], chunk[:, 1]] = True
            device_mask = mask.to(device)
            if modality == "text":
                length = int(attention_mask[device_mask].sum(-1).max())
                features = self.m2fnet.get_text_features(
                    input_ids[..., :length], attention_mask[..., :length], device_mask
                )
            elif modality == "audio":
                features = self.m2fnet.get_audio_features(input_features, audio_attention_mask, device_mask)
            else:
                features = self.m2fnet.get_visual_features(
                    visual["pixel_values"], visual["face_pixel_values"], visual["face_weights"], device_mask
                )
            output[mask] = features[device_mask].float().cpu()
        return output

    @torch.no_grad()
    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        num_rows = len(batch["utterances"])
        names = batch.get("dialogue_name") or batch["dialogue_id"]
        dialogue_videos = batch.get("video") or [None] * num_rows
        keep = [index for index in range(num_rows) if batch["utterances"][index]]
        if len(keep) < num_rows:
            skipped = [str(names[index]) for index in range(num_rows) if index not in keep]
            logger.warning(f"Skipping dialogue(s) {skipped}: no utterance.")
        dialogue_ids = [str(names[index]) for index in keep]
        dialogues = [batch["utterances"][index][: self.max_utterances] for index in keep]
        videos = [dialogue_videos[index] for index in keep]
        lengths = [len(dialogue) for dialogue in dialogues]

        output = {
            "dialogue_id": dialogue_ids,
            "labels": [
                [-100 if utterance.get("emotion") is None else int(utterance["emotion"]) for utterance in dialogue]
                for dialogue in dialogues
            ],
            UNUSABLE_MEDIA_COLUMN: [[] for _ in dialogues],
            "speaker_ids": [
                speaker_ids([utterance.get("speaker") for utterance in dialogue]) for dialogue in dialogues
            ],
        }
        modality_mask = [np.zeros((length, len(MODALITIES)), dtype=np.int8) for length in lengths]
        if not dialogues:
            output["modality_mask"], output["speaker_ids"] = [], []
            for modality in self.modalities:
                output[EMBED_COLUMNS[modality]] = []
            return output
        for modality in self.modalities:
            column = MODALITIES.index(modality)
            conversations = [
                [self._utterance_input(modality, utterance, video) for utterance in dialogue]
                for dialogue, video in zip(dialogues, videos)
            ]
            inputs = self._process(modality, conversations, dialogue_ids)
            present = inputs["utterance_mask"].bool() & inputs["modality_mask"][..., column].bool()
            embeddings = self._encode(modality, inputs, present)
            if not torch.isfinite(embeddings).all():
                b, n = (~torch.isfinite(embeddings)).any(-1).nonzero()[0].tolist()
                raise ValueError(
                    f"Dialogue {dialogue_ids[b]!r}, utterance {n}: the {modality} extractor returned NaN or inf "
                    "(check the model's weights and this utterance's input)."
                )
            output[EMBED_COLUMNS[modality]] = [embeddings[b, :length].numpy() for b, length in enumerate(lengths)]
            for b, (conversation, length) in enumerate(zip(conversations, lengths)):
                modality_mask[b][:, column] = present[b, :length].numpy()
                if modality == "text":
                    continue
                for n, utterance_input in enumerate(conversation):
                    if (utterance_input.get("audio") or utterance_input.get("video")) and not present[b, n]:
                        output[UNUSABLE_MEDIA_COLUMN][b].append({"utterance": n, "modality": modality})
        output["modality_mask"] = modality_mask
        return output


# ------------------------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------------------------


def _write_shard(table: pa.Table, features: datasets.Features, path: Path) -> None:
    """Writes `table` as an Arrow file at `path` atomically (temporary file + rename)."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):  # left by a run that was killed while writing this shard
        stale.unlink(missing_ok=True)
    with atomic_output_file(path) as temporary, ArrowWriter(features=features, path=str(temporary)) as writer:
        writer.write_table(table)
        writer.finalize()


def _check_labels(split_dataset: datasets.Dataset, id2label: dict, split: str) -> list[str] | None:
    """The dataset's emotion names (checked against the model's `id2label`), or `None` without an `emotion` column."""
    if "utterances" not in split_dataset.column_names:
        raise ValueError(
            f"Split {split!r} has no `utterances` column (columns: {split_dataset.column_names}): expected a "
            "row-per-dialogue dataset from datasets_scripts (MeldBuilder, IemocapBuilder, ConversationsBuilder)."
        )
    utterance_features = split_dataset.features["utterances"].feature
    emotion = utterance_features.get("emotion") if isinstance(utterance_features, dict) else None
    if emotion is None:
        return None
    names = list(getattr(emotion, "names", None) or [])
    model_names = [id2label[index] for index in range(len(id2label))]
    if names != model_names:
        raise ValueError(
            f"Split {split!r}: the dataset's emotion labels {names} are not the model's {model_names} (same names in "
            "the same class-id order are required, since labels are stored as ids). Build the dataset with "
            "`label_names=` in the model's order, or the model with the dataset's `label_names`."
        )
    return names


def _split_statistics(split_dataset: datasets.Dataset, modalities: list[str]) -> dict:
    table = split_dataset.with_format("arrow")[:] if len(split_dataset) else None
    statistics = {"dialogues": len(split_dataset), "utterances": 0, "labelled_utterances": 0}
    statistics["present"] = dict.fromkeys(MODALITIES, 0)
    statistics["unusable_media"] = {modality: 0 for modality in modalities if modality != "text"}
    statistics["unusable_media_examples"] = []
    if table is None:
        return statistics
    labels = pc.list_flatten(table.column("labels"))
    statistics["utterances"] = len(labels)
    statistics["labelled_utterances"] = int(pc.sum(pc.not_equal(labels, -100)).as_py() or 0)
    masks = np.asarray(pc.list_flatten(pc.list_flatten(table.column("modality_mask"))).to_numpy(zero_copy_only=False))
    masks = masks.reshape(-1, len(MODALITIES))
    statistics["present"] = {modality: int(masks[:, index].sum()) for index, modality in enumerate(MODALITIES)}
    for dialogue_id, unusable in zip(
        table.column("dialogue_id").to_pylist(), table.column(UNUSABLE_MEDIA_COLUMN).to_pylist()
    ):
        for item in unusable:
            statistics["unusable_media"][item["modality"]] += 1
            if len(statistics["unusable_media_examples"]) < MAX_REPORTED_EXAMPLES:
                statistics["unusable_media_examples"].append(f"{dialogue_id}/{item['utterance']} ({item['modality']})")
    return statistics


def load_dialogue_dataset(source: str) -> datasets.DatasetDict:
    """
    Loads a row-per-dialogue dataset: a `save_to_disk` folder, a folder of `<split>.parquet` files, or a Hub id.

    Raises:
        `ValueError`: for a local folder that holds neither.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            loaded = datasets.load_from_disk(str(path))
            return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict({"train": loaded})
        parquet_files = sorted(path.glob("*.parquet"))
        if parquet_files:
            return datasets.DatasetDict(
                {file.stem: datasets.Dataset.from_parquet(str(file)) for file in parquet_files}
            )
        raise ValueError(
            f"{path} holds neither a `save_to_disk` dataset (dataset_dict.json) nor <split>.parquet files; build one "
            "with examples/build_dataset.py --output_dir (or --parquet_dir)."
        )
    if path.exists() or source.startswith((".", "/", "~")):
        raise FileNotFoundError(f"Dataset {source!r} is not a folder.")
    return datasets.load_dataset(source)


def dataset_builder_name(source: str) -> str | None:
    """The builder (`meld`, `iemocap`, `conversations`) that made a local dataset folder, from its build report."""
    report = Path(source).expanduser() / "build_report.json"
    return json.loads(report.read_text(encoding="utf-8")).get("dataset") if report.is_file() else None


def load_m2fnet(checkpoint: str, trust_remote_code: bool = False):
    """
    Loads an M2FNet checkpoint (e.g. written by `examples/build_model.py`) with this repository's model class
    (safetensors weights only), and its processor. The processor's sub-processors are loaded through the
    checkpoint's code, which a local folder is trusted to run; a Hub checkpoint needs `trust_remote_code=True`.
    """
    from modeling_m2fnet import M2FNetForEmotionRecognition, M2FNetProcessor, register_auto_classes

    local = Path(checkpoint).expanduser().is_dir()
    if not local and not trust_remote_code:
        raise ValueError(f"{checkpoint!r} is not a local folder: pass --trust_remote_code to load its processor code.")
    register_auto_classes()
    model = M2FNetForEmotionRecognition.from_pretrained(checkpoint, use_safetensors=True)
    processor = M2FNetProcessor.from_pretrained(checkpoint, trust_remote_code=True)
    return model, processor


def extract_features(
    model,
    processor,
    dataset: datasets.Dataset | datasets.DatasetDict,
    output_dir: str | os.PathLike,
    modalities: list[str] | None = None,
    splits: list[str] | None = None,
    shard_utterances: int = DEFAULT_SHARD_UTTERANCES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    utterances_per_forward: int = 64,
    on_media_error: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    keep_cache: bool = False,
    overwrite: bool = False,
    max_dialogues: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    shard_callback: Callable[..., None] | None = None,
    dataset_name: str | None = None,
) -> tuple[datasets.DatasetDict, dict]:
    r"""
    Computes the utterance embeddings of every dialogue and saves them (with `save_to_disk`) to `output_dir`.

    Args:
        model ([`M2FNetForEmotionRecognition`] or [`M2FNetModel`]):
            The model whose extractors (`text_model`, `audio_model`, `visual_model`) are run, in eval mode under
            `torch.no_grad()` (its training mode is restored at the end; with `device`, it is moved there).
        processor ([`M2FNetProcessor`]):
            The model's processor.
        dataset (`datasets.DatasetDict` or `datasets.Dataset`):
            Row-per-dialogue data from a builder of this folder (built in-process or `load_from_disk`). Emotion ids
            are stored as they are, so the `emotion` label names must be the model's `id2label`, in order.
        output_dir (`str` or `os.PathLike`):
            Where the output `DatasetDict` and `extraction_report.json` are written (atomically).
        modalities (`list[str]`, *optional*):
            Modalities to extract; defaults to the model's.
        splits (`list[str]`, *optional*):
            Splits to process; defaults to all.
        shard_utterances (`int`, *optional*, defaults to 256):
            Utterances per cached shard, the unit of progress and of resumption: consecutive whole dialogues are
            grouped until they reach it (a longer dialogue is a shard of its own).
        batch_size (`int`, *optional*, defaults to 4):
            Dialogues per `map` batch: their utterances are processed and encoded together. Lower it for video.
        utterances_per_forward (`int`, *optional*, defaults to 64):
            Most utterances per extractor forward pass.
        on_media_error (`str`, *optional*):
            `"raise"` or `"skip"` for unreadable media; defaults to the processor's.
        cache_dir (`str` or `os.PathLike`, *optional*):
            Where shard files are kept between runs; defaults to `<output_dir>.shards` next to the output.
        keep_cache (`bool`, *optional*, defaults to `False`):
            Keep the shard files after a successful run.
        overwrite (`bool`, *optional*, defaults to `False`):
            Replace an existing `output_dir`.
        max_dialogues (`int`, *optional*):
            Only the first `max_dialogues` dialogues of each split (e.g. for a quick run).
        device (`str` or `torch.device`, *optional*):
            Where the extractors run; defaults to the model's device.
        progress (`bool`, *optional*, defaults to `True`):
            Show a tqdm bar over the shards of each split.
        shard_callback (`Callable`, *optional*):
            Called after each shard as `shard_callback(split=..., index=..., path=..., reused=...)`.
        dataset_name (`str`, *optional*):
            The builder that made `dataset` (`meld`, ...), recorded in the report for training reports and cards.

    Returns:
        `tuple[datasets.DatasetDict, dict]`: the saved features (loaded back from `output_dir`) and the report.

    Raises:
        `FileExistsError`: if `output_dir` exists and `overwrite` is `False`.
        `ValueError`: for a dataset that is not row-per-dialogue, label names that are not the model's, a modality
            the model lacks, or NaN embeddings; media errors (with `on_media_error="raise"`) name the dialogue.
    """
    output_dir = Path(output_dir).expanduser().resolve()
    if output_dir.exists() and not overwrite:
        raise FileExistsError(f"{output_dir} exists; pass overwrite=True (--overwrite) to replace it.")
    if isinstance(dataset, datasets.Dataset):
        dataset = datasets.DatasetDict({str(dataset.split or "train"): dataset})
    splits = list(dataset) if splits is None else list(splits)
    unknown = [split for split in splits if split not in dataset]
    if unknown or not splits:
        raise ValueError(f"Unknown split(s) {unknown or splits}; the dataset has {list(dataset)}.")
    m2fnet = getattr(model, "m2fnet", model)
    modalities = list(m2fnet.config.modalities) if modalities is None else list(modalities)
    missing = [modality for modality in modalities if modality not in m2fnet.config.modalities]
    if missing or not modalities:
        raise ValueError(
            f"Cannot extract {missing or modalities}: the model's modalities are {m2fnet.config.modalities}."
        )
    modalities = [modality for modality in MODALITIES if modality in modalities]
    if shard_utterances < 1 or batch_size < 1 or utterances_per_forward < 1:
        raise ValueError(
            f"`shard_utterances` ({shard_utterances}), `batch_size` ({batch_size}) and `utterances_per_forward` "
            f"({utterances_per_forward}) must be >= 1."
        )
    policy = on_media_error if on_media_error is not None else processor.on_media_error
    label_names = {split: _check_labels(dataset[split], m2fnet.config.id2label, split) for split in splits}
    cache_dir = Path(cache_dir).expanduser() if cache_dir else output_dir.with_name(f"{output_dir.name}.shards")
    cache_dir.mkdir(parents=True, exist_ok=True)

    was_training = model.training
    model.eval()
    device = torch.device(device) if device is not None else None
    if device is not None:
        model.to(device)
    encoder = M2FNetUtteranceEmbedder(model, processor, modalities, policy, utterances_per_forward, device)
    signature = extraction_signature(model, processor, modalities, policy, batch_size)
    base_fingerprint = _fingerprint(signature)
    shard_features = _shard_schema(encoder.embed_dims)
    report = {
        "format": "m2fnet utterance embeddings (m2fnet_training/collators.py)",
        "modalities": modalities,
        "embed_dims": encoder.embed_dims,
        "label_names": [m2fnet.config.id2label[index] for index in range(len(m2fnet.config.id2label))],
        "dataset_name": dataset_name,
        "model": {
            "name_or_path": getattr(model, "name_or_path", None) or None,
            "text_encoder": (getattr(m2fnet.config.text_config, "_name_or_path", None) or None)
            if "text" in modalities
            else None,
            "text_pooling": m2fnet.config.text_pooling if "text" in modalities else None,
            "extractor_weights": {modality: signature[modality]["weights"] for modality in modalities},
        },
        "features_fingerprint": base_fingerprint,
        "settings": {
            "on_media_error": policy,
            "shard_utterances": shard_utterances,
            "batch_size": batch_size,
            "utterances_per_forward": utterances_per_forward,
            "max_dialogues": max_dialogues,
            "device": str(encoder.device),
            "torch_num_threads": torch.get_num_threads(),
        },
        "splits": {},
    }

    results, shard_paths = {}, []
    bars_were_enabled = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # one bar over the shards instead of one per `map`
    try:
        for split in splits:
            split_dataset = dataset[split]
            if max_dialogues is not None:
                split_dataset = split_dataset.select(range(min(max_dialogues, len(split_dataset))))
            lengths = pc.list_value_length(split_dataset.with_format("arrow")[:].column("utterances")).to_pylist()
            lengths = [min(length or 0, processor.max_utterances) for length in lengths]
            bounds = shard_bounds(lengths, shard_utterances)
            num_shards = len(bounds)
            shards, reused, computed_utterances, compute_seconds = [], 0, 0, 0.0
            bar = tqdm(total=sum(lengths), desc=f"Extracting {split}", unit="utt", disable=not progress)
            for index, (first, end) in enumerate(bounds):
                shard = split_dataset.select(range(first, end))
                key = _fingerprint([base_fingerprint, index, first, end, shard_content_hash(shard)])
                path = cache_dir / f"{split}-{index:05d}-{key}.arrow"
                shard_paths.append(path)
                cached = None
                if path.is_file():
                    try:
                        cached = datasets.Dataset.from_file(
                            str(path), info=datasets.DatasetInfo(features=shard_features)
                        )
                    except (OSError, pa.ArrowInvalid) as error:
                        logger.warning(f"Recomputing the unreadable cached shard {path} ({error}).")
                if cached is not None:
                    reused += 1
                    shards.append(cached)
                else:
                    started = time.perf_counter()
                    computed = shard.map(
                        encoder,
                        batched=True,
                        batch_size=batch_size,
                        remove_columns=shard.column_names,
                        features=shard_features,
                        keep_in_memory=True,
                        load_from_cache_file=False,
                        new_fingerprint=key,
                    )
                    _write_shard(computed.data.table, shard_features, path)
                    compute_seconds += time.perf_counter() - started
                    computed_utterances += sum(lengths[first:end])
                    shards.append(
                        datasets.Dataset.from_file(str(path), info=datasets.DatasetInfo(features=shard_features))
                    )
                bar.update(sum(lengths[first:end]))
                if compute_seconds:
                    bar.set_postfix(utterances_per_s=f"{computed_utterances / compute_seconds:.1f}", reused=reused)
                if shard_callback is not None:
                    shard_callback(split=split, index=index, path=path, reused=cached is not None)
            bar.close()
            if shards:
                split_features = datasets.concatenate_datasets(shards)
            else:
                split_features = datasets.Dataset.from_dict(
                    {name: [] for name in shard_features}, features=shard_features
                )
            statistics = _split_statistics(split_features, modalities)
            statistics.update(
                source_rows=len(dataset[split]),
                source_fingerprint=dataset[split]._fingerprint,
                skipped_empty_dialogues=len(split_dataset) - len(split_features),
                label_names=label_names[split],
                shards=num_shards,
                shards_reused=reused,
                shards_computed=num_shards - reused,
                compute_seconds=round(compute_seconds, 3),
                computed_utterances=computed_utterances,
                utterances_per_second=round(computed_utterances / compute_seconds, 2) if compute_seconds else None,
            )
            report["splits"][split] = statistics
            split_features = split_features.remove_columns([UNUSABLE_MEDIA_COLUMN])
            split_features.info.description = (
                f"M2FNet utterance embeddings ({', '.join(modalities)}; widths {encoder.embed_dims}) of {split}, one "
                f"row per dialogue; labels are ids of {report['label_names']} (-100 = unlabelled)."
            )
            results[split] = split_features
    finally:
        if bars_were_enabled:
            datasets.enable_progress_bars()
        model.train(was_training)

    with atomic_output_dir(output_dir, overwrite=overwrite) as staging:
        datasets.DatasetDict(results).save_to_disk(str(staging))
        write_json(staging / REPORT_FILENAME, report)
    if not keep_cache:
        for path in shard_paths:
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            cache_dir.rmdir()  # only when empty: the folder may hold other runs' shards
    return datasets.load_from_disk(str(output_dir)), report


__all__ = [
    "FEATURES_FORMAT_VERSION",
    "M2FNetUtteranceEmbedder",
    "REPORT_FILENAME",
    "extract_features",
    "dataset_builder_name",
    "extraction_signature",
    "features_schema",
    "load_dialogue_dataset",
    "load_m2fnet",
    "shard_content_hash",
    "shard_bounds",
    "speaker_ids",
    "weights_hash",
]
