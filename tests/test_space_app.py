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
"""Tests of the Gradio Space (`space/app.py`): prediction functions, input errors and the served API."""

import ast
import math
import re
import socket
from pathlib import Path

import pandas as pd
import pytest


gr = pytest.importorskip("gradio", reason="the Space needs gradio (`pip install -e .[space]`)")

REPO_ROOT = Path(__file__).resolve().parents[1]
SPACE_DIR = REPO_ROOT / "space"
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
    tree = ast.parse((SPACE_DIR / "app.py").read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not imported & {"modeling_m2fnet", "examples", "datasets_scripts", "tests"}, imported


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
    info = space_app.CheckpointInfo(
        model_id="org/m2fnet-meld", revision="v1", commit="0123abcd", modalities=("text", "audio", "visual"),
        labels=("neutral", "joy"), results={"dataset": "meld", "dataset_config": "text",
                                            "test": {"weighted_f1": 0.6671, "accuracy": 0.6785}},
        results_source="results.json",
    )  # fmt: skip
    banner = space_app.banner_markdown(info)
    assert "Random weights" not in banner and "Trained checkpoint" in banner and "meld text" in banner
    assert "`test.weighted_f1` = 0.6671" in banner and "`0123abcd`" in banner
    assert "Trained on text only" in banner and "audio and visual parts of this model are untrained" in banner

    text_model = space_app.CheckpointInfo("m", None, None, ("text",), ("neutral",), {"test_weighted_f1": 0.6}, "r")
    assert "Text-only model" in space_app.banner_markdown(text_model)


def test_read_training_results(space_app, tmp_path):
    assert space_app.read_training_results(str(tmp_path)) == (None, None)
    (tmp_path / "results.json").write_text('{"test": {"weighted_f1": 0.5}}', encoding="utf-8")
    assert space_app.read_training_results(str(tmp_path)) == ({"test": {"weighted_f1": 0.5}}, "results.json")

    class Config:
        m2fnet_training = {"dataset": "iemocap"}

    assert space_app.read_training_results(str(tmp_path / "none"), config=Config()) == (
        {"dataset": "iemocap"}, "config.m2fnet_training",
    )  # fmt: skip


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
        "text+audio+visual (no face found)", "text+audio+visual", "text+audio+visual (no face found)",
        "text+audio+visual",
    ]  # fmt: skip
    assert info["num_utterances"] == 4


def test_parse_transcript_srt_and_webvtt(space_app):
    srt = "1\n00:00:01,500 --> 00:00:03,000\nRoss: We were\non a break!\n\n2\n00:00:03,000 --> 00:00:04,250\nOkay.\n"
    assert [(c["speaker"], c["text"], c["start_time"], c["end_time"]) for c in space_app.parse_transcript(srt)] == [
        ("Ross", "We were on a break!", 1.5, 3.0), ("", "Okay.", 3.0, 4.25),
    ]  # fmt: skip
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.500 align:start\n<v Rachel>Oh my <i>God</i>.\n\n1:02.0 --> 1:03.0\nHi\n"
    assert [(c["speaker"], c["text"], c["start_time"]) for c in space_app.parse_transcript(vtt)] == [
        ("Rachel", "Oh my God.", 1.0), ("", "Hi", 62.0),
    ]  # fmt: skip


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
        (lambda: space_app.predict_scene(scene, "00:00:02,000 --> 00:00:01,000\nHi"), "line 1: the cue ends"),
        (lambda: space_app.predict_scene(scene, "00:00:xx --> 00:00:01\nHi"), None),  # not a timing line: no cue
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
        server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True,
        max_file_size=space_app.MAX_FILE_SIZE, allowed_paths=[str(EXAMPLES)],
    )  # fmt: skip
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
    finally:
        demo.close()
