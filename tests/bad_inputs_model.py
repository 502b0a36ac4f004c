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
"""Bad inputs at the dialogue level: a saved model fed batches that do not fit its order switches or attention.

Each case saves a tiny model, watches its folder, feeds the processor's batch (as `model(**batch)`) and checks the
error names the input at fault and the fix; the checkpoint stays byte-for-byte intact.
"""

import pytest
import torch

from m2fnet_training.tiny_model import tiny_config
from modeling_m2fnet import M2FNetForEmotionRecognition


CONVERSATION = [
    {"speaker": "Ross", "text": "We were on a break!"},
    {"speaker": "Rachel", "text": "Oh my God."},
    {"speaker": "Ross", "text": "A break."},
    {"speaker": "Monica", "text": "Guys."},
]


def _saved_model(ctx, **overrides) -> M2FNetForEmotionRecognition:
    """A tiny text-only model with `overrides`, saved under `ctx.tmp` (watched) and loaded back."""
    torch.manual_seed(0)
    config = tiny_config(len(ctx.processor.tokenizer), modalities=["text"], **overrides)
    folder = ctx.tmp / "model"
    M2FNetForEmotionRecognition(config).save_pretrained(folder)
    ctx.watch(folder)
    return M2FNetForEmotionRecognition.from_pretrained(folder, use_safetensors=True).eval()


def _batch(ctx, conversation=CONVERSATION) -> dict:
    batch = ctx.processor(conversations=[conversation], return_tensors="pt")
    return {key: value for key, value in batch.items() if key != "labels"}


def case_model_speaker_embeddings_without_speaker_ids(ctx):
    """A model trained with speaker embeddings, called without `speaker_ids` (e.g. a batch built by hand)."""
    model = _saved_model(ctx, use_speaker_embeddings=True)
    batch = {key: value for key, value in _batch(ctx).items() if key != "speaker_ids"}
    with pytest.raises(ValueError, match=r"use_speaker_embeddings=True.*`speaker_ids`.*M2FNetProcessor returns them"):
        model(**batch)


def case_model_conversation_longer_than_the_position_table(ctx):
    """Absolute positions hold `max_dialogue_utterances` entries; a longer conversation names the field and the fix."""
    model = _saved_model(ctx, dialogue_position_embedding="absolute", max_dialogue_utterances=3)
    with pytest.raises(ValueError, match=r"4 utterances.*`max_dialogue_utterances` = 3.*max_utterances"):
        model(**_batch(ctx))
    assert model(**_batch(ctx, CONVERSATION[:3])).logits.shape == (1, 3, 7)  # the documented fix works


def case_model_attention_maps_from_sdpa(ctx):
    """SDPA returns no probabilities: asking for maps names the eager implementation instead of returning None."""
    model = _saved_model(ctx)
    with pytest.raises(ValueError, match=r"'sdpa' attention returns no probabilities.*attn_implementation=\"eager\""):
        model(**_batch(ctx), output_attentions=True)
    eager = M2FNetForEmotionRecognition.from_pretrained(ctx.tmp / "model", attn_implementation="eager")
    assert len(eager.eval()(**_batch(ctx), output_attentions=True).encoder_attentions) == 1
