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
"""Gradio Space for M2FNet: one emotion per utterance of a conversation, from its text, audio and video."""

import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import torch
from transformers import AutoModel, AutoProcessor


logger = logging.getLogger(__name__)

SPACE_DIR = Path(__file__).resolve().parent
EXAMPLES_DIR = SPACE_DIR / "examples"

# The model: a Hub repo id or a local folder written by `save_pretrained` (weights + processor + modeling code).
# The model's code comes only through `trust_remote_code`; this app never imports the repository's package.
DEFAULT_MODEL = "org/m2fnet-meld"
# Training/evaluation metrics looked up next to the weights (first found wins); none means random weights.
RESULTS_FILES = ("all_results.json", "results.json", "eval_results.json")
MODALITY_NAMES = ("text", "audio", "visual")

AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg")
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS + VIDEO_EXTENSIONS
TRANSCRIPT_EXTENSIONS = (".srt", ".vtt", ".txt")
MAX_TRANSCRIPT_BYTES = 1_000_000
TABLE_COLUMNS = ("speaker", "utterance", "audio", "video")
RESULT_COLUMNS = ("#", "speaker", "utterance", "emotion", "confidence", "top 3", "modalities")


# ---------------------------------------------------------------------------------------------------------------------
# Settings (environment variables, read once at start-up)
# ---------------------------------------------------------------------------------------------------------------------


def _env_number(name: str, default: float, kind: type = int) -> float:
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


def _format_size(num_bytes: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if num_bytes >= factor:
            return f"{num_bytes / factor:.3g} {unit}"
    return f"{num_bytes} bytes"


MODEL_ID = os.environ.get("M2FNET_MODEL", "").strip() or DEFAULT_MODEL
MODEL_REVISION = os.environ.get("M2FNET_REVISION", "").strip() or None
MAX_UTTERANCES = int(_env_number("M2FNET_MAX_UTTERANCES", 40))
MAX_FILE_SIZE = parse_size(os.environ.get("M2FNET_MAX_FILE_SIZE", "").strip() or "50mb")
MAX_CLIP_SECONDS = _env_number("M2FNET_MAX_CLIP_SECONDS", 60.0, float)
MAX_SCENE_SECONDS = _env_number("M2FNET_MAX_SCENE_SECONDS", 600.0, float)
CONCURRENCY_LIMIT = int(_env_number("M2FNET_CONCURRENCY", 1))
QUEUE_SIZE = int(_env_number("M2FNET_QUEUE_SIZE", 16))


# ---------------------------------------------------------------------------------------------------------------------
# Model loading (once, at start-up)
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointInfo:
    """What the app knows about the checkpoint that answers: where it came from and whether it was trained."""

    model_id: str
    revision: str | None
    commit: str | None
    modalities: tuple[str, ...]
    labels: tuple[str, ...]
    results: dict | None = None
    results_source: str | None = None

    @property
    def trained(self) -> bool:
        return self.results is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "revision": self.revision,
            "commit": self.commit,
            "trained": self.trained,
            "modalities": list(self.modalities),
        }


