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

The input has one row per utterance; column names are configurable ([`ConversationsConfig`]), defaults in brackets:

| column | default name | required | content |
|---|---|---|---|
| conversation id | `conversation_id` | yes | any string or number grouping the utterances |
| utterance order | `utterance_id` | yes | an integer; utterances are sorted by it |
| speaker | `speaker` | yes | the speaker's name (may be empty) |
| text | `text` | yes | the transcript (may be empty) |
| audio | `audio` | no | path to a sound file (relative paths are resolved against the data file's folder) |
| video | `video` | no | path to a video file (same rule) |
| label | `label` | no | the emotion name; empty = unlabelled |

```python
from datasets_scripts.conversations import ConversationsBuilder

builder = ConversationsBuilder(data_files={"train": "train.csv", "test": "test.jsonl"})
# or: ConversationsBuilder(data_dir="my_data")  # with my_data/train.csv, my_data/test.jsonl, ...
builder.download_and_prepare()
dataset = builder.as_dataset()
```

The label set is `label_names` when given (its order defines the class ids; any other label is an error naming the
file, row and column), and otherwise the sorted set of all labels found in all splits, so that every split shares
the same class ids. The label becomes the `emotion` feature, as in the MELD and IEMOCAP builders.

Rows are conversations in order of first appearance, keyed by their id (`dialogue_name`); `dialogue_id` is the
conversation's index in its split. Media are declared undecoded (`Audio(sampling_rate=16000, decode=False)`,
`Video(decode=False)`) because `datasets` >= 4 decodes through `torchcodec`, which not every torch build can load;
the `M2FNetProcessor` decodes with PyAV, and users with torchcodec can
`flatten_dialogues(ds).cast_column("audio", Audio(sampling_rate=16000))`. A media file that does not exist is
counted (`missing_audio`, `missing_video`) and left out, or raises with `strict_media=True`.
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
    read_csv_rows,
    read_jsonl_rows,
    resolve_data_dir,
    sum_split_reports,
)


logger = logging.get_logger(__name__)

CONVERSATION_SPLITS = ("train", "validation", "test")
CONVERSATION_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}


@dataclass
class ConversationsConfig(datasets.BuilderConfig):
    """
    Configuration of [`ConversationsBuilder`]. Pass the files as `data_files` (a path, a list of paths or a dict
    `{split: path(s)}`) or as `data_dir` holding `train`/`validation`/`test` `.csv`/`.jsonl` files.

    Args:
        dialogue_column (`str`, *optional*, defaults to `"conversation_id"`):
            Column grouping the utterances into conversations.
        utterance_column (`str`, *optional*, defaults to `"utterance_id"`):
            Integer column giving the utterance order within its conversation.
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
            The label set, in class-id order. Inferred (sorted) from the files when `None`.
        strict_media (`bool`, *optional*, defaults to `False`):
            Raise `FileNotFoundError` for a media path that does not exist, instead of counting and dropping it.
        fix_mojibake (`bool`, *optional*, defaults to `False`):
            Repair mis-decoded text (`â€™` -> `’`) in the text and speaker columns.
    """

    dialogue_column: str = "conversation_id"
    utterance_column: str = "utterance_id"
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
        if self.label_names is not None:
            self.label_names = tuple(str(name) for name in self.label_names)
            if len(set(self.label_names)) != len(self.label_names) or not self.label_names:
                raise ValueError(f"`label_names` must be non-empty and unique (got {self.label_names}).")

    @property
    def required_columns(self) -> list[str]:
        return [self.dialogue_column, self.utterance_column, self.speaker_column, self.text_column]


def conversations_features(label_names) -> datasets.Features:
    """The features of [`ConversationsBuilder`] for a given label set."""
    return datasets.Features(
        {
            "dialogue_id": datasets.Value("int32"),
            "dialogue_name": datasets.Value("string"),
            "split": datasets.Value("string"),
            "utterances": datasets.List(
                {
                    "utterance_id": datasets.Value("int32"),
                    "speaker": datasets.Value("string"),
                    "text": datasets.Value("string"),
                    "emotion": datasets.ClassLabel(names=list(label_names)),
                    "audio": datasets.Audio(sampling_rate=16000, decode=False),
                    "has_audio": datasets.Value("bool"),
                    "video": datasets.Video(decode=False),
                    "has_video": datasets.Value("bool"),
                }
            ),
        }
    )


def _file_format(path: Path) -> str:
    file_format = CONVERSATION_EXTENSIONS.get(path.suffix.lower())
    if file_format is None:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .jsonl.")
    return file_format


def read_rows(path: Path, required_columns: list[str]):
    """Reads a CSV or JSONL file: returns its columns and an iterator of `(row_number, line_number, row)`."""
    if not path.is_file():
        raise FileNotFoundError(f"Conversation file not found: {path}.")
    if _file_format(path) == "csv":
        columns, rows, _ = read_csv_rows(path, required_columns)
        return columns, rows
    return read_jsonl_rows(path, required_columns)


def _cell(row: dict, column: str) -> str:
    value = row.get(column)
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


