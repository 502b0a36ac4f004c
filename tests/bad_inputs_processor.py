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
"""Bad inputs for the processor: typed media errors, the skip policy, errors that name the file at fault, cut times,
speakers, unknown utterance keys, label vs emotion, processor options and a config newer than its code.

Collected by `tests/test_bad_inputs.py` (`case_*` functions taking a `tests.bad_input_harness.Context`).
"""

import json
import os
import struct
import wave
import zlib

import numpy as np
import pytest

from modeling_m2fnet import (
    M2FNetProcessor,
    MediaDecodingError,
    MediaFileNotFoundError,
    NoAudioStreamError,
    register_auto_classes,
)


def _write_png(path):
    """A real 2 x 2 red PNG, written with the standard library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)  # 2 x 2, 8-bit RGB
    pixels = zlib.compress(b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2)))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def _raises_exactly(error_class, run, *args, **kwargs):
    with pytest.raises(error_class) as info:
        run(*args, **kwargs)
    assert type(info.value) is error_class, f"{type(info.value).__name__} raised, not {error_class.__name__}"
    return info.value


def case_missing_audio_in_a_folder_named_empty_room(ctx):
    """A missing file raises under "raise", whatever its folder is called, and under "skip" too (a wrong path)."""
    folder = ctx.tmp / "recordings" / "empty_room"
    folder.mkdir(parents=True)
    missing = folder / "utt1.wav"
    conversation = [{"text": "a"}, {"text": "b", "audio": str(missing)}]
    for policy in ("raise", "skip"):
        error = _raises_exactly(MediaFileNotFoundError, ctx.run, conversation, on_media_error=policy)
        assert str(error).startswith(f"conversation 0, utterance 1: audio '{missing}'"), str(error)
        assert (error.conversation, error.utterance, error.modality, error.source) == (0, 1, "audio", str(missing))
    assert not missing.exists()


def case_truncated_wav_in_a_folder_named_empty_room(ctx):
    folder = ctx.tmp / "empty_room"
    folder.mkdir()
    wav = folder / "cut.wav"
    wav.write_bytes(ctx.media["speech_wav"].read_bytes()[:30])  # cut inside its header
    ctx.watch(wav)
    error = _raises_exactly(MediaDecodingError, ctx.run, [{"text": "a", "audio": str(wav)}])
    assert str(error).startswith(f"conversation 0, utterance 0: audio '{wav}' cannot be read")
    assert type(error.__cause__) is MediaDecodingError and str(wav) in str(error.__cause__)  # raised from the original


def case_empty_wav_is_missing_audio(ctx):
    """A wav with a header and no samples: the documented fallback (audio missing, with a warning)."""
    wav = ctx.tmp / "no_samples.wav"
    with wave.open(str(wav), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
    ctx.watch(wav)
    batch = ctx.run([{"text": "a"}, {"text": "b", "audio": str(wav)}])
    assert batch["modality_mask"][0, :, 1].tolist() == [0, 0]
    assert "conversation 0, utterance 1: audio" in ctx.caplog.text and "the audio is empty" in ctx.caplog.text


def case_image_renamed_wav_given_as_audio(ctx):
    fake = _write_png(ctx.tmp / "photo.wav")
    ctx.watch(fake)
    conversation = [{"text": "a", "audio": str(fake)}]
    error = _raises_exactly(NoAudioStreamError, ctx.run, conversation)
    assert str(error).startswith(f"conversation 0, utterance 0: audio '{fake}' cannot be read") and "no audio" in str(
        error
    )
    assert "treated as missing" not in str(error) and "will be" not in str(error)
    batch = ctx.run(conversation, on_media_error="skip")
    assert batch["modality_mask"][0, 0].tolist() == [1, 0, 0]
    assert f"conversation 0, utterance 0: audio '{fake}' cannot be read" in ctx.caplog.text


def case_silent_video_given_as_audio(ctx):
    silent = ctx.copy(ctx.media["noface_video_mp4"], "silent.mp4")
    conversation = [{"text": "a", "audio": str(silent)}]
    error = _raises_exactly(NoAudioStreamError, ctx.run, conversation)
    assert (error.conversation, error.utterance, error.modality) == (0, 0, "audio")
    assert ctx.run(conversation, on_media_error="skip")["modality_mask"][0, 0].tolist() == [1, 0, 0]
    assert "marked missing: audio" in ctx.caplog.text


def case_video_path_is_a_directory(ctx):
    folder = ctx.tmp / "clip.mp4"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a video")
    ctx.watch(folder)
    error = _raises_exactly(MediaDecodingError, ctx.run, [{"text": "a", "video": str(folder)}])
    assert str(error).startswith(f"conversation 0, utterance 0: video '{folder}'") and "is a directory" in str(error)
    assert "audio" not in str(error) and error.modality == "video"


def case_video_path_is_a_symlink_loop(ctx):
    loop = ctx.tmp / "loop.mp4"
    os.symlink(loop.name, loop)  # points at itself
    error = _raises_exactly(MediaDecodingError, ctx.run, [{"text": "a", "video": str(loop)}])
    assert str(error).startswith(f"conversation 0, utterance 0: video '{loop}'") and "symbolic link loop" in str(error)
    assert "audio" not in str(error)


def case_truncated_mp4_is_reported_as_the_video(ctx):
    video = ctx.copy(ctx.media["corrupt_mp4"], "truncated.mp4")
    conversation = [{"text": "a"}, {"text": "b", "video": str(video)}]
    error = _raises_exactly(MediaDecodingError, ctx.run, conversation)
    assert str(error).startswith(f"conversation 0, utterance 1: video '{video}' cannot be read:"), str(error)
    assert "audio" not in str(error)
    # Without the visual modality only its sound track is read: still the video file at fault, named as such.
    error = _raises_exactly(MediaDecodingError, ctx.run, conversation, modalities=["text", "audio"])
    assert str(error).startswith(f"conversation 0, utterance 1: video '{video}' (its audio track) cannot be read")


def case_bad_cut_times_name_the_utterance(ctx):
    video = ctx.copy(ctx.media["noface_video_mp4"], "clip.mp4")
    bad = [
        ({"start_time": -1.0}, "`start_time` must be a finite number of seconds >= 0, got -1.0"),
        ({"start_time": 0.8, "end_time": 0.2}, "`end_time` must be after `start_time`"),
        ({"start_time": "0:01"}, "`start_time` must be a number of seconds, got '0:01' (str)"),
        ({"end_time": float("nan")}, "`end_time` must be a finite number of seconds >= 0, got nan"),
        ({"audio_start_time": 1.0, "audio_end_time": 1.0}, "`audio_end_time` must be after `audio_start_time`"),
        ({"start_time": True}, "`start_time` must be a number of seconds, got True (bool)"),
    ]
    for times, message in bad:
        conversation = [{"text": "a"}, {"text": "b", "video": str(video), **times}]
        error = _raises_exactly(ValueError, ctx.run, conversation)
        assert str(error).startswith(f"conversation 0, utterance 1: {message}"), str(error)


def case_speaker_zero_is_kept(ctx):
    conversation = [{"speaker": 0, "text": "hi"}, {"speaker": 1, "text": "a"}, {"speaker": 0, "text": "b"}]
    batch = ctx.run(conversation, context_window=0)
    first = [int(i) for i, m in zip(batch["input_ids"][0, 0], batch["attention_mask"][0, 0]) if m]
    assert ctx.processor.tokenizer.decode(first) == "[CLS] 0 : hi [SEP]"
    assert batch["speaker_ids"].tolist() == [[0, 1, 0]]


def case_misspelled_utterance_key(ctx):
    video = ctx.copy(ctx.media["noface_video_mp4"], "clip.mp4")
    conversation = [{"text": "a", "vidoe": str(video), "sentiment": "neutral"}, {"text": "b", "vidoe": str(video)}]
    batch = ctx.run(conversation)
    assert batch["modality_mask"][0, :, 2].tolist() == [0, 0]  # the documented fallback: the key is ignored
    warnings = [record.getMessage() for record in ctx.caplog.records if "'vidoe'" in record.getMessage()]
    assert (
        len(warnings) == 1 and "did you mean 'video'" in warnings[0] and "conversation 0, utterance 0" in warnings[0]
    )
    assert "sentiment" not in ctx.caplog.text  # a field of the project's dataset rows, not a typo


def case_label_and_emotion_disagree(ctx):
    with pytest.raises(ValueError, match="conversation 0, utterance 1 has 'label' 'joy' and 'emotion' 'anger'"):
        ctx.run([{"text": "a"}, {"text": "b", "label": "joy", "emotion": "anger"}])
    agreeing = ctx.run([{"text": "a", "label": "joy", "emotion": 4}])  # the same class, by name and by id
    assert agreeing["labels"].tolist() == [[4]]


def case_nan_audio_names_the_utterance(ctx):
    samples = np.zeros(16000, np.float32)
    samples[100] = np.nan
    conversation = [{"text": "a", "audio": {"array": np.zeros(16000, np.float32), "sampling_rate": 16000}}]
    conversation.append({"text": "b", "audio": {"array": samples, "sampling_rate": 16000}})
    error = _raises_exactly(ValueError, ctx.run, conversation)
    assert str(error).startswith("conversation 0, utterance 1: audio (an audio array):") and "NaN" in str(error)


def case_processor_option_typo(ctx):
    with pytest.raises(TypeError, match=r"unexpected keyword argument `num_frame` \(did you mean \['num_frames'"):
        ctx.processor(conversations=[[{"text": "a"}]], num_frame=4)


def case_processor_config_newer_than_its_code(ctx):
    register_auto_classes()
    folder = ctx.tmp / "processor"
    ctx.processor.save_pretrained(folder)
    config_file = folder / "processor_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "processor_format_version": config["processor_format_version"] + 1}))
    ctx.watch(folder)
    with pytest.raises(ValueError, match="older than its config. Download the whole checkpoint again"):
        M2FNetProcessor.from_pretrained(folder)
