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
python examples/build_dataset.py meld --config text --data_dir path/to/MELD --output_dir out/meld --parquet_dir pq/meld
# MELD with the official clips (downloads MELD.Raw.tar.gz, about 10 GB, when --data_dir is left out)
python examples/build_dataset.py meld --config raw --data_dir path/to/MELD.Raw --push_to_hub my-org/meld
# IEMOCAP (licence-gated: local copy only; pushing requires --private)
python examples/build_dataset.py iemocap --data_dir path/to/IEMOCAP_full_release --parquet_dir pq/iemocap
# Your own data (see `build_dataset.py conversations --help` for the format)
python examples/build_dataset.py conversations --data_files train=train.csv test=test.jsonl --output_dir out/mine
```

Every output folder is staged next to its target and renamed into place once all of them are complete, so a failed
or interrupted run (a full disk included) leaves earlier outputs as they were and no temporary files. The build
report (missing clips, repaired text, duplicates, reordered dialogues, dropped labels) is printed and saved as
`build_report.json` in every output (and in `--report_json` if given). Pushing uses the token of `HF_TOKEN` or
`hf auth login`.
"""

import argparse
import contextlib
import json
import logging
from pathlib import Path

import datasets

from datasets_scripts import conversations as conversations_module
from datasets_scripts.conversations import ConversationsBuilder, ConversationsConfig
from datasets_scripts.export import (
    compute_statistics,
    export_parquet,
    format_statistics,
    make_dataset_card,
    push_dataset,
    write_card,
)
from datasets_scripts.iemocap import IemocapBuilder
from datasets_scripts.meld import MeldBuilder
from m2fnet_training.cli import run_cli
from m2fnet_training.io_utils import atomic_output_dir, atomic_output_file, remove_stale_staging, write_json


logger = logging.getLogger("build_dataset")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the line breaks of descriptions."""


def _conversations_help() -> str:
    """The `conversations` description: the module docstring of the builder, from its column table on."""
    doc = conversations_module.__doc__
    return (
        "Your own conversations, one row per utterance in CSV or JSON Lines files.\n\n" + doc[doc.index("| content") :]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data_dir", default=None, help="Local copy of the raw data (see each builder's docstring).")
    common.add_argument("--cache_dir", default=None, help="`datasets` cache folder (None: the HF cache).")
    common.add_argument("--output_dir", default=None, help="Write the DatasetDict here with `save_to_disk`.")
    common.add_argument("--parquet_dir", default=None, help="Write one Parquet file per split + README.md here.")
    common.add_argument(
        "--embed_media",
        action="store_true",
        help="Store the media bytes in the Parquet files (otherwise only their paths). `save_to_disk` and "
        "`--push_to_hub` always embed them.",
    )
    common.add_argument("--report_json", default=None, help="Also write the build report to this JSON file.")
    common.add_argument("--push_to_hub", default=None, metavar="REPO", help="Push as Parquet to this dataset repo.")
    common.add_argument("--private", action="store_true", help="Create the Hub repository as private.")
    common.add_argument("--overwrite", action="store_true", help="Replace existing output folders.")
    common.add_argument(
        "--reuse_cache",
        action="store_true",
        help="Reuse a dataset already prepared in the cache (otherwise it is regenerated from the raw files).",
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=HelpFormatter)
    subparsers = parser.add_subparsers(dest="dataset", required=True, metavar="{meld,iemocap,conversations}")

    meld = subparsers.add_parser("meld", parents=[common], formatter_class=HelpFormatter, help="MELD, 7 emotions.")
    meld.add_argument("--config", choices=["text", "raw"], default="text", help="`raw` adds the utterance clips.")
    meld.add_argument(
        "--splits", nargs="+", default=["train", "validation", "test"], choices=["train", "validation", "test"]
    )
    meld.add_argument("--no_fix_mojibake", action="store_true", help="Keep mis-decoded text as released.")

    iemocap = subparsers.add_parser(
        "iemocap", parents=[common], formatter_class=HelpFormatter, help="IEMOCAP, 6 emotions (local copy only)."
    )
    iemocap.add_argument("--sessions", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    iemocap.add_argument("--test_sessions", nargs="+", type=int, default=[5])
    iemocap.add_argument("--validation_fraction", type=float, default=0.1)
    iemocap.add_argument("--seed", type=int, default=42)

    mine = subparsers.add_parser(
        "conversations",
        parents=[common],
        formatter_class=HelpFormatter,
        help="Your own CSV/JSONL files.",
        description=_conversations_help(),
    )
    mine.add_argument(
        "--data_files", nargs="+", default=None, metavar="[SPLIT=]PATH", help="Files, optionally prefixed by split."
    )
    defaults = ConversationsConfig.__dataclass_fields__
    mine.add_argument(
        "--dialogue_columns",
        nargs="+",
        default=list(defaults["dialogue_columns"].default),
        metavar="COLUMN",
        help="Column(s) whose values identify a conversation (several columns form one id).",
    )
    mine.add_argument(
        "--order_by",
        default=defaults["order_by"].default,
        metavar="COLUMN|file",
        help="Column of numbers or timestamps that orders the utterances, or `file` for the rows' order.",
    )
    for field in ("speaker_column", "text_column", "audio_column", "video_column", "label_column"):
        mine.add_argument(f"--{field}", default=defaults[field].default, metavar="COLUMN")
    mine.add_argument(
        "--label_names", nargs="+", default=None, help="Label set in class-id order (default: inferred, lower-cased)."
    )
    mine.add_argument("--strict_media", action="store_true", help="Fail on a media path that is missing.")
    mine.add_argument("--fix_mojibake", action="store_true", help="Repair mis-decoded text.")
    mine.add_argument("--license", default="unknown", help="Licence id written in the dataset card.")

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
    columns = ("order_by", "speaker_column", "text_column", "audio_column", "video_column", "label_column")
    return ConversationsBuilder(
        data_dir=args.data_dir,
        data_files=data_files,
        cache_dir=args.cache_dir,
        dialogue_columns=tuple(args.dialogue_columns),
        **{column: getattr(args, column) for column in columns},
        label_names=tuple(args.label_names) if args.label_names else None,
        strict_media=args.strict_media,
        fix_mojibake=args.fix_mojibake,
    )


@contextlib.contextmanager
def naming_failed_writes(target: str):
    """Gives an `OSError` raised without a path (Arrow's writers raise those) the output's path, for the message."""
    try:
        yield
    except OSError as error:
        if error.errno is not None and error.filename is None:
            error.filename = str(Path(target).expanduser().resolve())
        raise


def write_outputs(args, dataset: datasets.DatasetDict, report: dict, statistics: dict, card) -> None:
    """Stages `--output_dir`, `--parquet_dir` and `--report_json` side by side; they replace their targets only once
    all of them are written."""
    with contextlib.ExitStack() as stack:
        staged = {}
        for name in ("output_dir", "parquet_dir"):
            if getattr(args, name):
                staged[name] = stack.enter_context(atomic_output_dir(getattr(args, name), overwrite=args.overwrite))
        if args.report_json:
            report_file = stack.enter_context(atomic_output_file(Path(args.report_json).expanduser()))
            report_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for folder in staged.values():
            write_json(folder / "build_report.json", report)
            write_json(folder / "statistics.json", statistics)
        if "output_dir" in staged:
            with naming_failed_writes(args.output_dir):
                dataset.save_to_disk(str(staged["output_dir"]))
        if "parquet_dir" in staged:
            with naming_failed_writes(args.parquet_dir):
                export_parquet(dataset, staged["parquet_dir"], embed_media=args.embed_media)
                write_card(staged["parquet_dir"], *card)
    if args.output_dir:
        logger.info(f"Saved the DatasetDict to {args.output_dir} (load it with `datasets.load_from_disk`).")
    if args.parquet_dir:
        logger.info(f"Wrote Parquet files and README.md to {args.parquet_dir}.")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    datasets.logging.set_verbosity_warning()
    if args.dataset == "iemocap" and args.push_to_hub and not args.private:
        raise ValueError("IEMOCAP's licence forbids redistribution: push it only to a --private repository.")
    for folder in (args.output_dir, args.parquet_dir):  # fail before the (possibly long) build rather than after it
        if folder and Path(folder).exists() and not args.overwrite:
            raise FileExistsError(f"{folder} exists; pass --overwrite to replace it.")
        if folder:
            remove_stale_staging(Path(folder).expanduser().resolve())

    builder = make_builder(args)
    reuse = datasets.DownloadMode.REUSE_DATASET_IF_EXISTS
    builder.download_and_prepare(
        download_mode=reuse if args.reuse_cache else datasets.DownloadMode.REUSE_CACHE_IF_EXISTS
    )
    dataset = builder.as_dataset()
    report = builder.build_report
    statistics = compute_statistics(dataset)
    print(format_statistics(statistics))
    print("Build report (totals):", json.dumps(report.get("totals", {}), indent=2, ensure_ascii=False))
    card = make_dataset_card(args.dataset, builder.info, statistics, report, getattr(args, "license", None))

    write_outputs(args, dataset, report, statistics, card)
    if args.push_to_hub:
        push_dataset(dataset, args.push_to_hub, *card, private=args.private)
        logger.info(f"Pushed to https://huggingface.co/datasets/{args.push_to_hub}.")
    return {"statistics": statistics, "report": report}


if __name__ == "__main__":
    run_cli(main)
