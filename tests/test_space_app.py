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
"""Tests of the Gradio Space (`space/`): prediction functions, pasted and imported rows, transcripts, input errors and
the served API."""

import ast
import json
import math
import re
import socket
import sys
from pathlib import Path

import pandas as pd
import pytest


gr = pytest.importorskip("gradio", reason="the Space needs gradio (`pip install -e .[space]`)")

REPO_ROOT = Path(__file__).resolve().parents[1]
SPACE_DIR = REPO_ROOT / "space"
if str(SPACE_DIR) not in sys.path:  # the Space's own modules next to app.py, found as `python space/app.py` finds them
    sys.path.append(str(SPACE_DIR))
EXAMPLES = SPACE_DIR / "examples"
HEADERS = ["speaker", "utterance", "audio", "video"]
TEXT_ROWS = [["Ross", "We were on a break!", "", ""], ["Rachel", "Oh my God.", "", ""], ["Ross", "Okay.", "", ""]]


def sample_conversation() -> tuple[pd.DataFrame, list[str]]:
    """The shipped example conversation (5 utterances: 3 wavs, 1 mp4 with a face and audio, 1 text only)."""
    rows = [
        ["Ross", "We were on a break!", "ross.wav", ""],
        ["Rachel", "Oh my God. I can not believe you just said that.", "rachel.wav", ""],
        ["Ross", "Fine. You know what? Fine.", "ross2", ""],  # name without extension: matched when unambiguous
        ["Rachel", "Just go. Please, go.", "", "rachel.mp4"],
        ["Ross", "Okay.", "", ""],
    ]
    files = [str(EXAMPLES / name) for name in ("ross.wav", "rachel.wav", "ross2.wav", "rachel.mp4")]
    return pd.DataFrame(rows, columns=HEADERS), files


def error_message(excinfo) -> str:
    message = excinfo.value.message
    assert "Traceback" not in message and "/tmp/" not in message, message
    return message


# ---------------------------------------------------------------------------------------------------------------------
# Packaging: the Space folder is self-contained
# ---------------------------------------------------------------------------------------------------------------------


