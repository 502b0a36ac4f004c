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
"""Messy real-world inputs across processor, builders, collator, model loading, training CLI, Hub push and Space.

Each case feeds one bad input and asserts the documented behaviour: a clear error naming the input (and the fix), or
the documented fallback. Every case also checks that the files it was given, and any output already on disk, are
byte-for-byte unchanged afterwards.
"""

import importlib
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from m2fnet_training.collators import M2FNetEmbeddingCollator
from m2fnet_training.tiny_model import tiny_config, tiny_processor, train_tiny_tokenizer
from modeling_m2fnet import M2FNetConfig, M2FNetForEmotionRecognition, MediaDecodingError
from tests.bad_input_harness import MELD_HEADER, REPO_ROOT, Context, _build_meld, _digest, _meld_dir, _meld_row


# ----------------------------------------------------------------------------------------------------------------------
# Processor: media
# ----------------------------------------------------------------------------------------------------------------------


def case_truncated_mp4(ctx):
    video = ctx.copy(ctx.media["corrupt_mp4"], "truncated.mp4")
    with pytest.raises(MediaDecodingError, match="conversation 0, utterance 0.*truncated.mp4"):
        ctx.run([{"text": "a", "video": str(video)}])


def case_truncated_wav(ctx):
    """A wav cut inside its header: unreadable, named in the error; `skip` marks audio missing instead."""
    wav = ctx.tmp / "cut.wav"
    wav.write_bytes(ctx.media["speech_wav"].read_bytes()[:30])
    ctx.watch(wav)
    with pytest.raises(MediaDecodingError, match="conversation 0, utterance 0"):
        ctx.run([{"text": "a", "audio": str(wav)}])
    assert ctx.run([{"text": "a", "audio": str(wav)}], on_media_error="skip")["modality_mask"][0, 0].tolist() == [
        1,
        0,
        0,
    ]


def case_zero_length_audio(ctx):
    batch = ctx.run([{"text": "a", "audio": {"array": np.zeros(0, np.float32), "sampling_rate": 16000}}])
    assert batch["modality_mask"][0, 0, 1] == 0
    assert "empty" in ctx.caplog.text


def case_one_hour_audio(ctx):
    """Truncated to `max_duration` (4 s in the tiny processor) before any STFT, with a warning."""
    hour = {"array": np.zeros(3600 * 8000, dtype=np.float32), "sampling_rate": 8000}
    batch = ctx.run([{"text": "a", "audio": hour}])
    assert batch["audio_attention_mask"][0, 0].sum() == 1 + 4 * 16000 // 160
    assert "truncat" in ctx.caplog.text.lower()


def case_non_16khz_wav(ctx):
    wav = ctx.copy(ctx.media["speech_wav"], "speech_22050.wav")  # espeak-ng writes 22.05 kHz
    import wave

    with wave.open(str(wav)) as handle:
        duration = handle.getnframes() / handle.getframerate()
    batch = ctx.run([{"text": "a", "audio": str(wav)}])
    assert abs(batch["audio_attention_mask"][0, 0].sum() - (1 + duration * 16000 / 160)) <= 2


def case_stereo_audio(ctx):
    t = np.arange(16000, dtype=np.float32) / 16000
    left, right = np.sin(2 * np.pi * 440 * t), np.zeros_like(t)
    stereo = {"array": np.stack([left, right]), "sampling_rate": 16000}
    mono = {"array": (left + right) / 2, "sampling_rate": 16000}
    a = ctx.run([{"text": "a", "audio": stereo}])["input_features"]
    b = ctx.run([{"text": "a", "audio": mono}])["input_features"]
    np.testing.assert_allclose(a, b, atol=1e-5)


def case_video_without_audio_track(ctx):
    video = ctx.copy(ctx.media["noface_video_mp4"], "silent.mp4")
    batch = ctx.run([{"text": "a", "video": str(video)}])
    assert batch["modality_mask"][0, 0].tolist() == [1, 0, 1]  # audio missing, frames used


