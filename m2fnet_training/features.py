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
from .utterance_embedder import UNUSABLE_MEDIA_COLUMN, M2FNetUtteranceEmbedder


MAX_REPORTED_EXAMPLES = 20

logger = logging.get_logger(__name__)

# Bump when the content of a shard changes for the same inputs (invalidates every cached shard).
FEATURES_FORMAT_VERSION = 2
REPORT_FILENAME = "extraction_report.json"
DEFAULT_SHARD_UTTERANCES = 256
DEFAULT_BATCH_SIZE = 4
# Columns kept in the cached shards for the report, dropped from the final output.
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
            The model whose extractors (`text_model`, `audio_model`, `visual_model`) run, in eval mode without
            gradients (its training mode is restored at the end; with `device`, it is moved there).
        processor ([`M2FNetProcessor`]): the model's processor.
        dataset (`datasets.DatasetDict` or `datasets.Dataset`):
            Row-per-dialogue data from a builder of this project. Emotion ids are stored as they are, so the
            `emotion` label names must be the model's `id2label`, in order.
        output_dir (`str` or `os.PathLike`): where the `DatasetDict` and `extraction_report.json` go (atomically).
        modalities, splits (`list[str]`, *optional*): what to extract; default: the model's modalities, all splits.
        shard_utterances (`int`, *optional*, defaults to 256):
            Utterances per cached shard, the unit of progress and of resumption: consecutive whole dialogues are
            grouped until they reach it (a longer dialogue is a shard of its own).
        batch_size (`int`, *optional*, defaults to 4): dialogues encoded together per `map` batch (lower for video).
        utterances_per_forward (`int`, *optional*, defaults to 64): most utterances per extractor forward pass.
        on_media_error (`str`, *optional*): `"raise"` or `"skip"` for unreadable media; default: the processor's.
        cache_dir (`str` or `os.PathLike`, *optional*): shard files between runs; default `<output_dir>.shards`.
        keep_cache (`bool`): keep the shard files after success. `overwrite` (`bool`): replace `output_dir`.
        max_dialogues (`int`, *optional*): only the first `max_dialogues` dialogues of each split.
        device (`str` or `torch.device`, *optional*): where the extractors run; default: the model's device.
        progress (`bool`, *optional*, defaults to `True`): a tqdm bar over the utterances of each split.
        shard_callback (`Callable`, *optional*): called after each shard with `split`, `index`, `path`, `reused`.
        dataset_name (`str`, *optional*): the builder that made `dataset` (`meld`, ...), recorded in the report.

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
    dataset, splits = _check_splits(dataset, splits)
    m2fnet = getattr(model, "m2fnet", model)
    modalities = _check_modalities(m2fnet.config, modalities)
    if min(shard_utterances, batch_size, utterances_per_forward) < 1:
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
    if device is not None:
        model.to(torch.device(device))
    encoder = M2FNetUtteranceEmbedder(model, processor, modalities, policy, utterances_per_forward, device)
    signature = extraction_signature(model, processor, modalities, policy, batch_size)
    report = _report_header(model, signature, encoder, modalities, dataset_name)
    report["settings"] = {
        "on_media_error": policy,
        "shard_utterances": shard_utterances,
        "batch_size": batch_size,
        "max_dialogues": max_dialogues,
        "utterances_per_forward": utterances_per_forward,
        "device": str(encoder.device),
        "threads": torch.get_num_threads(),
    }
    shards = _ShardWriter(encoder, cache_dir, report["features_fingerprint"], batch_size, progress, shard_callback)
    try:
        results = _extract_splits(shards, dataset, splits, max_dialogues, shard_utterances, label_names, report)
    finally:
        model.train(was_training)

    with atomic_output_dir(output_dir, overwrite=overwrite) as staging:
        datasets.DatasetDict(results).save_to_disk(str(staging))
        write_json(staging / REPORT_FILENAME, report)
    if not keep_cache:
        shards.remove_files()
    return datasets.load_from_disk(str(output_dir)), report


def _extract_splits(shards, dataset, splits, max_dialogues, shard_utterances, label_names, report) -> dict:
    """Every split's features (through the shard cache), with its statistics added to `report`."""
    results = {}
    bars_were_enabled = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # one bar over the utterances instead of one per `map`
    try:
        for split in splits:
            split_dataset = dataset[split]
            if max_dialogues is not None:
                split_dataset = split_dataset.select(range(min(max_dialogues, len(split_dataset))))
            split_features, statistics = shards.extract_split(split, split_dataset, shard_utterances)
            statistics.update(
                _split_statistics(split_features, report["modalities"]),
                source_rows=len(dataset[split]),
                source_fingerprint=dataset[split]._fingerprint,
                label_names=label_names[split],
            )
            statistics["skipped_empty_dialogues"] = len(split_dataset) - statistics["dialogues"]
            report["splits"][split] = statistics
            split_features = split_features.remove_columns([UNUSABLE_MEDIA_COLUMN])
            split_features.info.description = (
                f"M2FNet utterance embeddings ({', '.join(report['modalities'])}; widths {report['embed_dims']}) of "
                f"{split}, one row per dialogue; labels are ids of {report['label_names']} (-100 = unlabelled)."
            )
            results[split] = split_features
    finally:
        if bars_were_enabled:
            datasets.enable_progress_bars()
    return results