def test_app_imports_no_repository_code():
    """On the Hub the Space holds only `space/`: the model code must come through `trust_remote_code`."""
    imported = set()
    for source in sorted(SPACE_DIR.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imported |= {
            alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        imported |= {
            node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        }
    assert {"space_inputs", "space_checkpoint"} <= imported  # its own modules, shipped in the Space folder
    assert not imported & {"modeling_m2fnet", "m2fnet_training", "examples", "datasets_scripts", "tests"}, imported


def test_modality_names_copy_matches_the_model_package():
    """The Space keeps its own copy of the modality names (it runs without this repository); it must not drift."""
    import space_checkpoint

    from modeling_m2fnet.configuration_m2fnet import MODALITIES

    assert space_checkpoint.MODALITY_NAMES == tuple(MODALITIES)


def test_space_readme_front_matter_and_requirements():
    text = (SPACE_DIR / "README.md").read_text(encoding="utf-8")
    front_matter = text.split("---")[1]
    fields = dict(re.findall(r"^(\w+):\s*(.+)$", front_matter, re.MULTILINE))
    assert fields["sdk"] == "gradio" and fields["app_file"] == "app.py" and fields["license"] == "apache-2.0"
    sdk_version = fields["sdk_version"].strip("\"'")
    assert re.fullmatch(r"\d+\.\d+\.\d+", sdk_version), "pin sdk_version to an exact gradio release"
    assert sdk_version.split(".")[0] == gr.__version__.split(".")[0], (
        "the Space and the tests use different gradio majors"
    )
    assert fields["python_version"].strip("\"'") == "3.11"
    assert "m2fnet-meld" in fields["models"]
    requirements = (SPACE_DIR / "requirements.txt").read_text(encoding="utf-8")
    assert f"gradio=={sdk_version}" in requirements
    for package in ("torch", "transformers>=5,<6", "av", "soxr", "opencv-python-headless", "pandas"):
        assert package in requirements, package
    for name in ("conversation.json", "ross.wav", "rachel.wav", "ross2.wav", "rachel.mp4", "scene.mp4", "scene.srt"):
        assert (EXAMPLES / name).is_file(), name


# ---------------------------------------------------------------------------------------------------------------------
# Start-up: model loading and the status banner
# ---------------------------------------------------------------------------------------------------------------------


def test_untrained_checkpoint_banner(space_app, tiny_checkpoint):
    checkpoint = space_app.CHECKPOINT
    assert checkpoint.model_id == str(tiny_checkpoint) and not checkpoint.trained
    banner = space_app.banner_markdown(checkpoint)
    assert "Random weights — predictions are meaningless" in banner
    assert "text, audio, visual" in banner and "neutral" in banner


def test_trained_and_text_only_banners(space_app):
    import space_checkpoint

    info = space_checkpoint.CheckpointInfo(
        model_id="org/m2fnet-meld",
        revision="v1",
        commit="0123abcd",
        modalities=("text", "audio", "visual"),
        labels=("neutral", "joy"),
        results={"dataset": "meld", "dataset_config": "text", "test": {"weighted_f1": 0.6671, "accuracy": 0.6785}},
        results_source="results.json",
    )
    banner = space_app.banner_markdown(info)
    assert "Random weights" not in banner and "Trained checkpoint" in banner and "meld text" in banner
    assert "`test.weighted_f1` = 0.6671" in banner and "`0123abcd`" in banner
    assert "Trained on text only" in banner and "audio and visual parts of this model are untrained" in banner

    text_model = space_checkpoint.CheckpointInfo(
        "m", None, None, ("text",), ("neutral",), {"test_weighted_f1": 0.6}, "r"
    )
    assert "Text-only model" in space_app.banner_markdown(text_model)


def test_read_training_results(space_app, tmp_path):
    from space_checkpoint import read_training_results

    assert read_training_results(str(tmp_path)) == (None, None)
    (tmp_path / "results.json").write_text('{"test": {"weighted_f1": 0.5}}', encoding="utf-8")
    assert read_training_results(str(tmp_path)) == ({"test": {"weighted_f1": 0.5}}, "results.json")

    class Config:
        m2fnet_training = {"dataset": "iemocap"}

    assert read_training_results(str(tmp_path / "none"), config=Config()) == (
        {"dataset": "iemocap"},
        "config.m2fnet_training",
    )


def test_unloadable_checkpoint_is_a_clear_startup_error(space_app, tmp_path):
    with pytest.raises(RuntimeError, match="(?s)Could not load the M2FNet checkpoint .*Set M2FNET_MODEL"):
        space_app.load_checkpoint(str(tmp_path / "missing"))


def test_settings_parsing(space_app):
    assert space_app.parse_size("50mb") == 50 * 1024**2 and space_app.parse_size("2 GB") == 2 * 1024**3
    assert space_app.parse_size("1048576") == 1048576
    with pytest.raises(ValueError, match="Not a file size"):
        space_app.parse_size("lots")


# ---------------------------------------------------------------------------------------------------------------------
# Prediction functions
# ---------------------------------------------------------------------------------------------------------------------


def test_text_only_conversation(space_app):
    table, chart, info = space_app.predict_conversation(pd.DataFrame(TEXT_ROWS, columns=HEADERS))
    labels = list(space_app.CHECKPOINT.labels)
    assert list(table.columns) == ["#", "speaker", "utterance", "emotion", "confidence", "top 3", "modalities"]
    assert table["#"].tolist() == [1, 2, 3] and table["speaker"].tolist() == ["Ross", "Rachel", "Ross"]
    assert table["modalities"].tolist() == ["text"] * 3 and set(table["emotion"]) <= set(labels)
    assert len(chart) == 3 * len(labels) and set(chart.columns) >= {"utterance", "turn", "emotion", "probability"}
    for number, group in chart.groupby("utterance"):
        assert math.isclose(group["probability"].sum(), 1.0, abs_tol=1e-3)
        best = group.loc[group["probability"].idxmax()]
        row = table[table["#"] == number].iloc[0]
        assert math.isclose(row["confidence"], best["probability"], abs_tol=1e-3)
        assert row["top 3"].startswith(row["emotion"])
    assert info["model"] == space_app.CHECKPOINT.model_id and info["num_utterances"] == 3 and not info["trained"]
    assert "revision" in info and "commit" in info

    # the other accepted row forms give the same predictions
    as_lists, _, _ = space_app.predict_conversation([row[:2] for row in TEXT_ROWS])
    as_payload, _, _ = space_app.predict_conversation(
        {"headers": ["speaker", "text"], "data": [r[:2] for r in TEXT_ROWS]}
    )
    assert as_lists.equals(table) and as_payload.equals(table)


def test_conversation_with_sample_media(space_app):
    rows, files = sample_conversation()
    table, chart, info = space_app.predict_conversation(rows, files)
    assert table["modalities"].tolist() == ["text+audio", "text+audio", "text+audio", "text+audio+visual", "text"]
    assert info["warnings"] == [] and len(chart) == 5 * len(space_app.CHECKPOINT.labels)


def test_video_without_face_is_reported(space_app, noface_video_mp4):
    rows = [["Ross", "Look at this.", "", noface_video_mp4.name], ["Rachel", "What is it?", "", ""]]
    table, _, _ = space_app.predict_conversation(rows, [str(noface_video_mp4)])
    assert table["modalities"].tolist() == ["text+visual (no face found; no audio)", "text"]


def test_unreferenced_uploads_are_reported(space_app):
    with pytest.warns(UserWarning, match="not named in the table"):
        _, _, info = space_app.predict_conversation(TEXT_ROWS, [str(EXAMPLES / "ross.wav")])
    assert info["warnings"] == ["Uploaded but not named in the table (ignored): ross.wav."]


def test_scene_video_with_transcript(space_app):
    transcript = (EXAMPLES / "scene.srt").read_text(encoding="utf-8")
    table, _, info = space_app.predict_scene(str(EXAMPLES / "scene.mp4"), transcript)
    assert table["speaker"].tolist() == ["Ross", "Rachel", "Ross", "Rachel"]
    assert table["utterance"].iloc[3] == "Just go. Please, go."
    # Ross's lines show the shuttle model, Rachel's the astronaut portrait (space/examples/README.md)
    assert table["modalities"].tolist() == [
        "text+audio+visual (no face found)",
        "text+audio+visual",
        "text+audio+visual (no face found)",
        "text+audio+visual",
    ]
    assert info["num_utterances"] == 4


def test_parse_transcript_srt_and_webvtt(space_app):
    srt = "1\n00:00:01,500 --> 00:00:03,000\nRoss: We were\non a break!\n\n2\n00:00:03,000 --> 00:00:04,250\nOkay.\n"
    assert [(c["speaker"], c["text"], c["start_time"], c["end_time"]) for c in space_app.parse_transcript(srt)] == [
        ("Ross", "We were on a break!", 1.5, 3.0),
        ("", "Okay.", 3.0, 4.25),
    ]
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.500 align:start\n<v Rachel>Oh my <i>God</i>.\n\n1:02.0 --> 1:03.0\nHi\n"
    assert [(c["speaker"], c["text"], c["start_time"]) for c in space_app.parse_transcript(vtt)] == [
        ("Rachel", "Oh my God.", 1.0),
        ("", "Hi", 62.0),
    ]


# ---------------------------------------------------------------------------------------------------------------------
# Pasted and imported rows
# ---------------------------------------------------------------------------------------------------------------------


def test_pasted_rows_fill_the_table_and_predict(space_app):
    # cells copied from a spreadsheet: tab-separated, a trailing empty cell, a blank line
    table, status = space_app.load_pasted_rows("Ross\tWe were on a break!\nRachel\tOh my God.\t\t\n\nRoss\tOkay.\n")
    assert table.values.tolist() == TEXT_ROWS and list(table.columns) == HEADERS
    assert status.startswith("✔ Loaded 3 row(s) from the pasted text")
    predicted, _, info = space_app.predict_conversation(table)
    assert predicted["utterance"].tolist() == [row[1] for row in TEXT_ROWS] and info["num_utterances"] == 3
    assert predicted.equals(space_app.predict_conversation(TEXT_ROWS)[0])

    # CSV with a header in another order, quoted commas, the processor's `text` name
    table, _ = space_app.load_pasted_rows('text,speaker\n"Oh, my God.",Rachel\nOkay.,Ross\n')
    assert table.values.tolist() == [["Rachel", "Oh, my God.", "", ""], ["Ross", "Okay.", "", ""]]
    with pytest.warns(UserWarning, match="ignored the column\\(s\\) 'emotion'"):
        table, status = space_app.load_pasted_rows("speaker\tutterance\temotion\nRoss\tHi\tjoy\n")
    assert table.values.tolist() == [["Ross", "Hi", "", ""]] and "ignored the column(s) 'emotion'" in status

    # media file names in the pasted rows, the files uploaded as usual
    rows, files = sample_conversation()
    pasted = "\n".join("\t".join(row) for row in rows.values.tolist())
    table, _ = space_app.load_pasted_rows(pasted)
    predicted, _, _ = space_app.predict_conversation(table, files)
    assert predicted["modalities"].tolist() == ["text+audio"] * 3 + ["text+audio+visual", "text"]


def test_imported_table_files(space_app, tmp_path):
    rows, files = sample_conversation()
    conversation = json.loads((EXAMPLES / "conversation.json").read_text(encoding="utf-8"))
    with pytest.warns(UserWarning, match="conversation.json: ignored the key\\(s\\) label"):
        table, status = space_app.load_table_file(str(EXAMPLES / "conversation.json"))
    expected = [[u["speaker"], u["text"], u.get("audio", ""), u.get("video", "")] for u in conversation]
    assert table.values.tolist() == expected and "Loaded 5 row(s) from conversation.json" in status
    assert len(space_app.predict_conversation(table, files)[0]) == 5

    (tmp_path / "rows.tsv").write_text("speaker\tutterance\nRoss\tHi, you.\nRachel\tBye\n", encoding="utf-8")
    (tmp_path / "rows.csv").write_text('Ross,"Hi, you."\nRachel,Bye\n', encoding="utf-8")
    (tmp_path / "rows.json").write_text(
        '{"headers": ["speaker", "utterance"], "data": [["Ross", "Hi, you."], ["Rachel", "Bye"]]}', encoding="utf-8"
    )
    for name in ("rows.tsv", "rows.csv", "rows.json"):
        table, _ = space_app.load_table_file(str(tmp_path / name))
        assert table.values.tolist() == [["Ross", "Hi, you.", "", ""], ["Rachel", "Bye", "", ""]], name


def test_pasted_and_imported_row_errors(space_app, tmp_path, monkeypatch):
    (tmp_path / "rows.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "latin1.csv").write_bytes("Zoë,Hi\n".encode("latin-1"))
    (tmp_path / "object.json").write_text('{"speaker": "Ross"}', encoding="utf-8")
    (tmp_path / "strings.json").write_text('["Ross: hi"]', encoding="utf-8")
    (tmp_path / "both.json").write_text('[{"speaker": "Ross", "text": "a", "utterance": "b"}]', encoding="utf-8")
    cases = [
        (lambda: space_app.load_pasted_rows("Ross\tHi\ta.wav\tb.mp4\tc.mp4\n"), "line 1 has 5 columns"),
        (lambda: space_app.load_pasted_rows("Ross\tHi\nOkay.\n"), "Pasted rows, line 2 has 1 column (Okay.)"),
        (
            lambda: space_app.load_pasted_rows("speaker,utterance\nRoss,Hi,extra\n"),
            "at most 2, as named in the header",
        ),
        (lambda: space_app.load_pasted_rows("\n \n"), "the pasted text holds no rows"),
        (
            lambda: space_app.load_pasted_rows("speaker,text,utterance\nA,b,c\n"),
            "line 1: the header names a column twice",
        ),
        (lambda: space_app.load_table_file(str(tmp_path / "both.json")), "both.json, utterance 1: both `text` and"),
        (lambda: space_app.load_table_file(str(tmp_path / "rows.xlsx")), "unsupported file type"),
        (lambda: space_app.load_table_file(str(tmp_path / "latin1.csv")), "latin1.csv is not UTF-8 text"),
        (lambda: space_app.load_table_file(str(tmp_path / "object.json")), "expected a list of utterances"),
        (lambda: space_app.load_table_file(str(tmp_path / "strings.json")), "strings.json, utterance 1: expected an"),
    ]
    for call, expected in cases:
        with pytest.raises(gr.Error) as excinfo:
            call()
        assert expected in error_message(excinfo)
    monkeypatch.setattr(space_app, "MAX_UTTERANCES", 2)
    with pytest.raises(gr.Error) as excinfo:
        space_app.load_pasted_rows("A\ta\nB\tb\nC\tc\n")
    assert "Pasted rows has 3 rows; this Space accepts at most 2" in error_message(excinfo)


# ---------------------------------------------------------------------------------------------------------------------
# Transcript cues: refused with their number and line, or kept with a warning; never dropped
# ---------------------------------------------------------------------------------------------------------------------


def test_unreadable_transcript_cues_are_refused(space_app):
    scene = str(EXAMPLES / "scene.mp4")
    cases = {
        "1\n-00:00:01,000 --> 00:00:01,000\nRoss: Hi\n": "cue 1 (line 2: '-00:00:01,000 --> 00:00:01,000'): the time "
        "'-00:00:01,000' is negative",
        "1\n00:00:00,000 --> 00:00:01,000\nA\n\n2\n00:00:03,000 --> 00:00:02,000\nB\n": "cue 2 (line 6: "
        "'00:00:03,000 --> 00:00:02,000'): the cue ends (2 s) before it starts (3 s)",
        "00:00:01,000 --> 00:00:01,000\nHi\n": "cue 1 (line 1: '00:00:01,000 --> 00:00:01,000'): the cue ends when "
        "it starts (1 s)",
        "1\n00:00:01;000 --> 00:00:02,000\nHi\n": "cue 1 (line 2: '00:00:01;000 --> 00:00:02,000'): '00:00:01;000' "
        "is not a timestamp",
        "1\n00:00:01,000 --> 00:00:75,000\nHi\n": "'00:00:75,000' has minutes or seconds of 60 or more",
        "1\n00:00:01,000 -->\nHi\n": "cue 1 (line 2: '00:00:01,000 -->'): not a timing line",
        "1\n00:00:00,000 --> 00:00:01,000\nA\n\nB: stray line\n\n2\n00:00:01,000 --> 00:00:02,000\nC\n": "Transcript "
        "line 5 ('B: stray line') belongs to no cue",
    }
    for transcript, expected in cases.items():
        with pytest.raises(gr.Error) as excinfo:
            space_app.predict_scene(scene, transcript)
        assert expected in error_message(excinfo), transcript


def test_kept_transcript_cues_are_warned_about(space_app):
    transcript = (
        "WEBVTT\n\nNOTE a comment block, not a cue\n\n"
        "00:00.000 --> 00:01.600\n<v Ross>We were on a break!\n\n"
        "00:01.000 --> 00:02.000\n\n"  # overlaps the first cue, and has no text
        "00:00.500 --> 00:00.900\nRachel: Out of order.\n\n"
        "intro\n00:09.000 --> 00:12.000\nRachel: Just go.\n"  # an identifier; ends after the video (10.224 s)
    )
    with pytest.warns(UserWarning, match="no text"):
        table, _, info = space_app.predict_scene(str(EXAMPLES / "scene.mp4"), transcript)
    assert table["utterance"].tolist() == ["We were on a break!", "", "Out of order.", "Just go."]
    assert table["speaker"].tolist() == ["Ross", "", "Rachel", "Rachel"] and info["num_utterances"] == 4
    assert info["warnings"] == [
        "Cue 2 (line 8) has no text: its emotion is predicted from its audio and video only.",
        "Cue 2 (line 8) overlaps cue 1 (1-1.6 s): that span's audio and frames count for both utterances.",
        "Cue 3 (line 10) starts before cue 2: utterances keep the transcript's order.",
        "Transcript cue 4 (line 14) ends at 12 s, after the video's end: cut at 10.22 s.",
    ]
    assert space_app.prediction_status(info).count("⚠") == 4


def test_single_utterance_predict(space_app):
    labels = set(space_app.CHECKPOINT.labels)
    text_only = space_app.predict("We were on a break!")
    with_media = space_app.predict("Just go.", str(EXAMPLES / "ross.wav"), str(EXAMPLES / "rachel.mp4"))
    for probabilities in (text_only, with_media):
        assert set(probabilities) == labels and math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-5)
    assert text_only != with_media


# ---------------------------------------------------------------------------------------------------------------------
# Invalid input: gr.Error with a readable message
# ---------------------------------------------------------------------------------------------------------------------


def test_conversation_input_errors(space_app, tmp_path, corrupt_mp4, noface_video_mp4, monkeypatch):
    predict = space_app.predict_conversation
    cases = [
        (lambda: predict(pd.DataFrame([["", "", "", ""]], columns=HEADERS)), "The conversation is empty"),
        (lambda: predict(None), "The conversation is empty"),
        (lambda: predict([["Ross", "", "", ""]]), "Row 1 has neither an utterance text nor a file"),
        (lambda: predict([["Ross", "Hi", "ross.wav", ""]]), "Row 1: the audio cell says 'ross.wav' but no uploaded"),
        (lambda: predict([["Ross", "Hi", "", ""]], [str(EXAMPLES / "scene.srt")]), "unsupported file type"),
        (lambda: predict([["A", "Hi", corrupt_mp4.name, ""]], [str(corrupt_mp4)]), "truncated.mp4"),
        (lambda: predict([["A", "Hi", noface_video_mp4.name, ""]], [str(noface_video_mp4)]), "has no audio track"),
        (lambda: predict([["A", "Hi", "", "ross.wav"]], [str(EXAMPLES / "ross.wav")]), "has no video track"),
        (lambda: predict([["Ross", [1], "", ""]]), None),  # odd cell types are read as text, not an error
    ]
    for call, expected in cases:
        if expected is None:
            call()
            continue
        with pytest.raises(gr.Error) as excinfo:
            call()
        assert expected in error_message(excinfo)

    monkeypatch.setattr(space_app, "MAX_UTTERANCES", 2)
    with pytest.raises(gr.Error) as excinfo:
        predict(TEXT_ROWS)
    assert "3 utterances; this Space accepts at most 2" in error_message(excinfo)
    monkeypatch.setattr(space_app, "MAX_FILE_SIZE", 1000)
    with pytest.raises(gr.Error) as excinfo:
        predict([["Ross", "Hi", "ross.wav", ""]], [str(EXAMPLES / "ross.wav")])
    assert "ross.wav is 58.6 KB; the limit is 1000 bytes per file" in error_message(excinfo)
    monkeypatch.setattr(space_app, "MAX_FILE_SIZE", 10**8)
    monkeypatch.setattr(space_app, "MAX_CLIP_SECONDS", 1.0)
    with pytest.raises(gr.Error) as excinfo:
        predict([["Ross", "Hi", "ross.wav", ""]], [str(EXAMPLES / "ross.wav")])
    assert "ross.wav lasts 1.4 s; the limit per utterance is 1 s" in error_message(excinfo)


def test_scene_and_single_input_errors(space_app, tmp_path):
    scene, transcript = str(EXAMPLES / "scene.mp4"), "1\n00:00:00,000 --> 00:00:01,000\nRoss: Hi\n"
    cases = [
        (lambda: space_app.predict_scene(None, transcript), "Upload the scene video"),
        (lambda: space_app.predict_scene(str(EXAMPLES / "ross.wav"), transcript), "unsupported file type"),
        (lambda: space_app.predict_scene(scene, ""), "The transcript has no cues"),
        (lambda: space_app.predict_scene(scene, "00:00:02,000 --> 00:00:01,000\nHi"), "cue 1 (line 1: '00:00:02"),
        (lambda: space_app.predict_scene(scene, "00:00:xx --> 00:00:01\nHi"), "'00:00:xx' is not a timestamp"),
        (lambda: space_app.predict_scene(scene, "00:01:00,000 --> 00:01:02,000\nHi"), "after the video's end"),
        (lambda: space_app.predict(""), "Type the utterance or upload its audio or video"),
        (lambda: space_app.predict("Hi", None, str(EXAMPLES / "ross.wav")), "unsupported file type for video"),
    ]
    for call, expected in cases:
        with pytest.raises(gr.Error) as excinfo:
            call()
        if expected is not None:
            assert expected in error_message(excinfo)
    (tmp_path / "cues.srt").write_text(transcript, encoding="utf-8")
    assert space_app.load_transcript_file(str(tmp_path / "cues.srt")) == transcript


# ---------------------------------------------------------------------------------------------------------------------
# The served app, called through its API
# ---------------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Gradio 6.31's queue calls pandas options that pandas 3 deprecates; its client leaves an event loop to the GC.
@pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*", "ignore:The copy keyword is deprecated")
@pytest.mark.filterwarnings("ignore:unclosed event loop:ResourceWarning")
def test_served_app_with_gradio_client(space_app):
    gradio_client = pytest.importorskip("gradio_client", reason="pip install gradio_client")
    demo = space_app.demo
    _, url, _ = demo.launch(
        server_name="127.0.0.1",
        server_port=_free_port(),
        prevent_thread_lock=True,
        quiet=True,
        max_file_size=space_app.MAX_FILE_SIZE,
        allowed_paths=[str(EXAMPLES)],
    )
    try:
        client = gradio_client.Client(url, verbose=False)
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {"/predict_conversation", "/predict_scene", "/predict"} <= set(endpoints)

        table, chart, info = client.predict(
            {"headers": HEADERS, "data": TEXT_ROWS}, [], api_name="/predict_conversation"
        )
        assert [row[1] for row in table["data"]] == ["Ross", "Rachel", "Ross"] and table["headers"][3] == "emotion"
        assert info["model"] == space_app.CHECKPOINT.model_id and info["num_utterances"] == 3

        rows, files = sample_conversation()
        with pytest.raises(gradio_client.exceptions.AppError, match="no uploaded file has that name"):
            client.predict({"headers": HEADERS, "data": rows.values.tolist()}, [], api_name="/predict_conversation")
        table, _, _ = client.predict(  # the server keeps serving after an error
            {"headers": HEADERS, "data": rows.values.tolist()},
            [gradio_client.handle_file(path) for path in files],
            api_name="/predict_conversation",
        )
        assert [row[6] for row in table["data"]][3] == "text+audio+visual" and len(table["data"]) == 5

        label = client.predict("We were on a break!", None, None, api_name="/predict")
        assert label["label"] in space_app.CHECKPOINT.labels

        # pasted rows and imported files, through the same loaders as the page's "Load into table" / "Import file"
        pasted = "Ross\tWe were on a break!\nRachel\tOh my God.\nRoss\tOkay.\n"
        table, status = client.predict(pasted, api_name="/load_rows")
        assert table["data"] == TEXT_ROWS and status.startswith("✔ Loaded 3 row(s)")
        predicted, _, _ = client.predict(table, [], api_name="/predict_conversation")
        assert [row[2] for row in predicted["data"]] == [row[1] for row in TEXT_ROWS]
        with pytest.raises(gradio_client.exceptions.AppError, match="line 2 has 5 columns"):
            client.predict("A\ta\nB\tb\tc\td\te\n", api_name="/load_rows")
        table, _ = client.predict(
            gradio_client.handle_file(str(EXAMPLES / "conversation.json")), api_name="/import_rows"
        )
        predicted, _, _ = client.predict(
            table, [gradio_client.handle_file(path) for path in files], api_name="/predict_conversation"
        )
        assert len(predicted["data"]) == 5 and predicted["data"][3][6] == "text+audio+visual"
    finally:
        demo.close()
