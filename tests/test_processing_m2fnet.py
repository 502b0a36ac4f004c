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

import copy
import inspect
import json
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
from modeling_m2fnet import M2FNetProcessor, MediaDecodingError, number_speakers, register_auto_classes
from tests.paths import SAMPLE_CONVERSATION


TEXTS = ["Ross: We were on a break!", "Rachel: Oh my God.", "Fine. You know what? Fine.", "Just go.", "Okay."]
TEXTS += ["hello there"]


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


def model_inputs(model, batch) -> dict:
    """The batch without the keys `model.forward` does not take (`speaker_ids` before the model accepts it)."""
    accepted = inspect.signature(model.forward).parameters
    return {key: value for key, value in batch.items() if key in accepted}


def test_text_is_encoded_with_previous_and_next_utterance(processor, tokenizer):
    conversation = [
        {"speaker": "Ross", "text": "We were on a break!"},
        {"speaker": "Rachel", "text": "Oh my God."},
        {"speaker": "Ross", "text": "Fine."},
    ]
    batch = processor(conversations=[conversation], return_tensors="np")
    ids, mask = batch["input_ids"][0], batch["attention_mask"][0]
    first = "[CLS] [SEP] ross : we were on a break ! [SEP] rachel : oh my god . [SEP]"
    assert _decode(tokenizer, ids[0], mask[0]) == first
    assert _decode(tokenizer, ids[1], mask[1]) == (
        "[CLS] ross : we were on a break ! [SEP] rachel : oh my god . [SEP] ross : fine . [SEP]"
    )
    assert _decode(tokenizer, ids[2], mask[2]) == "[CLS] rachel : oh my god . [SEP] ross : fine . [SEP] [SEP]"


def test_context_is_trimmed_but_current_utterance_kept(tokenizer):
    processor = tiny_processor(tokenizer, max_text_length=12, include_speaker=False)
    texts = ["we were on a break we were on a break", "oh my god", "fine you know what fine you know what"]
    conversation = [{"text": text} for text in texts]
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
    assert frames[0, 0] == 1 + round(_duration(speech_wav) * 16000) // 160
    assert frames[0, 2] == 0 and frames[1, 0] == 0
    assert batch["speaker_ids"].tolist() == [[0, 1, 0], [0, 0, 0]]


def _duration(path):
    import wave

    with wave.open(str(path)) as handle:
        return handle.getnframes() / handle.getframerate()


def test_batch_runs_through_model_and_masks_hold(speech_wav, face_video_mp4):
    conversation = load_sample_conversation(SAMPLE_CONVERSATION)
    model, processor = build_tiny_m2fnet([u["text"] for u in conversation])
    batch = processor(conversations=[conversation, conversation[:2]])
    with torch.no_grad():
        output = model(**model_inputs(model, batch))
    assert output.logits.shape == (2, 5, 7)
    with torch.no_grad():
        alone = model(**model_inputs(model, processor(conversations=[conversation[:2]]))).logits
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
    assert "conversation 0, utterance 0: video" in caplog_transformers.text
    assert "marked missing: visual, and audio from its sound track" in caplog_transformers.text


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


def test_speaker_ids_number_speakers_by_first_appearance(processor):
    conversations = [
        [{"speaker": s, "text": "hi"} for s in ("Ross", "Rachel", None, "Ross", 0, "", "0", "Monica")],
        [{"speaker": "Joey", "text": "hi"}],
    ]
    batch = processor(conversations=conversations, return_tensors="np")
    # Ross 0, Rachel 1, no speaker 2, Ross 0, speaker 0 -> 3, blank (no speaker) 4, "0" is speaker 0 again -> 3, ...
    assert batch["speaker_ids"].tolist() == [[0, 1, 2, 0, 3, 4, 3, 5], [0, 0, 0, 0, 0, 0, 0, 0]]
    assert batch["speaker_ids"].dtype == np.int64
    # The same numbering for callers that build dialogue rows themselves (the feature cache).
    assert number_speakers(["Ross", "Rachel", None, "Ross", 0, "", "0", "Monica"]) == batch["speaker_ids"][0].tolist()
    assert number_speakers([float("nan"), 1.0, 1, " Joey "]) == [0, 1, 1, 2]  # NaN: no speaker; 1.0 is speaker "1"
    with pytest.raises(ValueError, match=r"utterance 1: 'speaker' must be a string or an integer id, got \['A'\]"):
        number_speakers(["A", ["A"]])


