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
"""A `datasets` builder for your own conversations (CSV or JSON Lines), one row per conversation.

The input has one row per utterance. Every column is named by an option ([`ConversationsConfig`] field, or the
`build_dataset.py conversations` flag of the same name):

| content | option (flag) | default | required |
|---|---|---|---|
| conversation id | `dialogue_columns` (`--dialogue_columns`) | `conversation_id` | yes; one or more columns |
| utterance order | `order_by` (`--order_by`) | `utterance_id` | yes, unless `file` |
| speaker | `speaker_column` (`--speaker_column`) | `speaker` | yes (cells may be empty) |
| transcript | `text_column` (`--text_column`) | `text` | yes (cells may be empty) |
| audio file | `audio_column` (`--audio_column`) | `audio` | no |
| video file | `video_column` (`--video_column`) | `video` | no |
| emotion label | `label_column` (`--label_column`) | `label` | no (an empty cell = unlabelled) |

A column name matches exactly, or else ignoring case (`speaker` finds `Speaker`). A file without a required column
is refused with one message that lists the file's columns and the options to set (`--text_column Utterance`). An
optional column set to a non-default name must exist in at least one file. Media paths may be relative to the data
file's folder.

**Conversations.** The conversation id is the value of `dialogue_columns`, or the values of several columns
(`("Season", "Episode", "Scene_ID")`, named `1_2_3`). Values are compared as normalised text: surrounding whitespace
is removed and whole numbers are written as integers, so `1`, `"1"`, `1.0`, `"01"` are one conversation; `"1.5"`
or `"a"` stay as written. An empty key cell is an error naming the file, row and column. Rows are conversations in
order of first appearance; `dialogue_id` is the index in the split and `dialogue_name` the (joined) id.

**Order.** `order_by` names a column of numbers (`3`, `6.2901`) or of timestamps (`00:14:38,127`, `00:14:38.127`,
`14:38.127`), or is `"file"` to keep the rows' order in the files (files in the order given, then row order; a
column named `file` cannot be used as order column). Utterances are sorted by that value; `utterance_id` is the
0-based position in that order. Rules:

- an empty order cell, a value that is neither a number nor a parseable timestamp, or a column holding both numbers
  and timestamps is an error naming the file, row, column and value;
- ties (the same value twice in one conversation) keep their file order and are counted (`tied_order_values`);
  a tied row identical to an earlier one (speaker, text, label and media) is a duplicate: the first is kept, the
  others dropped and counted (`duplicate_utterances`);
- conversations whose file order differs from the chosen order are counted (`dialogues_reordered`).

**Speakers.** A cell written as a list (`"['Monica Geller']"`, or a JSON list) becomes its names joined by ` & `
(`Monica Geller & Ross Geller`); such cells are counted (`speaker_lists`), those with several names too
(`multi_speaker_utterances`). Other cells are kept as written (`0` stays `"0"`).

**Labels.** The label becomes the `emotion` `ClassLabel` (whose names are the dataset's label names, read from there by
model building, training and evaluation). Labels are compared ignoring case and surrounding whitespace (inner
whitespace runs count as one space), so `joy`, `Joy` and ` JOY ` are one class. With `label_names`, that list (its
order gives the class ids) is the label set and any other label is an error naming the file, row and value; the
names must stay distinct under that comparison. Without it, the set is the lower-cased labels found in all splits,
sorted (so every split shares the class ids); the spellings merged into each class are listed in the report
(`label_spellings`). At least one label must be found unless `label_names` is given. An empty label cell (or a
file without the label column) means unlabelled: `emotion` is `None`, which training turns into the ignored index
-100; such utterances still give context. They are counted (`unlabelled_utterances`, with examples) and a warning
names the first ones when their split also has labelled utterances.

```python
from datasets_scripts.conversations import ConversationsBuilder

builder = ConversationsBuilder(
    data_files={"train": "friends_train.csv", "test": "friends_test.csv"},
    dialogue_columns=("Season", "Episode", "Scene_ID"), order_by="Start_Time",
    speaker_column="Speaker", text_column="Utterance", label_column="Emotion",
)
builder.download_and_prepare()
dataset = builder.as_dataset()
builder.build_report  # counts per split: reordered dialogues, ties, duplicates, unlabelled, speaker lists, ...
```

Media are declared undecoded (see `datasets_scripts.schema`). A media file that does not exist is counted
(`missing_audio`, `missing_video`) and left out, or raises with `strict_media=True`.
"""

