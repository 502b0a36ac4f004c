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
"""MELD (Poria et al., ACL 2019) as a `datasets` builder with one row per dialogue.

Usage (datasets >= 4 no longer runs loading scripts, so the builder is imported and run directly):

```python
from datasets_scripts.meld import MeldBuilder, flatten_dialogues

builder = MeldBuilder(config_name="text", data_dir="/data/MELD")  # or data_dir=None to download
builder.download_and_prepare()
dataset = builder.as_dataset()  # DatasetDict: train / validation / test
builder.build_report            # what was fixed, dropped or missing, per split
utterances = flatten_dialogues(dataset["train"])  # one row per utterance
```

Rows follow the project's dialogue schema (`datasets_scripts.schema.dialogue_features`): `dialogue_id` (MELD's
`Dialogue_ID`), `dialogue_name` (`dia{Dialogue_ID}`), `split`, and `utterances` with `utterance_id` (MELD's
`Utterance_ID`, gaps kept as released), `speaker`, `text`, `emotion` (`MELD_EMOTIONS` of
`modeling_m2fnet.configuration_m2fnet`), `sentiment`, `start_time` / `end_time` (seconds), `season`, `episode`.

Configs:

- `text`: the official transcripts only (`train_sent_emo.csv`, `dev_sent_emo.csv`, `test_sent_emo.csv`).
- `raw`: the transcripts plus the official utterance clips of `MELD.Raw` (`<folder>/dia{D}_utt{U}.mp4`, with the
  folders `train_splits`, `dev_splits_complete` and `output_repeated_splits_test`). A clip missing from the release
  keeps its utterance, with `video=None` and `has_video=False`, and is counted in the build report.

`data_dir` layout: the CSV files directly in `data_dir`; for `raw`, the clip folders in `data_dir` (or one level down,
in `train/`, `dev/`, `test/`, as some copies of the release are organised).

Media columns are declared undecoded (`Video(decode=False)`): `datasets` >= 4 decodes audio and video through
`torchcodec`, which not every torch build can load. The schema stays typed and exports to Parquet; the
`M2FNetProcessor` decodes the clips itself with PyAV (MELD's audio is the clip's audio track). Users with torchcodec
can decode in `datasets` with `dataset.cast_column(...)` on a flattened dataset, e.g.
`flatten_dialogues(ds).cast_column("video", Video())`.

Defects of the official release that the builder handles and counts in `build_report` (per split and in total):
mojibake repaired in `Utterance`/`Speaker` (`mojibake_fixed_rows`), duplicated `(Dialogue_ID, Utterance_ID)` pairs
(first kept, `duplicate_utterances`), dialogue ids absent from the id range (`missing_dialogue_ids`, e.g. dialogue 60
of train), dialogues whose utterance ids have gaps (`dialogues_with_utterance_id_gaps`; the ids are kept as released),
utterances whose end time precedes their start time (`inverted_times`, kept) and, for `raw`, missing clips
(`missing_clips`).

Licence: the MELD annotations and clips are released under GPL-3.0 (https://github.com/declare-lab/MELD).
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets.utils import logging
from datasets.utils.tqdm import tqdm

from modeling_m2fnet.configuration_m2fnet import MELD_EMOTIONS

from ._common import (
    BuildReportMixin,
    capped_append,
    fix_mojibake,
    flatten_dialogues,
    mojibake_fixer_name,
    read_csv_rows,
    resolve_data_dir,
)
from .schema import dialogue_features


logger = logging.get_logger(__name__)

MELD_SENTIMENTS = ["neutral", "positive", "negative"]
MELD_SPLITS = ("train", "validation", "test")
# The transcripts, as named in https://github.com/declare-lab/MELD/tree/master/data/MELD.
MELD_CSV_FILES = {"train": "train_sent_emo.csv", "validation": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
MELD_CSV_COLUMNS = [
    "Utterance",
    "Speaker",
    "Emotion",
    "Sentiment",
    "Dialogue_ID",
    "Utterance_ID",
    "Season",
    "Episode",
    "StartTime",
    "EndTime",
]
# MELD.Raw.tar.gz holds MELD.Raw/{train,dev,test}.tar.gz, which extract to these clip folders. Sources: the download
# link in the README of https://github.com/declare-lab/MELD and the extraction scripts that use the release, e.g.
# `tar -x -f MELD.Raw/train.tar.gz; cd train_splits; ...; cd ../output_repeated_splits_test; ...; cd
# ../dev_splits_complete`.
MELD_RAW_ARCHIVES = {"train": "train.tar.gz", "validation": "dev.tar.gz", "test": "test.tar.gz"}
MELD_CLIP_FOLDERS = {
    "train": "train_splits",
    "validation": "dev_splits_complete",
    "test": "output_repeated_splits_test",
}
MELD_SHORT_SPLIT_NAMES = {"train": "train", "validation": "dev", "test": "test"}
MELD_CSV_BASE_URL = "https://raw.githubusercontent.com/declare-lab/MELD/master/data/MELD"
# The URL as the MELD README gives it (`wget http://web.eecs.umich.edu/~mihalcea/downloads/MELD.Raw.tar.gz`).
MELD_RAW_URL = "http://web.eecs.umich.edu/~mihalcea/downloads/MELD.Raw.tar.gz"

_TIME_PATTERN = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*$")

_CITATION = """\
@inproceedings{poria-etal-2019-meld,
    title = "{MELD}: A Multimodal Multi-Party Dataset for Emotion Recognition in Conversations",
    author = "Poria, Soujanya and Hazarika, Devamanyu and Majumder, Navonil and Naik, Gautam and
      Cambria, Erik and Mihalcea, Rada",
    booktitle = "Proceedings of the 57th Annual Meeting of the Association for Computational Linguistics",
    year = "2019",
    pages = "527--536",
}
@inproceedings{chen-etal-2018-emotionlines,
    title = "{E}motion{L}ines: An Emotion Corpus of Multi-Party Conversations",
    author = "Chen, Sheng-Yeh and Hsu, Chao-Chun and Kuo, Chuan-Chun and Huang, Ting-Hao (Kenneth) and Ku, Lun-Wei",
    booktitle = "Proceedings of the Eleventh International Conference on Language Resources and Evaluation",
    year = "2018",
}
"""

_DESCRIPTION = """\
MELD: the Multimodal EmotionLines Dataset, 13,708 utterances in 1,432 dialogues from the TV series Friends, each
utterance labelled with one of seven emotions and a sentiment. One row per dialogue (named `dia{dialogue_id}`);
`utterances` holds the utterances in `utterance_id` order.
"""


@dataclass
class MeldConfig(datasets.BuilderConfig):
    """
    Configuration of [`MeldBuilder`].

    Args:
        with_video (`bool`, *optional*, defaults to `False`):
            Whether to add each utterance's official clip (`video`, `has_video`). `True` for the `raw` config.
        splits (`tuple[str]`, *optional*, defaults to `("train", "validation", "test")`):
            Which splits to build (MELD's `dev` is `validation`). Each needs its CSV (and clip folder for `raw`).
        fix_mojibake (`bool`, *optional*, defaults to `True`):
            Whether to repair mis-decoded text (`â€™` -> `’`) in `Utterance` and `Speaker`, with `ftfy` when it is
            installed and a small built-in table otherwise. Repaired rows are counted in the build report.
        csv_base_url (`str`, *optional*, defaults to the `data/MELD` folder of the MELD GitHub repository):
            Where the CSV files are downloaded from when `data_dir` is `None`.
        raw_url (`str`, *optional*, defaults to the official `MELD.Raw.tar.gz`):
            The release tarball downloaded for `raw` when `data_dir` is `None` (about 10 GB).
    """

    with_video: bool = False
    splits: tuple = MELD_SPLITS
    fix_mojibake: bool = True
    csv_base_url: str = MELD_CSV_BASE_URL
    raw_url: str = MELD_RAW_URL

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self):
        """Normalises the fields (sequences to tuples) and raises `ValueError` on invalid values."""
        self.splits = (self.splits,) if isinstance(self.splits, str) else tuple(self.splits)
        unknown = [split for split in self.splits if split not in MELD_SPLITS]
        if unknown or not self.splits:
            raise ValueError(f"`splits` must be a non-empty subset of {MELD_SPLITS} (got {self.splits}).")


def meld_features(with_video: bool) -> datasets.Features:
    """The features of [`MeldBuilder`]: the dialogue schema with MELD's fields (`with_video` adds `video`)."""
    return dialogue_features(
        MELD_EMOTIONS,
        utterance_fields={
            "sentiment": datasets.ClassLabel(names=MELD_SENTIMENTS),
            "start_time": datasets.Value("float32"),
            "end_time": datasets.Value("float32"),
            "season": datasets.Value("int32"),
            "episode": datasets.Value("int32"),
        },
        utterance_media=("video",) if with_video else (),
    )


def parse_meld_time(value: str) -> float | None:
    """Parses MELD's `hh:mm:ss,ms` into seconds; returns `None` when the value does not match."""
    match = _TIME_PATTERN.match(value or "")
    if match is None:
        return None
    hours, minutes, seconds, millis = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis.ljust(3, "0")) / 1000


