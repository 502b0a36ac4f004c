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
"""Builds MELD, IEMOCAP or your own conversations as a row-per-dialogue `DatasetDict`; saves, exports or pushes it.

Examples:

```bash
# MELD transcripts from a local folder -> statistics, Arrow folder and Parquet files with a dataset card
python examples/build_dataset.py meld --config text --data_dir /data/MELD --output_dir out/meld --parquet_dir pq/meld
# MELD with the official clips (downloads MELD.Raw.tar.gz, about 10 GB, when --data_dir is left out)
python examples/build_dataset.py meld --config raw --data_dir /data/MELD.Raw --push_to_hub my-org/meld
# IEMOCAP (licence-gated: local copy only; pushing requires --private)
python examples/build_dataset.py iemocap --data_dir /data/IEMOCAP_full_release --parquet_dir pq/iemocap
# Your own data
python examples/build_dataset.py conversations --data_files train=train.csv test=test.jsonl --output_dir out/mine
```

Every output folder is written to a temporary sibling folder and renamed into place at the end, so an interrupted
run never leaves a half-written output. The build report (missing clips, repaired text, duplicates, dropped labels)
is printed and saved as `build_report.json` in every output (and in `--report_json` if given).
"""

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.compute as pc
from datasets.table import embed_table_storage
from tqdm.auto import tqdm


try:
    import datasets_scripts  # noqa: F401  (installed with `pip install -e .`)
except ImportError:  # run from a clone without installing: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets_scripts.conversations import ConversationsBuilder
from datasets_scripts.iemocap import IemocapBuilder
from datasets_scripts.meld import MeldBuilder


logger = logging.getLogger("build_dataset")

