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
"""Pins of the performance changes: each fast path computes what the straightforward one computes.

See `benchmarks/RESULTS.md` for the timings; `tests/test_regression_m2fnet.py` compares the whole model with the
numbers of the code before these changes.
"""

from unittest import mock

import pytest
import torch

from m2fnet_training.tiny_model import train_tiny_tokenizer
from modeling_m2fnet import (
    M2FNetConfig,
    M2FNetFeatureExtractor,
    M2FNetForEmotionRecognition,
    M2FNetImageProcessor,
    M2FNetProcessor,
    M2FNetVisualConfig,
    M2FNetVisualExtractor,
)
from tests.artifacts.make_m2fnet_reference import reference_config, reference_inputs


# ------------------------------------------------------------------------------------------------ text: special ids


def test_special_ids_are_looked_up_once_per_call():
    tokenizer = train_tiny_tokenizer(["Ross: we were on a break", "Rachel: oh my god"])
    processor = M2FNetProcessor(tokenizer, M2FNetFeatureExtractor(), M2FNetImageProcessor(), modalities=["text"])
    conversation = [{"speaker": "Ross", "text": "we were on a break"}] * 6
    expected = processor(conversations=[conversation, conversation[:2]])
    spy = mock.patch.object(M2FNetProcessor, "_special_ids", autospec=True, side_effect=M2FNetProcessor._special_ids)
    with spy as spy:
        again = processor(conversations=[conversation, conversation[:2]])
    assert spy.call_count == 1
    for key in expected:
        torch.testing.assert_close(again[key], expected[key], rtol=0, atol=0)


# --------------------------------------------------------------------------------------- model: dialogue-level packing


def _tiny_model(**overrides):
    import modeling_m2fnet

    torch.manual_seed(0)
    return M2FNetForEmotionRecognition(reference_config(modeling_m2fnet, **overrides)).eval()


EMBED_KEYS = ("text_embeds", "audio_embeds", "visual_embeds", "utterance_mask", "modality_mask")


def test_position_wise_layers_only_see_real_utterances():
    model = _tiny_model()
    inputs = reference_inputs()
    seen = {}

    def record(name):
        def hook(module, args, output):
            seen[name] = args[0].shape

        return hook

    model.m2fnet.fusion_layers[0].fc.register_forward_hook(record("fusion"))
    model.m2fnet.dialogue_encoders["audio"].layers[0].mlp.register_forward_hook(record("audio"))
    with torch.no_grad():
        model(**{key: inputs[key] for key in EMBED_KEYS})
    # 5 + 3 + 1 real utterances of 15 positions; utterances without audio are rows too (zeroed), so that one
    # packing serves every modality.
    assert seen["fusion"][0] == seen["audio"][0] == int(inputs["utterance_mask"].sum()) == 9


def test_packed_batch_equals_each_dialogue_alone():
    model = _tiny_model()
    inputs = reference_inputs()
    with torch.no_grad():
        packed = model(**{key: inputs[key] for key in EMBED_KEYS})
        for index, length in enumerate(inputs["utterance_mask"].sum(-1).tolist()):
            alone = model(**{key: inputs[key][index : index + 1, :length] for key in EMBED_KEYS})
            torch.testing.assert_close(packed.logits[index, :length], alone.logits[0], rtol=1e-5, atol=1e-6)
    # Padding stays exactly zero in every dialogue-level output.
    padding = ~inputs["utterance_mask"].bool()
    for features in (packed.last_hidden_state, packed.fused_features, packed.text_features, packed.audio_features):
        assert (features[padding] == 0).all()


def test_a_dialogue_without_any_key_attends_to_nothing():
    # Dialogue 1 of the reference inputs has no audio at all: its fusion attention to audio must give zero (then the
    # output projection's bias), not a uniform average over masked keys.
    model = _tiny_model()
    inputs = reference_inputs()
    attention = model.m2fnet.fusion_layers[0].attentions["audio"]
    outputs = []
    attention.register_forward_hook(lambda module, args, output: outputs.append(output[0]))
    with torch.no_grad():
        model(**{key: inputs[key] for key in EMBED_KEYS})
    rows = outputs[0]  # packed rows: 5 of dialogue 0, then 3 of dialogue 1, then 1 of dialogue 2
    torch.testing.assert_close(rows[5:8], attention.out_proj.bias.expand(3, -1))  # out_proj(0) = bias
    assert (rows[:5] - attention.out_proj.bias).abs().max() > 1e-3  # negative control: dialogue 0 has audio