class _MeldCells:
    """Typed access to the cells of one MELD CSV row; errors name the file, row, column and value."""

    def __init__(self, row: dict, where: str):
        self.row, self.where = row, where

    def integer(self, column: str) -> int:
        value = (self.row.get(column) or "").strip()
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{self.where}: column {column!r} should be an integer, got {value!r}.") from None

    def label(self, column: str, names) -> str:
        value = (self.row.get(column) or "").strip()
        if value.lower() not in names:
            raise ValueError(
                f"{self.where}: unknown {column.lower()} {value!r} in column {column!r}; expected one of {list(names)}."
            )
        return value.lower()

    def time(self, column: str) -> float:
        value = self.row.get(column) or ""
        seconds = parse_meld_time(value)
        if seconds is None:
            raise ValueError(f"{self.where}: column {column!r} should be a time like '00:16:16,059', got {value!r}.")
        return seconds


def parse_meld_csv(path: Path, split: str, fix_text: bool = True) -> tuple[list[tuple[int, list[dict]]], dict]:
    """
    Reads one MELD CSV into dialogues and a report of the defects found.

    Args:
        path (`Path`):
            A MELD CSV (`train_sent_emo.csv`, ...).
        split (`str`):
            The split name, recorded in the report.
        fix_text (`bool`, *optional*, defaults to `True`):
            Whether to repair mojibake in the utterance and speaker texts.

    Returns:
        `tuple`: the dialogues as `(dialogue_id, utterances)` sorted by id, utterances sorted by `utterance_id`,
        and the split's report.

    Raises:
        `ValueError`: on a missing column (naming the file and column), a malformed number or time, or an unknown
            emotion or sentiment (naming the file, row, column and value).
    """
    _, rows, encoding = read_csv_rows(path, MELD_CSV_COLUMNS)
    report = {
        "file": str(path),
        "encoding": encoding,
        "rows": 0,
        "mojibake_fixer": mojibake_fixer_name() if fix_text else "disabled",
        "mojibake_fixed_rows": 0,
        "mojibake_fixed_examples": [],
        "duplicate_utterances": 0,
        "duplicate_examples": [],
        "inverted_times": 0,
        "inverted_time_examples": [],
    }
    dialogues: dict[int, dict[int, dict]] = {}
    for row_number, line_number, row in tqdm(rows, desc=f"Reading MELD {split}", unit=" rows"):
        report["rows"] += 1
        cells = _MeldCells(row, f"{path}, row {row_number} (line {line_number})")
        dialogue_id, utterance_id = cells.integer("Dialogue_ID"), cells.integer("Utterance_ID")
        text, speaker = row["Utterance"] or "", row["Speaker"] or ""
        utterance = {
            "utterance_id": utterance_id,
            "speaker": fix_mojibake(speaker) if fix_text else speaker,
            "text": fix_mojibake(text) if fix_text else text,
            "emotion": cells.label("Emotion", MELD_EMOTIONS),
            "sentiment": cells.label("Sentiment", MELD_SENTIMENTS),
            "start_time": cells.time("StartTime"),
            "end_time": cells.time("EndTime"),
            "season": cells.integer("Season"),
            "episode": cells.integer("Episode"),
        }
        name = f"dia{dialogue_id}_utt{utterance_id}"
        if utterance["text"] != text or utterance["speaker"] != speaker:
            report["mojibake_fixed_rows"] += 1
            capped_append(report["mojibake_fixed_examples"], name)
        if utterance["end_time"] < utterance["start_time"]:
            report["inverted_times"] += 1
            capped_append(report["inverted_time_examples"], name)
        dialogue = dialogues.setdefault(dialogue_id, {})
        if utterance_id in dialogue:
            report["duplicate_utterances"] += 1
            capped_append(report["duplicate_examples"], f"{name} (row {row_number})")
            continue
        dialogue[utterance_id] = utterance

    if not dialogues:
        raise ValueError(f"{path}: the {split!r} split is empty (no utterance rows).")
    return _sorted_dialogues(dialogues, report), report


