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
"""What `examples/build_dataset.py` does with a built dataset: statistics, a dataset card, Parquet files, Hub push.

The dataset is a row-per-dialogue `DatasetDict` (see `datasets_scripts.schema`). Writing is left to the caller, which
stages every output with `m2fnet_training.io_utils.atomic_output_dir`.
"""

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.compute as pc
from datasets.table import embed_table_storage
from tqdm.auto import tqdm

from .schema import MEDIA_COLUMNS, dialogue_label_names


CARD_LICENSES = {"meld": "gpl-3.0", "iemocap": "other"}
PRETTY_NAMES = {"meld": "MELD", "iemocap": "IEMOCAP", "conversations": "Conversations"}


def compute_statistics(dataset: datasets.DatasetDict) -> dict:
    """
    Per split: dialogues, utterances, the emotion histogram (class name -> count), `unlabelled` (when any) and,
    when the schema has media, `media` (utterances whose audio / video exists).
    """
    statistics = {}
    for split, split_dataset in dataset.items():
        names = dialogue_label_names(split_dataset)
        utterance_fields = split_dataset.features["utterances"].feature
        media = [name for name in MEDIA_COLUMNS if f"has_{name}" in utterance_fields]
        counts, media_counts = [0] * len(names), dict.fromkeys(media, 0)
        unlabelled, utterances = 0, 0
        batches = split_dataset.with_format("arrow").iter(batch_size=256)
        total = -(-len(split_dataset) // 256)
        for batch in tqdm(batches, total=total, desc=f"Counting {split}", unit=" batches", leave=False):
            flat = pc.list_flatten(batch["utterances"])
            emotions = pc.struct_field(flat, "emotion")
            utterances += len(emotions)
            unlabelled += emotions.null_count
            for value, count in zip(*_value_counts(emotions), strict=True):
                counts[value] += count
            for name in media:
                media_counts[name] += pc.sum(pc.struct_field(flat, f"has_{name}")).as_py() or 0
        statistics[split] = {
            "dialogues": len(split_dataset),
            "utterances": utterances,
            "emotions": dict(zip(names, counts, strict=True)),
            **({"unlabelled": unlabelled} if unlabelled else {}),
            **({"media": media_counts} if media else {}),
        }
    return statistics


def _value_counts(array: pa.Array) -> tuple[list, list]:
    counted = pc.value_counts(array.drop_null())
    return counted.field("values").to_pylist(), counted.field("counts").to_pylist()


def format_statistics(statistics: dict, markdown: bool = False) -> str:
    """Renders `compute_statistics` as a plain-text (or Markdown) table, one row per split."""
    classes = list(next(iter(statistics.values()))["emotions"]) if statistics else []
    has_unlabelled = any("unlabelled" in row for row in statistics.values())
    header = ["split", "dialogues", "utterances", *classes] + (["unlabelled"] if has_unlabelled else [])
    rows = [
        [split, row["dialogues"], row["utterances"], *row["emotions"].values()]
        + ([row.get("unlabelled", 0)] if has_unlabelled else [])
        for split, row in statistics.items()
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def render(cells):  # split names left-aligned, numbers right-aligned
        return "  ".join(
            str(cell).ljust(width) if index == 0 else str(cell).rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([render(header), render(["-" * width for width in widths]), *map(render, rows)])


def make_dataset_card(
    name: str, info: datasets.DatasetInfo, statistics: dict, report: dict, license_id: str | None = None
) -> tuple[dict, str]:
    """
    The dataset card of a built dataset.

    Args:
        name (`str`):
            The builder's name (`"meld"`, `"iemocap"`, `"conversations"`).
        info (`datasets.DatasetInfo`):
            The builder's info (description, licence, homepage, citation).
        statistics (`dict`):
            `compute_statistics(dataset)`.
        report (`dict`):
            The builder's build report.
        license_id (`str`, *optional*):
            The licence id for datasets other than MELD and IEMOCAP (defaults to `"unknown"`).

    Returns:
        `tuple`: the card's YAML metadata (a dict) and its Markdown body (licence, statistics, build report,
        citation). Task categories and tags follow the modalities the data has: text, plus audio or video when some
        utterance has that file.
    """
    license_id = CARD_LICENSES.get(name, license_id or "unknown")
    media = {medium for row in statistics.values() for medium, count in row.get("media", {}).items() if count}
    tasks = ["text-classification"] + [f"{medium}-classification" for medium in sorted(media)]
    metadata = {
        "license": license_id,
        "language": ["en"],
        "pretty_name": f"{PRETTY_NAMES[name]} (row per dialogue, for M2FNet)",
        "task_categories": tasks,
        "tags": ["emotion-recognition-in-conversation", *(["multimodal"] if media else []), "m2fnet"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"{split}.parquet"} for split in statistics],
            }
        ],
    }
    if name == "iemocap":
        metadata["license_name"] = "iemocap-release-licence"
        metadata["license_link"] = "https://sail.usc.edu/iemocap/iemocap_release.htm"
    licence = f"**{license_id}**" + (
        f" ({info.license})" if info.license and info.license.lower() != license_id else ""
    )
    homepage = f" Homepage: {info.homepage}." if info.homepage else ""
    citation = f"\n## Citation\n\n```bibtex\n{info.citation.strip()}\n```\n" if info.citation else ""
    body = f"""
# {PRETTY_NAMES[name]} for emotion recognition in conversation

{(info.description or "").strip()}

Built with `examples/build_dataset.py {name}` from the m2fnet repository (one row per dialogue; the
`utterances` column lists the dialogue's utterances in order). Licence: {licence}.{homepage}

Media columns are stored undecoded (`Audio(decode=False)` / `Video(decode=False)`); decode them with PyAV, or with
torchcodec via `cast_column` on a flattened dataset.

## Statistics

{format_statistics(statistics, markdown=True)}

## Build report

```json
{json.dumps(report, indent=2, ensure_ascii=False)}
```
{citation}"""
    return metadata, body


