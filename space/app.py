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
import os
import re
import time
from pathlib import Path

import gradio as gr
import pandas as pd
import torch

# The Space's own modules (next to this file: `python app.py` puts this folder on the import path).
from space_checkpoint import MODALITY_NAMES, banner_markdown, load_checkpoint
from space_inputs import (
    TABLE_COLUMNS,
    TABLE_FILE_EXTENSIONS,
    InputError,
    MediaInfo,
    cue_warnings,
    env_number,
    file_path,
    format_size,
    normalize_rows,
    parse_size,
    parse_table_json,
    parse_table_text,
    parse_transcript,
    probe_media,
    resolve_file,
)


logger = logging.getLogger(__name__)

SPACE_DIR = Path(__file__).resolve().parent
EXAMPLES_DIR = SPACE_DIR / "examples"

# The model: a Hub repo id or a local folder written by `save_pretrained` (weights + processor + modeling code).
# The model's code comes only through `trust_remote_code`; this app never imports the repository's package.
DEFAULT_MODEL = "org/m2fnet-meld"

AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg")
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS + VIDEO_EXTENSIONS
TRANSCRIPT_EXTENSIONS = (".srt", ".vtt", ".txt")
MAX_TEXT_BYTES = 1_000_000  # a pasted table, an imported table file or a transcript
RESULT_COLUMNS = ("#", "speaker", "utterance", "emotion", "confidence", "top 3", "modalities")


# ---------------------------------------------------------------------------------------------------------------------
# Settings (environment variables, read once at start-up)
# ---------------------------------------------------------------------------------------------------------------------


MODEL_ID = os.environ.get("M2FNET_MODEL", "").strip() or DEFAULT_MODEL
MODEL_REVISION = os.environ.get("M2FNET_REVISION", "").strip() or None
MAX_UTTERANCES = int(env_number("M2FNET_MAX_UTTERANCES", 40))
MAX_FILE_SIZE = parse_size(os.environ.get("M2FNET_MAX_FILE_SIZE", "").strip() or "50mb")
MAX_CLIP_SECONDS = env_number("M2FNET_MAX_CLIP_SECONDS", 60.0, float)
MAX_SCENE_SECONDS = env_number("M2FNET_MAX_SCENE_SECONDS", 600.0, float)
CONCURRENCY_LIMIT = int(env_number("M2FNET_CONCURRENCY", 1))
QUEUE_SIZE = int(env_number("M2FNET_QUEUE_SIZE", 16))

# ---------------------------------------------------------------------------------------------------------------------
# The model (loaded once, at start-up; `space_checkpoint.load_checkpoint` reads safetensors weights only)
# ---------------------------------------------------------------------------------------------------------------------


DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # a GPU Space runs the model on its GPU
CLASSIFIER, CHECKPOINT = load_checkpoint(MODEL_ID, MODEL_REVISION, device=DEVICE)
PROCESSOR = CLASSIFIER.processor


# ---------------------------------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------------------------------


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
        raise InputError(f"{name} is {format_size(size)}; the limit is {format_size(MAX_FILE_SIZE)} per file.")
    return path


def _match_files(media_files) -> dict[str, str]:
    """Uploaded files by file name (and by name without extension when unique): `{"ross.wav": path, "ross": path}`."""
    paths = [path for path in (file_path(item) for item in media_files or []) if path]
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


def read_text_upload(path, allowed: tuple[str, ...], what: str) -> str:
    """The text of an uploaded text file (transcript or table): allowed extension, at most `MAX_TEXT_BYTES`, UTF-8."""
    check_upload(path, allowed, what)
    name = Path(path).name
    if os.path.getsize(path) > MAX_TEXT_BYTES:
        raise InputError(f"{name} is larger than {format_size(MAX_TEXT_BYTES)}: not {what}?")
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{name} is not UTF-8 text (byte {err.start}); save it as UTF-8.") from err


def load_transcript_file(path) -> str:
    """The text of an uploaded .srt / .vtt / .txt transcript (for the transcript box)."""
    path = file_path(path)
    return "" if path is None else read_text_upload(path, TRANSCRIPT_EXTENSIONS, "a transcript")


def _loaded(table: pd.DataFrame, notes: list[str], source: str) -> tuple[pd.DataFrame, str]:
    if table.empty:
        raise InputError(f"{source} holds no rows. Expected one utterance per line: speaker<TAB>utterance.")
    for note in notes:
        gr.Warning(note)
    status = f"✔ Loaded {len(table)} row(s) from {source} into the table: check them, then click **Predict emotions**."
    return table, " ".join([status, *notes])


