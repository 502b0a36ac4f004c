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
"""M2FNetProcessor on real media (espeak-ng speech, ffmpeg mp4s) and a tokenizer trained in-process."""

import logging

import numpy as np
import pytest
import torch

from m2fnet_training.tiny_model import (
    build_tiny_m2fnet,
    load_sample_conversation,
    tiny_processor,
    train_tiny_tokenizer,
)
from modeling_m2fnet import M2FNetProcessor, MediaDecodingError, register_auto_classes
from tests.paths import SAMPLE_CONVERSATION


TEXTS = ["Ross: We were on a break!", "Rachel: Oh my God.", "Fine. You know what? Fine.", "Just go.", "Okay.",
         "hello there"]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tiny_tokenizer(TEXTS * 3)


@pytest.fixture(scope="module")
def processor(tokenizer):
    return tiny_processor(tokenizer)


@pytest.fixture
def caplog_transformers(caplog):
    """transformers loggers do not propagate by default: capture them through pytest's handler."""
    logger = logging.getLogger("transformers")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING)
    yield caplog
    logger.removeHandler(caplog.handler)


def _decode(tokenizer, ids, mask):
    return tokenizer.decode([int(i) for i, m in zip(ids, mask) if m])


def test_text_is_encoded_with_previous_and_next_utterance(processor, tokenizer):
    conversation = [
        {"speaker": "Ross", "text": "We were on a break!"},
        {"speaker": "Rachel", "text": "Oh my God."},
        {"speaker": "Ross", "text": "Fine."},
    ]
    batch = processor(conversations=[conversation], return_tensors="np")
    ids, mask = batch["input_ids"][0], batch["attention_mask"][0]
    assert _decode(tokenizer, ids[0], mask[0]) == "[CLS] [SEP] ross : we were on a break ! [SEP] rachel : oh my god . [SEP]"
    assert _decode(tokenizer, ids[1], mask[1]) == (
        "[CLS] ross : we were on a break ! [SEP] rachel : oh my god . [SEP] ross : fine . [SEP]"
    )
    assert _decode(tokenizer, ids[2], mask[2]) == "[CLS] rachel : oh my god . [SEP] ross : fine . [SEP] [SEP]"


def test_context_is_trimmed_but_current_utterance_kept(tokenizer):
    processor = tiny_processor(tokenizer, max_text_length=12, include_speaker=False)
    conversation = [{"text": "we were on a break we were on a break"}, {"text": "oh my god"},
                    {"text": "fine you know what fine you know what"}]  # fmt: skip
    batch = processor(conversations=[conversation], return_tensors="np")
    ids, mask = batch["input_ids"][0, 1], batch["attention_mask"][0, 1]
    assert mask.sum() == 12
    decoded = _decode(tokenizer, ids, mask)
    # 12 tokens = CLS + SEP + 3 current + SEP + SEP, leaving 5 for context: the previous utterance gets half (2,
    # keeping its end), the next the rest (3, keeping its start).
    assert decoded == "[CLS] a break [SEP] oh my god [SEP] fine you know [SEP]"


def test_no_context_window(tokenizer):
    processor = tiny_processor(tokenizer, context_window=0, include_speaker=False)
    batch = processor(conversations=[[{"text": "oh my god"}, {"text": "fine"}]], return_tensors="np")
    assert _decode(tokenizer, batch["input_ids"][0, 1], batch["attention_mask"][0, 1]) == "[CLS] fine [SEP]"