def _sorted_dialogues(dialogues: dict[int, dict[int, dict]], report: dict) -> list[tuple[int, list[dict]]]:
    """`(dialogue_id, utterances)` sorted by ids; adds the dialogue counts and id gaps to `report`."""
    ids = sorted(dialogues)
    missing_ids = sorted(set(range(ids[0], ids[-1] + 1)) - set(ids))
    gapped = [d for d in ids if sorted(dialogues[d]) != list(range(len(dialogues[d])))]
    report.update(
        {
            "utterances": sum(len(dialogue) for dialogue in dialogues.values()),
            "dialogues": len(ids),
            "missing_dialogue_ids": len(missing_ids),
            "missing_dialogue_id_examples": missing_ids[:20],
            "dialogues_with_utterance_id_gaps": len(gapped),
            "dialogues_with_utterance_id_gap_examples": gapped[:20],
        }
    )
    return [(d, [dialogues[d][u] for u in sorted(dialogues[d])]) for d in ids]


def _find_clip_folder(root: Path, split: str) -> Path:
    folder = MELD_CLIP_FOLDERS[split]
    candidates = [root / folder, root / MELD_SHORT_SPLIT_NAMES[split] / folder]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"MELD clip folder for the {split!r} split not found: expected {' or '.join(map(str, candidates))} "
        f"(the `{MELD_RAW_ARCHIVES[split]}` archive of MELD.Raw extracts to `{folder}/`)."
    )