from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets.utils import logging
from datasets.utils.tqdm import tqdm

from ._common import (
    BuildReportMixin,
    capped_append,
    encode_table,
    fix_mojibake,
    flatten_dialogues,
    media_value,
    read_csv_header,
    read_csv_rows,
    read_jsonl_rows,
    resolve_data_dir,
    sum_split_reports,
)
from .conversation_format import (
    COLUMN_ROLES,
    OPTIONAL_COLUMNS,
    ORDER_BY_FILE,
    cell_text,
    normalise_key,
    normalise_label,
    normalise_speaker,
    parse_order_value,
    resolve_columns,
    suggest_column,
)
from .schema import dialogue_features


logger = logging.get_logger(__name__)

CONVERSATION_SPLITS = ("train", "validation", "test")
CONVERSATION_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
_REPORT_EXAMPLES = {
    "dialogues_reordered": "dialogues_reordered_examples",
    "tied_order_values": "tied_order_examples",
    "duplicate_utterances": "duplicate_examples",
    "unlabelled_utterances": "unlabelled_examples",
    "labels_normalised": None,
    "speaker_lists": "speaker_list_examples",
    "multi_speaker_utterances": "multi_speaker_examples",
    "missing_audio": "missing_audio_examples",
    "missing_video": "missing_video_examples",
    "mojibake_fixed_rows": None,
}


@dataclass
class ConversationsConfig(datasets.BuilderConfig):
    """
    Configuration of [`ConversationsBuilder`]. Pass the files as `data_files` (a path, a list of paths or a dict
    `{split: path(s)}`) or as `data_dir` holding `train`/`validation`/`test` `.csv`/`.jsonl` files. The module
    docstring gives the rules each option follows.

    Args:
        dialogue_columns (`tuple[str]` or `str`, *optional*, defaults to `("conversation_id",)`):
            Column(s) whose values identify a conversation.
        order_by (`str`, *optional*, defaults to `"utterance_id"`):
            Column of numbers or timestamps giving the utterance order, or `"file"` for the rows' order in the files.
        speaker_column (`str`, *optional*, defaults to `"speaker"`):
            Speaker column.
        text_column (`str`, *optional*, defaults to `"text"`):
            Transcript column.
        audio_column (`str`, *optional*, defaults to `"audio"`):
            Optional column of audio file paths.
        video_column (`str`, *optional*, defaults to `"video"`):
            Optional column of video file paths.
        label_column (`str`, *optional*, defaults to `"label"`):
            Optional column of emotion names.
        label_names (`tuple[str]`, *optional*):
            The label set, in class-id order. Inferred from the files (lower-cased, sorted) when `None`.
        strict_media (`bool`, *optional*, defaults to `False`):
            Raise `FileNotFoundError` for a media path that does not exist, instead of counting and dropping it.
        fix_mojibake (`bool`, *optional*, defaults to `False`):
            Repair mis-decoded text (`â€™` -> `’`) in the text and speaker columns.
    """

    dialogue_columns: tuple = ("conversation_id",)
    order_by: str = "utterance_id"
    speaker_column: str = "speaker"
    text_column: str = "text"
    audio_column: str = "audio"
    video_column: str = "video"
    label_column: str = "label"
    label_names: tuple | None = None
    strict_media: bool = False
    fix_mojibake: bool = False

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self):
        """Normalises the fields (sequences to tuples) and raises `ValueError` on invalid values."""
        columns = (self.dialogue_columns,) if isinstance(self.dialogue_columns, str) else self.dialogue_columns
        self.dialogue_columns = tuple(str(column) for column in columns)
        if not self.dialogue_columns or len(set(self.dialogue_columns)) != len(self.dialogue_columns):
            raise ValueError(f"`dialogue_columns` must be one or more distinct columns (got {self.dialogue_columns}).")
        if not self.order_by:
            raise ValueError(f"`order_by` must name a column or be {ORDER_BY_FILE!r} (got {self.order_by!r}).")
        if self.order_by in self.dialogue_columns:
            raise ValueError(
                f"`order_by` {self.order_by!r} is part of the conversation id {list(self.dialogue_columns)}; "
                f"order utterances by another column, or by {ORDER_BY_FILE!r}."
            )
        if self.label_names is not None:
            self.label_names = tuple(str(name) for name in self.label_names)
            keys = [normalise_label(name) for name in self.label_names]
            if not self.label_names or len(set(keys)) != len(keys) or "" in keys:
                raise ValueError(
                    f"`label_names` must be non-empty and distinct when compared ignoring case and whitespace "
                    f"(got {list(self.label_names)})."
                )

    @property
    def required_fields(self) -> list[str]:
        """The config fields naming required columns."""
        order = [] if self.order_by == ORDER_BY_FILE else ["order_by"]
        return ["dialogue_columns", *order, "speaker_column", "text_column"]

    def columns_of(self, field: str) -> tuple[str, ...]:
        """The column names a field asks for (several for `dialogue_columns`)."""
        value = getattr(self, field)
        return tuple(value) if isinstance(value, tuple) else (value,)


