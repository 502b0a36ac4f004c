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

import difflib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from transformers.feature_extraction_utils import BatchFeature
from transformers.image_processing_base import ImageProcessingMixin
from transformers.processing_utils import (
    AudioKwargs,
    ImagesKwargs,
    ProcessingKwargs,
    ProcessorMixin,
    TextKwargs,
    Unpack,
    VideosKwargs,
)
from transformers.utils import logging

from .configuration_m2fnet import MODALITIES
from .media_utils import (
    EmptyAudioError,
    MediaDecodingError,
    MediaFileNotFoundError,
    NoAudioStreamError,
    NoVideoStreamError,
    check_cut,
    load_audio,
    load_video_frames,
)


logger = logging.get_logger(__name__)

MEDIA_ERROR_POLICIES = ("raise", "skip")
# Version of the settings `save_pretrained` writes to processor_config.json. Bump it whenever a saved setting is added
# or changes meaning: code older than a checkpoint's processor_config.json then refuses it instead of ignoring it.
PROCESSOR_FORMAT_VERSION = 2

UTTERANCE_KEYS = ("speaker", "text", "audio", "video", "start_time", "end_time", "audio_start_time", "audio_end_time")
UTTERANCE_KEYS += ("label", "emotion")
# Fields of the project's dataset rows (`datasets_scripts` builders) that the processor does not use: no warning.
_DATASET_ROW_KEYS = ("utterance_id", "utterance_name", "sentiment", "season", "episode", "has_audio", "has_video")
_MEDIA_SOURCE_TYPES = (str, os.PathLike, bytes, bytearray, memoryview, dict)


class M2FNetProcessorKwargs(ProcessingKwargs, total=False):
    r"""
    on_media_error (`str`, *optional*, defaults to the processor's `on_media_error`):
        `"raise"` or `"skip"`, for this call.
    """

    on_media_error: Literal["raise", "skip"]


@dataclass
class _Utterance:
    """One validated utterance, as the processor sees it."""

    speaker: str | None
    text: str | None
    audio: Any = None
    video: Any = None
    cut: tuple[float | None, float | None] = (None, None)  # (start_time, end_time) of the video and its sound
    audio_cut: tuple[float | None, float | None] = (None, None)  # (audio_start_time, audio_end_time)
    label: int = -100
    present: dict[str, bool] = field(default_factory=dict)
    video_unreadable: bool = False


def _where(conversation_index: int, utterance_index: int) -> str:
    return f"conversation {conversation_index}, utterance {utterance_index}"


def _describe(source: Any) -> str:
    """A short name of a media source for messages: the path, or what kind of in-memory data it is."""
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    if isinstance(source, dict):
        if source.get("path"):
            return repr(source["path"])
        return "(an audio array)" if source.get("array") is not None else "(in-memory bytes)"
    return f"({len(source)} bytes in memory)" if isinstance(source, (bytes, bytearray, memoryview)) else "(data)"


def _speaker(value: Any, where: str) -> str | None:
    """The speaker as a string (`0` -> `"0"`); `None`, blank strings and NaN (an empty pandas cell) mean no speaker."""
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value.strip() or None
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if number and float(value).is_integer():  # integral floats: pandas reads an integer column with gaps as floats
        return str(int(value))
    raise ValueError(f"{where}: 'speaker' must be a string or an integer id, got {value!r}.")


def number_speakers(speakers: Sequence[Any]) -> list[int]:
    """
    The speaker ids of one conversation (what the processor returns as `speaker_ids`): speakers numbered by first
    appearance, the first being 0; speakers are compared as the processor writes them (`0` and `"0"` are one
    speaker); each utterance without a speaker (`None`, blank, NaN) gets a new id of its own.
    """
    numbers: dict[object, int] = {}
    names = (_speaker(speaker, f"utterance {n}") for n, speaker in enumerate(speakers))
    return [numbers.setdefault(object() if name is None else name, len(numbers)) for name in names]


def _with_context(error: Exception, message: str, **context) -> Exception:
    """A new error of the media error class of `error` (always one of this package's), carrying the context."""
    for error_class in (MediaFileNotFoundError, NoAudioStreamError, NoVideoStreamError, EmptyAudioError):
        if isinstance(error, error_class):
            return error_class(message, **context)
    if isinstance(error, FileNotFoundError):
        return MediaFileNotFoundError(message, **context)
    return MediaDecodingError(message, **context)