class MeldBuilder(BuildReportMixin, datasets.GeneratorBasedBuilder):
    """
    Builds MELD with one row per dialogue, from a local copy (`data_dir`) or the official downloads.

    Every split's rows are sorted by `dialogue_id`, keyed and named `dia{dialogue_id}`; the utterances of a dialogue
    are sorted by `utterance_id`. After `download_and_prepare()`, `build_report` holds the counts described in the
    module docstring.

    Raises:
        `FileNotFoundError`: if `data_dir` does not exist, or lacks a requested split's CSV or (`raw`) clip folder.
        `ValueError`: on a CSV without a required column, a row with an unknown emotion or sentiment (file, row and
            value are named) and on an empty split.
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = MeldConfig
    BUILDER_CONFIGS = [
        MeldConfig(name="text", with_video=False, description="Transcripts and labels only (the three CSV files)."),
        MeldConfig(name="raw", with_video=True, description="Transcripts, labels and the official utterance clips."),
    ]
    DEFAULT_CONFIG_NAME = "text"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", "meld")
        super().__init__(*args, **kwargs)

    def _info(self):
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=meld_features(self.config.with_video),
            homepage="https://affective-meld.github.io",
            license="GPL-3.0",
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        splits = self.config.splits
        if self.config.data_dir is None:
            base = self.config.csv_base_url.rstrip("/")
            csv_paths = dl_manager.download({split: f"{base}/{MELD_CSV_FILES[split]}" for split in splits})
            clip_roots = self._download_clips(dl_manager) if self.config.with_video else {}
        else:
            wanted = ", ".join(MELD_CSV_FILES[split] for split in splits)
            data_dir = resolve_data_dir(self.config.data_dir, f"the MELD CSV files ({wanted})")
            csv_paths = {split: data_dir / MELD_CSV_FILES[split] for split in splits}
            missing = [f"{path} ({split})" for split, path in csv_paths.items() if not path.is_file()]
            if missing:
                raise FileNotFoundError(f"MELD transcripts not found: expected {', '.join(missing)}.")
            clip_roots = dict.fromkeys(splits, data_dir) if self.config.with_video else {}
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "split": split,
                    "csv_path": str(csv_paths[split]),
                    "clip_folder": str(_find_clip_folder(Path(clip_roots[split]), split)) if clip_roots else None,
                },
            )
            for split in splits
        ]

    def _download_clips(self, dl_manager) -> dict:
        extracted = Path(dl_manager.download_and_extract(self.config.raw_url))
        root = extracted / "MELD.Raw" if (extracted / "MELD.Raw").is_dir() else extracted
        clip_roots = {}
        for split in self.config.splits:
            archive = root / MELD_RAW_ARCHIVES[split]
            if not archive.is_file():
                raise FileNotFoundError(f"{archive} not found in the downloaded {self.config.raw_url}.")
            clip_roots[split] = dl_manager.extract(str(archive))
        return clip_roots

    @staticmethod
    def _attach_clips(dialogues: list, folder: Path, report: dict) -> list:
        available = set(os.listdir(folder))
        report.update({"clip_folder": str(folder), "missing_clips": 0, "missing_clip_examples": []})
        for dialogue_id, utterances in tqdm(dialogues, desc=f"Checking clips in {folder.name}", unit=" dialogues"):
            for utterance in utterances:
                name = f"dia{dialogue_id}_utt{utterance['utterance_id']}.mp4"
                found = name in available
                utterance["video"] = str(folder / name) if found else None
                utterance["has_video"] = found
                if not found:
                    report["missing_clips"] += 1
                    capped_append(report["missing_clip_examples"], name)
        return dialogues

    def _generate_examples(self, split, csv_path, clip_folder):
        dialogues, report = parse_meld_csv(Path(csv_path), split, fix_text=self.config.fix_mojibake)
        if clip_folder is not None:
            dialogues = self._attach_clips(dialogues, Path(clip_folder), report)
        self._record_split_report(split, report)
        if report["duplicate_utterances"] or report.get("missing_clips"):
            logger.warning(
                f"MELD {split}: {report['duplicate_utterances']} duplicate utterance(s) dropped, "
                f"{report.get('missing_clips', 0)} clip(s) missing (kept with has_video=False)."
            )
        for dialogue_id, utterances in dialogues:
            name = f"dia{dialogue_id}"
            yield name, {"dialogue_id": dialogue_id, "dialogue_name": name, "split": split, "utterances": utterances}

    def _assemble_build_report(self, split_reports: dict[str, dict]) -> dict:
        return {"dataset": "meld", "config": self.config.name, **super()._assemble_build_report(split_reports)}


__all__ = [
    "MELD_CLIP_FOLDERS",
    "MELD_CSV_FILES",
    "MELD_EMOTIONS",
    "MELD_SENTIMENTS",
    "MeldBuilder",
    "MeldConfig",
    "flatten_dialogues",
    "meld_features",
    "parse_meld_csv",
]