CARD_LICENSES = {"meld": "gpl-3.0", "iemocap": "other"}
PRETTY_NAMES = {"meld": "MELD", "iemocap": "IEMOCAP", "conversations": "Conversations"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data_dir", default=None, help="Local copy of the raw data (see each builder's docstring).")
    common.add_argument("--cache_dir", default=None, help="`datasets` cache folder (default: the HF cache).")
    common.add_argument("--output_dir", default=None, help="Write the DatasetDict here with `save_to_disk`.")
    common.add_argument("--parquet_dir", default=None, help="Write one Parquet file per split + README.md here.")
    common.add_argument(
        "--embed_media",
        action="store_true",
        help="Store the media bytes in the Parquet files (default: store paths only). `save_to_disk` and "
        "`--push_to_hub` always embed them.",
    )
    common.add_argument("--report_json", default=None, help="Also write the build report to this JSON file.")
    common.add_argument("--push_to_hub", default=None, metavar="REPO", help="Push as Parquet to this dataset repo.")
    common.add_argument("--private", action="store_true", help="Create the Hub repository as private.")
    common.add_argument("--token", default=None, help="Hub token (default: the logged-in one).")
    common.add_argument("--overwrite", action="store_true", help="Replace existing output folders.")
    common.add_argument(
        "--reuse_cache",
        action="store_true",
        help="Reuse a dataset already prepared in the cache (default: regenerate it from the raw files).",
    )

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    subparsers = parser.add_subparsers(dest="dataset", required=True, metavar="{meld,iemocap,conversations}")

    formatter = argparse.ArgumentDefaultsHelpFormatter
    meld = subparsers.add_parser("meld", parents=[common], formatter_class=formatter, help="MELD, 7 emotions.")
    meld.add_argument("--config", choices=["text", "raw"], default="text", help="`raw` adds the utterance clips.")
    meld.add_argument(
        "--splits", nargs="+", default=["train", "validation", "test"], choices=["train", "validation", "test"]
    )
    meld.add_argument("--no_fix_mojibake", action="store_true", help="Keep mis-decoded text as released.")

    iemocap = subparsers.add_parser(
        "iemocap", parents=[common], formatter_class=formatter, help="IEMOCAP, 6 emotions (local copy only)."
    )
    iemocap.add_argument("--sessions", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    iemocap.add_argument("--test_sessions", nargs="+", type=int, default=[5])
    iemocap.add_argument("--validation_fraction", type=float, default=0.1)
    iemocap.add_argument("--seed", type=int, default=42)

    conversations = subparsers.add_parser(
        "conversations", parents=[common], formatter_class=formatter, help="Your own CSV/JSONL files."
    )
    conversations.add_argument(
        "--data_files", nargs="+", default=None, metavar="[SPLIT=]PATH", help="Files, optionally prefixed by split."
    )
    conversations.add_argument("--label_names", nargs="+", default=None, help="Label set (default: inferred).")
    for column, default in [
        ("dialogue", "conversation_id"),
        ("utterance", "utterance_id"),
        ("speaker", "speaker"),
        ("text", "text"),
        ("audio", "audio"),
        ("video", "video"),
        ("label", "label"),
    ]:
        conversations.add_argument(f"--{column}_column", default=default)
    conversations.add_argument("--strict_media", action="store_true", help="Fail on a media path that is missing.")
    conversations.add_argument("--fix_mojibake", action="store_true", help="Repair mis-decoded text.")
    conversations.add_argument("--license", default="unknown", help="Licence id written in the dataset card.")

    args = parser.parse_args(argv)
    if args.dataset == "conversations" and not args.data_files and not args.data_dir:
        parser.error("conversations: give --data_files or --data_dir")
    return args


def make_builder(args: argparse.Namespace) -> datasets.DatasetBuilder:
    """Instantiates the builder named by `args.dataset` with the command-line options."""
    if args.dataset == "meld":
        return MeldBuilder(
            config_name=args.config,
            data_dir=args.data_dir,
            cache_dir=args.cache_dir,
            splits=tuple(args.splits),
            fix_mojibake=not args.no_fix_mojibake,
        )
    if args.dataset == "iemocap":
        return IemocapBuilder(
            data_dir=args.data_dir,
            cache_dir=args.cache_dir,
            sessions=tuple(args.sessions),
            test_sessions=tuple(args.test_sessions),
            validation_fraction=args.validation_fraction,
            seed=args.seed,
        )
    data_files = None
    if args.data_files:
        data_files = {}
        for item in args.data_files:
            split, _, path = item.partition("=") if "=" in item else ("train", "", item)
            data_files.setdefault(split, []).append(str(Path(path).expanduser().resolve()))
    return ConversationsBuilder(
        data_dir=args.data_dir,
        data_files=data_files,
        cache_dir=args.cache_dir,
        dialogue_column=args.dialogue_column,
        utterance_column=args.utterance_column,
        speaker_column=args.speaker_column,
        text_column=args.text_column,
        audio_column=args.audio_column,
        video_column=args.video_column,
        label_column=args.label_column,
        label_names=tuple(args.label_names) if args.label_names else None,
        strict_media=args.strict_media,
        fix_mojibake=args.fix_mojibake,
    )


def compute_statistics(dataset: datasets.DatasetDict) -> dict:
    """Dialogues, utterances and the emotion histogram (class name -> count, plus `unlabelled`) per split."""
    statistics = {}
    for split, split_dataset in dataset.items():
        names = split_dataset.features["utterances"].feature["emotion"].names
        counts = [0] * len(names)
        unlabelled, utterances = 0, 0
        batches = split_dataset.with_format("arrow").iter(batch_size=256)
        total = -(-len(split_dataset) // 256)
        for batch in tqdm(batches, total=total, desc=f"Counting {split}", unit=" batches", leave=False):
            emotions = pc.struct_field(pc.list_flatten(batch["utterances"]), "emotion")
            utterances += len(emotions)
            unlabelled += emotions.null_count
            for value, count in zip(*_value_counts(emotions), strict=True):
                counts[value] += count
        statistics[split] = {
            "dialogues": len(split_dataset),
            "utterances": utterances,
            "emotions": dict(zip(names, counts, strict=True)),
            **({"unlabelled": unlabelled} if unlabelled else {}),
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


@contextlib.contextmanager
def atomic_output_dir(target: str, overwrite: bool = False):
    """
    Yields a fresh temporary folder next to `target` and renames it to `target` when the block succeeds.

    On an exception the temporary folder is removed and `target` is left as it was. An existing `target` is replaced
    only with `overwrite=True` (moved aside, then deleted once the new folder is in place).
    """
    target = Path(target).expanduser().resolve()
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite to replace it.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp creates the folder private (0700); give it the usual permissions
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, backup)
        os.rename(tmp, target)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.rename(tmp, target)


def make_dataset_card(args, info: datasets.DatasetInfo, statistics: dict, report: dict, splits: list[str]):
    """Returns the card's YAML metadata (a dict) and its Markdown body: licence, statistics, build report, citation."""
    license_id = CARD_LICENSES.get(args.dataset, getattr(args, "license", "unknown"))
    metadata = {
        "license": license_id,
        "language": ["en"],
        "pretty_name": f"{PRETTY_NAMES[args.dataset]} (row per dialogue, for M2FNet)",
        "task_categories": ["text-classification", "audio-classification", "video-classification"],
        "tags": ["emotion-recognition-in-conversation", "multimodal", "m2fnet"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"{split}.parquet"} for split in splits],
            }
        ],
    }
    if args.dataset == "iemocap":
        metadata["license_name"] = "iemocap-release-licence"
        metadata["license_link"] = "https://sail.usc.edu/iemocap/iemocap_release.htm"
    licence = f"**{license_id}**" + (
        f" ({info.license})" if info.license and info.license.lower() != license_id else ""
    )
    homepage = f" Homepage: {info.homepage}." if info.homepage else ""
    body = f"""
# {PRETTY_NAMES[args.dataset]} for emotion recognition in conversation

{(info.description or "").strip()}

Built with `examples/build_dataset.py {args.dataset}` from the m2fnet repository (one row per dialogue; the
`utterances` column lists the dialogue's utterances in order). Licence: {licence}.{homepage}

Media columns are stored undecoded (`Audio(decode=False)` / `Video(decode=False)`); decode them with PyAV, or with
torchcodec via `cast_column` on a flattened dataset.

## Statistics

{format_statistics(statistics, markdown=True)}

## Build report

```json
{json.dumps(report, indent=2, ensure_ascii=False)}
```

## Citation

```bibtex
{(info.citation or "").strip()}
```
"""
    return metadata, body


def write_card(folder: Path, metadata: dict, body: str) -> None:
    from huggingface_hub import DatasetCard, DatasetCardData

    card = DatasetCard(f"---\n{DatasetCardData(**metadata).to_yaml()}\n---\n{body}")
    card.save(folder / "README.md")


def export_parquet(dataset: datasets.DatasetDict, folder: Path, embed_media: bool) -> None:
    """Writes `<split>.parquet` per split (media bytes embedded when `embed_media`)."""
    for split, split_dataset in dataset.items():
        if embed_media:
            split_dataset = split_dataset.with_format("arrow").map(embed_table_storage, batched=True, batch_size=64)
            split_dataset = split_dataset.with_format(None)
        split_dataset.to_parquet(str(folder / f"{split}.parquet"))


def push_dataset(dataset: datasets.DatasetDict, repo_id: str, metadata: dict, body: str, private: bool, token):
    """Pushes `dataset` as Parquet (media embedded), then replaces the generated card's body and adds our metadata."""
    from huggingface_hub import DatasetCard

    dataset.push_to_hub(repo_id, private=private, token=token, embed_external_files=True)
    card = DatasetCard.load(repo_id, repo_type="dataset", token=token)
    for key, value in metadata.items():
        if key != "configs":  # keep the `configs` that `push_to_hub` wrote for its own file layout
            card.data[key] = value
    card.text = body
    card.push_to_hub(repo_id, repo_type="dataset", token=token, commit_message="Add the dataset card and build report")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    datasets.logging.set_verbosity_warning()
    if args.dataset == "iemocap" and args.push_to_hub and not args.private:
        raise SystemExit("IEMOCAP's licence forbids redistribution: push it only to a --private repository.")
    # Fail before the (possibly long) build rather than after it.
    for folder in (args.output_dir, args.parquet_dir):
        if folder and Path(folder).exists() and not args.overwrite:
            raise SystemExit(f"{folder} exists; pass --overwrite to replace it.")

    builder = make_builder(args)
    download_mode = (
        datasets.DownloadMode.REUSE_DATASET_IF_EXISTS
        if args.reuse_cache
        else datasets.DownloadMode.REUSE_CACHE_IF_EXISTS
    )
    builder.download_and_prepare(download_mode=download_mode)
    dataset = builder.as_dataset()
    report = builder.build_report
    statistics = compute_statistics(dataset)

    print(format_statistics(statistics))
    print("Build report (totals):", json.dumps(report.get("totals", {}), indent=2, ensure_ascii=False))
    metadata, body = make_dataset_card(args, builder.info, statistics, report, list(dataset))

    def write_side_files(folder: Path):
        (folder / "build_report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        (folder / "statistics.json").write_text(json.dumps(statistics, indent=2), encoding="utf-8")

    if args.report_json:
        report_path = Path(args.report_json).expanduser()
        report_path.parent.mkdir(parents=True, exist_ok=True)
        tmp_report = report_path.with_name(f".{report_path.name}.tmp")
        tmp_report.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp_report, report_path)
    if args.output_dir:
        with atomic_output_dir(args.output_dir, overwrite=args.overwrite) as folder:
            dataset.save_to_disk(str(folder))
            write_side_files(folder)
        logger.info(f"Saved the DatasetDict to {args.output_dir} (load it with `datasets.load_from_disk`).")
    if args.parquet_dir:
        with atomic_output_dir(args.parquet_dir, overwrite=args.overwrite) as folder:
            export_parquet(dataset, folder, embed_media=args.embed_media)
            write_side_files(folder)
            write_card(folder, metadata, body)
        logger.info(f"Wrote Parquet files and README.md to {args.parquet_dir}.")
    if args.push_to_hub:
        push_dataset(dataset, args.push_to_hub, metadata, body, private=args.private, token=args.token)
        logger.info(f"Pushed to https://huggingface.co/datasets/{args.push_to_hub}.")
    return {"statistics": statistics, "report": report}


if __name__ == "__main__":
    main()