def test_model_input_names_come_from_the_parts(processor, speech_wav, face_video_mp4):
    names = processor.model_input_names
    assert names[:2] == processor.tokenizer.model_input_names == ["input_ids", "attention_mask"]
    bert_style = copy.copy(processor.tokenizer)
    bert_style.model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    assert tiny_processor(bert_style).model_input_names == names  # utterances are single sequences: no token types
    assert names[2:4] == ["input_features", "audio_attention_mask"]  # the feature extractor's, mask renamed
    assert names[4:8] == processor.image_processor.model_input_names
    assert names[8:] == ["utterance_mask", "modality_mask", "speaker_ids"]
    conversation = [{"text": "a", "audio": str(speech_wav), "video": str(face_video_mp4), "label": 0}]
    assert set(processor(conversations=[conversation])) == set(names) | {"labels"}


def test_options_are_routed_to_each_part(processor, tokenizer, speech_wav, face_video_mp4):
    conversation = [{"text": "hello there", "audio": str(speech_wav), "video": str(face_video_mp4)}]
    batch = processor(
        conversations=[conversation],
        text_kwargs={"max_length": 24, "padding": "max_length"},
        videos_kwargs={"num_frames": 2, "do_detect_faces": False},
        audio_kwargs={"max_length": 8000},
        return_tensors="np",
    )
    assert batch["input_ids"].shape == (1, 1, 24)
    assert batch["pixel_values"].shape[2] == 2 and batch["face_mask"].sum() == 0
    assert batch["audio_attention_mask"].sum() == 1 + 8000 // 160
    flat = processor(conversations=[conversation], num_frames=3, max_faces=1, return_tensors="np")
    assert flat["face_weights"].shape[2:] == (3, 1)  # options of one part only may be passed flat
    padded = processor(conversations=[conversation], text_kwargs={"pad_to_multiple_of": 16}, return_tensors="np")
    assert padded["input_ids"].shape[-1] % 16 == 0
    noisy = [
        processor(conversations=[conversation], do_augment=True, generator=seed)["input_features"]
        for seed in (1, 1, 2)
    ]
    torch.testing.assert_close(noisy[0], noisy[1])
    assert not torch.equal(noisy[0], noisy[2])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_lenght": 3}, r"unexpected keyword argument `max_lenght` \(did you mean \['max_length'"),
        ({"max_length": 3}, r"`max_length` is an option of several parts \(\['audio_kwargs', 'text_kwargs'\]\)"),
        (
            {"text_kwargs": {"max_frames": 3}},
            r"`text_kwargs` must be a dict of options .* unknown options \['max_frames'\]",
        ),
        ({"videos_kwargs": 4}, "`videos_kwargs` must be a dict"),
    ],
)
def test_unknown_or_ambiguous_options_raise(processor, kwargs, message):
    with pytest.raises(TypeError, match=message):
        processor(conversations=[[{"text": "hi"}]], **kwargs)


def test_options_the_layout_fixes_are_refused(processor):
    with pytest.raises(ValueError, match=r"text_kwargs\['truncation'\]"):
        processor(conversations=[[{"text": "hi"}]], text_kwargs={"truncation": False})
    with pytest.raises(ValueError, match="Text padding"):
        processor(conversations=[[{"text": "hi"}]], text_kwargs={"padding": "do_not_pad"})


def test_on_media_error_per_call(processor, corrupt_mp4):
    conversation = [{"text": "a", "video": str(corrupt_mp4)}]
    assert processor(conversations=[conversation], on_media_error="skip")["modality_mask"].tolist() == [[[1, 0, 0]]]
    with pytest.raises(MediaDecodingError):
        processor(conversations=[conversation])  # the processor's own setting ("raise") is unchanged


def test_processor_config_from_newer_code_is_refused(processor, tmp_path):
    register_auto_classes()
    processor.save_pretrained(tmp_path)
    config_file = tmp_path / "processor_config.json"
    config = json.loads(config_file.read_text())
    assert config["processor_format_version"] == 2
    config["processor_format_version"] = 99
    config_file.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="settings version 99.*knows version 2 only.*older than its config"):
        M2FNetProcessor.from_pretrained(tmp_path)
