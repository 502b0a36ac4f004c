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
"""Bad inputs to the Gradio Space (`space/app.py`): transcript cues, pasted or imported rows, pickle-only checkpoints.

Collected by `tests/test_bad_inputs.py` (cases named `case_space_*` get the imported app as `ctx.media["space_app"]`).
Each case asserts the exact error class and that the message names the cue, line, row or file at fault, or the
documented fallback (cue kept, with a warning), and that the files it was given are unchanged.
"""

import shutil
import sys
import warnings
from pathlib import Path

import pytest


SPACE_DIR = Path(__file__).resolve().parents[1] / "space"
if str(SPACE_DIR) not in sys.path:  # the Space's own modules next to app.py, found as `python space/app.py` finds them
    sys.path.append(str(SPACE_DIR))


def _raises(app, call, *fragments: str) -> str:
    """Runs `call`, which must raise the Space's `InputError` (a `gr.Error`) whose message holds every fragment."""
    with pytest.raises(app.InputError) as excinfo:
        call()
    assert type(excinfo.value) is app.InputError
    message = excinfo.value.message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def _scene(ctx) -> Path:
    return ctx.copy(SPACE_DIR / "examples" / "scene.mp4", "scene.mp4")


def _transcript_file(ctx, name: str, text: str) -> Path:
    path = ctx.tmp / name
    path.write_text(text, encoding="utf-8")
    ctx.watch(path)
    return path


def case_space_transcript_negative_zero_length_cue(ctx):
    """The cue `-00:00:01,000 --> 00:00:01,000` (negative and empty) refuses the transcript, naming cue and line."""
    app, scene = ctx.media["space_app"], _scene(ctx)
    srt = _transcript_file(
        ctx, "negative.srt", "1\n00:00:00,000 --> 00:00:01,000\nRoss: Hi\n\n2\n-00:00:01,000 --> 00:00:01,000\nOops\n"
    )
    transcript = app.load_transcript_file(str(srt))
    _raises(
        app,
        lambda: app.predict_scene(str(scene), transcript),
        "Transcript cue 2 (line 6: '-00:00:01,000 --> 00:00:01,000')",
        "is negative",
    )


def case_space_transcript_unreadable_cues(ctx):
    """End before start, end == start, a malformed time and a line outside any cue: each refused, never dropped."""
    app, scene = ctx.media["space_app"], _scene(ctx)
    cases = {
        "1\n00:00:03,000 --> 00:00:02,000\nHi\n": ("cue 1 (line 2: '00:00:03,000 --> 00:00:02,000')", "before it"),
        "1\n00:00:02,000 --> 00:00:02,000\nHi\n": ("cue 1 (line 2: '00:00:02,000 --> 00:00:02,000')", "ends when it"),
        "1\n00:00:00,000 --> 00:00:01,000\nA\n\n2\n00:00:0x,000 --> 00:00:02,000\nB\n": (
            "cue 2 (line 6: '00:00:0x,000 --> 00:00:02,000')",
            "'00:00:0x,000' is not a timestamp",
        ),
        "1\n00:00:00,000 --> 00:00:01,000\nA\n\nstray text\n": ("Transcript line 5 ('stray text') belongs to no cue",),
    }
    for number, (text, fragments) in enumerate(cases.items()):
        transcript = app.load_transcript_file(str(_transcript_file(ctx, f"bad{number}.srt", text)))
        _raises(app, lambda transcript=transcript: app.predict_scene(str(scene), transcript), *fragments)


def case_space_transcript_cues_kept_with_warnings(ctx):
    """A cue without text, overlapping cues and a cue past the video's end: one output row per cue, each warned."""
    app, scene = ctx.media["space_app"], _scene(ctx)
    text = (
        "1\n00:00:00,000 --> 00:00:02,000\nRoss: Hi\n\n2\n00:00:01,500 --> 00:00:03,000\n\n"
        "3\n00:00:09,000 --> 00:00:14,000\nRachel: Bye\n"
    )
    transcript = app.load_transcript_file(str(_transcript_file(ctx, "kept.srt", text)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table, _, info = app.predict_scene(str(scene), transcript)
    assert len(table) == 3 and table["#"].tolist() == [1, 2, 3]
    assert info["warnings"] == [
        "Cue 2 (line 6) has no text: its emotion is predicted from its audio and video only.",
        "Cue 2 (line 6) overlaps cue 1 (1.5-2 s): that span's audio and frames count for both utterances.",
        "Transcript cue 3 (line 9) ends at 14 s, after the video's end: cut at 10.22 s.",
    ]
    assert any("Cue 2 (line 6) has no text" in str(warning.message) for warning in caught)  # shown as a toast


def case_space_pasted_row_wrong_column_count(ctx):
    """A pasted or imported row with 5 columns, or a single one, is refused with its line; the table is not built."""
    app = ctx.media["space_app"]
    _raises(
        app,
        lambda: app.load_pasted_rows("Ross\tHi\nRachel\tBye\trachel.wav\trachel.mp4\textra\n"),
        "Pasted rows, line 2 has 5 columns (Rachel | Bye | rachel.wav | rachel.mp4 | extra)",
        "expected 2 to 4",
    )
    _raises(app, lambda: app.load_pasted_rows("Ross\tHi\nJust a sentence.\n"), "line 2 has 1 column")
    tsv = _transcript_file(ctx, "rows.tsv", "speaker\tutterance\nRoss\tHi\textra\n")
    _raises(app, lambda: app.load_table_file(str(tsv)), "rows.tsv, line 2 has 3 columns", "as named in the header")


def case_space_pickle_only_checkpoint(ctx):
    """A checkpoint folder holding only pytorch_model.bin is refused before anything is unpickled."""
    import torch

    app = ctx.media["space_app"]
    folder = ctx.tmp / "pickle-checkpoint"
    shutil.copytree(app.MODEL_ID, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    torch.save({"unused": torch.zeros(1)}, folder / "pytorch_model.bin")
    ctx.watch(folder)
    with pytest.raises(RuntimeError) as excinfo:
        app.load_checkpoint(str(folder))
    assert type(excinfo.value) is RuntimeError
    message = str(excinfo.value)
    assert f"The checkpoint folder {str(folder)!r} holds only pickle weights (pytorch_model.bin)" in message
    assert "loads safetensors weights only" in message and "M2FNET_MODEL" in message
