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
"""The `Dataset.map` function of the feature cache: runs M2FNet's utterance-level extractors over dialogue rows."""

import copy

import numpy as np
import torch
from datasets.utils import logging

from modeling_m2fnet.configuration_m2fnet import MODALITIES
from modeling_m2fnet.processing_m2fnet import number_speakers

from .collators import EMBED_COLUMNS


logger = logging.get_logger(__name__)

UNUSABLE_MEDIA_COLUMN = "unusable_media"


def add_context(error: Exception, context: str) -> Exception:
    """Adds `context` to `error` as a note (kept by tracebacks and by the CLIs' one-line errors); same object."""
    if hasattr(error, "add_note"):
        error.add_note(context)
    return error


class M2FNetUtteranceEmbedder:
    """
    The `Dataset.map(batched=True)` function of [`extract_features`]: turns a batch of dialogue rows (builder schema)
    into cached-feature rows, encoding the utterances of all dialogues of the batch together.

    Args:
        model ([`M2FNetForEmotionRecognition`] or [`M2FNetModel`]):
            The model whose utterance-level extractors are run (in eval mode, without gradients).
        processor ([`M2FNetProcessor`]):
            Its processor; one shallow copy per modality is used.
        modalities (`list[str]`):
            Modalities to extract, a subset of the model's.
        on_media_error (`str`, *optional*):
            `"raise"` or `"skip"`; defaults to the processor's.
        utterances_per_forward (`int`, *optional*, defaults to 64):
            Most utterances per extractor forward pass (bounds memory for long dialogues or video).
        device (`torch.device`, *optional*):
            Where the model runs; defaults to the model's device.
    """

    def __init__(self, model, processor, modalities, on_media_error=None, utterances_per_forward=64, device=None):
        self.m2fnet = getattr(model, "m2fnet", model)
        self.modalities = list(modalities)
        self.utterances_per_forward = utterances_per_forward
        self.device = device if device is not None else next(self.m2fnet.parameters()).device
        self.max_utterances = processor.max_utterances
        self.processors = {}
        for modality in self.modalities:
            clone = copy.copy(processor)
            clone.modalities = [modality]
            if on_media_error is not None:
                clone.on_media_error = on_media_error
            clone._validate_settings()
            self.processors[modality] = clone
        self.embed_dims = {modality: self.m2fnet.config.embed_dim(modality) for modality in self.modalities}

    # What each modality's processor call sees of an utterance.
    @staticmethod
    def _utterance_input(modality: str, utterance: dict, dialogue_video) -> dict:
        if modality == "text":
            return {"speaker": utterance.get("speaker"), "text": utterance.get("text")}
        own_audio, own_video = utterance.get("audio"), utterance.get("video")
        if modality == "audio" and own_audio is not None:
            return {"audio": own_audio}
        if own_video is not None:
            return {"video": own_video}  # MELD's start/end times locate the clip in its episode: not used
        if dialogue_video is not None:  # IEMOCAP: one video per dialogue, cut at the utterance's times
            return {
                "video": dialogue_video,
                "start_time": utterance.get("start_time"),
                "end_time": utterance.get("end_time"),
            }
        return {}

    def _process(self, modality: str, conversations: list[list[dict]], dialogue_ids: list[str]):
        processor = self.processors[modality]
        try:
            return processor(conversations=conversations, return_tensors="pt")
        except Exception:  # name the dialogue: rerun one by one to find it
            for conversation, dialogue_id in zip(conversations, dialogue_ids):
                try:
                    processor(conversations=[conversation], return_tensors="pt")
                except Exception as single_error:
                    raise add_context(
                        single_error, f"while extracting the {modality} of dialogue {dialogue_id!r}"
                    ) from None
            raise

    def _encode(self, modality: str, inputs, selected: torch.Tensor) -> torch.Tensor:
        """Embeddings `(batch, num_utterances, embed_dim)` of the `selected` utterances, in chunks."""
        output = torch.zeros(*selected.shape, self.embed_dims[modality], dtype=torch.float32)
        positions = selected.nonzero()
        if len(positions) == 0:
            return output
        device = self.device
        if modality == "text":
            # Similar lengths together, and each chunk cut to its longest utterance (right padding): less padding.
            lengths = inputs["attention_mask"][selected].sum(-1)
            positions = positions[torch.argsort(lengths, stable=True)]
            input_ids, attention_mask = inputs["input_ids"].to(device), inputs["attention_mask"].to(device)
        elif modality == "audio":
            input_features = inputs["input_features"].to(device, self.m2fnet.dtype)
            audio_attention_mask = inputs["audio_attention_mask"].to(device)
        else:
            visual = {
                key: inputs[key].to(device, self.m2fnet.dtype) if key in inputs else None
                for key in ("pixel_values", "face_pixel_values", "face_weights")
            }
        for start in range(0, len(positions), self.utterances_per_forward):
            chunk = positions[start : start + self.utterances_per_forward]
            mask = torch.zeros_like(selected)
            mask[chunk[:, 0], chunk[:, 1]] = True
            device_mask = mask.to(device)
            if modality == "text":
                length = int(attention_mask[device_mask].sum(-1).max())
                features = self.m2fnet.get_text_features(
                    input_ids[..., :length], attention_mask[..., :length], device_mask
                )
            elif modality == "audio":
                features = self.m2fnet.get_audio_features(input_features, audio_attention_mask, device_mask)
            else:
                features = self.m2fnet.get_visual_features(
                    visual["pixel_values"], visual["face_pixel_values"], visual["face_weights"], device_mask
                )
            output[mask] = features[device_mask].float().cpu()
        return output

    @torch.no_grad()
    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        num_rows = len(batch["utterances"])
        names = batch.get("dialogue_name") or batch["dialogue_id"]
        dialogue_videos = batch.get("video") or [None] * num_rows
        keep = [index for index in range(num_rows) if batch["utterances"][index]]
        if len(keep) < num_rows:
            skipped = [str(names[index]) for index in range(num_rows) if index not in keep]
            logger.warning(f"Skipping dialogue(s) {skipped}: no utterance.")
        dialogue_ids = [str(names[index]) for index in keep]
        dialogues = [batch["utterances"][index][: self.max_utterances] for index in keep]
        videos = [dialogue_videos[index] for index in keep]
        lengths = [len(dialogue) for dialogue in dialogues]

        output = {
            "dialogue_id": dialogue_ids,
            "labels": [
                [-100 if utterance.get("emotion") is None else int(utterance["emotion"]) for utterance in dialogue]
                for dialogue in dialogues
            ],
            UNUSABLE_MEDIA_COLUMN: [[] for _ in dialogues],
            "speaker_ids": [
                number_speakers([utterance.get("speaker") for utterance in dialogue]) for dialogue in dialogues
            ],
        }
        modality_mask = [np.zeros((length, len(MODALITIES)), dtype=np.int8) for length in lengths]
        if not dialogues:
            output["modality_mask"], output["speaker_ids"] = [], []
            for modality in self.modalities:
                output[EMBED_COLUMNS[modality]] = []
            return output
        for modality in self.modalities:
            column = MODALITIES.index(modality)
            conversations = [
                [self._utterance_input(modality, utterance, video) for utterance in dialogue]
                for dialogue, video in zip(dialogues, videos)
            ]
            inputs = self._process(modality, conversations, dialogue_ids)
            present = inputs["utterance_mask"].bool() & inputs["modality_mask"][..., column].bool()
            embeddings = self._encode(modality, inputs, present)
            if not torch.isfinite(embeddings).all():
                b, n = (~torch.isfinite(embeddings)).any(-1).nonzero()[0].tolist()
                raise ValueError(
                    f"Dialogue {dialogue_ids[b]!r}, utterance {n}: the {modality} extractor returned NaN or inf "
                    "(check the model's weights and this utterance's input)."
                )
            output[EMBED_COLUMNS[modality]] = [embeddings[b, :length].numpy() for b, length in enumerate(lengths)]
            for b, (conversation, length) in enumerate(zip(conversations, lengths)):
                modality_mask[b][:, column] = present[b, :length].numpy()
                if modality == "text":
                    continue
                for n, utterance_input in enumerate(conversation):
                    if (utterance_input.get("audio") or utterance_input.get("video")) and not present[b, n]:
                        output[UNUSABLE_MEDIA_COLUMN][b].append({"utterance": n, "modality": modality})
        output["modality_mask"] = modality_mask
        return output


__all__ = ["UNUSABLE_MEDIA_COLUMN", "M2FNetUtteranceEmbedder", "add_context"]