def case_frames_without_faces(ctx):
    video = ctx.copy(ctx.media["noface_video_mp4"], "pattern.mp4")
    batch = ctx.run([{"text": "a", "video": str(video)}])
    assert batch["face_mask"][0, 0].sum() == 0 and batch["face_weights"][0, 0].sum() == 0
    assert batch["pixel_values"][0, 0].std() > 0  # the scene branch still sees the frames


def case_wav_given_as_video(ctx):
    wav = ctx.copy(ctx.media["speech_wav"], "speech_as_video.wav")
    with pytest.raises(MediaDecodingError, match="conversation 0, utterance 0"):
        ctx.run([{"text": "a", "video": str(wav)}])


def case_missing_media_file(ctx):
    with pytest.raises(FileNotFoundError, match="conversation 0, utterance 1.*nowhere.wav"):
        ctx.run([{"text": "a"}, {"text": "b", "audio": str(ctx.tmp / "nowhere.wav")}])


def case_nan_audio(ctx):
    samples = np.zeros(16000, np.float32)
    samples[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ctx.run([{"text": "a", "audio": {"array": samples, "sampling_rate": 16000}}])


# ----------------------------------------------------------------------------------------------------------------------
# Processor: conversations
# ----------------------------------------------------------------------------------------------------------------------


def case_empty_dialogue(ctx):
    with pytest.raises(ValueError, match="Conversation 0 is empty"):
        ctx.run([])


def case_500_utterance_dialogue(ctx):
    batch = ctx.run([{"speaker": "A", "text": f"line {i}"} for i in range(500)])
    assert batch["input_ids"].shape[1] == 256
    assert "keeping the first 256" in ctx.caplog.text


def case_unknown_label_in_conversation(ctx):
    with pytest.raises(ValueError, match="Unknown label 'hangry' at conversation 0, utterance 0"):
        ctx.run([{"text": "a", "label": "hangry"}])


# ----------------------------------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------------------------------


def case_non_utf8_csv(ctx):
    """A cp1252 CSV (not UTF-8) is read with the documented cp1252 fallback, and the encoding is reported."""
    data_dir = _meld_dir(ctx, [_meld_row("Caf\u00e9 au lait\u2019s fine.")], encoding="cp1252")
    builder, dataset = _build_meld(ctx, data_dir)
    assert dataset["train"][0]["utterances"][0]["text"] == "Caf\u00e9 au lait\u2019s fine."
    assert "cp1252" in str(builder.build_report)


def case_mojibake_csv(ctx):
    data_dir = _meld_dir(ctx, [_meld_row("It\u00e2\u20ac\u2122s me.")])
    builder, dataset = _build_meld(ctx, data_dir)
    assert dataset["train"][0]["utterances"][0]["text"] == "It\u2019s me."
    assert builder.build_report["splits"]["train"]["mojibake_fixed_rows"] == 1


def case_csv_missing_column(ctx):
    header = [name for name in MELD_HEADER if name != "Emotion"]
    data_dir = _meld_dir(ctx, [[v for n, v in zip(MELD_HEADER, _meld_row()) if n != "Emotion"]], header=header)
    with pytest.raises(ValueError, match="train_sent_emo.csv.*Emotion"):
        _build_meld(ctx, data_dir)


def case_csv_unknown_label(ctx):
    data_dir = _meld_dir(ctx, [_meld_row(emotion="boredom")])
    with pytest.raises(ValueError, match="train_sent_emo.csv.*row.*boredom"):
        _build_meld(ctx, data_dir)


def case_data_dir_wrong_layout(ctx):
    empty = ctx.tmp / "not_meld"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="train_sent_emo.csv"):
        _build_meld(ctx, empty)


# ----------------------------------------------------------------------------------------------------------------------
# Features, configs, checkpoints
# ----------------------------------------------------------------------------------------------------------------------


def case_nan_features(ctx):
    rows = [
        {
            "dialogue_id": "d0",
            "labels": [0, 1],
            "modality_mask": [[1, 0, 0]] * 2,
            "text_embeds": [[0.0, float("nan")], [1.0, 2.0]],
        }
    ]
    with pytest.raises(ValueError, match="'d0'.*NaN"):
        M2FNetEmbeddingCollator()(rows)