def conversations_features(label_names) -> datasets.Features:
    """The features of [`ConversationsBuilder`] for a given label set (the dialogue schema with audio and video)."""
    return dialogue_features(label_names, utterance_media=("audio", "video"))


def _file_format(path: Path) -> str:
    file_format = CONVERSATION_EXTENSIONS.get(path.suffix.lower())
    if file_format is None:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .jsonl.")
    return file_format


def read_header(path: Path) -> list[str]:
    """The column names of a CSV file, or the keys used anywhere in a JSON Lines file."""
    if not path.is_file():
        raise FileNotFoundError(f"Conversation file not found: {path}.")
    if _file_format(path) == "csv":
        return read_csv_header(path)
    columns, _ = read_jsonl_rows(path, [])
    return columns


def read_rows(path: Path):
    """Reads a CSV or JSONL file: returns its columns and an iterator of `(row_number, line_number, row)`."""
    if _file_format(path) == "csv":
        columns, rows, _ = read_csv_rows(path, [])
        return columns, rows
    return read_jsonl_rows(path, [])


class _SplitReader:
    """Reads the files of one split into conversations and the split's report (the rules of the module docstring)."""

    def __init__(self, config: ConversationsConfig, label_names: list[str], files: list[Path]):
        self.config = config
        self.label_names = list(label_names)
        self.label_ids = {normalise_label(name): index for index, name in enumerate(self.label_names)}
        self.conversations: dict[str, list[dict]] = {}
        self.keys: dict[str, tuple] = {}
        self.first_order = None  # (kind, where, value) of the first order value read
        self.position = 0
        self.label_spellings: dict[str, set] = {}
        self.report = {"files": [str(path) for path in files], "rows": 0, "dialogues": 0, "utterances": 0}
        self.report["order_kind"] = ORDER_BY_FILE if config.order_by == ORDER_BY_FILE else None
        for count, examples in _REPORT_EXAMPLES.items():
            self.report[count] = 0
            if examples is not None:
                self.report[examples] = []

    def read_file(self, path: Path) -> None:
        header, rows = read_rows(path)
        columns = resolve_columns(self.config, header, str(path))
        required = [column for field in self.config.required_fields for column in columns[field]]
        for row_number, line_number, row in tqdm(rows, desc=f"Reading {path.name}", unit=" rows"):
            where = f"{path}, row {row_number} (line {line_number})"
            if _file_format(path) == "jsonl":
                absent = [column for column in required if column not in row]
                if absent:
                    resolve_columns(self.config, sorted(row), f"{path}, line {line_number}")
            self.report["rows"] += 1
            name = self._conversation(row, columns["dialogue_columns"], where)
            order = self._order(row, columns["order_by"], where)
            utterance = self._utterance(row, columns, path, where)
            written = cell_text(row.get(columns["order_by"][0])).strip() if columns["order_by"] else str(order)
            entry = {"order": order, "written": written, "where": where, **utterance}
            self.conversations.setdefault(name, []).append(entry)

    def _conversation(self, row: dict, columns: tuple, where: str) -> str:
        parts = []
        for column in columns:
            part = normalise_key(row.get(column))
            if not part:
                raise ValueError(
                    f"{where}: column {column!r} (part of the conversation id, --dialogue_columns) is empty; every "
                    "row needs a conversation id."
                )
            parts.append(part)
        name = "_".join(parts)
        if self.keys.setdefault(name, tuple(parts)) != tuple(parts):
            raise ValueError(
                f"{where}: the conversation ids {list(self.keys[name])} and {parts} both give the name {name!r}; "
                "rename one of them."
            )
        return name

    def _order(self, row: dict, columns: tuple | None, where: str):
        if columns is None:
            self.position += 1
            return self.position
        column = columns[0]
        try:
            kind, value = parse_order_value(row.get(column))
        except ValueError as reason:
            raise ValueError(
                f"{where}: column {column!r} (--order_by) {reason}; every utterance needs a number or a timestamp "
                f"there, or pass --order_by {ORDER_BY_FILE} to keep the rows' order in the file."
            ) from None
        if self.first_order is None:
            self.first_order = (kind, where, cell_text(row.get(column)))
            self.report["order_kind"] = kind
        elif kind != self.first_order[0]:
            first_kind, first_where, first_value = self.first_order
            raise ValueError(
                f"{where}: column {column!r} (--order_by) holds the {kind} {cell_text(row.get(column))!r}, but "
                f"{first_where} holds the {first_kind} {first_value!r}; an order column holds numbers only or "
                "timestamps only."
            )
        return value

    def _utterance(self, row: dict, columns: dict, data_file: Path, where: str) -> dict:
        def cell(field):
            return row.get(columns[field][0]) if columns[field] else None

        speaker, names = normalise_speaker(cell("speaker_column"))
        if names is not None:
            self.report["speaker_lists"] += 1
            capped_append(self.report["speaker_list_examples"], f"{cell_text(cell('speaker_column'))} ({where})")
            if names > 1:
                self.report["multi_speaker_utterances"] += 1
                capped_append(self.report["multi_speaker_examples"], f"{speaker} ({where})")
        text = cell_text(cell("text_column"))
        if self.config.fix_mojibake:
            fixed_text, fixed_speaker = fix_mojibake(text), fix_mojibake(speaker)
            self.report["mojibake_fixed_rows"] += int(fixed_text != text or fixed_speaker != speaker)
            text, speaker = fixed_text, fixed_speaker
        audio = self._media(cell("audio_column"), columns["audio_column"], data_file, where, "audio")
        video = self._media(cell("video_column"), columns["video_column"], data_file, where, "video")
        return {
            "speaker": speaker,
            "text": text,
            "emotion": self._label(cell("label_column"), columns["label_column"], where),
            "audio": media_value(audio),
            "has_audio": audio is not None,
            "video": media_value(video),
            "has_video": video is not None,
        }

    def _label(self, value, columns: tuple | None, where: str) -> int | None:
        raw = cell_text(value)
        key = normalise_label(raw)
        if not key:
            return None
        if key not in self.label_ids:
            raise ValueError(
                f"{where}: unknown label {raw!r} in column {columns[0]!r}; expected one of {self.label_names} "
                "(compared ignoring case and surrounding whitespace)."
            )
        index = self.label_ids[key]
        if raw != self.label_names[index]:
            self.report["labels_normalised"] += 1
        self.label_spellings.setdefault(self.label_names[index], set()).add(raw)
        # Ids, not names: `datasets` only encodes names when a list's first element is a name.
        return index

    def _media(self, value, columns: tuple | None, data_file: Path, where: str, kind: str) -> str | None:
        text = cell_text(value).strip()
        if not text:
            return None
        path = Path(text).expanduser()
        path = path if path.is_absolute() else (data_file.parent / path)
        if path.is_file():
            return str(path.resolve())
        if self.config.strict_media:
            raise FileNotFoundError(f"{where}: {kind} file {str(path)!r} (column {columns[0]!r}) does not exist.")
        self.report[f"missing_{kind}"] += 1
        capped_append(self.report[f"missing_{kind}_examples"], str(path))
        return None

    def finish(self, split: str) -> list[dict]:
        """Sorts every conversation, applies the tie and duplicate rules; returns the rows (the report is filled)."""
        if not self.conversations:
            raise ValueError(f"The {split!r} split is empty: no utterance rows in {self.report['files']}.")
        dialogues = []
        for index, (name, entries) in enumerate(self.conversations.items()):
            ordered = sorted(entries, key=lambda entry: entry["order"])  # stable: ties keep their file order
            if [id(entry) for entry in ordered] != [id(entry) for entry in entries]:
                self.report["dialogues_reordered"] += 1
                capped_append(self.report["dialogues_reordered_examples"], name)
            kept, tied = [], []
            for entry in ordered:
                tied = tied if tied and tied[0]["order"] == entry["order"] else []
                if tied and any(_same_utterance(entry, other) for other in tied):
                    self.report["duplicate_utterances"] += 1
                    capped_append(self.report["duplicate_examples"], f"{name}: {entry['written']} ({entry['where']})")
                    continue
                if tied:
                    self.report["tied_order_values"] += 1
                    capped_append(self.report["tied_order_examples"], f"{name}: {entry['written']} ({entry['where']})")
                tied.append(entry)
                kept.append(entry)
                if entry["emotion"] is None:
                    self.report["unlabelled_utterances"] += 1
                    capped_append(self.report["unlabelled_examples"], entry["where"])
            utterances = [
                {
                    "utterance_id": position,
                    **{key: entry[key] for key in entry if key not in ("order", "written", "where")},
                }
                for position, entry in enumerate(kept)
            ]
            dialogues.append({"dialogue_id": index, "dialogue_name": name, "split": split, "utterances": utterances})
        self.report["dialogues"] = len(dialogues)
        self.report["utterances"] = sum(len(dialogue["utterances"]) for dialogue in dialogues)
        self.report["label_spellings"] = {
            label: sorted(spellings)
            for label, spellings in sorted(self.label_spellings.items())
            if spellings != {label}
        }
        return dialogues