# ----------------------------------------------------------------------------------------- model: text-padding trim


def _record_text_lengths(model) -> list[int]:
    lengths = []

    def hook(module, args, kwargs, output):
        lengths.append(kwargs["input_ids"].shape[-1])

    model.m2fnet.text_model.register_forward_hook(hook, with_kwargs=True)
    return lengths


def test_text_encoder_runs_up_to_the_last_real_token():
    model = _tiny_model()
    inputs = reference_inputs()  # 12 token columns, at most 8 real tokens
    selected = inputs["utterance_mask"].bool()
    lengths = _record_text_lengths(model)
    with torch.no_grad():
        trimmed = model.m2fnet.get_text_features(inputs["input_ids"], inputs["attention_mask"], selected)
        # Reference: the encoder on the untrimmed columns, pooled and scattered the same way.
        states = model.m2fnet.text_model(
            input_ids=inputs["input_ids"][selected], attention_mask=inputs["attention_mask"][selected]
        ).last_hidden_state
    assert lengths == [int(inputs["attention_mask"][selected].sum(-1).max()), 12]
    torch.testing.assert_close(trimmed[selected], states[:, 0], rtol=1e-5, atol=1e-6)
    assert (trimmed[~selected] == 0).all()


def test_left_padded_text_is_not_trimmed():
    model = _tiny_model()
    attention_mask = torch.tensor([[[0, 0, 1, 1], [0, 1, 1, 1]]])
    input_ids = torch.randint(5, 99, (1, 2, 4)) * attention_mask
    lengths = _record_text_lengths(model)
    with torch.no_grad():
        model.m2fnet.get_text_features(input_ids, attention_mask, torch.ones(1, 2, dtype=torch.bool))
    assert lengths == [4]


# ------------------------------------------------------------------------------------ extractors: chunked encoding


def _visual_extractor(**overrides) -> M2FNetVisualExtractor:
    encoder = {"model_type": "resnet", "layer_type": "basic", "depths": [1, 1], "hidden_sizes": [8, 16]}
    encoder["embedding_size"] = 8
    torch.manual_seed(0)
    return M2FNetVisualExtractor(M2FNetVisualConfig(projection_dim=8, encoder_config=encoder, **overrides))


def test_eval_encodes_in_chunks_with_the_same_result():
    extractor = _visual_extractor(encoder_batch_size=4).eval()
    frames, faces = torch.randn(3, 5, 3, 16, 16), torch.randn(3, 5, 1, 3, 8, 8)
    weights = torch.ones(3, 5, 1)
    batch_sizes = []
    extractor.feature_encoder.encoder.register_forward_hook(lambda m, args, out: batch_sizes.append(args[0].shape[0]))
    with torch.no_grad():
        chunked = extractor(frames, faces, weights).embeddings
        extractor.config.encoder_batch_size = None
        whole = extractor(frames, faces, weights).embeddings
    assert batch_sizes == [4, 4, 4, 3] * 2 + [15, 15]  # scene then faces, chunked; then each at once
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-6)


def test_training_encodes_the_whole_batch_at_once():
    extractor = _visual_extractor(encoder_batch_size=4).train()
    batch_sizes = []
    extractor.feature_encoder.encoder.register_forward_hook(lambda m, args, out: batch_sizes.append(args[0].shape[0]))
    extractor(torch.randn(3, 5, 3, 16, 16), torch.randn(3, 5, 1, 3, 8, 8), torch.ones(3, 5, 1))
    assert batch_sizes == [15, 15]  # batch-norm statistics over the whole batch, as before


def test_encoder_batch_size_is_validated_and_saved(tmp_path):
    assert M2FNetVisualConfig().encoder_batch_size == 64
    with pytest.raises(ValueError, match="encoder_batch_size"):
        M2FNetVisualConfig(encoder_batch_size=0)
    config = M2FNetConfig(audio_config={"encoder_batch_size": 8})
    config.save_pretrained(tmp_path)
    assert M2FNetConfig.from_pretrained(tmp_path).audio_config.encoder_batch_size == 8
