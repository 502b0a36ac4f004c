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
"""Helpers shared by the dataset builders: build reports, text repair, row readers and `flatten_dialogues`."""

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets.exceptions import DatasetGenerationError
from datasets.utils import logging

from m2fnet_training.io_utils import write_json


logger = logging.get_logger(__name__)

BUILD_REPORT_FILENAME = "build_report.json"
# How many example ids a report lists next to each count (the counts themselves are always complete).
MAX_REPORTED_EXAMPLES = 20

# Fallback for `fix_mojibake` when `ftfy` is not installed: UTF-8 text that was decoded as Windows-1252 (the
# `â€™` family) and Windows-1252 bytes that were decoded as Latin-1 (C1 control characters such as `\x92`). Longer
# sequences come first; the bare `â€` is a right double quote whose third byte (0x9d, undefined in Windows-1252) was
# dropped on the way.
MOJIBAKE_FALLBACK_TABLE = (
    ("â€™", "’"),
    ("â€˜", "‘"),
    ("â€œ", "“"),
    ("â€\x9d", "”"),
    ("â€¦", "…"),
    ("â€”", "—"),
    ("â€“", "–"),
    ("Ã©", "é"),
    ("Ã¨", "è"),
    ("Ã¡", "á"),
    ("Ã³", "ó"),
    ("Ã±", "ñ"),
    ("Ã¼", "ü"),
    ("Ã\xad", "í"),
    ("Â\xa0", "\xa0"),
    ("â€", "”"),
    ("\x91", "‘"),
    ("\x92", "’"),
    ("\x93", "“"),
    ("\x94", "”"),
    ("\x85", "…"),
    ("\x96", "–"),
    ("\x97", "—"),
)


def fix_mojibake(text: str) -> str:
    """
    Repairs mis-decoded text (mojibake such as `â€™` for `’`) and leaves correct text untouched.

    Uses `ftfy.fix_encoding` when `ftfy` is installed (the encoding step of `ftfy.fix_text` only: `fix_text` would also
    straighten curly quotes and normalise characters, which are not encoding errors) and the small
    `MOJIBAKE_FALLBACK_TABLE` otherwise.

    Args:
        text (`str`):
            The text to repair.

    Returns:
        `str`: the repaired text (the same object when nothing needed fixing).
    """
    try:
        import ftfy
    except ImportError:
        ftfy = None
    if ftfy is not None:
        return ftfy.fix_encoding(text)
    for bad, good in MOJIBAKE_FALLBACK_TABLE:
        if bad in text:
            text = text.replace(bad, good)
    return text


def mojibake_fixer_name() -> str:
    """Names the repair `fix_mojibake` uses in this environment (recorded in build reports)."""
    try:
        import ftfy
    except ImportError:
        return "builtin-table"
    return f"ftfy.fix_encoding {ftfy.__version__}"


def resolve_data_dir(data_dir: str | os.PathLike | None, what: str) -> Path:
    """
    Resolves `data_dir` to an absolute folder, or raises `FileNotFoundError` naming what was expected where.

    Args:
        data_dir (`str` or `os.PathLike`):
            The folder given by the user.
        what (`str`):
            A description of the expected content, used in the error message.
    """
    path = Path(data_dir).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"`data_dir` {str(path)!r} does not exist or is not a folder; expected {what} there.")
    return path


def _read_csv_text(path: Path) -> tuple[str, str]:
    """The text of a CSV file and the encoding used (UTF-8, or Windows-1252 for a file that is not valid UTF-8)."""
    try:
        return path.read_text(encoding="utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        logger.warning(f"{path} is not valid UTF-8; decoded it as Windows-1252.")
        return path.read_text(encoding="cp1252", errors="replace"), "cp1252"


def read_csv_header(path: Path) -> list[str]:
    """The column names of a CSV file (stripped; empty for an empty file)."""
    text, _ = _read_csv_text(path)
    header = next(csv.reader(text.splitlines(keepends=True)), [])
    return [name.strip() for name in header]


def read_csv_rows(path: Path, required_columns: list[str]) -> tuple[list[str], Iterator[tuple[int, int, dict]], str]:
    """
    Opens a CSV file, checks its header and returns its rows.

    The file is decoded as UTF-8 (a byte-order mark is dropped); a file that is not valid UTF-8 is decoded as
    Windows-1252, which `fix_mojibake` then cannot make worse.

    Args:
        path (`Path`):
            The CSV file.
        required_columns (`list[str]`):
            Columns that must be in the header.

    Returns:
        `tuple`: the header, an iterator of `(row_number, line_number, row)` (`row_number` counts data rows from 1,
        `line_number` is the physical line the row ends on, header = line 1) and the encoding used.

    Raises:
        `ValueError`: if a required column is missing from the header.
    """
    text, encoding = _read_csv_text(path)
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = [name.strip() for name in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [column for column in required_columns if column not in header]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing} (header has {header}; expected at least {required_columns})."
        )

    def rows():
        for row_number, row in enumerate(reader, start=1):
            yield row_number, reader.line_num, row

    return header, rows(), encoding