def load_pasted_rows(text: str) -> tuple[pd.DataFrame, str]:
    """The conversation table from pasted TSV / CSV text (see `space_inputs.parse_table_text`), plus a status line."""
    if len((text or "").encode("utf-8")) > MAX_TEXT_BYTES:
        raise InputError(f"The pasted text is larger than {format_size(MAX_TEXT_BYTES)}.")
    table, notes = parse_table_text(text, "Pasted rows", max_rows=_max_utterances())
    return _loaded(table, notes, "the pasted text")


def load_table_file(path) -> tuple[pd.DataFrame, str]:
    """The conversation table from an imported .csv / .tsv / .txt (as pasted text) or .json file, plus a status."""
    path = file_path(path)
    if path is None:
        raise InputError("Choose a .csv, .tsv or .json file to import.")
    text, name = read_text_upload(path, TABLE_FILE_EXTENSIONS, "a conversation table"), Path(path).name
    parse = parse_table_json if name.lower().endswith(".json") else parse_table_text
    table, notes = parse(text, name, max_rows=_max_utterances())
    return _loaded(table, notes, name)


# ---------------------------------------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------------------------------------


def run_model(utterances: list[dict]) -> tuple[torch.Tensor, list[list[bool]], list[bool | None]]:
    """
    The one place where the checkpoint runs: its emotion-recognition pipeline on one conversation.

    Returns:
        `(probabilities, present, face_found)`: emotion probabilities `(N, num_labels)` in `CHECKPOINT.labels` order;
        for each utterance, which of `MODALITY_NAMES` it had; and whether a face was found in its frames (`None`
        without video).
    """
    results = CLASSIFIER(utterances, top_k=len(CHECKPOINT.labels), return_modalities=True)
    column = {label: index for index, label in enumerate(CHECKPOINT.labels)}
    probabilities = torch.zeros(len(results), len(CHECKPOINT.labels))
    for row, result in enumerate(results):
        for entry in result["top_k"]:
            probabilities[row, column[entry["label"]]] = entry["score"]
    present = [[result["modalities"][name] for name in MODALITY_NAMES] for result in results]
    return probabilities, present, [result["face_found"] for result in results]


def _readable(err: Exception, names: dict[str, str]) -> str:
    """A processor error message with temporary paths replaced by file names and utterance numbers by row numbers."""
    message = str(err)
    for path, name in sorted(names.items(), key=lambda item: -len(item[0])):
        message = message.replace(path, name)
    message = re.sub(r"conversation 0, utterance (\d+)", lambda match: f"row {int(match[1]) + 1}", message)
    message = message.split(" Fix the path or file,")[0]  # the rest is advice for Python callers of the processor
    return f"Could not process the conversation: {message}"


def _infer(utterances: list[dict], names: dict[str, str]):
    """`run_model` with its errors as readable `gr.Error`s (input errors name files and rows, not temporary paths)."""
    try:
        return run_model(utterances)
    except (ValueError, TypeError, OSError) as err:  # MediaDecodingError is a ValueError, FileNotFoundError an OSError
        raise InputError(_readable(err, names)) from err
    except RuntimeError as err:
        logger.exception("The model failed")
        raise gr.Error(f"The model failed on this input ({type(err).__name__}); see the server log.") from err


def _modalities_used(utterance: dict, present: list[bool], face_found: bool | None) -> str:
    """`"text+audio+visual"`, with notes: no face found, a video without soundtrack, media the model ignores."""
    used = [name for name, on in zip(MODALITY_NAMES, present) if on and name in CHECKPOINT.modalities]
    notes = []
    if utterance.get("video") and "visual" in CHECKPOINT.modalities:
        if present[2] and face_found is False:
            notes.append("no face found")
        if not utterance.get("audio") and not present[1] and "audio" in CHECKPOINT.modalities:
            notes.append("no audio")
    ignored = [
        name
        for name, key in (("audio", "audio"), ("visual", "video"))
        if utterance.get(key) and name not in CHECKPOINT.modalities
    ]
    if ignored:
        notes.append(f"{'/'.join(ignored)} ignored by this model")
    return "+".join(used or ["none"]) + (f" ({'; '.join(notes)})" if notes else "")


