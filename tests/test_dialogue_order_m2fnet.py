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
"""Order at the dialogue level: utterance positions (absolute or relative) and speaker embeddings, all opt-in.

Without them the dialogue level sees a conversation as a set: permuting its utterances permutes the outputs (the
negative control of the order tests).
"""

import subprocess
import sys
import textwrap

import pytest
import torch

from modeling_m2fnet import M2FNetConfig, M2FNetForEmotionRecognition
from tests.paths import REPO_ROOT
from tests.test_modeling_m2fnet import M2FNetModelTester


PERMUTATION = torch.tensor([2, 0, 3, 1])  # of the 4 utterances of the first (unpadded) dialogue


def _model(**overrides) -> M2FNetForEmotionRecognition:
    torch.manual_seed(0)
    # Weights of a trained model's scale (the default 0.02 leaves a tiny random model almost constant).
    config = M2FNetModelTester().get_config(**{"initializer_range": 0.3, **overrides})
    model = M2FNetForEmotionRecognition(config).eval()
    for name, parameter in model.named_parameters():
        if name.endswith(("position_embedding.weight", "relative_attention_bias.weight", "speaker_embedding.weight")):
            torch.nn.init.normal_(parameter, std=1.0)  # as after training: tables that matter
    return model


def _inputs(model, speaker_ids=None) -> dict[str, torch.Tensor]:
    inputs = M2FNetModelTester().prepare_embeds(model.config)
    inputs["modality_mask"] = torch.ones(2, 4, 3, dtype=torch.long)
    inputs["modality_mask"][0, 1, 1] = 0  # one utterance without audio
    if speaker_ids is not None:
        inputs["speaker_ids"] = speaker_ids
    return inputs


def _permute_first_dialogue(inputs: dict) -> dict:
    permuted = {key: value.clone() for key, value in inputs.items()}
    for key, value in permuted.items():
        value[0] = inputs[key][0, PERMUTATION]
    return permuted


def _logits(model, inputs) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).logits