def read_jsonl_rows(path: Path, required_columns: list[str]) -> tuple[list[str], Iterator[tuple[int, int, dict]]]:
    """
    Reads a JSON Lines file (one object per line; blank lines skipped) and checks its keys.

    Args:
        path (`Path`):
            The `.jsonl` file.
        required_columns (`list[str]`):
            Keys that must be present in every object.

    Returns:
        `tuple`: the keys seen in the file and a list of `(row_number, line_number, row)`.

    Raises:
        `ValueError`: on a line that is not a JSON object, or an object without a required key.
    """
    rows, columns = [], {}
    with open(path, encoding="utf-8-sig") as file:
        for line_number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {line_number}: not valid JSON ({error.msg}).") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}, line {line_number}: expected a JSON object, got {type(row).__name__}.")
            missing = [column for column in required_columns if column not in row]
            if missing:
                raise ValueError(f"{path}, line {line_number}: missing column(s) {missing} (keys: {sorted(row)}).")
            columns.update(dict.fromkeys(row))
            rows.append((len(rows) + 1, line_number, row))
    return list(columns), iter(rows)


def capped_append(examples: list, value: Any) -> None:
    """Appends `value` to a report's example list unless it already holds `MAX_REPORTED_EXAMPLES` items."""
    if len(examples) < MAX_REPORTED_EXAMPLES:
        examples.append(value)


def sum_split_reports(split_reports: dict[str, dict]) -> dict[str, int]:
    """Adds up the integer counts of per-split reports (lists and strings are left out)."""
    totals = {}
    for report in split_reports.values():
        for key, value in report.items():
            if isinstance(value, int) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    return totals


# Errors that describe a bad input (they name the file, row and value) rather than a bug: `datasets` wraps whatever
# `_generate_examples` / `_generate_tables` raise in a `DatasetGenerationError`, and the builders unwrap these.
INPUT_ERRORS = (ValueError, OSError, ImportError)


class BuildReportMixin:
    """
    Gives a builder a `build_report` dict (what was read, fixed, dropped or missing) that survives the cache.

    The builder's `_generate_examples` / `_generate_tables` parse the raw files and store each split's counts with
    `self._record_split_report(split, report)`; once `download_and_prepare` has finished, the builder's
    `_assemble_build_report(split_reports)` turns them into the report, which is logged and written as
    `build_report.json` next to the prepared Arrow files. A builder that finds its dataset already prepared in the
    cache reads the report back from there. The report is gathered in the preparing process: the builders pass their
    files to `datasets` as one shard per split, so that `num_proc` never moves generation into worker processes.

    `download_and_prepare` also re-raises the input errors (`ValueError`, `OSError`, `ImportError`, which name the
    file, row and value at fault) that `datasets` wraps in a `DatasetGenerationError`, so that callers see them as
    they were raised.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Keyword overrides of a predefined config are applied with `setattr`, which skips `__post_init__`.
        if hasattr(self.config, "validate"):
            self.config.validate()
        self._build_report: dict | None = None
        self._split_reports: dict[str, dict] = {}
        self._report_dir: str | None = None

    def download_and_prepare(self, output_dir: str | None = None, *args, **kwargs):
        """`datasets.DatasetBuilder.download_and_prepare`, plus the build report (see the class docstring)."""
        self._split_reports = {}
        self._build_report = None
        self._report_dir = str(output_dir) if output_dir is not None else self.cache_dir
        try:
            super().download_and_prepare(output_dir, *args, **kwargs)
        except DatasetGenerationError as error:
            cause = error.__cause__
            if isinstance(cause, OSError) and cause.errno is not None and cause.filename is None:
                cause.filename = self._report_dir  # Arrow's writers raise without a path (e.g. on a full disk)
            if isinstance(cause, INPUT_ERRORS):
                raise cause from None
            raise
        if self._split_reports:  # generated now (not read from the cache)
            report = self._assemble_build_report(dict(self._split_reports))
            self._build_report = report
            if os.path.isdir(self._report_dir):
                write_json(os.path.join(self._report_dir, BUILD_REPORT_FILENAME), report)
            logger.info(f"{self.dataset_name} build report: {json.dumps(report.get('totals', {}), sort_keys=True)}")

    @property
    def build_report(self) -> dict:
        """The counts of the last build (read back from the cache when the dataset was prepared earlier)."""
        if self._build_report is None:
            path = os.path.join(self._report_dir or self.cache_dir, BUILD_REPORT_FILENAME)
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as file:
                    self._build_report = json.load(file)
        return self._build_report or {}

    def _record_split_report(self, split: str, report: dict) -> None:
        """Stores the counts of one split; called by the generator once it has read the split's files."""
        self._split_reports[split] = report

    def _assemble_build_report(self, split_reports: dict[str, dict]) -> dict:
        """The whole report from the per-split reports (builders add their own top-level fields)."""
        return {"dataset": self.dataset_name, "splits": split_reports, "totals": sum_split_reports(split_reports)}