def _same_utterance(entry: dict, other: dict) -> bool:
    return all(entry[key] == other[key] for key in ("speaker", "text", "emotion", "audio", "video"))


class ConversationsBuilder(BuildReportMixin, datasets.ArrowBasedBuilder):
    """
    Builds a row-per-conversation dataset from your own CSV/JSONL files (see the module docstring for the format).

    The files are checked (columns, label set) in `_split_generators` and read in `_generate_tables`, one split at a
    time; `build_report` holds each split's counts after `download_and_prepare()`.

    Raises:
        `FileNotFoundError`: if `data_dir` does not exist or holds no split file, or a data file is missing.
        `ValueError`: on a missing required column (listing the file's columns and the options to set), an empty
            conversation id, an order value that is empty, unparseable or of a different kind than the column's
            others, an unknown label (file, row, column and value are named), no label at all, or an empty split.
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = ConversationsConfig
    BUILDER_CONFIGS = [ConversationsConfig(name="default", description="Conversations from CSV/JSONL files.")]
    DEFAULT_CONFIG_NAME = "default"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", "conversations")
        super().__init__(*args, **kwargs)

    def _info(self):
        label_names = self.config.label_names
        return datasets.DatasetInfo(
            description="Conversations for emotion recognition, one row per conversation.",
            # Without `label_names`, the label set is read from the files in `_split_generators`.
            features=conversations_features(label_names) if label_names else None,
        )

    def _data_files(self) -> dict[str, list[Path]]:
        """`{split: [files]}` from `data_files`, or from the split-named files in `data_dir`."""
        if self.config.data_files:
            return {split: [Path(path) for path in paths] for split, paths in self.config.data_files.items()}
        if self.config.data_dir is None:
            raise ValueError("Pass `data_files` (a path, a list or a {split: path} dict) or `data_dir`.")
        names = [f"{split}{extension}" for split in CONVERSATION_SPLITS for extension in CONVERSATION_EXTENSIONS]
        data_dir = resolve_data_dir(self.config.data_dir, f"conversation files named one of {names}")
        files = {}
        for split in CONVERSATION_SPLITS:
            found = sorted(path for path in data_dir.glob(f"{split}.*") if path.suffix in CONVERSATION_EXTENSIONS)
            if found:
                files[split] = found
        if not files:
            raise FileNotFoundError(f"No conversation file in {data_dir}: expected one of {names}.")
        return files

    def _check_columns(self, files: dict[str, list[Path]]) -> dict[Path, dict]:
        """Resolves the columns of every file; an optional column given a non-default name must exist somewhere."""
        resolved = {
            path: resolve_columns(self.config, read_header(path), str(path))
            for paths in files.values()
            for path in paths
        }
        for field in OPTIONAL_COLUMNS:
            name = getattr(self.config, field)
            if name != ConversationsConfig.__dataclass_fields__[field].default and not any(
                columns[field] for columns in resolved.values()
            ):
                headers = {str(path): read_header(path) for path in resolved}
                raise ValueError(
                    f"No file has the column {name!r} given as --{field} ({COLUMN_ROLES[field]}); the files' columns "
                    f"are {headers}."
                )
        return resolved

    def _infer_label_names(self, resolved: dict[Path, dict]) -> list[str]:
        labels = set()
        for path, columns in resolved.items():
            if columns["label_column"]:
                _, rows = read_rows(path)
                labels.update(normalise_label(row.get(columns["label_column"][0])) for _, _, row in rows)
        labels.discard("")
        if not labels:
            headers = {str(path): read_header(path) for path in resolved}
            hints = {suggest_column("label_column", header, set()) for header in headers.values()} - {"<column>"}
            example = f" (e.g. --label_column {sorted(hints)[0]})" if hints else ""
            raise ValueError(
                f"No label found in column {self.config.label_column!r} of any file (their columns: {headers}). Name "
                f"the label column with --label_column{example}, or give --label_names to build a dataset without "
                "labels."
            )
        return sorted(labels)

    def _split_generators(self, dl_manager):
        files = self._data_files()
        resolved = self._check_columns(files)
        if self.config.label_names is None:
            self.info.features = conversations_features(self._infer_label_names(resolved))
        # A tuple, not a list: `datasets` would shard a list over `num_proc` processes; a split is read as a whole.
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "files": tuple(map(str, paths))})
            for split, paths in files.items()
        ]

    def _generate_tables(self, split, files):
        label_names = self.info.features["utterances"].feature["emotion"].names
        reader = _SplitReader(self.config, label_names, [Path(path) for path in files])
        for path in files:
            reader.read_file(Path(path))
        dialogues = reader.finish(split)
        report = reader.report
        self._record_split_report(split, report)
        if 0 < report["unlabelled_utterances"] < report["utterances"]:
            logger.warning(
                f"{split}: {report['unlabelled_utterances']} utterance(s) have an empty label and are kept unlabelled "
                f"(emotion=None, ignored by the loss), first: {report['unlabelled_examples'][:3]}."
            )
        # An ArrowBasedBuilder: `datasets` 5 cannot encode an `Audio` value without torchcodec (see `encode_table`).
        for start in range(0, len(dialogues), 256):
            yield f"{split}_{start}", encode_table(dialogues[start : start + 256], self.info.features)

    def _assemble_build_report(self, split_reports: dict[str, dict]) -> dict:
        label_names = self.info.features["utterances"].feature["emotion"].names
        spellings = {}
        for report in split_reports.values():
            for label, found in report["label_spellings"].items():
                spellings[label] = sorted(set(spellings.get(label, [])) | set(found))
        return {
            "dataset": "conversations",
            "dialogue_columns": list(self.config.dialogue_columns),
            "order_by": self.config.order_by,
            "label_names": list(label_names),
            "label_source": "given" if self.config.label_names is not None else "inferred (lower-cased, sorted)",
            "label_spellings": dict(sorted(spellings.items())),
            "splits": split_reports,
            "totals": sum_split_reports(split_reports),
        }


__all__ = [
    "ORDER_BY_FILE",
    "ConversationsBuilder",
    "ConversationsConfig",
    "conversations_features",
    "flatten_dialogues",
    "resolve_columns",
]
