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
"""The format of conversation files: which column holds what, and how dialogue keys, order values, speakers and labels
are read.

`resolve_columns` maps the builder's options to a file's columns (or explains, in one message, how to name them). The
cell functions take a cell as read from a CSV file (a string) or a JSON Lines file (a string, number, list or `null`)
and return its normalised value; the rules are those of the conversations builder's docstring.
"""

import ast
import math
import re
from typing import Any


ORDER_BY_FILE = "file"
# Config field -> what the column holds (in error messages). The flag of `build_dataset.py` is `--<field>`.
COLUMN_ROLES = {
    "dialogue_columns": "conversation id",
    "order_by": "utterance order",
    "speaker_column": "speaker",
    "text_column": "text",
    "audio_column": "audio path",
    "video_column": "video path",
    "label_column": "label",
}
OPTIONAL_COLUMNS = ("audio_column", "video_column", "label_column")
# Column names that usually hold each content, to suggest a flag when a default name is missing (compared in lower
# case without punctuation).
COLUMN_HINTS = {
    "dialogue_columns": "conversation_id dialogue_id dialog_id conversation dialogue dialog scene_id session_id".split(),
    "order_by": "utterance_id utt_id turn_id turn index start_time start timestamp time position order".split(),
    "speaker_column": "speaker speaker_name character name author role who".split(),
    "text_column": "text utterance transcript transcription sentence content message".split(),
    "label_column": "label emotion emotions class category target".split(),
}
ORDER_KINDS = ("number", "timestamp")
_INTEGER_TEXT = re.compile(r"^[+-]?\d+(?:\.0*)?$")
_NUMBER_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_TIMESTAMP_TEXT = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d+))?$")


def cell_text(value: Any) -> str:
    """A cell as text: `None` -> `""`, numbers as written by Python (`0` stays `"0"`), strings unchanged."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def normalise_key(value: Any) -> str:
    """
    A dialogue-key cell as the string the builder groups by.

    Surrounding whitespace is removed, and a value that is a whole number is written as that integer, whether it was
    given as a number or as text: `1`, `"1"`, `1.0`, `"1.0"`, `" 01 "` all become `"1"`. Other values (`"1.5"`,
    `"cafe"`) are kept as text.
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = cell_text(value).strip()
    if _INTEGER_TEXT.match(text):
        return str(int(text.split(".")[0]))
    return text


def parse_order_value(value: Any) -> tuple[str, float]:
    """
    Parses an order cell into `(kind, sort value)`.

    Kinds:

    - `"number"`: an integer or a decimal number (`3`, `6.2901`, `-1e3`), as text or as a JSON number;
    - `"timestamp"`: `hh:mm:ss,mmm`, `hh:mm:ss.mmm`, `mm:ss.mmm` or the same without the fraction (`00:14:38,127` is
      878.127 seconds); minutes (when hours are given) and seconds must be below 60.

    Raises:
        `ValueError`: with a reason (`"is empty"`, `"is not a number or a timestamp"`, ...), for the caller to prefix
            with the file, row and column.
    """
    if isinstance(value, bool):
        raise ValueError(f"holds the boolean {value!r}, not a number or a timestamp")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"holds {value!r}, not a finite number")
        return "number", value
    text = cell_text(value).strip()
    if not text:
        raise ValueError("is empty")
    if _NUMBER_TEXT.match(text):
        return "number", int(text) if _INTEGER_TEXT.match(text) and "." not in text else float(text)
    if ":" in text:
        match = _TIMESTAMP_TEXT.match(text)
        hours, minutes, seconds, fraction = match.groups() if match else (None, None, None, None)
        if match is None or int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
            raise ValueError(
                f"holds {text!r}, which cannot be parsed as a timestamp (hh:mm:ss,mmm, hh:mm:ss.mmm or mm:ss.mmm)"
            )
        total = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
        return "timestamp", total + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
    raise ValueError(f"holds {text!r}, which is not a number or a timestamp")