class ConversationsBuilder(BuildReportMixin, datasets.ArrowBasedBuilder):
    """
    Builds a row-per-conversation dataset from your own CSV/JSONL files (see the module docstring for the format).

    Raises:
        `FileNotFoundError`: if `data_dir` does not exist or holds no split file, or a data file is missing.
        `ValueError`: on a missing required column, a non-integer utterance order, an unknown label (file, row and
            column are named) or an empty split.
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = ConversationsConfig
    BUILDER_CONFIGS = [ConversationsConfig(name="default", description="Conversations from CSV/JSONL files.")]
    DEFAULT_CONFIG_NAME = "default"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", "conversations")
        super().__init__(*args, **kwargs)

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

    def _label_names(self) -> list[str]:
        if self.config.label_names is not None:
            return list(self.config.label_names)
        labels = set()
        for paths in self._data_files().values():
            for path in paths:
                columns, rows = read_rows(path, self.config.required_columns)
                if self.config.label_column in columns:
                    labels.update(_cell(row, self.config.label_column).strip() for _, _, row in rows)
        labels.discard("")
        return sorted(labels)

    def _info(self):
        return datasets.DatasetInfo(
            description="Conversations for emotion recognition, one row per conversation.",
            features=conversations_features(self._label_names()),
        )

    def _split_generators(self, dl_manager):
        label_names = self.info.features["utterances"].feature["emotion"].names
        split_reports, generators = {}, []
        for split, paths in self._data_files().items():
            dialogues, report = self._read_split(split, paths, label_names)
            split_reports[split] = report
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "dialogues": dialogues}))
        self._log_build_report(
            {
                "dataset": "conversations",
                "label_names": list(label_names),
                "label_source": "given" if self.config.label_names is not None else "inferred (sorted)",
                "splits": split_reports,
                "totals": sum_split_reports(split_reports),
            }
        )
        return generators

    def _read_split(self, split: str, paths: list[Path], label_names: list[str]):
        config = self.config
        report = {
            "files": [str(path) for path in paths],
            "rows": 0,
            "duplicate_utterances": 0,
            "duplicate_examples": [],
            "unlabelled_utterances": 0,
            "missing_audio": 0,
            "missing_audio_examples": [],
            "missing_video": 0,
            "missing_video_examples": [],
            "mojibake_fixed_rows": 0,
        }
        conversations: dict[str, dict[int, dict]] = {}
        for path in paths:
            _, rows = read_rows(path, config.required_columns)
            for row_number, line_number, row in tqdm(rows, desc=f"Reading {path.name}", unit=" rows"):
                where = f"{path}, row {row_number} (line {line_number})"
                report["rows"] += 1
                name = _cell(row, config.dialogue_column).strip()
                if not name:
                    raise ValueError(f"{where}: column {config.dialogue_column!r} is empty.")
                order = _cell(row, config.utterance_column).strip()
                try:
                    utterance_id = int(order)
                except ValueError:
                    raise ValueError(
                        f"{where}: column {config.utterance_column!r} should be an integer, got {order!r}."
                    ) from None
                label = _cell(row, config.label_column).strip() or None
                if label is None:
                    report["unlabelled_utterances"] += 1
                elif label not in label_names:
                    raise ValueError(
                        f"{where}: unknown label {label!r} in column {config.label_column!r}; "
                        f"expected one of {list(label_names)}."
                    )
                text, speaker = _cell(row, config.text_column), _cell(row, config.speaker_column)
                if config.fix_mojibake:
                    fixed_text, fixed_speaker = fix_mojibake(text), fix_mojibake(speaker)
                    report["mojibake_fixed_rows"] += int(fixed_text != text or fixed_speaker != speaker)
                    text, speaker = fixed_text, fixed_speaker
                audio = self._media(row, config.audio_column, path, where, "audio", report)
                video = self._media(row, config.video_column, path, where, "video", report)
                conversation = conversations.setdefault(name, {})
                if utterance_id in conversation:
                    report["duplicate_utterances"] += 1
                    capped_append(report["duplicate_examples"], f"{name}/{utterance_id} ({where})")
                    continue
                conversation[utterance_id] = {
                    "utterance_id": utterance_id,
                    "speaker": speaker,
                    "text": text,
                    # Ids, not names: `datasets` only encodes names when a list's first element is a name.
                    "emotion": None if label is None else label_names.index(label),
                    "audio": media_value(audio),
                    "has_audio": audio is not None,
                    "video": media_value(video),
                    "has_video": video is not None,
                }
        if not conversations:
            raise ValueError(f"The {split!r} split is empty: no utterance rows in {[str(p) for p in paths]}.")
        report["dialogues"] = len(conversations)
        report["utterances"] = sum(len(conversation) for conversation in conversations.values())
        dialogues = [
            {"dialogue_id": index, "dialogue_name": name, "utterances": [turns[i] for i in sorted(turns)]}
            for index, (name, turns) in enumerate(conversations.items())
        ]
        return dialogues, report

    def _media(self, row: dict, column: str, data_file: Path, where: str, kind: str, report: dict) -> str | None:
        value = _cell(row, column).strip()
        if not value:
            return None
        path = Path(value).expanduser()
        path = path if path.is_absolute() else (data_file.parent / path)
        if path.is_file():
            return str(path.resolve())
        if self.config.strict_media:
            raise FileNotFoundError(f"{where}: {kind} file {str(path)!r} (column {column!r}) does not exist.")
        report[f"missing_{kind}"] += 1
        capped_append(report[f"missing_{kind}_examples"], str(path))
        return None

    def _generate_tables(self, split, dialogues):
        # An ArrowBasedBuilder: `datasets` 5 cannot encode an `Audio` value without torchcodec (see `encode_table`).
        for start in range(0, len(dialogues), 256):
            rows = [{**dialogue, "split": split} for dialogue in dialogues[start : start + 256]]
            yield f"{split}_{start}", encode_table(rows, self.info.features)


__all__ = ["ConversationsBuilder", "ConversationsConfig", "conversations_features", "flatten_dialogues"]