def write_card(folder: Path, metadata: dict, body: str) -> None:
    """Writes `README.md` (YAML front matter + body) into `folder`."""
    from huggingface_hub import DatasetCard, DatasetCardData

    card = DatasetCard(f"---\n{DatasetCardData(**metadata).to_yaml()}\n---\n{body}")
    card.save(Path(folder) / "README.md")


def export_parquet(dataset: datasets.DatasetDict, folder: Path, embed_media: bool) -> None:
    """Writes `<split>.parquet` per split into `folder` (media bytes embedded when `embed_media`)."""
    for split, split_dataset in dataset.items():
        if embed_media:
            split_dataset = split_dataset.with_format("arrow").map(embed_table_storage, batched=True, batch_size=64)
            split_dataset = split_dataset.with_format(None)
        split_dataset.to_parquet(str(Path(folder) / f"{split}.parquet"))


def push_dataset(dataset: datasets.DatasetDict, repo_id: str, metadata: dict, body: str, private: bool) -> None:
    """
    Pushes `dataset` as Parquet (media embedded), then replaces the generated card's body and adds `metadata`.

    The token comes from the standard `huggingface_hub` places (the `HF_TOKEN` environment variable, or
    `hf auth login`).
    """
    from huggingface_hub import DatasetCard

    dataset.push_to_hub(repo_id, private=private, embed_external_files=True)
    card = DatasetCard.load(repo_id, repo_type="dataset")
    for key, value in metadata.items():
        if key != "configs":  # keep the `configs` that `push_to_hub` wrote for its own file layout
            card.data[key] = value
    card.text = body
    card.push_to_hub(repo_id, repo_type="dataset", commit_message="Add the dataset card and build report")


__all__ = [
    "compute_statistics",
    "export_parquet",
    "format_statistics",
    "make_dataset_card",
    "push_dataset",
    "write_card",
]