# `auto_docstring` takes its texts from transformers' own `models/` tree and rewrites the documentation at import time;
# remote code documents itself by hand. trf-ignore: TRF057
class M2FNetProcessor(ProcessorMixin):
    r"""
    Turns conversations into the tensors [`M2FNetForEmotionRecognition`] takes. A conversation is a list of
    utterances, each a dict with:

    - `"text"` (`str`): the transcript; with `"speaker"` (optional: a name or an integer id, `0` included) prepended
      as `"Speaker: text"`;
    - `"audio"` (optional): a path, bytes, `{"path", "bytes"}` or `{"array", "sampling_rate"}`; when absent and a
      video is given, the video's audio track is used;
    - `"video"` (optional): a path, bytes or `{"path", "bytes"}`; `"start_time"` / `"end_time"` (seconds, optional)
      cut the utterance out of a longer recording (the video, and the audio when it comes from that video). A separate
      `"audio"` recording is cut by `"audio_start_time"` / `"audio_end_time"` only (IEMOCAP: one wav per utterance, one
      video per dialogue). Times must be finite numbers >= 0 with the end after the start;
    - `"label"` or `"emotion"` (optional): an emotion name from `label_names` or its id. Both may be given when they
      name the same class; different values raise a `ValueError` naming the utterance.

    Other keys are ignored with a warning that names the key and the closest known key (the unused fields of the
    project's dataset rows, such as `utterance_id` or `sentiment`, are ignored silently). An empty string counts as
    an absent value.

    Text follows the paper's M-RoBERTa input (Sec. 3.2.1): each utterance is encoded with its `context_window`
    preceding and following utterances, joined by the tokenizer's separator token:
    `[CLS] previous [SEP] current [SEP] next [SEP]`. The current utterance always fits; the contexts are trimmed
    (the previous from its start, the next from its end) to `max_text_length`.

    Missing modalities are documented fallbacks, not errors: an utterance without (or with empty) text, audio or
    video gets 0 in `modality_mask` for that modality; a video track without faces gives `face_mask` 0; a video
    without an audio track leaves audio missing; audio with no samples (in its window) is treated as missing, with a
    warning. Unreadable media (corrupt or truncated files, a directory, a file without the stream its key asks for)
    raise an error of the media error class naming the conversation, the utterance, the key (`audio` or `video`) and
    the file (`on_media_error="raise"`, the default), or are treated as missing with a warning (`"skip"`). A path
    that does not exist always raises [`MediaFileNotFoundError`]. Conversations longer than `max_utterances` are
    truncated to their first `max_utterances` utterances with a warning.

    Speakers are numbered per conversation for `speaker_ids`: the first speaker is 0, each new speaker gets the next
    id in order of first appearance (names compared exactly), and every utterance without a speaker gets a new id of
    its own.

    Args:
        tokenizer ([`PreTrainedTokenizerBase`]):
            Tokenizer of the text encoder.
        feature_extractor ([`M2FNetFeatureExtractor`]):
            Waveform → log-mel spectrogram.
        image_processor ([`M2FNetImageProcessor`]):
            Video frames → scene frames and face crops.
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
        processor_format_version (`int`, *optional*):
            The settings version of a saved processor (written by `save_pretrained`); a version newer than
            this code's raises, naming the fix.
    """

    valid_processor_kwargs = M2FNetProcessorKwargs

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
        processor_format_version: int | None = None,
        **kwargs,
    ):
        if processor_format_version is not None and processor_format_version > PROCESSOR_FORMAT_VERSION:
            raise ValueError(
                f"processor_config.json has settings version {processor_format_version}, but the code loaded "
                f"({__file__}) knows version {PROCESSOR_FORMAT_VERSION} only: the checkpoint's *.py files are older "
                "than its config. Download the whole checkpoint again (code files included)."
            )
        self.processor_format_version = PROCESSOR_FORMAT_VERSION
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
            raise ValueError(
                f"`modalities` must be a non-empty subset of {list(MODALITIES)}, got {self.modalities!r}."
            )
        if self.context_window < 0:
            raise ValueError(f"`context_window` must be >= 0, got {self.context_window}.")
        if self.max_text_length < 8:
            raise ValueError(f"`max_text_length` must be >= 8 tokens, got {self.max_text_length}.")
        if self.max_utterances < 1:
            raise ValueError(f"`max_utterances` must be >= 1, got {self.max_utterances}.")
        if self.on_media_error not in MEDIA_ERROR_POLICIES:
            raise ValueError(f"`on_media_error` must be one of {MEDIA_ERROR_POLICIES}, got {self.on_media_error!r}.")

    def check_argument_for_proper_class(self, argument_name, argument):
        # transformers checks `image_processor` against its top-level `ImageProcessingMixin`, which is a placeholder
        # class when Pillow is not installed. This image processor needs no Pillow: check against the real base class.
        if argument_name == "image_processor":
            if not isinstance(argument, ImageProcessingMixin):
                raise TypeError(f"`image_processor` must be an image processor, got a {type(argument).__name__}.")
            return ImageProcessingMixin
        return super().check_argument_for_proper_class(argument_name, argument)

    @property
    def model_input_names(self) -> list[str]:
        """The union of the parts' input names (the audio `attention_mask` renamed) and the dialogue-level inputs."""
        names = list(getattr(self.tokenizer, "model_input_names", ["input_ids", "attention_mask"]))
        audio = getattr(self.feature_extractor, "model_input_names", ["input_features", "attention_mask"])
        names += ["audio_attention_mask" if name == "attention_mask" else name for name in audio]
        names += getattr(self.image_processor, "model_input_names", [])
        names += ["utterance_mask", "modality_mask", "speaker_ids"]
        return [name for name in dict.fromkeys(names) if name not in self.unused_input_names]

    @property
    def unused_input_names(self) -> list[str]:
        """The tokenizer's `token_type_ids`: utterances are encoded as single sequences."""
        return ["token_type_ids"]

    def _route_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Checks the call's keyword arguments and merges them with the defaults, per part (`_merge_kwargs`)."""
        image_kwargs = set(getattr(self.image_processor, "valid_kwargs", ImagesKwargs).__annotations__)
        valid = {
            "text_kwargs": set(TextKwargs.__annotations__),
            "audio_kwargs": set(getattr(self.feature_extractor, "valid_kwargs", AudioKwargs).__annotations__),
            "videos_kwargs": set(VideosKwargs.__annotations__) | image_kwargs,
            "images_kwargs": image_kwargs,
        }
        for key, value in kwargs.items():
            if key in valid:
                unknown = sorted(set(value) - valid[key]) if isinstance(value, dict) else None
                if unknown is None or unknown:
                    found = f"unknown options {unknown}" if unknown else f"a {type(value).__name__}"
                    raise TypeError(f"`{key}` must be a dict of options among {sorted(valid[key])}; got {found}.")
                continue
            if key in M2FNetProcessorKwargs.__annotations__ or key == "common_kwargs":
                continue
            owners = {"videos_kwargs" if m == "images_kwargs" else m for m, names in valid.items() if key in names}
            if not owners:
                close = difflib.get_close_matches(key, set().union(*valid.values(), ["on_media_error"]), n=3)
                raise TypeError(
                    f"{self.__class__.__name__} got an unexpected keyword argument `{key}`"
                    + (f" (did you mean {close}?)" if close else "")
                    + ". Options go per part: `text_kwargs={...}` (tokenizer), `audio_kwargs={...}` (feature "
                    "extractor), `videos_kwargs={...}` (frame processor), or `on_media_error`."
                )
            if len(owners) > 1:
                raise TypeError(
                    f"`{key}` is an option of several parts ({sorted(owners)}): pass it inside one of them, e.g. "
                    f"`{sorted(owners)[0]}={{'{key}': ...}}`."
                )
        merged = self._merge_kwargs(M2FNetProcessorKwargs, tokenizer_init_kwargs=None, **kwargs)
        merged["videos_kwargs"] = {**merged.pop("images_kwargs"), **merged["videos_kwargs"]}
        for part in ("text_kwargs", "audio_kwargs", "videos_kwargs"):
            merged[part].pop("return_tensors", None)  # the processor converts the whole batch at the end
        return merged

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
        columns = {"audio": audio, "video": videos, "speaker": speakers}
        if isinstance(text, str) or (text and isinstance(text[0], str)):
            text = [text]
            columns = {key: [column] if column is not None else None for key, column in columns.items()}
        conversations = []
        for index, utterance_texts in enumerate(text):
            conversation = [{"text": utterance_text} for utterance_text in utterance_texts]
            for key, column in columns.items():
                values = column[index] if column is not None else None
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
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            num_labels = len(self.label_names) if self.label_names is not None else None
            if label == -100 or (num_labels is None and label >= 0) or (num_labels and 0 <= label < num_labels):
                return int(label)
        elif isinstance(label, str) and self.label_names is not None and label in self.label_names:
            return self.label_names.index(label)
        valid = self.label_names if self.label_names is not None else "ids (no `label_names` set on the processor)"
        raise ValueError(f"Unknown label {label!r} at {where}. Valid labels: {valid}.")

    def _utterance_label(self, utterance: dict, where: str) -> int:
        given = {key: utterance[key] for key in ("label", "emotion") if utterance.get(key) is not None}
        ids = {key: self._label_id(value, where) for key, value in given.items()}
        if len(set(ids.values())) > 1:
            raise ValueError(
                f"{where} has 'label' {given['label']!r} and 'emotion' {given['emotion']!r}, which name different "
                "classes: give one of them (both are accepted only when they agree)."
            )
        return next(iter(ids.values()), -100)

    def _validate_utterance(self, utterance, where: str, unknown_keys: dict[str, str]) -> _Utterance:
        if not isinstance(utterance, dict):
            raise ValueError(
                f"{where} must be a dict with 'text' (and optional 'speaker', 'audio', 'video'), "
                f"got {type(utterance).__name__}."
            )
        for key in utterance:
            if key not in UTTERANCE_KEYS and key not in _DATASET_ROW_KEYS:
                unknown_keys.setdefault(key, where)
        values = {
            key: None if isinstance(value, str) and not value.strip() else value for key, value in utterance.items()
        }
        text = values.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"{where}: 'text' must be a string, got {type(text).__name__}.")
        for key in ("audio", "video"):
            if values.get(key) is not None and not isinstance(values[key], _MEDIA_SOURCE_TYPES):
                raise ValueError(
                    f"{where}: '{key}' must be a path, bytes or a dict as `datasets` stores media, got "
                    f"{type(values[key]).__name__}."
                )
        audio_names = ("audio_start_time", "audio_end_time")
        audio_cut = check_cut(*(values.get(name) for name in audio_names), where, names=audio_names)
        parsed = _Utterance(
            speaker=_speaker(values.get("speaker"), where),
            text=text.strip() if text else None,
            audio=values.get("audio"),
            video=values.get("video"),
            cut=check_cut(values.get("start_time"), values.get("end_time"), where),
            audio_cut=audio_cut,
            label=self._utterance_label(values, where),
        )
        if parsed.text is None and "text" in self.modalities:
            logger.warning(f"{where} has no text: its text modality is marked missing (modality_mask[..., 0] = 0).")
        return parsed

    def _parse(self, conversations: list) -> list[list[_Utterance]]:
        parsed, unknown_keys = [], {}
        for b, conversation in enumerate(conversations):
            if isinstance(conversation, (str, dict)) or not isinstance(conversation, Sequence):
                kind = type(conversation).__name__
                raise ValueError(f"Conversation {b} must be a list of utterance dicts, got {kind}.")
            if len(conversation) == 0:
                raise ValueError(f"Conversation {b} is empty: every conversation needs at least one utterance.")
            if len(conversation) > self.max_utterances:
                logger.warning(
                    f"Conversation {b} has {len(conversation)} utterances; keeping the first {self.max_utterances} "
                    "(`max_utterances`). Split long conversations to get predictions for every utterance."
                )
                conversation = conversation[: self.max_utterances]
            parsed.append(
                [self._validate_utterance(utt, _where(b, n), unknown_keys) for n, utt in enumerate(conversation)]
            )
        for key, where in unknown_keys.items():
            close = difflib.get_close_matches(key, UTTERANCE_KEYS, n=1)
            logger.warning(
                f"Unknown utterance key '{key}' (first at {where})"
                + (f"; did you mean '{close[0]}'?" if close else "")
                + f" It is ignored. Utterance keys: {list(UTTERANCE_KEYS)}."
            )
        return parsed

    def _utterance_string(self, utterance: _Utterance) -> str:
        if self.include_speaker and utterance.speaker is not None:
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

    def _encode_with_context(self, token_ids: list[list[int]], index: int, special_ids, max_length: int) -> list[int]:
        """`[CLS] previous [SEP] current [SEP] next [SEP]`, the current utterance kept whole when possible."""
        start, separator = special_ids
        window = self.context_window
        previous = [token for ids in token_ids[max(0, index - window) : index] for token in ids]
        following = [token for ids in token_ids[index + 1 : index + 1 + window] for token in ids]
        current = token_ids[index][: max_length - 2]
        budget = max_length - 2 - len(current) - 2  # the two separators around the current utterance
        if window == 0 or budget <= 0:
            return [start, *current, separator]
        keep_previous = min(len(previous), max(budget // 2, budget - len(following)))
        keep_following = min(len(following), max(budget - keep_previous, 0))
        previous = previous[len(previous) - keep_previous :]
        return [start, *previous, separator, *current, separator, *following[:keep_following], separator]

    def _text_layout(self, text_kwargs: dict[str, Any]) -> tuple[int, str, int | None]:
        """Pops the layout options (the processor pads and trims itself) and checks they are ones it can honour."""
        max_length = text_kwargs.pop("max_length", None) or self.max_text_length
        padding = text_kwargs.pop("padding", None)
        padding = "longest" if padding in (None, True) else str(getattr(padding, "value", padding))
        fixed = {"truncation": (True, "longest_first"), "add_special_tokens": (True,), "padding_side": ("right",)}
        for key, allowed in fixed.items():
            value = text_kwargs.pop(key, None)
            if value is not None and value not in allowed:
                raise ValueError(f"`text_kwargs['{key}']` can only be {allowed}: the processor lays out the tokens.")
        if padding not in ("longest", "max_length") or max_length < 8:
            raise ValueError(
                f"Text padding must be 'longest' or 'max_length' and `max_length` >= 8, got {padding=}, {max_length=}."
            )
        return max_length, padding, text_kwargs.pop("pad_to_multiple_of", None)

    def _encode_text(self, conversations: list[list[_Utterance]], text_kwargs: dict) -> dict[str, np.ndarray]:
        max_length, padding, multiple = self._text_layout(text_kwargs)
        flat = [self._utterance_string(utterance) for conversation in conversations for utterance in conversation]
        flat_ids = self.tokenizer(flat, add_special_tokens=False, **text_kwargs)["input_ids"]  # one batched call
        special_ids = self._special_ids()  # tokenizer attribute lookups are slow: once per call, not per utterance
        encoded, offset = [], 0
        for conversation in conversations:
            token_ids = flat_ids[offset : offset + len(conversation)]
            offset += len(conversation)
            encoded.append(
                [self._encode_with_context(token_ids, n, special_ids, max_length) for n in range(len(token_ids))]
            )
        length = max_length if padding == "max_length" else max(len(ids) for conv in encoded for ids in conv)
        length = -(-length // multiple) * multiple if multiple else length
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        shape = (len(conversations), max(len(conversation) for conversation in conversations), length)
        input_ids, attention_mask = np.full(shape, pad_id, dtype=np.int64), np.zeros(shape, dtype=np.int64)
        for b, conversation in enumerate(encoded):
            for n, ids in enumerate(conversation):
                input_ids[b, n, : len(ids)] = ids
                attention_mask[b, n, : len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def _media_failed(self, error, policy: str, b: int, n: int, key: str, source, modality: str, detail="") -> None:
        """Raises `error`'s media error class naming the utterance, key and file, or warns under `"skip"`."""
        location = f"{_where(b, n)}: {key} {_describe(source)}{detail}"
        if isinstance(error, FileNotFoundError):
            message = f"{location} cannot be read: {str(error).rstrip('.')}. Fix the path, or remove the '{key}' key."
        elif policy == "raise":
            fix = f"Fix the file, remove the '{key}' key, or pass on_media_error='skip' to mark it missing."
            message = f"{location} cannot be read: {str(error).rstrip('.')}. {fix}"
        else:
            logger.warning(f"{location} cannot be read ({error}); marked missing: {modality} (on_media_error='skip').")
            return
        raise _with_context(error, message, source=source, modality=key, conversation=b, utterance=n) from error

    def _load_waveform(self, utterance: _Utterance, policy: str, b: int, n: int) -> np.ndarray | None:
        from_video = utterance.audio is None
        if from_video:  # the video's own soundtrack, cut like its frames
            source, (start, end), key = utterance.video, utterance.cut, "video"
        else:
            source, (start, end), key = utterance.audio, utterance.audio_cut, "audio"
        if source is None or (from_video and utterance.video_unreadable):
            return None
        rate = self.feature_extractor.sampling_rate
        try:
            return load_audio(source, sampling_rate=rate, start_time=start, end_time=end)
        except NoAudioStreamError as error:
            if not from_video:  # a video without an audio track simply has no audio
                self._media_failed(error, policy, b, n, key, source, "audio")
        except EmptyAudioError as error:
            logger.warning(f"{_where(b, n)}: {key} {_describe(source)}: the audio is empty ({error}); marked missing.")
        except (MediaDecodingError, FileNotFoundError) as error:
            self._media_failed(error, policy, b, n, key, source, "audio", " (its audio track)" if from_video else "")
        except ValueError as error:  # e.g. an audio dict without `sampling_rate`
            raise ValueError(f"{_where(b, n)}: {key} {_describe(source)}: {error}") from error
        return None

    def _encode_audio(self, conversations, audio_kwargs: dict, policy: str) -> dict[str, np.ndarray]:
        waveforms, positions = [], []
        for b, conversation in enumerate(conversations):
            for n, utterance in enumerate(conversation):
                waveform = self._load_waveform(utterance, policy, b, n)
                utterance.present["audio"] = waveform is not None
                if waveform is not None:
                    waveforms.append(waveform)
                    positions.append((b, n))
        if not waveforms:
            return {}
        fixed = [key for key in ("sampling_rate", "return_attention_mask", "raw_speech") if key in audio_kwargs]
        if fixed or audio_kwargs.get("padding") in (False, "do_not_pad"):
            raise ValueError(f"`audio_kwargs` cannot set {fixed or 'padding=do_not_pad'}: the processor sets them.")
        rate = self.feature_extractor.sampling_rate
        try:
            features = self.feature_extractor(
                waveforms, sampling_rate=rate, return_attention_mask=True, **audio_kwargs
            )
        except ValueError:  # name the utterance: featurise clip by clip to find it
            for waveform, (b, n) in zip(waveforms, positions):
                try:
                    self.feature_extractor([waveform], sampling_rate=rate, **audio_kwargs)
                except ValueError as error:
                    source = conversations[b][n].audio or conversations[b][n].video
                    raise ValueError(f"{_where(b, n)}: audio {_describe(source)}: {error}") from error
            raise
        spectrograms, frame_mask = np.asarray(features["input_features"]), np.asarray(features["attention_mask"])
        batch_size, num_utterances = len(conversations), max(len(c) for c in conversations)
        input_features = np.zeros((batch_size, num_utterances, *spectrograms.shape[1:]), dtype=np.float32)
        audio_attention_mask = np.zeros((batch_size, num_utterances, spectrograms.shape[-1]), dtype=np.int64)
        rows, cols = map(list, zip(*positions))
        input_features[rows, cols] = spectrograms
        audio_attention_mask[rows, cols] = frame_mask
        return {"input_features": input_features, "audio_attention_mask": audio_attention_mask}

    def _encode_video(self, conversations, videos_kwargs: dict, policy: str) -> dict[str, np.ndarray]:
        clips, positions = [], []
        num_frames = videos_kwargs.get("num_frames") or self.image_processor.num_frames
        for b, conversation in enumerate(conversations):
            for n, utterance in enumerate(conversation):
                utterance.present["visual"] = False
                if utterance.video is None:
                    continue
                try:
                    frames = load_video_frames(utterance.video, num_frames, *utterance.cut)
                except (MediaDecodingError, FileNotFoundError) as error:
                    utterance.video_unreadable = not isinstance(error, NoVideoStreamError)
                    sound = utterance.video_unreadable and utterance.audio is None and "audio" in self.modalities
                    modality = "visual, and audio from its sound track" if sound else "visual"
                    self._media_failed(error, policy, b, n, "video", utterance.video, modality)
                    continue
                utterance.present["visual"] = True
                clips.append(frames)
                positions.append((b, n))
        if not clips:
            return {}
        processed = self.image_processor(clips, **videos_kwargs)
        batch_size, num_utterances = len(conversations), max(len(c) for c in conversations)
        rows, cols = map(list, zip(*positions))
        outputs = {}
        for key in ("pixel_values", "face_pixel_values", "face_weights", "face_mask"):
            values = np.asarray(processed[key])
            outputs[key] = np.zeros((batch_size, num_utterances, *values.shape[1:]), dtype=values.dtype)
            outputs[key][rows, cols] = values
        return outputs

    # trf-ignore: TRF057 — see the class (`auto_docstring` does not apply to remote code).
    def __call__(
        self,
        conversations: list[list[dict]] | list[dict] | None = None,
        text: list[list[str]] | list[str] | None = None,
        audio=None,
        videos=None,
        speakers: list[list[str]] | list[str] | None = None,
        return_tensors: str | None = "pt",
        **kwargs: Unpack[M2FNetProcessorKwargs],
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
            kwargs ([`M2FNetProcessorKwargs`], *optional*):
                Options per part, as in transformers processors: `text_kwargs` (`max_length` for this call,
                `padding="max_length"`, `pad_to_multiple_of`, other tokenizer options), `audio_kwargs` (e.g.
                `do_augment`, `generator`, `max_length`), `videos_kwargs` (e.g. `num_frames`, `max_faces`,
                `do_detect_faces`), and `on_media_error`. An option that belongs to one part only may be passed flat
                (`num_frames=8`); unknown or ambiguous keys raise a `TypeError`.

        Returns:
            [`BatchFeature`] with (B conversations, N utterances, padded): `input_ids`, `attention_mask`
            `(B, N, L)`; `input_features` `(B, N, M, T)` and `audio_attention_mask` `(B, N, T)` when any utterance
            has audio; `pixel_values` `(B, N, F, 3, H, W)`, `face_pixel_values` `(B, N, F, K, 3, h, w)`,
            `face_weights` `(B, N, F, K)` and `face_mask` `(B, N, F)` when any utterance has video;
            `utterance_mask` `(B, N)`; `modality_mask` `(B, N, 3)` (text, audio, visual); `speaker_ids` `(B, N)`
            (int64, 0 on padding); `labels` `(B, N)` when any utterance has a label (-100 elsewhere).
        """
        options = self._route_kwargs(kwargs)
        parsed = self._parse(self._normalise_conversations(conversations, text, audio, videos, speakers))
        policy = options["on_media_error"]
        # Video first: an unreadable video file is reported as the video's, not as its soundtrack's.
        visual = self._encode_video(parsed, options["videos_kwargs"], policy) if "visual" in self.modalities else {}
        sound = self._encode_audio(parsed, options["audio_kwargs"], policy) if "audio" in self.modalities else {}
        data = self._encode_text(parsed, options["text_kwargs"]) if "text" in self.modalities else {}
        data.update(sound)
        data.update(visual)
        data.update(self._masks_labels_and_speakers(parsed))
        return BatchFeature(data=data, tensor_type=return_tensors)

    def _masks_labels_and_speakers(self, conversations: list[list[_Utterance]]) -> dict[str, np.ndarray]:
        batch_size, num_utterances = len(conversations), max(len(c) for c in conversations)
        utterance_mask = np.zeros((batch_size, num_utterances), dtype=np.int64)
        modality_mask = np.zeros((batch_size, num_utterances, len(MODALITIES)), dtype=np.int64)
        speaker_ids = np.zeros((batch_size, num_utterances), dtype=np.int64)
        labels = np.full((batch_size, num_utterances), -100, dtype=np.int64)
        for b, conversation in enumerate(conversations):
            speaker_ids[b, : len(conversation)] = number_speakers([utterance.speaker for utterance in conversation])
            for n, utterance in enumerate(conversation):
                utterance_mask[b, n] = 1
                present = {"text": "text" in self.modalities and utterance.text is not None, **utterance.present}
                modality_mask[b, n] = [present.get(modality, False) for modality in MODALITIES]
                labels[b, n] = utterance.label
        data = {"utterance_mask": utterance_mask, "modality_mask": modality_mask, "speaker_ids": speaker_ids}
        if (labels != -100).any():
            data["labels"] = labels
        return data


__all__ = ["M2FNetProcessor", "number_speakers"]