def _hub_file(model_id: str, filename: str, revision: str | None) -> Path | None:
    """A file of the Hub repo `model_id` (downloaded to the HF cache), or None when it has no such file."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    try:
        return Path(hf_hub_download(model_id, filename, revision=revision))
    except (EntryNotFoundError, HfHubHTTPError, OSError, ValueError):
        return None


def read_training_results(model_id: str, revision: str | None = None, config=None) -> tuple[dict | None, str | None]:
    """
    The training/evaluation metrics saved with a checkpoint: the first of `RESULTS_FILES` next to the weights (local
    folder or Hub repo), else a `m2fnet_training` dict in the config. Returns `(results, source)`, `(None, None)` when
    the checkpoint carries none (then it is treated as untrained).
    """
    folder = Path(model_id)
    for filename in RESULTS_FILES:
        path = folder / filename if folder.is_dir() else _hub_file(model_id, filename, revision)
        if path is None or not path.is_file():
            continue
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            logger.warning("Ignoring unreadable %s of %s: %s", filename, model_id, err)
            continue
        if isinstance(results, dict):
            return results, filename
    training = getattr(config, "m2fnet_training", None)
    if isinstance(training, dict) and training:
        return training, "config.m2fnet_training"
    return None, None


def _commit_of(model_id: str, revision: str | None) -> str | None:
    """The commit sha a Hub checkpoint was loaded from (read from the HF cache layout `snapshots/<sha>/`)."""
    if Path(model_id).is_dir():
        return None
    path = _hub_file(model_id, "config.json", revision)
    if path is not None and path.parent.parent.name == "snapshots":
        return path.parent.name
    return None


def load_checkpoint(model_id: str, revision: str | None = None):
    """
    Loads `(model, processor, info)` from a Hub id or local folder with `trust_remote_code=True`. Raises a
    `RuntimeError` that says what to set when the checkpoint cannot be loaded.
    """
    try:
        model = AutoModel.from_pretrained(model_id, revision=revision, trust_remote_code=True).eval()
        processor = AutoProcessor.from_pretrained(model_id, revision=revision, trust_remote_code=True)
    except Exception as err:  # noqa: BLE001 - any failure here means the Space cannot start; say why and how to fix
        raise RuntimeError(
            f"Could not load the M2FNet checkpoint {model_id!r}"
            f"{f' at revision {revision!r}' if revision else ''}: {type(err).__name__}: {err}\n"
            "Set M2FNET_MODEL to a Hub model id or a local folder written by `save_pretrained` (weights, processor "
            "and modeling code, e.g. `python examples/quickstart.py` writes outputs/quickstart-m2fnet), and "
            "M2FNET_REVISION to a branch, tag or commit of that repo if needed. Private repos need HF_TOKEN."
        ) from err
    results, source = read_training_results(model_id, revision, model.config)
    id2label = model.config.id2label
    info = CheckpointInfo(
        model_id=model_id,
        revision=revision,
        commit=_commit_of(model_id, revision),
        modalities=tuple(model.config.modalities),
        labels=tuple(id2label[index] for index in sorted(id2label)),
        results=results,
        results_source=source,
    )
    logger.info("Loaded %s (revision %s, commit %s)", model_id, revision, info.commit)
    return model, processor, info


def _flatten(results: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        flat.update(_flatten(value, f"{name}.") if isinstance(value, dict) else {name: value})
    return flat


def _metric_lines(results: dict, limit: int = 4) -> list[str]:
    """The headline metrics of a results dict (nested dicts flattened as `split.metric`), F1 and accuracy first."""
    numbers = [
        (key, value)
        for key, value in _flatten(results).items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not key.startswith("training.")
    ]
    preferred = [item for item in numbers if re.search(r"f1|acc", item[0], re.IGNORECASE)] or numbers
    return [f"`{key}` = {value:.4g}" for key, value in preferred[:limit]]


def trained_modalities(info: CheckpointInfo) -> list[str] | None:
    """
    The modalities the checkpoint was trained on, when its results say so: a `modalities` list, or `["text"]` for a
    transcripts-only dataset config (`dataset_config: "text"`, as `datasets_scripts/meld.py` names it).
    """
    if not info.trained:
        return None
    if isinstance(info.results.get("modalities"), list):
        return [str(modality) for modality in info.results["modalities"]]
    if info.results.get("dataset_config") == "text":
        return ["text"]
    return None


def banner_markdown(info: CheckpointInfo) -> str:
    """The status banner shown above the app: checkpoint, revision, modalities, and a warning if untrained."""
    revision = f" @ `{info.commit or info.revision}`" if (info.commit or info.revision) else ""
    lines = [f"**Model:** `{info.model_id}`{revision} · **modalities:** {', '.join(info.modalities)} · "
             f"**emotions:** {', '.join(info.labels)}"]  # fmt: skip
    if not info.trained:
        lines.append(
            "⚠ **Random weights — predictions are meaningless.** This checkpoint has no training results "
            f"({' / '.join(f'`{name}`' for name in RESULTS_FILES)} next to the weights, or `m2fnet_training` in its "
            "config): it demonstrates the pipeline, not emotion recognition."
        )
    else:
        metrics = _metric_lines(info.results)
        dataset = " ".join(str(info.results[key]) for key in ("dataset", "dataset_config") if info.results.get(key))
        lines.append(
            f"✔ **Trained checkpoint**{f' on {dataset}' if dataset else ''} (`{info.results_source}`)"
            + (f": {', '.join(metrics)}." if metrics else ".")
        )
    untrained = [name for name in info.modalities if name not in (trained_modalities(info) or info.modalities)]
    if info.modalities == ("text",):
        lines.append("ℹ **Text-only model:** audio and video uploads are ignored.")
    elif untrained:
        lines.append(
            f"⚠ **Trained on {', '.join(trained_modalities(info))} only:** the {' and '.join(untrained)} parts of "
            "this model are untrained, so media uploads change its predictions arbitrarily."
        )
    missing = [name for name in MODALITY_NAMES if name not in info.modalities]
    if missing and info.modalities != ("text",):
        lines.append(f"ℹ This model does not use {' or '.join(missing)}: those uploads are ignored.")
    return "\n\n".join(lines)


MODEL, PROCESSOR, CHECKPOINT = load_checkpoint(MODEL_ID, MODEL_REVISION)
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # a GPU Space runs the model on its GPU
MODEL.to(DEVICE)


# ---------------------------------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------------------------------


class InputError(gr.Error):
    """A `gr.Error` for invalid input: the message is shown to the user; the server logs no traceback for it."""

    def __init__(self, message: str):
        super().__init__(message, print_exception=False)


@dataclass(frozen=True)
class MediaInfo:
    """What PyAV says about an uploaded file before the processor decodes it."""

    name: str
    has_audio: bool
    has_video: bool
    duration: float | None


def _file_path(item) -> str | None:
    """A path from what Gradio or a caller passes for a file: str, Path, {"path": ...} or an object with `.path`."""
    if item is None:
        return None
    if isinstance(item, dict):
        item = item.get("path") or item.get("name")
    item = getattr(item, "path", item)
    item = getattr(item, "name", item) if not isinstance(item, (str, os.PathLike)) else item
    return os.fspath(item) if item else None


def _max_utterances() -> int:
    return min(MAX_UTTERANCES, getattr(PROCESSOR, "max_utterances", MAX_UTTERANCES))


def check_upload(path: str, allowed: tuple[str, ...], what: str) -> str:
    """Raises `gr.Error` unless `path` exists, has an allowed extension and is at most `MAX_FILE_SIZE` bytes."""
    name = Path(path).name
    if Path(path).suffix.lower() not in allowed:
        raise InputError(f"{name}: unsupported file type for {what}. Supported: {', '.join(allowed)}.")
    if not os.path.isfile(path):
        raise InputError(f"{name}: file not found.")
    size = os.path.getsize(path)
    if size > MAX_FILE_SIZE:
        raise InputError(f"{name} is {_format_size(size)}; the limit is {_format_size(MAX_FILE_SIZE)} per file.")
    return path


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


def _match_files(media_files) -> dict[str, str]:
    """Uploaded files by file name (and by name without extension when unique): `{"ross.wav": path, "ross": path}`."""
    paths = [path for path in (_file_path(item) for item in media_files or []) if path]
    if len(paths) > 2 * _max_utterances():
        raise InputError(f"{len(paths)} files uploaded; at most {2 * _max_utterances()} (two per utterance).")
    by_name: dict[str, str] = {}
    for path in paths:
        check_upload(path, MEDIA_EXTENSIONS, "audio or video")
        name = Path(path).name.lower()
        if name in by_name and os.path.realpath(by_name[name]) != os.path.realpath(path):
            raise InputError(f"Two uploaded files are called {Path(path).name}: rename one of them.")
        by_name[name] = path
    stems: dict[str, list[str]] = {}
    for name, path in by_name.items():
        stems.setdefault(Path(name).stem, []).append(path)
    aliases = {stem: found[0] for stem, found in stems.items() if len(found) == 1 and stem not in by_name}
    return {**by_name, **aliases}


def _resolve(name: str, files: dict[str, str], row: int, column: str) -> str:
    path = files.get(name.lower()) or files.get(Path(name).name.lower())
    if path is None:
        uploaded = sorted({Path(path).name for path in files.values()})
        raise InputError(
            f"Row {row}: the {column} cell says {name!r} but no uploaded file has that name. "
            f"Uploaded: {', '.join(uploaded) if uploaded else 'none'}. Upload it in 'Audio / video files'."
        )
    return path


def parse_timestamp(text: str) -> float:
    """`"00:01:02,500"`, `"01:02.5"`, `"62.5"` → seconds."""
    parts = text.strip().replace(",", ".").split(":")
    if len(parts) > 3 or not all(re.fullmatch(r"\d+(\.\d+)?", part) for part in parts):
        raise ValueError(f"not a timestamp: {text!r}")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


_CUE_TIMING = re.compile(r"^\s*([\d:.,]+)\s*-->\s*([\d:.,]+)")
_VOICE_TAG = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_SPEAKER_PREFIX = re.compile(r"^([^\s:][^:]{0,39}):\s+(\S.*)$")


def parse_transcript(transcript: str) -> list[dict]:
    """
    Cues of an SRT or WebVTT transcript as `{"speaker", "text", "start_time", "end_time"}` dicts, in file order.
    The speaker comes from a `Speaker: text` prefix or a WebVTT voice tag (`<v Speaker>text`); other tags are removed.
    """
    cues, current = [], None
    for number, line in enumerate((transcript or "").splitlines(), start=1):
        timing = _CUE_TIMING.match(line)
        if timing:
            try:
                start, end = parse_timestamp(timing[1]), parse_timestamp(timing[2])
            except ValueError as err:
                raise InputError(
                    f"Transcript line {number}: {err} (expected e.g. 00:00:01,500 --> 00:00:03,000)."
                ) from err
            if end <= start:
                raise InputError(f"Transcript line {number}: the cue ends ({end:g} s) before it starts ({start:g} s).")
            current = {"start_time": start, "end_time": end, "lines": [], "line": number}
            cues.append(current)
        elif not line.strip():
            current = None
        elif current is not None:
            current["lines"].append(line.strip())
    utterances = []
    for cue in cues:
        text = " ".join(cue["lines"])
        voice = _VOICE_TAG.search(text)
        speaker = voice[1].strip() if voice else ""
        text = re.sub(r"<[^>]+>", "", text).strip()
        prefix = _SPEAKER_PREFIX.match(text)
        if prefix and not speaker:
            speaker, text = prefix[1].strip(), prefix[2].strip()
        utterances.append({"speaker": speaker, "text": text, "start_time": cue["start_time"],
                           "end_time": cue["end_time"], "line": cue["line"]})  # fmt: skip
    return utterances


def load_transcript_file(path) -> str:
    """The text of an uploaded .srt / .vtt / .txt transcript (for the transcript box)."""
    path = _file_path(path)
    if path is None:
        return ""
    check_upload(path, TRANSCRIPT_EXTENSIONS, "a transcript")
    if os.path.getsize(path) > MAX_TRANSCRIPT_BYTES:
        raise InputError(f"{Path(path).name} is larger than {_format_size(MAX_TRANSCRIPT_BYTES)}: not a transcript?")
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{Path(path).name} is not UTF-8 text.") from err


# ---------------------------------------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------------------------------------


def _readable(err: Exception, names: dict[str, str]) -> str:
    """A processor error message with temporary paths replaced by file names and utterance numbers by row numbers."""
    message = str(err)
    for path, name in sorted(names.items(), key=lambda item: -len(item[0])):
        message = message.replace(path, name)
    message = re.sub(r"conversation 0, utterance (\d+)", lambda match: f"row {int(match[1]) + 1}", message)
    message = message.split(" Fix the path or file,")[0]  # the rest is advice for Python callers of the processor
    return f"Could not process the conversation: {message}"


def _infer(utterances: list[dict], names: dict[str, str]):
    """Runs processor + model on one conversation; returns `(probabilities (N, num_labels), batch)`."""
    try:
        batch = PROCESSOR(conversations=[utterances], return_tensors="pt")
    except (ValueError, TypeError, OSError) as err:  # MediaDecodingError is a ValueError, FileNotFoundError an OSError
        raise InputError(_readable(err, names)) from err
    try:
        with torch.inference_mode():
            logits = MODEL(**batch.to(DEVICE)).logits[0].cpu()
    except RuntimeError as err:
        logger.exception("The model failed")
        raise gr.Error(f"The model failed on this input ({type(err).__name__}); see the server log.") from err
    return logits.float().softmax(-1), batch


def _modalities_used(utterance: dict, present: list[bool], face_found: bool | None) -> str:
    """`"text+audio+visual"`, with notes: no face found, a video without soundtrack, media the model ignores."""
    used = [name for name, on in zip(MODALITY_NAMES, present) if on and name in CHECKPOINT.modalities]
    notes = []
    if utterance.get("video") and "visual" in CHECKPOINT.modalities:
        if present[2] and face_found is False:
            notes.append("no face found")
        if not utterance.get("audio") and not present[1] and "audio" in CHECKPOINT.modalities:
            notes.append("no audio")
    ignored = [name for name, key in (("audio", "audio"), ("visual", "video"))
               if utterance.get(key) and name not in CHECKPOINT.modalities]  # fmt: skip
    if ignored:
        notes.append(f"{'/'.join(ignored)} ignored by this model")
    return "+".join(used or ["none"]) + (f" ({'; '.join(notes)})" if notes else "")


def _run_model(utterances: list[dict], names: dict[str, str], warnings: list[str]):
    """Predicts a conversation; returns `(table, chart_data, info)` (see `predict_conversation`)."""
    started = time.perf_counter()
    probabilities, batch = _infer(utterances, names)
    modality_mask = batch["modality_mask"][0].bool().tolist()
    face_mask = batch["face_mask"][0] if "face_mask" in batch else None
    labels = CHECKPOINT.labels
    width = len(str(len(utterances)))
    rows, chart_rows = [], []
    for index, utterance in enumerate(utterances):
        face_found = bool(face_mask[index].any()) if face_mask is not None else None
        scores = probabilities[index].tolist()
        ranked = sorted(range(len(labels)), key=lambda label_id: -scores[label_id])
        speaker = utterance.get("speaker") or ""
        rows.append({
            "#": index + 1,
            "speaker": speaker,
            "utterance": utterance.get("text") or "",
            "emotion": labels[ranked[0]],
            "confidence": round(scores[ranked[0]], 3),
            "top 3": ", ".join(f"{labels[label_id]} {scores[label_id]:.2f}" for label_id in ranked[:3]),
            "modalities": _modalities_used(utterance, modality_mask[index], face_found),
        })  # fmt: skip
        turn = f"{index + 1:0{width}d} {speaker}".strip()  # zero-padded: the chart sorts its x labels as text
        chart_rows.extend(
            {"utterance": index + 1, "turn": turn, "speaker": speaker, "emotion": label, "probability": round(p, 4)}
            for label, p in zip(labels, scores)
        )
    info = {
        **CHECKPOINT.as_dict(),
        "num_utterances": len(utterances),
        "seconds": round(time.perf_counter() - started, 2),
        "warnings": warnings,
    }
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS)), pd.DataFrame(chart_rows), info


def predict_conversation(rows, media_files=None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """
    Predicts one emotion per utterance of a conversation typed as a table.

    Args:
        rows: the conversation, one row per utterance with columns `speaker`, `utterance` and optionally `audio` and
            `video` (see `normalize_rows` for the accepted forms). The `audio` / `video` cells name uploaded files
            (`ross.wav`, or `ross` without extension when unambiguous); an empty `audio` cell with a `video` uses the
            video's soundtrack.
        media_files: the uploaded files (paths), matched to the table by file name.

    Returns:
        `(table, chart_data, info)`: `table` has one row per utterance (`#`, `speaker`, `utterance`, predicted
        `emotion`, its probability `confidence`, the `top 3` emotions with probabilities, and the `modalities` used,
        with notes such as "no face found"); `chart_data` has every emotion's probability per utterance in long
        format (`utterance`, `turn` label, `speaker`, `emotion`, `probability`); `info` names the model, revision and
        commit that answered, plus timing and warnings.

    Raises:
        `gr.Error` with a readable message for an empty or oversized conversation, unknown, unsupported, oversized,
        too long or unreadable files.
    """
    table = normalize_rows(rows)
    if not table:
        raise InputError(
            "The conversation is empty: type at least one utterance (speaker and utterance) in the table."
        )
    if len(table) > _max_utterances():
        raise InputError(
            f"The conversation has {len(table)} utterances; this Space accepts at most {_max_utterances()}."
        )
    files = _match_files(media_files)
    probed: dict[str, MediaInfo] = {}
    utterances, used_paths = [], set()
    for number, row in enumerate(table, start=1):
        utterance = {"speaker": row["speaker"], "text": row["utterance"]}
        for column in ("audio", "video"):
            if not row[column]:
                continue
            path = _resolve(row[column], files, number, column)
            check_upload(path, MEDIA_EXTENSIONS, column)
            if path not in probed:
                probed[path] = probe_media(path)
            media = probed[path]
            if column == "audio" and not media.has_audio:
                raise InputError(f"Row {number}: {media.name} has no audio track.")
            if column == "video" and not media.has_video:
                raise InputError(
                    f"Row {number}: {media.name} has no video track (put audio files in the audio column)."
                )
            if media.duration is not None and media.duration > MAX_CLIP_SECONDS:
                raise InputError(
                    f"Row {number}: {media.name} lasts {media.duration:.1f} s; the limit per utterance is "
                    f"{MAX_CLIP_SECONDS:g} s. Cut it, or use the scene video + transcript mode."
                )
            utterance[column] = path
            used_paths.add(os.path.realpath(path))
        if not utterance["text"] and len(utterance) == 2:
            raise InputError(f"Row {number} has neither an utterance text nor a file.")
        utterances.append(utterance)
    warnings = []
    unused = sorted({Path(p).name for p in files.values() if os.path.realpath(p) not in used_paths})
    if unused:
        warnings.append(f"Uploaded but not named in the table (ignored): {', '.join(unused)}.")
        gr.Warning(warnings[-1])
    names = {path: Path(path).name for path in files.values()}
    return _run_model(utterances, names, warnings)


def predict_scene(video_path, transcript: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """
    Predicts one emotion per utterance of one recorded scene, cut into utterances by a timed transcript.

    Args:
        video_path: the scene's video file (its audio track gives the audio of each utterance).
        transcript: SRT or WebVTT text; each cue is an utterance (`Speaker: text`, or a WebVTT `<v Speaker>` tag).
            The processor cuts `[start, end)` of each cue out of the video (`start_time` / `end_time`), without
            re-encoding.

    Returns:
        `(table, chart_data, info)` as `predict_conversation`.
    """
    path = _file_path(video_path)
    if path is None:
        raise InputError("Upload the scene video.")
    check_upload(path, VIDEO_EXTENSIONS, "the scene video")
    media = probe_media(path)
    if not media.has_video:
        raise InputError(f"{media.name} has no video track.")
    if media.duration is not None and media.duration > MAX_SCENE_SECONDS:
        raise InputError(
            f"{media.name} lasts {media.duration:.0f} s; the limit for a scene is {MAX_SCENE_SECONDS:g} s."
        )
    cues = parse_transcript(transcript)
    if not cues:
        raise InputError("The transcript has no cues. Paste SRT, e.g.\n1\n00:00:00,000 --> 00:00:01,600\nRoss: Hi!")
    if len(cues) > _max_utterances():
        raise InputError(f"The transcript has {len(cues)} cues; this Space accepts at most {_max_utterances()}.")
    utterances = []
    for cue in cues:
        where = f"Transcript line {cue['line']}"
        if media.duration is not None and cue["start_time"] >= media.duration:
            raise InputError(
                f"{where}: the cue starts at {cue['start_time']:g} s, after the video's end ({media.duration:.1f} s)."
            )
        if cue["end_time"] - cue["start_time"] > MAX_CLIP_SECONDS:
            raise InputError(
                f"{where}: the cue lasts {cue['end_time'] - cue['start_time']:.1f} s; the limit per utterance is "
                f"{MAX_CLIP_SECONDS:g} s."
            )
        end_time = min(cue["end_time"], media.duration) if media.duration is not None else cue["end_time"]
        utterances.append({"speaker": cue["speaker"], "text": cue["text"], "video": path,
                           "start_time": cue["start_time"], "end_time": end_time})  # fmt: skip
    warnings = [] if media.has_audio else [f"{media.name} has no audio track: audio is missing for every utterance."]
    return _run_model(utterances, {path: media.name}, warnings)


def predict(text: str | None, audio_path=None, video_path=None) -> dict[str, float]:
    """
    Emotion probabilities of one utterance (a one-utterance conversation, so no dialogue context).

    Args:
        text: the utterance's transcript (may be empty when audio or video is given).
        audio_path: an audio file (optional).
        video_path: a video file (optional; its soundtrack is the audio when `audio_path` is not given).

    Returns:
        `{emotion: probability}` for every emotion of the model.
    """
    text = (text or "").strip()
    audio_path, video_path = _file_path(audio_path), _file_path(video_path)
    if not text and audio_path is None and video_path is None:
        raise InputError("Type the utterance or upload its audio or video.")
    utterance, names = {"text": text}, {}
    for key, path, allowed in (("audio", audio_path, MEDIA_EXTENSIONS), ("video", video_path, VIDEO_EXTENSIONS)):
        if path is None:
            continue
        check_upload(path, allowed, key)
        media = probe_media(path)
        if media.duration is not None and media.duration > MAX_CLIP_SECONDS:
            raise InputError(f"{media.name} lasts {media.duration:.1f} s; the limit is {MAX_CLIP_SECONDS:g} s.")
        utterance[key], names[path] = path, media.name
    probabilities, _ = _infer([utterance], names)
    return {label: float(p) for label, p in zip(CHECKPOINT.labels, probabilities[0].tolist())}


# ---------------------------------------------------------------------------------------------------------------------
# User interface
# ---------------------------------------------------------------------------------------------------------------------


def _sample_conversation() -> tuple[pd.DataFrame, list[str]]:
    """The shipped sample conversation as a table plus its media files (`examples/conversation.json`)."""
    conversation = json.loads((EXAMPLES_DIR / "conversation.json").read_text(encoding="utf-8"))
    rows = [[u["speaker"], u["text"], u.get("audio", ""), u.get("video", "")] for u in conversation]
    files = sorted({str(EXAMPLES_DIR / u[key]) for u in conversation for key in ("audio", "video") if u.get(key)})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS)), files


TEXT_ONLY_EXAMPLE = pd.DataFrame(
    [
        ["Monica", "Guess what? I got the job!", "", ""],
        ["Chandler", "No way! That is amazing!", "", ""],
        ["Joey", "Wait, does this mean no more free food?", "", ""],
        ["Monica", "Oh, you are unbelievable.", "", ""],
    ],
    columns=list(TABLE_COLUMNS),
)

INTRO = """# M2FNet — emotion recognition in conversation
One emotion per utterance from its **text, audio and video**, with the whole conversation as context
([Chudasama et al., CVPRW 2022](https://arxiv.org/abs/2206.02187)). Click an example or enter your own conversation."""

CONVERSATION_HELP = f"""One row per utterance, in order. **Media are optional:** upload the files and write each file's
name (e.g. `ross.wav`) in the `audio` or `video` cell of its row; a row with a video and no audio file uses the video's
soundtrack. Limits: {MAX_UTTERANCES} utterances, {_format_size(MAX_FILE_SIZE)} and {MAX_CLIP_SECONDS:g} s per file."""

SCENE_HELP = f"""One video of a whole scene and its transcript with timestamps (SRT or WebVTT; one cue per
utterance, `Speaker: text`). Each cue's time span is cut out of the video for its audio and frames. Limits:
{MAX_SCENE_SECONDS:g} s per video, {MAX_CLIP_SECONDS:g} s per cue, {MAX_UTTERANCES} cues."""

# Stable colours for the emotion timeline (MELD and IEMOCAP label names); other label sets get Gradio's palette.
EMOTION_COLORS = {
    "neutral": "#9e9e9e", "surprise": "#ff9800", "fear": "#7e57c2", "sadness": "#1e88e5", "sad": "#1e88e5",
    "joy": "#fdd835", "happy": "#fdd835", "excited": "#f06292", "disgust": "#43a047", "anger": "#e53935",
    "angry": "#e53935", "frustrated": "#8d6e63",
}  # fmt: skip

# Examples fill the inputs; the user then clicks "Predict". They are not cached (`cache_examples=True,
# cache_mode="lazy"`): Gradio 6.31 restores a cached gr.BarPlot value as a JSON string, which the page fails to draw.
EXAMPLES_KWARGS = {"cache_examples": False}


def build_demo() -> gr.Blocks:
    """The Gradio app: conversation table / scene video / single utterance inputs, per-utterance results."""
    sample_rows, sample_files = _sample_conversation()
    scene_transcript = (EXAMPLES_DIR / "scene.srt").read_text(encoding="utf-8")
    labels = CHECKPOINT.labels
    color_map = {label: EMOTION_COLORS[label] for label in labels} if set(labels) <= set(EMOTION_COLORS) else None
    with gr.Blocks(title="M2FNet — emotion recognition in conversation") as demo:
        gr.Markdown(INTRO)
        gr.Markdown(banner_markdown(CHECKPOINT), elem_id="model-banner")
        results = gr.Dataframe(
            value=pd.DataFrame(columns=list(RESULT_COLUMNS)), label="Per-utterance predictions", interactive=False,
            wrap=True, render=False, elem_id="results", max_height=480,
            column_widths=["44px", "96px", "30%", "96px", "112px", "24%", "18%"],
        )  # fmt: skip
        chart = gr.BarPlot(
            x="turn", y="probability", color="emotion", color_map=color_map, x_title="utterance",
            y_title="probability (stacked)", y_lim=[0, 1], tooltip="all", label="Emotion timeline", render=False,
            elem_id="timeline",
        )  # fmt: skip
        info = gr.JSON(label="Answered by", render=False, open=True, max_height=360, elem_id="answered-by")
        outputs = [results, chart, info]

        with gr.Tabs():
            with gr.Tab("Conversation table", id="conversation"):
                gr.Markdown(CONVERSATION_HELP)
                table = gr.Dataframe(
                    value=TEXT_ONLY_EXAMPLE, headers=list(TABLE_COLUMNS), datatype="str", column_count=4,
                    interactive=True, show_row_numbers=True, wrap=True, elem_id="conversation-table",
                    label="Conversation: speaker, utterance, optional audio / video file names",
                    column_widths=["15%", "55%", "15%", "15%"],
                )  # fmt: skip
                with gr.Row(equal_height=True):
                    files = gr.File(file_count="multiple", file_types=list(MEDIA_EXTENSIONS), height=140, scale=3,
                                    label="Audio / video files (optional, named in the table)")  # fmt: skip
                    conversation_button = gr.Button("Predict emotions", variant="primary", scale=1,
                                                    elem_id="predict-conversation")  # fmt: skip
                gr.Examples(
                    examples=[[sample_rows, sample_files], [TEXT_ONLY_EXAMPLE, None]],
                    example_labels=["Sample conversation (text + audio + video)", "Text only"],
                    inputs=[table, files], **EXAMPLES_KWARGS,
                )  # fmt: skip
            with gr.Tab("Scene video + transcript", id="scene"):
                gr.Markdown(SCENE_HELP)
                with gr.Row():
                    scene_video = gr.Video(label="Scene video", sources=["upload"], height=280)
                    with gr.Column():
                        transcript = gr.Textbox(
                            label="Transcript (SRT or WebVTT)", lines=9, max_lines=20,
                            placeholder="1\n00:00:00,000 --> 00:00:01,600\nRoss: We were on a break!",
                        )  # fmt: skip
                        transcript_file = gr.File(label="…or load an .srt / .vtt file", height=80,
                                                  file_types=list(TRANSCRIPT_EXTENSIONS))  # fmt: skip
                scene_button = gr.Button("Predict emotions", variant="primary", elem_id="predict-scene")
                gr.Examples(
                    examples=[[str(EXAMPLES_DIR / "scene.mp4"), scene_transcript]],
                    example_labels=["Sample scene (one video + SRT)"], inputs=[scene_video, transcript],
                    **EXAMPLES_KWARGS,
                )  # fmt: skip
            with gr.Tab("Single utterance", id="single"):
                with gr.Row():
                    with gr.Column():
                        single_text = gr.Textbox(label="Utterance", lines=2)
                        single_audio = gr.Audio(label="Audio (optional)", type="filepath", sources=["upload"])
                        single_video = gr.Video(label="Video (optional)", sources=["upload"], height=200)
                        single_button = gr.Button("Predict emotion", variant="primary", elem_id="predict-single")
                    single_label = gr.Label(label="Emotion", num_top_classes=len(labels), elem_id="single-label")
                gr.Examples(
                    examples=[["We were on a break!", str(EXAMPLES_DIR / "ross.wav"), None],
                              ["Just go. Please, go.", None, str(EXAMPLES_DIR / "rachel.mp4")]],
                    example_labels=["Text + audio", "Text + video"],
                    inputs=[single_text, single_audio, single_video], **EXAMPLES_KWARGS,
                )  # fmt: skip

        results.render()
        with gr.Row():
            with gr.Column(scale=3):
                chart.render()
            with gr.Column(scale=2):
                info.render()

        conversation_button.click(predict_conversation, [table, files], outputs, api_name="predict_conversation")
        scene_button.click(predict_scene, [scene_video, transcript], outputs, api_name="predict_scene")
        single_button.click(predict, [single_text, single_audio, single_video], single_label, api_name="predict")
        transcript_file.upload(load_transcript_file, transcript_file, transcript, api_visibility="private")
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return demo


demo = build_demo()


if __name__ == "__main__":
    # Address and port come from Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (set by the Hub for Spaces).
    demo.launch(max_file_size=MAX_FILE_SIZE, allowed_paths=[str(EXAMPLES_DIR)])