def normalise_speaker(value: Any) -> tuple[str, int | None]:
    """
    A speaker cell as a name, and the number of names when the cell was a list.

    A list (a JSON list, or text written as a Python/JSON list such as `"['Monica Geller']"`) becomes its names
    joined by `" & "` (`"['Monica Geller', 'Ross Geller']"` -> `"Monica Geller & Ross Geller"`); text that merely
    starts with `[` but is no list (`"[inaudible]"`) and every other value are kept as written.

    Returns:
        `tuple`: the speaker, and the length of the list (`None` when the cell was not a list).
    """
    names = value if isinstance(value, list) else None
    text = cell_text(value)
    stripped = text.strip()
    if names is None and stripped.startswith("[") and stripped.endswith("]"):
        try:
            parsed = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parsed = None
        if isinstance(parsed, (list, tuple)) and all(isinstance(name, (str, int, float)) for name in parsed):
            names = list(parsed)
    if names is None:
        return text, None
    names = [cell_text(name).strip() for name in names]
    return " & ".join(name for name in names if name), len(names)


def normalise_label(value: Any) -> str:
    """A label cell as compared: lower-cased, surrounding whitespace removed, inner whitespace runs made one space."""
    return " ".join(cell_text(value).split()).lower()


def _squash(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _match_column(name: str, header: list[str]) -> str | None:
    """`name` if the header has it, else the one header column equal to it ignoring case, else `None`."""
    if name in header:
        return name
    folded = [column for column in header if column.strip().lower() == name.strip().lower()]
    return folded[0] if len(folded) == 1 else None


def suggest_column(field: str, header: list[str], taken: set) -> str:
    """A header column that usually holds `field`'s content (not one of `taken`), else a placeholder."""
    squashed = {_squash(column): column for column in header if column not in taken}
    for hint in COLUMN_HINTS.get(field, ()):
        if _squash(hint) in squashed:
            return squashed[_squash(hint)]
    return ORDER_BY_FILE if field == "order_by" else "<column>"


def resolve_columns(config, header: list[str], where: str) -> dict[str, tuple | None]:
    """
    Maps each field of a `ConversationsConfig` to the file's column name(s) (`None` for an absent optional column).

    Raises:
        `ValueError`: naming the file (`where`), the missing columns, the file's columns and the options to set.
    """
    resolved, missing = {}, []
    for field in COLUMN_ROLES:
        if field == "order_by" and config.order_by == ORDER_BY_FILE:
            resolved[field] = None
            continue
        columns = [_match_column(name, header) for name in config.columns_of(field)]
        if None not in columns:
            resolved[field] = tuple(columns)
        elif field in config.required_fields:
            missing += [(field, name) for name, column in zip(config.columns_of(field), columns) if column is None]
        else:
            resolved[field] = None
    if missing:
        taken = {column for columns in resolved.values() if columns for column in columns}
        flags = {}
        for field, _ in missing:
            flags.setdefault(field, suggest_column(field, header, taken))
        label_hint = suggest_column("label_column", header, taken | set(flags.values()))
        if resolved.get("label_column") is None and label_hint != "<column>":
            flags["label_column"] = label_hint  # labels would otherwise be left out once the rest is fixed
        what = ", ".join(f"{name!r} ({COLUMN_ROLES[field]}, --{field})" for field, name in missing)
        example = " ".join(f"--{field} {suggestion}" for field, suggestion in flags.items())
        several = (
            " (--dialogue_columns takes several columns when the id spans them)" if "dialogue_columns" in flags else ""
        )
        raise ValueError(
            f"{where}: missing column(s) {[name for _, name in missing]}: {what}. The file's columns are {header}. "
            f"Name yours with the options, e.g. `{example}`{several}; `build_dataset.py conversations --help` lists "
            "them with their defaults."
        )
    return resolved


__all__ = [
    "COLUMN_ROLES",
    "ORDER_BY_FILE",
    "ORDER_KINDS",
    "cell_text",
    "normalise_key",
    "normalise_label",
    "normalise_speaker",
    "parse_order_value",
    "resolve_columns",
]