def test_without_order_information_permuting_utterances_permutes_the_outputs():
    model = _model()
    inputs = _inputs(model)
    logits, permuted = _logits(model, inputs), _logits(model, _permute_first_dialogue(inputs))
    torch.testing.assert_close(permuted[0], logits[0, PERMUTATION], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(permuted[1], logits[1], rtol=0, atol=0)


@pytest.mark.parametrize("position_embedding", ["absolute", "relative"])
def test_positions_make_the_outputs_depend_on_order(position_embedding):
    model = _model(dialogue_position_embedding=position_embedding)
    inputs = _inputs(model)
    logits, permuted = _logits(model, inputs), _logits(model, _permute_first_dialogue(inputs))
    assert (permuted[0] - logits[0, PERMUTATION]).abs().max() > 1e-2
    torch.testing.assert_close(permuted[1], logits[1], rtol=0, atol=0)  # the other dialogue is untouched


def test_absolute_positions_are_added_before_the_dialogue_encoder():
    # No encoder layer, no fusion: the text features are the embeddings plus the position table, zero on padding.
    model = _model(modalities=["text"], num_hidden_layers=0, dialogue_position_embedding="absolute")
    inputs = _inputs(model)
    with torch.no_grad():
        features = model(**inputs).text_features
    table = model.m2fnet.dialogue_encoders["text"].position_embedding.weight
    expected = (inputs["text_embeds"] + table[:4]) * inputs["utterance_mask"][..., None]
    torch.testing.assert_close(features, expected)


def test_relative_bias_is_looked_up_by_clipped_distance():
    model = _model(dialogue_position_embedding="relative", relative_attention_max_distance=2)
    encoder = model.m2fnet.dialogue_encoders["audio"]
    table = encoder.relative_attention_bias.weight  # (2 * 2 + 1, num_attention_heads)
    bias = encoder.relative_position_bias(5, torch.device("cpu"))
    assert bias.shape == (1, 2, 5, 5)
    for query in range(5):
        for key in range(5):
            torch.testing.assert_close(bias[0, :, query, key], table[min(max(key - query, -2), 2) + 2])


def test_relative_positions_reach_the_attention_scores():
    model = _model(dialogue_position_embedding="relative", attn_implementation="eager")
    inputs = _inputs(model)
    with torch.no_grad():
        with_bias = model(**inputs, output_attentions=True).encoder_attentions[0]
        model.m2fnet.dialogue_encoders["text"].relative_attention_bias.weight.zero_()
        without_bias = model(**inputs, output_attentions=True).encoder_attentions[0]
    assert (with_bias - without_bias).abs().max() > 1e-2


def test_speaker_embeddings_make_the_outputs_depend_on_who_speaks():
    speakers = torch.tensor([[0, 1, 0, 1], [0, 1, 2, 0]])
    swapped = torch.tensor([[1, 0, 1, 0], [0, 1, 2, 0]])
    model = _model(use_speaker_embeddings=True)
    logits, logits_swapped = _logits(model, _inputs(model, speakers)), _logits(model, _inputs(model, swapped))
    assert (logits[0] - logits_swapped[0]).abs().max() > 1e-2
    torch.testing.assert_close(logits[1], logits_swapped[1], rtol=0, atol=0)
    # Negative control: with the switch off, speaker ids are accepted and ignored.
    model = _model()
    reference = _logits(model, _inputs(model))
    torch.testing.assert_close(_logits(model, _inputs(model, speakers)), reference, rtol=0, atol=0)
    torch.testing.assert_close(_logits(model, _inputs(model, swapped)), reference, rtol=0, atol=0)


def test_speaker_embeddings_are_added_and_large_ids_share_the_last_slot():
    model = _model(modalities=["text"], num_hidden_layers=0, use_speaker_embeddings=True, max_speakers=3)
    speakers = torch.tensor([[0, 1, 2, 7], [2, 40, 1, 0]])
    inputs = _inputs(model, speakers)
    with torch.no_grad():
        features = model(**inputs).text_features
    table = model.m2fnet.dialogue_encoders["text"].speaker_embedding.weight
    expected = (inputs["text_embeds"] + table[speakers.clamp(max=2)]) * inputs["utterance_mask"][..., None]
    torch.testing.assert_close(features, expected)


def test_speaker_ids_are_required_when_the_switch_is_on():
    model = _model(use_speaker_embeddings=True)
    with pytest.raises(ValueError, match=r"use_speaker_embeddings=True.*`speaker_ids`.*got none"):
        model(**_inputs(model))
    with pytest.raises(ValueError, match=r"\(2, 4\), got shape \(2, 3\)"):
        model(**_inputs(model, torch.zeros(2, 3, dtype=torch.long)))


def test_absolute_positions_reject_longer_dialogues_than_the_table():
    model = _model(dialogue_position_embedding="absolute", max_dialogue_utterances=3)
    with pytest.raises(ValueError, match=r"4 utterances.*`max_dialogue_utterances` = 3"):
        model(**_inputs(model))


@pytest.mark.parametrize("position_embedding", ["absolute", "relative"])
def test_a_padded_utterance_changes_no_other_logit(position_embedding):
    model = _model(dialogue_position_embedding=position_embedding, use_speaker_embeddings=True)
    inputs = _inputs(model, torch.tensor([[0, 1, 0, 1], [0, 1, 2, 0]]))
    changed = {key: value.clone() for key, value in inputs.items()}
    for key in ("text_embeds", "audio_embeds", "visual_embeds"):
        changed[key][1, -1] = torch.randn_like(changed[key][1, -1]) * 10
    changed["speaker_ids"][1, -1] = 5
    real = inputs["utterance_mask"].bool()
    torch.testing.assert_close(_logits(model, changed)[real], _logits(model, inputs)[real], rtol=0, atol=1e-6)
    # Each dialogue alone gives what it gets in the batch (positions count within a dialogue).
    alone = _logits(model, {key: value[1:, :3] for key, value in inputs.items()})
    torch.testing.assert_close(alone[0], _logits(model, inputs)[1, :3], rtol=1e-4, atol=1e-5)
    # Negative control: unmasking the padded utterance changes the other logits.
    unmasked = {**changed, "utterance_mask": torch.ones_like(changed["utterance_mask"])}
    assert (_logits(model, unmasked)[1, :3] - _logits(model, inputs)[1, :3]).abs().max() > 1e-3


def test_gradients_reach_the_order_tables():
    for position_embedding in ("absolute", "relative"):
        model = _model(dialogue_position_embedding=position_embedding, use_speaker_embeddings=True).train()
        inputs = _inputs(model, torch.tensor([[0, 1, 0, 1], [0, 1, 2, 0]]))
        model(**inputs, labels=torch.tensor([[0, 1, 2, 3], [4, 5, 6, -100]])).loss.backward()
        tables = {
            name: parameter.grad
            for name, parameter in model.named_parameters()
            if name.startswith("m2fnet.dialogue_encoders") and name.endswith(("embedding.weight", "bias.weight"))
        }
        assert len(tables) == 6  # one position (or bias) table and one speaker table per modality
        assert all(grad is not None and grad.abs().sum() > 0 for grad in tables.values())


def test_save_load_round_trip_in_a_fresh_process(tmp_path):
    model = _model(dialogue_position_embedding="relative", use_speaker_embeddings=True, max_speakers=5)
    model.save_pretrained(tmp_path)
    inputs = _inputs(model, torch.tensor([[0, 1, 0, 1], [0, 1, 2, 0]]))
    torch.save({**inputs, "logits": _logits(model, inputs)}, tmp_path / "expected.pt")
    script = textwrap.dedent(f"""
        import torch
        from modeling_m2fnet import M2FNetForEmotionRecognition
        model = M2FNetForEmotionRecognition.from_pretrained({str(tmp_path)!r}, use_safetensors=True).eval()
        config = model.config
        assert (config.dialogue_position_embedding, config.use_speaker_embeddings) == ("relative", True)
        assert (config.max_speakers, config.relative_attention_max_distance) == (5, 8)
        expected = torch.load({str(tmp_path / "expected.pt")!r})
        logits = expected.pop("logits")
        with torch.no_grad():
            torch.testing.assert_close(model(**expected).logits, logits, rtol=0, atol=0)
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
    assert M2FNetConfig.from_pretrained(tmp_path).to_dict() == model.config.to_dict()
