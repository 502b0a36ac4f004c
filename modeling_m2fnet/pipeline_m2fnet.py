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
"""The emotion-recognition-in-conversation pipeline shipped with every M2FNet checkpoint (custom pipeline)."""

from collections.abc import Sequence
from typing import Any

import torch
from transformers import Pipeline

from .configuration_m2fnet import PIPELINE_TASK


def _is_utterance(value: Any) -> bool:
    return isinstance(value, (str, dict))


def as_conversations(inputs: Any) -> tuple[list[list[dict]], bool]:
    """
    The pipeline's input as a list of conversations (lists of utterance dicts), and whether it was a single one.

    - a string: one utterance (a conversation of one);
    - a dict: one utterance;
    - a list of strings and / or dicts: one conversation, in order;
    - a list of such lists: several conversations.
    """
    if _is_utterance(inputs):
        return [[_utterance(inputs, 0, 0)]], True
    if not isinstance(inputs, Sequence) or len(inputs) == 0:
        raise ValueError(
            "Pass a conversation (a list of utterance dicts or strings), a list of conversations, or a string; got "
            f"{type(inputs).__name__ if not isinstance(inputs, Sequence) else 'an empty list'}."
        )
    if any(_is_utterance(item) for item in inputs):  # one conversation (every item must then be an utterance)
        return [[_utterance(item, 0, index) for index, item in enumerate(inputs)]], True
    conversations = []
    for position, conversation in enumerate(inputs):
        if isinstance(conversation, (str, dict)) or not isinstance(conversation, Sequence) or not conversation:
            raise ValueError(
                f"Input {position} is not a conversation: a list of conversations needs a non-empty list of "
                "utterance dicts or strings for each."
            )
        conversations.append([_utterance(item, position, index) for index, item in enumerate(conversation)])
    return conversations, False


def _utterance(value: Any, conversation: int, index: int) -> dict:
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, dict):
        return value
    raise ValueError(
        f"Conversation {conversation}, utterance {index}: expected a dict (speaker, text, audio, video) or a string, "
        f"got {type(value).__name__}."
    )


class M2FNetEmotionRecognitionPipeline(Pipeline):
    """
    Predicts one emotion per utterance of a conversation with an M2FNet checkpoint.

    ```python
    >>> from transformers import pipeline
    >>> classifier = pipeline(model="org/m2fnet-meld", trust_remote_code=True)  # doctest: +SKIP
    >>> classifier([{"speaker": "Ross", "text": "We were on a break!"}, {"speaker": "Rachel", "text": "Oh my God."}])
    ... # doctest: +SKIP
    [{'label': 'anger', 'score': 0.61}, {'label': 'surprise', 'score': 0.55}]
    ```

    Inputs: a conversation (a list of utterance dicts as `M2FNetProcessor` takes them, or a list of strings, one per
    utterance), a list of conversations, or one string (a conversation of one utterance).

    Returns one dict per utterance: `{"label", "score"}` (the most likely emotion); with `top_k=k` also `"top_k"`,
    the `k` best `{"label", "score"}` in decreasing order; with `return_modalities=True` also `"modalities"` (which of
    text, audio and visual the processor found for the utterance) and `"face_found"` (whether its frames showed a
    face; `None` without video). A list of such lists for a list of conversations. Conversations longer than the
    processor's `max_utterances` are classified in consecutive windows of that many utterances (the dialogue
    context does not cross windows).
    """

    _load_processor = True
    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_video_processor = False

    def _sanitize_parameters(self, top_k: int | None = None, return_modalities: bool | None = None, **kwargs):
        if kwargs:
            raise TypeError(
                f"Unexpected arguments: {sorted(kwargs)} (the pipeline takes `top_k` and `return_modalities`)."
            )
        postprocess = {}
        if top_k is not None:
            if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"`top_k` must be a positive integer, got {top_k!r}.")
            postprocess["top_k"] = top_k
        if return_modalities is not None:
            postprocess["return_modalities"] = bool(return_modalities)
        return {}, {}, postprocess

    def __call__(self, inputs, **kwargs):
        conversations, single = as_conversations(inputs)
        results = super().__call__(conversations, **kwargs)
        return results[0] if single else results

    def preprocess(self, conversation: list[dict]) -> dict[str, Any]:
        window = self.processor.max_utterances
        batches = [
            self.processor(conversations=[conversation[start : start + window]], return_tensors="pt")
            for start in range(0, len(conversation), window)
        ]
        return {"batches": batches}

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
        logits, present, faces = [], [], []
        for batch in model_inputs["batches"]:
            batch = {key: value for key, value in batch.items() if key != "labels"}
            batch = self._ensure_tensor_on_device(batch, self.device)
            logits.append(self.model(**batch).logits[0])
            present.append(batch["modality_mask"][0].bool())
            has_video = batch["modality_mask"][0, :, 2].bool()
            face = batch["face_mask"][0].bool().any(-1) if "face_mask" in batch else torch.zeros_like(has_video)
            faces.append(torch.where(has_video, face.long(), torch.full_like(face.long(), -1)))
        return {"logits": torch.cat(logits), "present": torch.cat(present), "faces": torch.cat(faces)}

    def postprocess(self, model_outputs: dict[str, torch.Tensor], top_k: int | None = None, return_modalities=False):
        probabilities = model_outputs["logits"].float().softmax(-1).cpu()
        id2label = self.model.config.id2label
        order = self.model.config.modality_mask_order
        results = []
        for row, present, face in zip(
            probabilities, model_outputs["present"].tolist(), model_outputs["faces"].tolist()
        ):
            scores, indices = row.topk(min(top_k or 1, row.shape[-1]))
            ranked = [{"label": id2label[int(i)], "score": float(s)} for s, i in zip(scores, indices)]
            result = dict(ranked[0])
            if top_k is not None:
                result["top_k"] = ranked
            if return_modalities:
                result["modalities"] = dict(zip(order, map(bool, present)))
                result["face_found"] = None if face < 0 else bool(face)
            results.append(result)
        return results


__all__ = ["PIPELINE_TASK", "M2FNetEmotionRecognitionPipeline", "as_conversations"]