def _run_model(utterances: list[dict], names: dict[str, str], warnings: list[str]):
    """Predicts a conversation; returns `(table, chart_data, info)` (see `predict_conversation`)."""
    started = time.perf_counter()
    probabilities, present, faces = _infer(utterances, names)
    labels = CHECKPOINT.labels
    width = len(str(len(utterances)))
    rows, chart_rows = [], []
    for index, utterance in enumerate(utterances):
        scores = probabilities[index].tolist()
        ranked = sorted(range(len(labels)), key=lambda label_id: -scores[label_id])
        speaker = utterance.get("speaker") or ""
        rows.append(
            {
                "#": index + 1,
                "speaker": speaker,
                "utterance": utterance.get("text") or "",
                "emotion": labels[ranked[0]],
                "confidence": round(scores[ranked[0]], 3),
                "top 3": ", ".join(f"{labels[label_id]} {scores[label_id]:.2f}" for label_id in ranked[:3]),
                "modalities": _modalities_used(utterance, present[index], faces[index]),
            }
        )
        turn = f"{index + 1:0{width}d} {speaker}".strip()  # zero-padded: the chart sorts its x labels as text
        chart_rows.extend(
            {"utterance": index + 1, "turn": turn, "speaker": speaker, "emotion": label, "probability": round(p, 4)}
            for label, p in zip(labels, scores)
        )
    if warnings:
        gr.Warning("\n".join(warnings))
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
            path = resolve_file(row[column], files, number, column)
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
        `(table, chart_data, info)` as `predict_conversation`, one row per cue.

    Raises:
        `gr.Error` naming the cue and its line for a cue the parser cannot read (see `space_inputs.parse_transcript`),
        one that starts after the video's end, or one longer than `MAX_CLIP_SECONDS`. Cues without text, overlapping
        or out-of-order cues, and cues that end after the video (cut at its end) are kept, with a warning.
    """
    path = file_path(video_path)
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
    utterances, warnings = [], cue_warnings(cues)
    for cue in cues:
        where, start, end = f"Transcript cue {cue['cue']} (line {cue['line']})", cue["start_time"], cue["end_time"]
        if media.duration is not None and start >= media.duration:
            raise InputError(
                f"{where}: the cue starts at {start:g} s, after the video's end ({media.duration:.1f} s)."
            )
        if end - start > MAX_CLIP_SECONDS:
            raise InputError(
                f"{where}: the cue lasts {end - start:.1f} s; the limit per utterance is {MAX_CLIP_SECONDS:g} s."
            )
        if media.duration is not None and end > media.duration:
            warnings.append(f"{where} ends at {end:g} s, after the video's end: cut at {media.duration:.2f} s.")
            end = media.duration
        utterances.append(
            {"speaker": cue["speaker"], "text": cue["text"], "video": path, "start_time": start, "end_time": end}
        )
    if not media.has_audio:
        warnings.append(f"{media.name} has no audio track: audio is missing for every utterance.")
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
    audio_path, video_path = file_path(audio_path), file_path(video_path)
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
    probabilities = _infer([utterance], names)[0]
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

CONVERSATION_HELP = f"""One row per utterance, in order: `speaker`, `utterance`, and optionally the names of its
`audio` and `video` files. Three ways to fill the table:
- **type** in its cells (pasting several rows straight into the table does not add them);
- **paste** rows into *Paste rows* and click **Load into table**: one utterance per line, columns separated by tabs (as
  a spreadsheet copies them) or by commas, in the order speaker, utterance, audio, video; a first line naming the
  columns is read as a header;
- **Import file**: a `.csv` or `.tsv` file, read the same way, or a `.json` list of `{{"speaker", "text", "audio",
  "video"}}` objects.