def media_value(path: str | os.PathLike | None) -> dict | None:
    """The Arrow storage of an `Audio`/`Video` value that references a file (`None` when there is no file)."""
    return None if path is None else {"bytes": None, "path": str(path)}


def _storage_feature(feature):
    """`feature` with every media feature replaced by its storage struct `{"bytes", "path"}`."""
    if isinstance(feature, dict):
        return {name: _storage_feature(value) for name, value in feature.items()}
    if isinstance(feature, datasets.List):
        return datasets.List(_storage_feature(feature.feature), length=feature.length)
    if isinstance(feature, (datasets.Audio, datasets.Video, datasets.Image)):
        return {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}
    return feature


def encode_table(rows: list[dict], features: datasets.Features) -> pa.Table:
    """
    Encodes rows into an Arrow table with the schema of `features`.

    Media values must already be in storage form (`media_value(path)`). This bypasses `Audio.encode_example`, which
    in `datasets` 5 imports torchcodec even to store a plain path, so that builders with audio columns run (as
    `datasets.ArrowBasedBuilder`s) without torchcodec. Class labels given as names are encoded to ids.
    """
    storage = datasets.Features(_storage_feature(dict(features)))
    encoded = [storage.encode_example(row) for row in rows]
    return pa.Table.from_pylist(encoded, schema=features.arrow_schema)


def flatten_dialogues(dataset: datasets.Dataset | datasets.DatasetDict):
    """
    Turns a row-per-dialogue dataset into a row-per-utterance one.

    Each output row holds the dialogue-level columns (`dialogue_id`, `split`, ...), `utterance_index` (the
    utterance's 0-based position in its dialogue; unlike `utterance_id`, it has no gaps) and the utterance's fields.
    Dialogue-level media (IEMOCAP's `video`) are repeated on every utterance of their dialogue. The work is done on
    Arrow tables, so media are neither decoded nor re-encoded, whatever their `decode` setting.

    Args:
        dataset (`datasets.Dataset` or `datasets.DatasetDict`):
            A dataset with a `utterances` column (a `List` of dicts), as built by the builders in this folder.

    Returns:
        `datasets.Dataset` (or `datasets.DatasetDict`, one per split): the flattened dataset, features preserved.

    Example:

    ```python
    >>> from datasets_scripts.meld import MeldBuilder, flatten_dialogues
    >>> builder = MeldBuilder(config_name="text", data_dir="/data/MELD")  # doctest: +SKIP
    >>> builder.download_and_prepare()  # doctest: +SKIP
    >>> utterances = flatten_dialogues(builder.as_dataset(split="validation"))  # doctest: +SKIP
    ```"""
    if isinstance(dataset, datasets.DatasetDict):
        return datasets.DatasetDict({name: flatten_dialogues(split) for name, split in dataset.items()})
    if "utterances" not in dataset.column_names:
        raise ValueError(f"`flatten_dialogues` needs a `utterances` column (got columns {dataset.column_names}).")
    utterance_features = dataset.features["utterances"].feature
    dialogue_columns = [name for name in dataset.column_names if name != "utterances"]
    clashes = sorted(set(dialogue_columns) & (set(utterance_features) | {"utterance_index"}))
    if clashes:
        raise ValueError(f"Dialogue and utterance columns share the names {clashes}; cannot flatten.")
    features = datasets.Features(
        {
            **{name: dataset.features[name] for name in dialogue_columns},
            "utterance_index": datasets.Value("int32"),
            **utterance_features,
        }
    )

    def explode(table: pa.Table) -> pa.Table:
        utterances = table.column("utterances").combine_chunks()
        parents = pc.list_parent_indices(utterances)
        flat = pc.list_flatten(utterances)
        offsets = np.asarray(utterances.offsets)
        positions = np.arange(len(flat)) - (offsets[np.asarray(parents)] - offsets[0])
        arrays = [table.column(name).take(parents) for name in dialogue_columns]
        arrays.append(pa.array(positions, type=pa.int32()))
        arrays += [pc.struct_field(flat, name) for name in utterance_features]
        return pa.Table.from_arrays(arrays, names=list(features))

    flat = dataset.with_format("arrow").map(
        explode, batched=True, batch_size=256, remove_columns=dataset.column_names, features=features
    )
    return flat.with_format(None)
