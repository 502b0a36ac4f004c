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
"""What users type, paste, import or upload into the M2FNet Space: settings, media headers, table rows, transcripts.

Nothing here runs the model. Each function raises `InputError` with a message that names the file, row, line or cue
at fault; nothing is dropped without a visible warning.
"""

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd


TABLE_COLUMNS = ("speaker", "utterance", "audio", "video")
# Column names accepted for the table's columns (the processor calls the utterance's transcript `text`).
COLUMN_ALIASES = {
    "speaker": "speaker",
    "utterance": "utterance",
    "text": "utterance",
    "audio": "audio",
    "video": "video",
}
TABLE_FILE_EXTENSIONS = (".csv", ".tsv", ".txt", ".json")
ROW_FORMAT = "speaker, utterance, then optionally the audio and video file names"


class InputError(gr.Error):
    """A `gr.Error` for invalid input: the message is shown to the user; the server logs no traceback for it."""

    def __init__(self, message: str):
        super().__init__(message, print_exception=False)


# ---------------------------------------------------------------------------------------------------------------------
# Settings and uploaded files
# ---------------------------------------------------------------------------------------------------------------------


def env_number(name: str, default: float, kind: type = int) -> float:
    """The positive number in environment variable `name` (`default` when unset); `ValueError` naming it otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f"Environment variable {name} must be a positive {kind.__name__}, got {raw!r}.")
    return value


def parse_size(text: str) -> int:
    """`"50mb"`, `"1.5 GB"`, `"800kb"` or `"1048576"` (bytes) → a number of bytes (powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*", str(text).lower())
    if match is None or float(match[1]) <= 0:
        raise ValueError(f"Not a file size: {text!r} (examples: '50mb', '1gb', '500kb', '1048576').")
    return int(float(match[1]) * 1024 ** " kmg".index(match[2] or " "))


def format_size(num_bytes: int) -> str:
    """`52428800` → `"50 MB"` (powers of 1024, as `parse_size` reads them)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if num_bytes >= factor:
            return f"{num_bytes / factor:.3g} {unit}"
    return f"{num_bytes} bytes"


@dataclass(frozen=True)
class MediaInfo:
    """What PyAV says about an uploaded file before the processor decodes it."""

    name: str
    has_audio: bool
    has_video: bool
    duration: float | None


def file_path(item) -> str | None:
    """A path from what Gradio or a caller passes for a file: str, Path, {"path": ...} or an object with `.path`."""
    if item is None:
        return None
    if isinstance(item, dict):
        item = item.get("path") or item.get("name")
    item = getattr(item, "path", item)
    item = getattr(item, "name", item) if not isinstance(item, (str, os.PathLike)) else item
    return os.fspath(item) if item else None


def probe_media(path: str) -> MediaInfo:
    """Opens a media file with PyAV (headers only) and reports its streams and duration; `gr.Error` if unreadable."""
    import av

    name = Path(path).name
    try:
        with av.open(path) as container:
            has_audio, has_video = bool(container.streams.audio), bool(container.streams.video)
            duration = container.duration / av.time_base if container.duration else None
            if duration is None:
                durations = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
                duration = max(durations, default=None)
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise InputError(f"{name} is not a readable audio or video file ({type(err).__name__}).") from err
    return MediaInfo(name, has_audio, has_video, duration)


def resolve_file(name: str, files: dict[str, str], row: int, column: str) -> str:
    """The uploaded file that the `column` cell of table row `row` names (`files` maps lower-case names to paths)."""
    path = files.get(name.lower()) or files.get(Path(name).name.lower())
    if path is None:
        uploaded = sorted({Path(path).name for path in files.values()})
        raise InputError(
            f"Row {row}: the {column} cell says {name!r} but no uploaded file has that name. "
            f"Uploaded: {', '.join(uploaded) if uploaded else 'none'}. Upload it in 'Audio / video files'."
        )
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Conversation rows: the table, pasted text, imported files
# ---------------------------------------------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def normalize_rows(rows) -> list[dict[str, str]]:
    """
    The conversation table as a list of `{"speaker", "utterance", "audio", "video"}` dicts, blank rows dropped.

    Accepts a `pandas.DataFrame` (what `gr.Dataframe` passes; columns matched by name — `text` works for
    `utterance` — or else by position), a `{"headers", "data"}` dict, a list of row lists (speaker, utterance[, audio
    [, video]]) or a list of dicts.
    """
    if rows is None:
        return []
    if isinstance(rows, dict) and "data" in rows:
        rows = pd.DataFrame(rows["data"] or [], columns=rows.get("headers") or None)
    if isinstance(rows, pd.DataFrame):
        names = [str(column).strip().lower() for column in rows.columns]
        names = ["utterance" if name == "text" else name for name in names]
        if "utterance" not in names:
            names = list(TABLE_COLUMNS[: len(names)]) + names[len(TABLE_COLUMNS) :]
        records = [dict(zip(names, values)) for values in rows.itertuples(index=False, name=None)]
    else:
        records = []
        for row in rows:
            if isinstance(row, dict):
                records.append({("utterance" if key == "text" else key): value for key, value in row.items()})
            elif isinstance(row, (list, tuple)):
                records.append(dict(zip(TABLE_COLUMNS, row)))
            else:
                raise InputError(
                    f"Each row must be a list (speaker, utterance, audio, video), got {type(row).__name__}."
                )
    normalized = [{column: _cell(record.get(column)) for column in TABLE_COLUMNS} for record in records]
    return [row for row in normalized if any(row.values())]


def _header_columns(cells: list[str]) -> list[str | None] | None:
    """The table column of each cell when `cells` is a header row (it names `speaker` and `utterance` or `text`)."""
    names = [cell.strip().lower() for cell in cells]
    if "speaker" not in names or not {"utterance", "text"} & set(names):
        return None
    return [COLUMN_ALIASES.get(name) for name in names]


def _delimiter(text: str, source: str) -> str:
    """Tab for TSV (what spreadsheets copy), else comma; `.tsv` / `.csv` file names decide by themselves."""
    suffix = Path(source).suffix.lower()
    if suffix in (".tsv", ".csv"):
        return "\t" if suffix == ".tsv" else ","
    return "\t" if "\t" in text else ","


def parse_table_text(text: str, source: str = "Pasted rows", max_rows: int | None = None):
    """
    Conversation rows from TSV or CSV text, e.g. cells copied from a spreadsheet.

    Each line is one utterance: `speaker<TAB>utterance[<TAB>audio[<TAB>video]]` (or the same with commas; quote cells
    that contain the delimiter). A first line naming the columns (`speaker`, `utterance` or `text`, `audio`,
    `video`, any order) is a header: columns are then matched by name, and other named columns are ignored with a
    note. Blank lines are skipped; empty cells at the end of a line are allowed.

    Args:
        text: the pasted or file text.
        source: how messages name the text (`"Pasted rows"` or a file name; a `.tsv` / `.csv` name sets the
            delimiter).
        max_rows: refuse more rows than this.

    Returns:
        `(table, notes)`: a `pandas.DataFrame` with the columns `TABLE_COLUMNS`, one row per utterance, and the notes
        to show the user (ignored columns).

    Raises:
        `InputError` naming the line for a row with too few or too many cells, and for too many rows.
    """
    text = (text or "").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text, source))
    columns, rows, notes = None, [], []
    for cells in reader:
        while cells and not cells[-1].strip():
            cells.pop()  # trailing empty cells (a selection wider than the data) carry nothing
        if not cells:
            continue
        if columns is None and not rows and (header := _header_columns(cells)) is not None:
            columns = header
            named = [column for column in header if column is not None]
            if len(set(named)) < len(named):
                raise InputError(
                    f"{source}, line {reader.line_num}: the header names a column twice ({', '.join(cells)}; "
                    "`text` and `utterance` are the same column)."
                )
            ignored = [cell for cell, column in zip(cells, header) if column is None]
            if ignored:
                notes.append(
                    f"{source}: ignored the column(s) {', '.join(map(repr, ignored))} (not one of "
                    f"{', '.join(TABLE_COLUMNS)})."
                )
            continue
        line = f"{source}, line {reader.line_num}"
        expected = len(columns) if columns else len(TABLE_COLUMNS)
        if len(cells) > expected or (columns is None and len(cells) < 2):
            preview = " | ".join(cell.strip()[:30] for cell in cells)
            raise InputError(
                f"{line} has {len(cells)} column{'' if len(cells) == 1 else 's'} ({preview}); expected "
                + (f"at most {expected}, as named in the header." if columns else f"2 to 4: {ROW_FORMAT}.")
                + " Separate the columns with tabs (as a spreadsheet copies them) or commas, and quote cells that "
                "contain the separator."
            )
        names = columns or TABLE_COLUMNS
        rows.append({name: cell.strip() for name, cell in zip(names, cells) if name is not None})
    if max_rows is not None and len(rows) > max_rows:
        raise InputError(f"{source} has {len(rows)} rows; this Space accepts at most {max_rows} utterances.")
    return pd.DataFrame(
        [[row.get(column, "") for column in TABLE_COLUMNS] for row in rows], columns=list(TABLE_COLUMNS)
    ), notes


def parse_table_json(text: str, source: str, max_rows: int | None = None):
    """
    Conversation rows from JSON: a list of utterance objects as the processor takes them (`speaker`, `text` or
    `utterance`, `audio`, `video`; e.g. `examples/conversation.json`), a list of row lists, or a
    `{"headers": [...], "data": [[...], ...]}` table. Returns `(table, notes)` as `parse_table_text`; other keys of
    the objects are ignored with a note.
    """
    try:
        data = json.loads(text)
    except ValueError as err:
        raise InputError(f"{source} is not valid JSON ({err}).") from err
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        headers = data.get("headers") or list(TABLE_COLUMNS)
        data = [dict(zip(headers, row)) if isinstance(row, list) else row for row in data["data"]]
    if not isinstance(data, list):
        raise InputError(
            f"{source}: expected a list of utterances like examples/conversation.json, "
            f"got a JSON {type(data).__name__}."
        )
    rows, ignored = [], set()
    for index, item in enumerate(data, start=1):
        if isinstance(item, list):
            item = dict(zip(TABLE_COLUMNS, item))
        if not isinstance(item, dict):
            raise InputError(
                f"{source}, utterance {index}: expected an object such as "
                f'{{"speaker": "Ross", "text": "Hi"}}, got {item!r:.60}.'
            )
        ignored |= {str(key) for key in item if str(key).lower() not in COLUMN_ALIASES}
        named = [COLUMN_ALIASES[str(key).lower()] for key in item if str(key).lower() in COLUMN_ALIASES]
        if len(set(named)) < len(named):
            raise InputError(f"{source}, utterance {index}: both `text` and `utterance` are given; keep one.")
        record = {
            COLUMN_ALIASES[str(key).lower()]: value
            for key, value in item.items()
            if str(key).lower() in COLUMN_ALIASES
        }
        rows.append([_cell(record.get(column)) for column in TABLE_COLUMNS])
    if max_rows is not None and len(rows) > max_rows:
        raise InputError(f"{source} has {len(rows)} utterances; this Space accepts at most {max_rows}.")
    notes = [f"{source}: ignored the key(s) {', '.join(sorted(ignored))}."] if ignored else []
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)), notes


# ---------------------------------------------------------------------------------------------------------------------
# Timed transcripts (SRT / WebVTT)
# ---------------------------------------------------------------------------------------------------------------------

_TIMING = re.compile(r"(\S+?)\s*-->\s*(\S+)(?:\s+.*)?")
_VOICE_TAG = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_SPEAKER_PREFIX = re.compile(r"^([^\s:][^:]{0,39}):\s+(\S.*)$")
_VTT_BLOCKS = ("NOTE", "STYLE", "REGION")  # WebVTT blocks that are not cues
TIMING_EXAMPLE = "00:00:01,500 --> 00:00:03,000"


def parse_timestamp(text: str) -> float:
    """`"00:01:02,500"`, `"01:02.5"`, `"62.5"` → seconds; `ValueError` saying what is wrong otherwise."""
    text = text.strip()
    if text.startswith("-"):
        raise ValueError(f"the time {text!r} is negative")
    parts = text.replace(",", ".").split(":")
    if len(parts) > 3 or not all(re.fullmatch(r"\d+(\.\d+)?", part) for part in parts):
        raise ValueError(f"{text!r} is not a timestamp")
    if any(float(part) >= 60 for part in parts[1:]):
        raise ValueError(f"{text!r} has minutes or seconds of 60 or more")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def _timing(line: str, line_number: int, cue_number: int) -> dict:
    """A new cue from its timing line `start --> end [settings]`; `InputError` naming cue and line if unreadable."""
    where = f"Transcript cue {cue_number} (line {line_number}: {line!r})"
    match = _TIMING.fullmatch(line)
    if match is None:
        raise InputError(f"{where}: not a timing line; expected e.g. {TIMING_EXAMPLE}.")
    try:
        start, end = parse_timestamp(match[1]), parse_timestamp(match[2])
    except ValueError as err:
        raise InputError(f"{where}: {err}; expected e.g. {TIMING_EXAMPLE}.") from err
    if end < start:
        raise InputError(f"{where}: the cue ends ({end:g} s) before it starts ({start:g} s).")
    if end == start:
        raise InputError(f"{where}: the cue ends when it starts ({start:g} s); give it a duration.")
    return {"cue": cue_number, "line": line_number, "start_time": start, "end_time": end, "lines": []}


def parse_transcript(transcript: str) -> list[dict]:
    """
    Cues of an SRT or WebVTT transcript as `{"cue", "line", "speaker", "text", "start_time", "end_time"}` dicts, in
    file order (`cue` counts timing lines from 1, `line` is the timing line's number).

    A cue is an optional number or identifier line, a timing line `start --> end`, then its text lines, up to a blank
    line. The speaker comes from a `Speaker: text` prefix or a WebVTT voice tag (`<v Speaker>text`); other tags are
    removed. The `WEBVTT` header and `NOTE` / `STYLE` / `REGION` blocks are skipped.

    Raises:
        `InputError` naming the cue number and the line for an unreadable timing line, a negative time, a cue that
        ends before or when it starts, and for any other line that belongs to no cue: no cue is dropped silently.
    """
    lines = (transcript or "").lstrip("\ufeff").splitlines()
    cues, current, skipping = [], None, False
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            current, skipping = None, False
            continue
        next_is_timing = index + 1 < len(lines) and "-->" in lines[index + 1]
        if "-->" in line:  # a cue, even right after a header or note block without its blank line
            current, skipping = _timing(line, index + 1, len(cues) + 1), False
            cues.append(current)
        elif skipping:
            continue
        elif next_is_timing and (current is None or line.isdigit()):
            continue  # the next cue's number (SRT) or identifier (WebVTT)
        elif current is not None:
            current["lines"].append(line)
        elif (line.startswith("WEBVTT") and not any(s.strip() for s in lines[:index])) or line.split()[
            0
        ] in _VTT_BLOCKS:
            skipping = True
        else:
            raise InputError(
                f"Transcript line {index + 1} ({line!r}) belongs to no cue: after a blank line, a cue starts with an "
                f"optional number and a timing line such as {TIMING_EXAMPLE}, then its text."
            )
    utterances = []
    for cue in cues:
        text = " ".join(cue.pop("lines"))
        voice = _VOICE_TAG.search(text)
        speaker = voice[1].strip() if voice else ""
        text = re.sub(r"<[^>]+>", "", text).strip()
        prefix = _SPEAKER_PREFIX.match(text)
        if prefix and not speaker:
            speaker, text = prefix[1].strip(), prefix[2].strip()
        utterances.append({**cue, "speaker": speaker, "text": text})
    return utterances


def cue_warnings(cues: list[dict]) -> list[str]:
    """Cues that are kept but deserve a visible note: no text, overlapping or out of order (file order is kept)."""
    warnings, latest_end, previous = [], None, None
    for cue in cues:
        name = f"Cue {cue['cue']} (line {cue['line']})"
        if not cue["text"]:
            warnings.append(f"{name} has no text: its emotion is predicted from its audio and video only.")
        if previous is not None and cue["start_time"] < previous["start_time"]:
            warnings.append(f"{name} starts before cue {previous['cue']}: utterances keep the transcript's order.")
        elif latest_end is not None and cue["start_time"] < latest_end[0]:
            warnings.append(
                f"{name} overlaps cue {latest_end[1]} ({cue['start_time']:g}-{min(cue['end_time'], latest_end[0]):g} "
                "s): that span's audio and frames count for both utterances."
            )
        if latest_end is None or cue["end_time"] > latest_end[0]:
            latest_end = (cue["end_time"], cue["cue"])
        previous = cue
    return warnings