def test_real_media_batch_shapes_and_masks(processor, speech_wav, face_video_mp4, noface_video_mp4):
    conversations = [
        [
            {"speaker": "A", "text": "We were on a break!", "audio": str(speech_wav), "label": "anger"},
            {"speaker": "B", "text": "Oh my God.", "video": str(face_video_mp4), "label": "surprise"},
            {"speaker": "A", "text": "Fine.", "video": str(noface_video_mp4)},
        ],
        [{"speaker": "C", "text": "Okay.", "label": 0}],
    ]
    batch = processor(conversations=conversations)
    assert batch["input_ids"].shape[:2] == (2, 3)
    assert batch["input_features"].shape[:3] == (2, 3, 32)  # tiny processor: 32 mel bins
    assert batch["pixel_values"].shape == (2, 3, 4, 3, 64, 64)
    assert batch["face_pixel_values"].shape == (2, 3, 4, 2, 3, 32, 32)
    assert batch["face_weights"].shape == (2, 3, 4, 2)
    assert batch["utterance_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    # (text, audio, visual): wav -> audio; face mp4 -> its AAC track + frames; silent test pattern -> frames only
    assert batch["modality_mask"].tolist() == [
        [[1, 1, 0], [1, 1, 1], [1, 0, 1]],
        [[1, 0, 0], [0, 0, 0], [0, 0, 0]],
    ]
    assert batch["labels"].tolist() == [[6, 1, -100], [0, -100, -100]]
    assert batch["face_mask"][0, 1].tolist() == [1, 1, 1, 1]  # the astronaut's face in every sampled frame
    assert batch["face_mask"][0, 2].tolist() == [0, 0, 0, 0]  # colour test pattern: no face
    frames = batch["audio_attention_mask"].sum(-1)
    assert frames[0, 0] == 1 + int(round(speech_wav.stat().st_size and _duration(speech_wav) * 16000)) // 160 or frames[0, 0] > 100
    assert frames[0, 2] == 0 and frames[1, 0] == 0


def _duration(path):
    import wave

    with wave.open(str(path)) as handle:
        return handle.getnframes() / handle.getframerate()


def test_batch_runs_through_model_and_masks_hold(speech_wav, face_video_mp4):
    conversation = load_sample_conversation(SAMPLE_CONVERSATION)
    model, processor = build_tiny_m2fnet([u["text"] for u in conversation])
    batch = processor(conversations=[conversation, conversation[:2]])
    with torch.no_grad():
        output = model(**batch)
    assert output.logits.shape == (2, 5, 7)
    with torch.no_grad():
        alone = model(**processor(conversations=[conversation[:2]])).logits
    torch.testing.assert_close(output.logits[1, :2], alone[0], atol=1e-5, rtol=1e-4)  # padding changes nothing


def test_column_form_equals_dict_form(processor):
    as_dicts = processor(conversations=[[{"speaker": "A", "text": "Hi"}, {"speaker": "B", "text": "Go"}]])
    as_columns = processor(text=[["Hi", "Go"]], speakers=[["A", "B"]])
    for key in as_dicts:
        torch.testing.assert_close(as_dicts[key], as_columns[key])


def test_single_conversation_is_batched(processor):
    batch = processor(conversations=[{"text": "hello"}, {"text": "there"}])
    assert batch["input_ids"].shape[:2] == (1, 2)


@pytest.mark.parametrize(
    "conversations, message",
    [
        ([[]], "Conversation 0 is empty"),
        ([[{"text": "a"}], []], "Conversation 1 is empty"),
        ([["just a string"]], "conversation 0, utterance 0 must be a dict"),
        ([[{"text": "a", "label": "bored"}]], r"Unknown label 'bored' at conversation 0, utterance 0"),
        ([[{"text": "a"}, {"text": "b", "label": 9}]], "Unknown label 9 at conversation 0, utterance 1"),
        ([[{"text": 42}]], "'text' must be a string"),
        ([], "non-empty list of conversations"),
    ],
)
def test_bad_conversations_give_clear_errors(processor, conversations, message):
    with pytest.raises(ValueError, match=message):
        processor(conversations=conversations)


def test_mismatched_column_lengths(processor):
    with pytest.raises(ValueError, match="Conversation 0 has 2 texts but 1 speaker entries"):
        processor(text=[["Hi", "Go"]], speakers=[["A"]])


def test_missing_media_file_names_the_utterance(processor, tmp_path):
    conversation = [{"text": "a"}, {"text": "b", "audio": str(tmp_path / "nope.wav")}]
    with pytest.raises(FileNotFoundError, match="conversation 0, utterance 1.*nope.wav"):
        processor(conversations=[conversation])


def test_unreadable_video_raises_or_is_skipped(tokenizer, corrupt_mp4, caplog_transformers):
    conversation = [{"text": "a", "video": str(corrupt_mp4)}]
    with pytest.raises(MediaDecodingError, match="conversation 0, utterance 0"):
        tiny_processor(tokenizer)(conversations=[conversation])
    batch = tiny_processor(tokenizer, on_media_error="skip")(conversations=[conversation])
    assert batch["modality_mask"].tolist() == [[[1, 0, 0]]]
    assert "treating it as missing" in caplog_transformers.text


def test_zero_length_and_silent_audio(processor, caplog_transformers):
    conversation = [
        {"text": "empty", "audio": {"array": np.zeros(0, dtype=np.float32), "sampling_rate": 16000}},
        {"text": "silent", "audio": {"array": np.zeros(16000, dtype=np.float32), "sampling_rate": 16000}},
    ]
    batch = processor(conversations=[conversation], return_tensors="np")
    assert batch["modality_mask"][0, :, 1].tolist() == [0, 1]  # empty -> missing; silence is a valid clip
    assert "empty" in caplog_transformers.text
    silent = batch["input_features"][0, 1][:, batch["audio_attention_mask"][0, 1] == 1]
    np.testing.assert_allclose(silent, processor.feature_extractor.log_mel_floor)


def test_utterance_without_text_marks_text_missing(processor, caplog_transformers):
    batch = processor(conversations=[[{"speaker": "A", "text": ""}, {"speaker": "B", "text": "hi"}]])
    assert batch["modality_mask"][0, :, 0].tolist() == [0, 1]
    assert "has no text" in caplog_transformers.text


def test_long_conversation_is_truncated_with_warning(tokenizer, caplog_transformers):
    processor = tiny_processor(tokenizer, max_utterances=5)
    batch = processor(conversations=[[{"text": "hi"}] * 12])
    assert batch["input_ids"].shape[1] == 5
    assert "keeping the first 5" in caplog_transformers.text


def test_bad_processor_settings(tokenizer):
    with pytest.raises(ValueError, match="on_media_error"):
        tiny_processor(tokenizer, on_media_error="ignore")
    with pytest.raises(ValueError, match="modalities"):
        tiny_processor(tokenizer, modalities=["smell"])


def test_text_only_processor_skips_media(tokenizer, speech_wav):
    processor = tiny_processor(tokenizer, modalities=["text"])
    batch = processor(conversations=[[{"text": "a", "audio": str(speech_wav)}]])
    assert "input_features" not in batch
    assert batch["modality_mask"].tolist() == [[[1, 0, 0]]]


def test_save_load_round_trip(processor, tmp_path, speech_wav):
    register_auto_classes()  # writes `auto_map` so that the saved sub-processors resolve to M2FNet classes
    processor.save_pretrained(tmp_path)
    loaded = M2FNetProcessor.from_pretrained(tmp_path, trust_remote_code=True)
    conversation = [{"speaker": "A", "text": "We were on a break!", "audio": str(speech_wav), "label": "joy"}]
    expected, actual = processor(conversations=[conversation]), loaded(conversations=[conversation])
    assert sorted(expected) == sorted(actual)
    for key in expected:
        torch.testing.assert_close(expected[key], actual[key])
    assert loaded.label_names == processor.label_names


def test_cut_times_apply_to_the_video_and_its_own_soundtrack(processor, speech_wav, face_video_mp4):
    """`start_time`/`end_time` cut the video (and audio taken from it); a separate wav is cut only by audio_*."""
    cut = {"start_time": 0.5, "end_time": 1.0}
    conversation = [
        {"text": "a", "video": str(face_video_mp4), **cut},  # audio from the mp4, cut to 0.5 s
        {"text": "b", "audio": str(speech_wav), "video": str(face_video_mp4), **cut},  # wav used whole
        {"text": "c", "audio": str(speech_wav), "audio_start_time": 0.0, "audio_end_time": 0.25},
    ]
    frames = processor(conversations=[conversation], return_tensors="np")["audio_attention_mask"][0].sum(-1)
    assert frames[0] == 1 + 8000 // 160
    assert frames[1] == 1 + int(round(_duration(speech_wav) * 16000)) // 160
    assert frames[2] == 1 + 4000 // 160