Loading replaces the table's rows. **Media are optional:** upload the files and write each file's name (e.g.
`ross.wav`) in the `audio` or `video` cell of its row; a row with a video and no audio file uses the video's
soundtrack. Limits: {MAX_UTTERANCES} utterances, {format_size(MAX_FILE_SIZE)} and {MAX_CLIP_SECONDS:g} s per file."""

SCENE_HELP = f"""One video of a whole scene and its transcript with timestamps (SRT or WebVTT, typed, pasted or loaded
with **Load .srt / .vtt file**; one cue per utterance, `Speaker: text`). Each cue's time span is cut out of the video
for its audio and frames. **Every cue counts:** a cue with a negative or malformed time, one that ends at or before its
start, or a line that belongs to no cue is refused with its cue and line number; a cue without text, overlapping or
out-of-order cues, and a cue that runs past the video's end (cut there) are kept with a warning. Limits:
{MAX_SCENE_SECONDS:g} s per video, {MAX_CLIP_SECONDS:g} s per cue, {MAX_UTTERANCES} cues."""

READY_STATUS = "Results appear below after **Predict emotions**."
FAILED_STATUS = (
    "✖ **The last request failed**; its message is shown at the top right. The results below, if any, are from an "
    "earlier request."
)


def prediction_status(info: dict) -> str:
    """The status line after a successful conversation or scene prediction, with its warnings spelled out."""
    warnings = info.get("warnings") or []
    done = f"✔ Predicted {info.get('num_utterances')} utterance(s) in {info.get('seconds')} s."
    return " ".join([done, *(f"⚠ {warning}" for warning in warnings)])


# Stable colours for the emotion timeline (MELD and IEMOCAP label names); other label sets get Gradio's palette.
EMOTION_COLORS = {
    "neutral": "#9e9e9e",
    "surprise": "#ff9800",
    "fear": "#7e57c2",
    "sadness": "#1e88e5",
    "sad": "#1e88e5",
    "joy": "#fdd835",
    "happy": "#fdd835",
    "excited": "#f06292",
    "disgust": "#43a047",
    "anger": "#e53935",
    "angry": "#e53935",
    "frustrated": "#8d6e63",
}

# Examples fill the inputs; the user then clicks "Predict". They are not cached (`cache_examples=True,
# cache_mode="lazy"`): Gradio 6.31 restores a cached gr.BarPlot value as a JSON string, which the page fails to draw.
EXAMPLES_KWARGS = {"cache_examples": False}


def _report(event, status: gr.Markdown, on_success=None, inputs=None) -> None:
    """Writes the outcome of `event` into the status line: `on_success(*inputs)` if given, `FAILED_STATUS` on error."""
    quiet = {"show_progress": "hidden", "api_visibility": "private", "queue": False}
    if on_success is not None:
        event.success(on_success, inputs, status, **quiet)
    event.failure(lambda: FAILED_STATUS, None, status, **quiet)


def _conversation_tab(outputs: list, status: gr.Markdown) -> None:
    sample_rows, sample_files = _sample_conversation()
    gr.Markdown(CONVERSATION_HELP)
    table = gr.Dataframe(
        value=TEXT_ONLY_EXAMPLE,
        headers=list(TABLE_COLUMNS),
        datatype="str",
        column_count=4,
        interactive=True,
        show_row_numbers=True,
        wrap=True,
        elem_id="conversation-table",
        label="Conversation: speaker, utterance, optional audio / video file names",
        column_widths=["16%", "42%", "19%", "19%"],  # the rest is the row-number column
    )
    with gr.Row():
        pasted = gr.Textbox(
            label="Paste rows (tab- or comma-separated: speaker, utterance, audio, video)",
            lines=3,
            max_lines=12,
            scale=3,
            elem_id="paste-rows",
            placeholder="speaker, utterance, audio, video\nRoss, We were on a break!, ross.wav\nRachel, Oh my God.",
        )
        with gr.Column(scale=1, min_width=180):
            load_button = gr.Button("Load into table", elem_id="load-rows")
            import_button = gr.UploadButton(
                "Import file (.csv / .tsv / .json)", file_types=list(TABLE_FILE_EXTENSIONS), elem_id="import-rows"
            )
    with gr.Row():
        files = gr.File(
            file_count="multiple",
            file_types=list(MEDIA_EXTENSIONS),
            scale=3,
            label="Audio / video files (optional, named in the table)",
        )
        button = gr.Button("Predict emotions", variant="primary", scale=1, elem_id="predict-conversation")
    gr.Examples(
        examples=[[sample_rows, sample_files], [TEXT_ONLY_EXAMPLE, None]],
        example_labels=["Sample conversation (text + audio + video)", "Text only"],
        inputs=[table, files],
        **EXAMPLES_KWARGS,
    )
    # callable by clients (`gradio_client`: api_name="/load_rows" / "/import_rows"), not listed in the API page
    loading = {"api_visibility": "undocumented", "show_progress_on": [status]}
    _report(load_button.click(load_pasted_rows, pasted, [table, status], api_name="load_rows", **loading), status)
    event = import_button.upload(load_table_file, import_button, [table, status], api_name="import_rows", **loading)
    _report(event, status)
    event = button.click(
        predict_conversation, [table, files], outputs, api_name="predict_conversation", show_progress_on=[status]
    )
    _report(event, status, prediction_status, outputs[2])


def _scene_tab(outputs: list, status: gr.Markdown) -> None:
    gr.Markdown(SCENE_HELP)
    with gr.Row():
        video = gr.Video(label="Scene video", sources=["upload"], height=300)
        with gr.Column():
            transcript = gr.Textbox(
                label="Transcript (SRT or WebVTT)",
                lines=9,
                max_lines=20,
                placeholder="1\n00:00:00,000 --> 00:00:01,600\nRoss: We were on a break!",
            )
            upload = gr.UploadButton(
                "Load .srt / .vtt file", file_types=list(TRANSCRIPT_EXTENSIONS), size="md", elem_id="load-transcript"
            )
    button = gr.Button("Predict emotions", variant="primary", elem_id="predict-scene")
    gr.Examples(
        examples=[[str(EXAMPLES_DIR / "scene.mp4"), (EXAMPLES_DIR / "scene.srt").read_text(encoding="utf-8")]],
        example_labels=["Sample scene (one video + SRT)"],
        inputs=[video, transcript],
        **EXAMPLES_KWARGS,
    )
    event = upload.upload(
        load_transcript_file, upload, transcript, api_visibility="private", show_progress_on=[status]
    )
    _report(event, status, lambda path: f"✔ Loaded {Path(file_path(path)).name} into the transcript box.", upload)
    event = button.click(
        predict_scene, [video, transcript], outputs, api_name="predict_scene", show_progress_on=[status]
    )
    _report(event, status, prediction_status, outputs[2])


def _single_tab(status: gr.Markdown) -> None:
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label="Utterance", lines=2)
            audio = gr.Audio(label="Audio (optional)", type="filepath", sources=["upload"])
            video = gr.Video(label="Video (optional)", sources=["upload"])
            button = gr.Button("Predict emotion", variant="primary", elem_id="predict-single")
        label = gr.Label(label="Emotion", num_top_classes=len(CHECKPOINT.labels), elem_id="single-label")
    gr.Examples(
        examples=[
            ["We were on a break!", str(EXAMPLES_DIR / "ross.wav"), None],
            ["Just go. Please, go.", None, str(EXAMPLES_DIR / "rachel.mp4")],
        ],
        example_labels=["Text + audio", "Text + video"],
        inputs=[text, audio, video],
        **EXAMPLES_KWARGS,
    )
    event = button.click(predict, [text, audio, video], label, api_name="predict", show_progress_on=[status])
    _report(event, status, lambda: "✔ Predicted the single utterance: its emotions are shown above.")


def build_demo() -> gr.Blocks:
    """
    The Gradio app: conversation table / scene video / single utterance inputs, per-utterance results.

    Every event shows its progress and errors on one status line above the results (`#run-status`), never on the
    result panels, and writes its outcome there: a later success replaces an earlier error everywhere.
    """
    labels = CHECKPOINT.labels
    color_map = {label: EMOTION_COLORS[label] for label in labels} if set(labels) <= set(EMOTION_COLORS) else None
    with gr.Blocks(title="M2FNet — emotion recognition in conversation") as demo:
        gr.Markdown(INTRO)
        gr.Markdown(banner_markdown(CHECKPOINT), elem_id="model-banner")
        status = gr.Markdown(READY_STATUS, elem_id="run-status", render=False, min_height=40)
        results = gr.Dataframe(
            value=pd.DataFrame(columns=list(RESULT_COLUMNS)),
            label="Per-utterance predictions",
            interactive=False,
            wrap=True,
            render=False,
            elem_id="results",
            max_height=480,
            column_widths=["4%", "12%", "19%", "12%", "15%", "20%", "18%"],
        )
        chart = gr.BarPlot(
            x="turn",
            y="probability",
            color="emotion",
            color_map=color_map,
            x_title="utterance",
            y_title="probability (stacked)",
            y_lim=[0, 1],
            tooltip="all",
            label="Emotion timeline",
            render=False,
            elem_id="timeline",
        )
        info = gr.JSON(label="Answered by", render=False, open=True, max_height=360, elem_id="answered-by")
        outputs = [results, chart, info]
        with gr.Tabs():
            with gr.Tab("Conversation table", id="conversation"):
                _conversation_tab(outputs, status)
            with gr.Tab("Scene video + transcript", id="scene"):
                _scene_tab(outputs, status)
            with gr.Tab("Single utterance", id="single"):
                _single_tab(status)
        status.render()
        results.render()
        with gr.Row():  # side by side on a desktop; stacked below about 900 px, where the legend would not fit
            with gr.Column(scale=3, min_width=520):
                chart.render()
            with gr.Column(scale=2, min_width=340):
                info.render()
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return demo


demo = build_demo()


if __name__ == "__main__":
    # Address and port come from Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (set by the Hub for Spaces).
    demo.launch(max_file_size=MAX_FILE_SIZE, allowed_paths=[str(EXAMPLES_DIR)])