def _check_splits(dataset, splits: list[str] | None) -> tuple[datasets.DatasetDict, list[str]]:
    if isinstance(dataset, datasets.Dataset):
        dataset = datasets.DatasetDict({str(dataset.split or "train"): dataset})
    splits = list(dataset) if splits is None else list(splits)
    unknown = [split for split in splits if split not in dataset]
    if unknown or not splits:
        raise ValueError(f"Unknown split(s) {unknown or splits}; the dataset has {list(dataset)}.")
    return dataset, splits


def _check_modalities(config, modalities: list[str] | None) -> list[str]:
    modalities = list(config.modalities) if modalities is None else list(modalities)
    missing = [modality for modality in modalities if modality not in config.modalities]
    if missing or not modalities:
        raise ValueError(f"Cannot extract {missing or modalities}: the model's modalities are {config.modalities}.")
    return [modality for modality in MODALITIES if modality in modalities]


def _report_header(model, signature: dict, encoder, modalities: list[str], dataset_name: str | None) -> dict:
    m2fnet = getattr(model, "m2fnet", model)
    config = m2fnet.config
    text = "text" in modalities
    return {
        "format": "m2fnet utterance embeddings (m2fnet_training/collators.py)",
        "modalities": modalities,
        "embed_dims": encoder.embed_dims,
        "label_names": [config.id2label[index] for index in range(len(config.id2label))],
        "dataset_name": dataset_name,
        "model": {
            "name_or_path": getattr(model, "name_or_path", None) or None,
            "text_encoder": (getattr(config.text_config, "_name_or_path", None) or None) if text else None,
            "text_pooling": config.text_pooling if text else None,
            "extractor_weights": {modality: signature[modality]["weights"] for modality in modalities},
        },
        "features_fingerprint": _fingerprint(signature),
        "splits": {},
    }


class _ShardWriter:
    """Computes (or reuses) the shards of a split: whole dialogues, about `shard_utterances` utterances each."""

    def __init__(self, encoder, cache_dir: Path, fingerprint: str, batch_size: int, progress: bool, callback):
        self.encoder, self.cache_dir, self.fingerprint = encoder, cache_dir, fingerprint
        self.batch_size, self.progress, self.callback = batch_size, progress, callback
        self.features = _shard_schema(encoder.embed_dims)
        self.paths: list[Path] = []

    def remove_files(self) -> None:
        """Deletes this run's shard files, and the cache folder when that leaves it empty (it may hold other runs')."""
        for path in self.paths:
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.cache_dir.rmdir()

    def _load(self, path: Path) -> datasets.Dataset | None:
        if not path.is_file():
            return None
        try:
            return datasets.Dataset.from_file(str(path), info=datasets.DatasetInfo(features=self.features))
        except (OSError, pa.ArrowInvalid) as error:
            logger.warning(f"Recomputing the unreadable cached shard {path} ({error}).")
            return None

    def _compute(self, shard: datasets.Dataset, key: str, path: Path) -> datasets.Dataset:
        computed = shard.map(
            self.encoder,
            batched=True,
            batch_size=self.batch_size,
            remove_columns=shard.column_names,
            features=self.features,
            keep_in_memory=True,
            load_from_cache_file=False,
            new_fingerprint=key,
        )
        _write_shard(computed.data.table, self.features, path)
        return datasets.Dataset.from_file(str(path), info=datasets.DatasetInfo(features=self.features))

    def extract_split(self, split: str, split_dataset: datasets.Dataset, shard_utterances: int):
        """`(features of the split, its timing statistics)`."""
        lengths = pc.list_value_length(split_dataset.with_format("arrow")[:].column("utterances")).to_pylist()
        lengths = [min(length or 0, self.encoder.max_utterances) for length in lengths]
        bounds = shard_bounds(lengths, shard_utterances)
        shards, reused, computed_utterances, compute_seconds = [], 0, 0, 0.0
        bar = tqdm(total=sum(lengths), desc=f"Extracting {split}", unit="utt", disable=not self.progress)
        for index, (first, end) in enumerate(bounds):
            shard = split_dataset.select(range(first, end))
            key = _fingerprint([self.fingerprint, index, first, end, shard_content_hash(shard)])
            path = self.cache_dir / f"{split}-{index:05d}-{key}.arrow"
            self.paths.append(path)
            cached = self._load(path)
            if cached is not None:
                reused += 1
                shards.append(cached)
            else:
                started = time.perf_counter()
                shards.append(self._compute(shard, key, path))
                compute_seconds += time.perf_counter() - started
                computed_utterances += sum(lengths[first:end])
            bar.update(sum(lengths[first:end]))
            if compute_seconds:
                bar.set_postfix(utterances_per_s=f"{computed_utterances / compute_seconds:.1f}", reused=reused)
            if self.callback is not None:
                self.callback(split=split, index=index, path=path, reused=cached is not None)
        bar.close()
        if shards:
            features = datasets.concatenate_datasets(shards)
        else:
            features = datasets.Dataset.from_dict({name: [] for name in self.features}, features=self.features)
        statistics = {
            "shards": len(bounds),
            "shards_reused": reused,
            "shards_computed": len(bounds) - reused,
            "compute_seconds": round(compute_seconds, 3),
            "computed_utterances": computed_utterances,
            "utterances_per_second": round(computed_utterances / compute_seconds, 2) if compute_seconds else None,
        }
        return features, statistics


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
    "weights_hash",
]
