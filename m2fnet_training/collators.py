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
"""Collators: dialogues in the builders' schema through the processor, and dialogues of cached utterance embeddings.

The cached-feature format (one row per dialogue, written by `examples/extract_features.py`):

| column | type | shape |
|---|---|---|
| `dialogue_id` | string | |
| `labels` | `List(int64)` | (N,), -100 where unknown |
| `text_embeds` / `audio_embeds` / `visual_embeds` | `List(List(float32))`, optional columns | (N, D_m) |
| `modality_mask` | `List(List(int8))` | (N, 3): text, audio, visual present |
| `speaker_ids` | `List(int64)`, optional | (N,): speakers numbered by first appearance in the dialogue |
"""

from dataclasses import dataclass

import numpy as np
import torch

from modeling_m2fnet import M2FNetProcessor
from modeling_m2fnet.configuration_m2fnet import MODALITIES


EMBED_COLUMNS = {modality: f"{modality}_embeds" for modality in MODALITIES}


def dialogue_to_conversation(row: dict, label_map: list[int] | None = None) -> list[dict]:
    """
    One dataset row (a dialogue in the builders' schema) as the list of utterance dicts the processor takes.

    Media values are the builders' undecoded `{"bytes", "path"}` dicts. A dialogue-level `video` (IEMOCAP) is cut per
    utterance with its `start_time` / `end_time`; per-utterance clips (MELD) are used whole, since their times refer
    to the episode. `label_map` maps the data's class ids to the model's.
    """
    conversation = []
    for utterance in row["utterances"]:
        emotion = utterance.get("emotion")
        item = {
            "speaker": utterance.get("speaker"),
            "text": utterance.get("text"),
            "label": None if emotion is None or emotion < 0 else (label_map[emotion] if label_map else emotion),
        }
        for key in ("audio", "video"):
            if utterance.get(key) and utterance.get(f"has_{key}", True):
                item[key] = utterance[key]
        if "video" not in item and row.get("video") and utterance.get("has_video", True):
            item["video"] = row["video"]
            item["start_time"], item["end_time"] = utterance.get("start_time"), utterance.get("end_time")
        conversation.append(item)
    return conversation


@dataclass
class M2FNetDialogueCollator:
    """Turns rows in the builders' schema into a model batch with the processor (text, audio and video decoding)."""

    processor: M2FNetProcessor
    label_map: list[int] | None = None

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        conversations = [dialogue_to_conversation(row, self.label_map) for row in rows]
        batch = dict(self.processor(conversations=conversations, return_tensors="pt"))
        if "labels" not in batch:  # an unlabelled batch still needs the key, for gathering during evaluation
            batch["labels"] = torch.full_like(batch["utterance_mask"], -100)
        return batch


@dataclass
class M2FNetEmbeddingCollator:
    """
    Pads dialogues of cached embeddings to the longest dialogue of the batch (not a global maximum).

    Args:
        modalities (`list[str]`, *optional*):
            Modalities to emit; defaults to every `*_embeds` column present in the first row.
        max_utterances (`int`, *optional*):
            Dialogues longer than this keep their first `max_utterances` utterances.

    Returns (from `__call__`): a dict of tensors, B dialogues and N utterances: `{modality}_embeds` `(B, N, D_m)`
    float32, `utterance_mask` `(B, N)`, `modality_mask` `(B, N, 3)`, `labels` `(B, N)` (-100 on padding), and
    `speaker_ids` `(B, N)` (speakers numbered by first appearance, 0 on padding) when the rows have them.
    """

    modalities: list[str] | None = None
    max_utterances: int | None = None

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        if not rows:
            raise ValueError("Cannot collate an empty batch.")
        modalities = self.modalities or [m for m, column in EMBED_COLUMNS.items() if rows[0].get(column) is not None]
        lengths = [len(row["labels"]) for row in rows]
        if self.max_utterances is not None:
            lengths = [min(length, self.max_utterances) for length in lengths]
        if min(lengths) == 0:
            raise ValueError(f"Dialogue {rows[lengths.index(0)].get('dialogue_id')!r} has no utterance.")
        batch_size, num_utterances = len(rows), max(lengths)

        labels = np.full((batch_size, num_utterances), -100, dtype=np.int64)
        utterance_mask = np.zeros((batch_size, num_utterances), dtype=np.int64)
        modality_mask = np.zeros((batch_size, num_utterances, len(MODALITIES)), dtype=np.int64)
        batch = {}
        for b, (row, length) in enumerate(zip(rows, lengths)):
            labels[b, :length] = np.asarray(row["labels"][:length])
            utterance_mask[b, :length] = 1
            modality_mask[b, :length] = np.asarray(row["modality_mask"][:length])
        for modality in modalities:
            column = EMBED_COLUMNS[modality]
            if rows[0].get(column) is None:
                raise ValueError(f"The rows have no `{column}` column: extract {modality} features first.")
            width = len(rows[0][column][0])
            embeds = np.zeros((batch_size, num_utterances, width), dtype=np.float32)
            for b, (row, length) in enumerate(zip(rows, lengths)):
                values = np.asarray(row[column][:length], dtype=np.float32)
                if values.shape != (length, width):
                    raise ValueError(
                        f"Dialogue {row.get('dialogue_id')!r}: `{column}` has shape {values.shape}, expected "
                        f"({length}, {width})."
                    )
                embeds[b, :length] = values
            if not np.isfinite(embeds).all():
                bad = int(np.argwhere(~np.isfinite(embeds))[0][0])
                raise ValueError(
                    f"Dialogue {rows[bad].get('dialogue_id')!r}: `{column}` holds NaN or inf values; re-extract "
                    "the features (a corrupt clip should be marked missing in `modality_mask` instead)."
                )
            batch[column] = torch.from_numpy(embeds)
        if all(row.get("speaker_ids") is not None for row in rows):
            speakers = np.zeros((batch_size, num_utterances), dtype=np.int64)
            for b, (row, length) in enumerate(zip(rows, lengths)):
                speakers[b, :length] = np.asarray(row["speaker_ids"][:length])
            batch["speaker_ids"] = torch.from_numpy(speakers)
        batch.update(
            labels=torch.from_numpy(labels),
            utterance_mask=torch.from_numpy(utterance_mask),
            modality_mask=torch.from_numpy(modality_mask),
        )
        return batch


__all__ = ["EMBED_COLUMNS", "M2FNetDialogueCollator", "M2FNetEmbeddingCollator", "dialogue_to_conversation"]
