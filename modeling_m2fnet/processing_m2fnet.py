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
"""Processor class for M2FNet: conversations (speaker, text, audio, video per utterance) to model tensors."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin
from transformers.utils import logging

from .configuration_m2fnet import MODALITIES
from .feature_extraction_m2fnet import load_audio
from .media_utils import MediaDecodingError, NoAudioStreamError


logger = logging.get_logger(__name__)

MEDIA_ERROR_POLICIES = ("raise", "skip")


@dataclass
class _Utterance:
    """One validated utterance, as the processor sees it."""

    speaker: str
    text: str | None
    audio: Any = None
    video: Any = None
    start_time: float | None = None
    end_time: float | None = None
    audio_start_time: float | None = None
    audio_end_time: float | None = None
    label: int = -100
    present: dict[str, bool] = field(default_factory=dict)


def _where(conversation_index: int, utterance_index: int) -> str:
    return f"conversation {conversation_index}, utterance {utterance_index}"


class M2FNetProcessor(ProcessorMixin):
    r"""
    Turns conversations into the tensors [`M2FNetForEmotionRecognition`] takes. A conversation is a list of
    utterances, each a dict with:

    - `"text"` (`str`): the transcript; with `"speaker"` (`str`, optional) prepended as `"Speaker: text"`;
    - `"audio"` (optional): a path, bytes, `{"path", "bytes"}` or `{"array", "sampling_rate"}`; when absent and a
      video is given, the video's audio track is used;
    - `"video"` (optional): a path, bytes or `{"path", "bytes"}`; `"start_time"` / `"end_time"` (seconds,
      optional) cut the utterance out of a longer recording (the video, and the audio when it comes from that
      video). A separate `"audio"` recording is cut by `"audio_start_time"` / `"audio_end_time"` only (IEMOCAP:
      one wav per utterance, one video per dialogue);
    - `"label"` or `"emotion"` (optional): an emotion name from `label_names` or its id.

    Text follows the paper's M-RoBERTa input (Sec. 3.2.1): each utterance is encoded with its `context_window`
    preceding and following utterances, joined by the tokenizer's separator token:
    `[CLS] previous [SEP] current [SEP] next [SEP]`. The current utterance always fits; the contexts are trimmed
    (the previous from its start, the next from its end) to `max_text_length`.

    Missing modalities are documented fallbacks, not errors: an utterance without (or with empty) text, audio or
    video gets 0 in `modality_mask` for that modality and the model ignores it; a video track without faces gives
    `face_mask` 0 (the scene branch still sees the frames); a video without an audio track leaves audio missing; a
    zero-length audio clip is treated as missing audio (with a warning). Unreadable media raise an error naming the
    utterance (`on_media_error="raise"`, the default) or are treated as missing with a warning (`"skip"`).
    Conversations longer than `max_utterances` are truncated to their first `max_utterances` utterances with a
    warning.

    Args:
        tokenizer ([`PreTrainedTokenizerBase`]):
            Tokenizer of the text encoder.
        feature_extractor ([`M2FNetFeatureExtractor`]):
            Waveform → log-mel spectrogram.
        image_processor ([`M2FNetImageProcessor`]):
            Video → sampled frames and face crops.
        label_names (`list[str]`, *optional*):
            Emotion names in id order (e.g. the model's `id2label` values), to turn string labels into ids.
        modalities (`list[str]`, *optional*, defaults to `["text", "audio", "visual"]`):
            Which modalities to prepare; media of the others is not decoded.
        context_window (`int`, *optional*, defaults to 1):
            Number of preceding and of following utterances encoded with each utterance.
        include_speaker (`bool`, *optional*, defaults to `True`):
            Prefix each utterance with `"Speaker: "`.
        max_text_length (`int`, *optional*, defaults to 128):
            Maximum number of tokens per utterance, special tokens and context included.
        max_utterances (`int`, *optional*, defaults to 256):
            Longer conversations are truncated (with a warning).
        on_media_error (`str`, *optional*, defaults to `"raise"`):
            `"raise"` or `"skip"` (mark the modality missing and warn) for unreadable audio or video.
    """

    def __init__(
        self,
        tokenizer=None,
        feature_extractor=None,
        image_processor=None,
        label_names: list[str] | None = None,
        modalities: list[str] | None = None,
        context_window: int = 1,
        include_speaker: bool = True,
        max_text_length: int = 128,
        max_utterances: int = 256,
        on_media_error: str = "raise",
        **kwargs,
    ):
        self.label_names = list(label_names) if label_names is not None else None
        self.modalities = list(modalities) if modalities is not None else list(MODALITIES)
        self.context_window = context_window
        self.include_speaker = include_speaker
        self.max_text_length = max_text_length
        self.max_utterances = max_utterances
        self.on_media_error = on_media_error
        self._validate_settings()
        super().__init__(tokenizer, feature_extractor, image_processor, **kwargs)

    def _validate_settings(self) -> None:
        unknown = [modality for modality in self.modalities if modality not in MODALITIES]
        if unknown or not self.modalities:
            raise ValueError(f"`modalities` must be a non-empty subset of {list(MODALITIES)}, got {self.modalities!r}.")
        if self.context_window < 0:
            raise ValueError(f"`context_window` must be >= 0, got {self.context_window}.")
        if self.max_text_length < 8:
            raise ValueError(f"`max_text_length` must be >= 8 tokens, got {self.max_text_length}.")
        if self.max_utterances < 1:
            raise ValueError(f"`max_utterances` must be >= 1, got {self.max_utterances}.")
        if self.on_media_error not in MEDIA_ERROR_POLICIES:
            raise ValueError(f"`on_media_error` must be one of {MEDIA_ERROR_POLICIES}, got {self.on_media_error!r}.")

    # ----------------------------------------------------------------------------------------------------------------
    # Input validation
    # ----------------------------------------------------------------------------------------------------------------

    def _normalise_conversations(self, conversations, text, audio, videos, speakers) -> list[list[dict]]:
        if conversations is None:
            if text is None:
                raise ValueError("Pass `conversations` (a list of utterance dicts per conversation) or `text`.")
            conversations = self._zip_columns(text, audio, videos, speakers)
        if isinstance(conversations, dict) or (
            isinstance(conversations, Sequence) and conversations and isinstance(conversations[0], dict)
        ):
            conversations = [conversations if not isinstance(conversations, dict) else [conversations]]
        if not isinstance(conversations, Sequence) or isinstance(conversations, str) or not conversations:
            raise ValueError(
                "`conversations` must be a non-empty list of conversations, each a list of utterance dicts "
                '(e.g. [[{"speaker": "Ross", "text": "Hi"}]]).'
            )
        return list(conversations)

    @staticmethod
    def _zip_columns(text, audio, videos, speakers) -> list[list[dict]]:
        if isinstance(text, str) or (text and isinstance(text[0], str)):
            text, audio, videos, speakers = [text], [audio] if audio is not None else None, (
                [videos] if videos is not None else None
            ), [speakers] if speakers is not None else None
        columns = {"text": text, "audio": audio, "video": videos, "speaker": speakers}
        conversations = []
        for index, utterance_texts in enumerate(text):
            conversation = [{"text": utterance_text} for utterance_text in utterance_texts]
            for key, column in columns.items():
                if key == "text" or column is None:
                    continue
                values = column[index]
                if values is None:
                    continue
                if len(values) != len(utterance_texts):
                    raise ValueError(
                        f"Conversation {index} has {len(utterance_texts)} texts but {len(values)} {key} entries: "
                        f"give one {key} per utterance (None where it is missing)."
                    )
                for utterance, value in zip(conversation, values):
                    utterance[key] = value
            conversations.append(conversation)
        return conversations

    def _label_id(self, label, where: str) -> int:
        if label is None:
            return -100
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            num_labels = len(self.label_names) if self.label_names is not None else None
            if label == -100 or (num_labels is None and label >= 0) or (num_labels and 0 <= label < num_labels):
                return int(label)
        elif isinstance(label, str) and self.label_names is not None and label in self.label_names:
            return self.label_names.index(label)
        valid = self.label_names if self.label_names is not None else "ids (no `label_names` set on the processor)"
        raise ValueError(f"Unknown label {label!r} at {where}. Valid labels: {valid}.")

    def _validate_utterance(self, utterance, where: str) -> _Utterance:
        if not isinstance(utterance, dict):
            raise ValueError(f"{where} must be a dict with 'text' (and optional 'speaker', 'audio', 'video'), "
                             f"got {type(utterance).__name__}.")  # fmt: skip
        text = utterance.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"{where}: 'text' must be a string, got {type(text).__name__}.")
        text = text.strip() if text else None
        label = utterance.get("label", utterance.get("emotion"))
        parsed = _Utterance(
            speaker=str(utterance.get("speaker") or ""),
            text=text or None,
            audio=utterance.get("audio"),
            video=utterance.get("video"),
            start_time=utterance.get("start_time"),
            end_time=utterance.get("end_time"),
            audio_start_time=utterance.get("audio_start_time"),
            audio_end_time=utterance.get("audio_end_time"),
            label=self._label_id(label, where),
        )
        if parsed.text is None and "text" in self.modalities:
            logger.warning(f"{where} has no text: its text modality is marked missing (modality_mask[..., 0] = 0).")
        return parsed

    # ----------------------------------------------------------------------------------------------------------------
    # Text
    # ----------------------------------------------------------------------------------------------------------------

    def _utterance_string(self, utterance: _Utterance) -> str:
        if self.include_speaker and utterance.speaker:
            return f"{utterance.speaker}: {utterance.text or ''}"
        return utterance.text or ""

    def _special_ids(self) -> tuple[int, int]:
        tokenizer = self.tokenizer
        start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        separator = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        if start is None or separator is None:
            raise ValueError(
                f"The tokenizer ({type(tokenizer).__name__}) has no cls/bos or sep/eos token; M2FNet joins an "
                "utterance and its context with them. Set `tokenizer.cls_token` and `tokenizer.sep_token`."
            )
        return start, separator

    def _encode_with_context(
        self, token_ids: list[list[int]], index: int, special_ids: tuple[int, int] | None = None
    ) -> list[int]:
        """`[CLS] previous [SEP] current [SEP] next [SEP]`, the current utterance kept whole when possible."""
        start, separator = special_ids if special_ids is not None else self._special_ids()
        window = self.context_window
        previous = [token for ids in token_ids[max(0, index - window) : index] for token in ids]
        following = [token for ids in token_ids[index + 1 : index + 1 + window] for token in ids]
        current = token_ids[index][: self.max_text_length - 2]
        budget = self.max_text_length - 2 - len(current)
        if window == 0:
            return [start, *current, separator]
        budget -= 2  # the two separators around the current utterance
        keep_previous = min(len(previous), max(budget // 2, budget - len(following)))
        keep_following = min(len(following), max(budget - keep_previous, 0))
        if budget <= 0:
            return [start, *current, separator]
        previous = previous[len(previous) - keep_previous :]
        return [start, *previous, separator, *current, separator, *following[:keep_following], separator]

    def _encode_text(self, conversations: list[list[_Utterance]]) -> dict[str, np.ndarray]:
        flat = [self._utterance_string(utterance) for conversation in conversations for utterance in conversation]
        flat_ids = self.tokenizer(flat, add_special_tokens=False)["input_ids"]  # one batched (fast) call
        special_ids = self._special_ids()  # tokenizer attribute lookups are slow: once per call, not per utterance
        encoded, offset = [], 0
        for conversation in conversations:
            token_ids = flat_ids[offset : offset + len(conversation)]
            offset += len(conversation)
            encoded.append(
                [self._encode_with_context(token_ids, index, special_ids) for index in range(len(conversation))]
            )
        batch_size = len(conversations)
        num_utterances = max(len(conversation) for conversation in conversations)
        length = max(len(ids) for conversation in encoded for ids in conversation)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = np.full((batch_size, num_utterances, length), pad_id, dtype=np.int64)
        attention_mask = np.zeros((batch_size, num_utterances, length), dtype=np.int64)
        for b, conversation in enumerate(encoded):
            for n, ids in enumerate(conversation):
                input_ids[b, n, : len(ids)] = ids
                attention_mask[b, n, : len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    # ----------------------------------------------------------------------------------------------------------------
    # Media
    # ----------------------------------------------------------------------------------------------------------------

    def _media_failed(self, error: Exception, modality: str, where: str) -> None:
        if isinstance(error, FileNotFoundError) or self.on_media_error == "raise":
            raise type(error)(
                f"{where}: could not read its {modality} ({error}). Fix the path or file, drop the '{modality}' key "
                f"to treat it as missing, or create the processor with on_media_error='skip'."
            ) from error
        logger.warning(f"{where}: {modality} unreadable ({error}); treating it as missing.")

    def _load_waveform(self, utterance: _Utterance, where: str) -> np.ndarray | None:
        if utterance.audio is not None:
            source, start_time, end_time = utterance.audio, utterance.audio_start_time, utterance.audio_end_time
        else:  # the video's own soundtrack, cut like its frames
            source, start_time, end_time = utterance.video, utterance.start_time, utterance.end_time
        if source is None:
            return None
        try:
            waveform = load_audio(
                source, sampling_rate=self.feature_extractor.sampling_rate, start_time=start_time, end_time=end_time
            )
        except NoAudioStreamError:
            if utterance.audio is None:  # a video without an audio track: audio is simply missing
                return None
            raise
        except (MediaDecodingError, FileNotFoundError) as error:
            if "0 samples" in str(error) or "empty" in str(error).lower():
                logger.warning(f"{where}: the audio clip is empty; treating audio as missing.")
                return None
            self._media_failed(error, "audio", where)
            return None
        if waveform.size == 0:
            logger.warning(f"{where}: the audio clip is empty; treating audio as missing.")
            return None
        return waveform

    def _encode_audio(self, conversations: list[list[_Utterance]]) -> dict[str, np.ndarray]:
        waveforms, positions = [], []
        for b, conversation in enumerate(conversations):
            for n, utterance in enumerate(conversation):
                waveform = self._load_waveform(utterance, _where(b, n))
                utterance.present["audio"] = waveform is not None
                if waveform is not None:
                    waveforms.append(waveform)
                    positions.append((b, n))
        if not waveforms:
            return {}
        features = self.feature_extractor(
            waveforms, sampling_rate=self.feature_extractor.sampling_rate, return_attention_mask=True
        )
        spectrograms = np.asarray(features["input_features"])
        frame_mask = np.asarray(features["attention_mask"])
        batch_size, num_utterances = len(conversations), max(len(c) for c in conversations)
        input_features = np.zeros((batch_size, num_utterances, *spectrograms.shape[1:]), dtype=np.float32)
        audio_attention_mask = np.zeros((batch_size, num_utterances, spectrograms.shape[-1]), dtype=np.int64)
        rows, cols = map(list, zip(*positions))
        input_features[rows, cols] = spectrograms
        audio_attention_mask[rows, cols] = frame_mask
        return {"input_features": input_features, "audio_attention_mask": audio_attention_mask}

    def _encode_video(self, conversations: list[list[_Utterance]]) -> dict[str, np.ndarray]:
        from .image_processing_m2fnet import load_video_frames

        clips, positions = [], []
        num_frames = self.image_processor.num_frames
        for b, conversation in enumerate(conversations):
            for n, utterance in enumerate(conversation):
                utterance.present["visual"] = False
                if utterance.video is None:
                    continue
                try:
                    frames = load_video_frames(
                        utterance.video, num_frames=num_frames, start_time=utterance.start_time,
                        end_time=utterance.end_time,
                    )  # fmt: skip
                except (MediaDecodingError, FileNotFoundError) as error:
                    self._media_failed(error, "video", _where(b, n))
                    continue
                utterance.present["visual"] = True
                clips.append(frames)
                positions.append((b, n))
        if not clips:
            return {}
        processed = self.image_processor(clips)
        batch_size, num_utterances = len(conversations), max(len(c) for c in conversations)
        rows, cols = map(list, zip(*positions))
        outputs = {}
        for key in ("pixel_values", "face_pixel_values", "face_weights", "face_mask"):
            values = np.asarray(processed[key])
            outputs[key] = np.zeros((batch_size, num_utterances, *values.shape[1:]), dtype=values.dtype)
            outputs[key][rows, cols] = values
        return outputs

    # ----------------------------------------------------------------------------------------------------------------
    # Entry point
    # ----------------------------------------------------------------------------------------------------------------

    def __call__(
        self,
        conversations: list[list[dict]] | list[dict] | None = None,
        text: list[list[str]] | list[str] | None = None,
        audio=None,
        videos=None,
        speakers: list[list[str]] | list[str] | None = None,
        return_tensors: str | None = "pt",
        **kwargs,
    ) -> BatchFeature:
        r"""
        Prepares a batch of conversations.

        Args:
            conversations (`list[list[dict]]` or `list[dict]`):
                Conversations (or one conversation), each a list of utterance dicts (see the class docstring).
            text, audio, videos, speakers (`list[list]`, *optional*):
                Alternative column form: per conversation, one entry per utterance (None where missing). All given
                columns must have one entry per utterance.
            return_tensors (`str`, *optional*, defaults to `"pt"`):
                `"pt"` for torch tensors, `"np"` or None for numpy arrays.

        Returns:
            [`BatchFeature`] with (B conversations, N utterances, padded): `input_ids`, `attention_mask`
            `(B, N, L)`; `input_features` `(B, N, M, T)` and `audio_attention_mask` `(B, N, T)` when any utterance
            has audio; `pixel_values` `(B, N, F, 3, H, W)`, `face_pixel_values` `(B, N, F, K, 3, h, w)`,
            `face_weights` `(B, N, F, K)` and `face_mask` `(B, N, F)` when any utterance has video;
            `utterance_mask` `(B, N)`; `modality_mask` `(B, N, 3)` (text, audio, visual); `labels` `(B, N)` when
            any utterance has a label (-100 elsewhere).
        """
        if kwargs:
            raise TypeError(f"Unexpected arguments: {sorted(kwargs)}.")
        conversations = self._normalise_conversations(conversations, text, audio, videos, speakers)
        parsed = []
        for b, conversation in enumerate(conversations):
            if isinstance(conversation, (str, dict)) or not isinstance(conversation, Sequence):
                raise ValueError(f"Conversation {b} must be a list of utterance dicts, got {type(conversation).__name__}.")
            if len(conversation) == 0:
                raise ValueError(f"Conversation {b} is empty: every conversation needs at least one utterance.")
            if len(conversation) > self.max_utterances:
                logger.warning(
                    f"Conversation {b} has {len(conversation)} utterances; keeping the first {self.max_utterances} "
                    "(`max_utterances`). Split long conversations to get predictions for every utterance."
                )
                conversation = conversation[: self.max_utterances]
            parsed.append([self._validate_utterance(utterance, _where(b, n)) for n, utterance in enumerate(conversation)])

        data = {}
        if "text" in self.modalities:
            data.update(self._encode_text(parsed))
        if "audio" in self.modalities:
            data.update(self._encode_audio(parsed))
        if "visual" in self.modalities:
            data.update(self._encode_video(parsed))
        data.update(self._masks_and_labels(parsed))
        return BatchFeature(data=data, tensor_type=return_tensors)

    def _masks_and_labels(self, conversations: list[list[_Utterance]]) -> dict[str, np.ndarray]:
        batch_size, num_utterances = len(conversations), max(len(c) for c in conversations)
        utterance_mask = np.zeros((batch_size, num_utterances), dtype=np.int64)
        modality_mask = np.zeros((batch_size, num_utterances, len(MODALITIES)), dtype=np.int64)
        labels = np.full((batch_size, num_utterances), -100, dtype=np.int64)
        for b, conversation in enumerate(conversations):
            for n, utterance in enumerate(conversation):
                utterance_mask[b, n] = 1
                modality_mask[b, n] = [
                    "text" in self.modalities and utterance.text is not None,
                    utterance.present.get("audio", False),
                    utterance.present.get("visual", False),
                ]
                labels[b, n] = utterance.label
        data = {"utterance_mask": utterance_mask, "modality_mask": modality_mask}
        if (labels != -100).any():
            data["labels"] = labels
        return data

    @property
    def model_input_names(self) -> list[str]:
        return [
            "input_ids", "attention_mask", "input_features", "audio_attention_mask", "pixel_values",
            "face_pixel_values", "face_weights", "face_mask", "utterance_mask", "modality_mask",
        ]  # fmt: skip


__all__ = ["M2FNetProcessor"]