def case_checkpoint_from_a_different_config(ctx):
    tokenizer = ctx.processor.tokenizer
    saved = ctx.tmp / "checkpoint"
    M2FNetForEmotionRecognition(tiny_config(len(tokenizer))).save_pretrained(saved)
    ctx.watch(saved)
    other = tiny_config(len(tokenizer), num_fusion_layers=1, classifier_hidden_size=24)
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):  # after a report naming each mismatched weight
        M2FNetForEmotionRecognition.from_pretrained(saved, config=other)


def case_config_with_unknown_modality(ctx):
    with pytest.raises(ValueError, match="modalities.*'smell'"):
        M2FNetConfig(modalities=["text", "smell"])


# ----------------------------------------------------------------------------------------------------------------------
# Training CLI, Hub push, Space
# ----------------------------------------------------------------------------------------------------------------------


def case_training_cli_bad_arguments(ctx):
    existing = ctx.tmp / "previous_run"
    existing.mkdir()
    (existing / "results.json").write_text('{"keep": true}')
    ctx.watch(existing)
    for argv, message in (
        (["--checkpointing_steps", "often"], "checkpointing_steps"),
        (
            ["--features_dir", str(ctx.tmp / "no_such_features"), "--model_name_or_path", str(existing)],
            "no_such_features",
        ),
    ):
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / "examples" / "train_m2fnet.py"), *argv, "--output_dir", str(existing)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0
        assert message in result.stderr + result.stdout
        assert "Traceback" not in result.stderr


def case_hub_push_folder_without_weights(ctx):
    folder = ctx.tmp / "no_weights"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "m2fnet"}')
    ctx.watch(folder)
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "push_to_hub.py"), str(folder), "me/m2fnet"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_HOME": str(ctx.tmp / "hf")},
    )
    assert result.returncode != 0
    assert "safetensors" in (result.stderr + result.stdout).lower()
    assert "Traceback" not in result.stderr


def case_space_empty_and_oversized(ctx):
    gradio = pytest.importorskip("gradio")
    app = ctx.media["space_app"]
    with pytest.raises(gradio.Error):
        app.predict_conversation([])
    big = ctx.tmp / "huge.wav"
    with open(big, "wb") as file:
        file.truncate(app.MAX_FILE_SIZE + 1)  # sparse: no disk space used
    ctx.watch(big)
    with pytest.raises(gradio.Error, match="huge.wav is .* the limit is"):
        app.predict_conversation([["Ross", "hi", "huge.wav", ""]], [str(big)])


def _collect_cases() -> dict:
    """The `case_*` functions of this file and of every `tests/bad_inputs_*.py` module, by name."""
    modules = [sys.modules[__name__]]
    for path in sorted(Path(__file__).parent.glob("bad_inputs_*.py")):
        modules.append(importlib.import_module(f"tests.{path.stem}"))
    cases = {}
    for module in modules:
        for name, case in sorted(vars(module).items()):
            if name.startswith("case_") and callable(case):
                if name[len("case_") :] in cases:
                    raise RuntimeError(f"Two bad-input cases are named {name!r}.")
                cases[name[len("case_") :]] = case
    return cases


CASES = _collect_cases()


@pytest.fixture(scope="module")
def bad_input_processor():
    return tiny_processor(train_tiny_tokenizer(["Ross: We were on a break!", "line 1", "a b hi"]))


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, caplog, bad_input_processor, request):
    media = {}
    for fixture in ("speech_wav", "corrupt_mp4", "noface_video_mp4"):
        media[fixture] = request.getfixturevalue(fixture)
    if name.startswith("space"):
        media["space_app"] = request.getfixturevalue("space_app")
    logger = logging.getLogger("transformers")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING)
    ctx = Context(tmp_path, media, caplog, bad_input_processor)
    shared_before = _digest(media[key] for key in ("speech_wav", "corrupt_mp4", "noface_video_mp4"))
    try:
        CASES[name](ctx)
    finally:
        logger.removeHandler(caplog.handler)
    assert ctx.damaged() == [], "an input or existing output was modified"
    assert _digest(media[key] for key in ("speech_wav", "corrupt_mp4", "noface_video_mp4")) == shared_before
