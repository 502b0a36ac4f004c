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
"""Tests of the M2FNet configuration, extractors and dialogue-level model on tiny random configs."""

import copy
import tempfile
import unittest

import pytest
import torch
import torch.nn.functional as F
from huggingface_hub.errors import StrictDataclassFieldValidationError

from m2fnet_training import tiny_model
from modeling_m2fnet import (
    M2FNetAudioConfig,
    M2FNetAudioExtractor,
    M2FNetConfig,
    M2FNetForEmotionRecognition,
    M2FNetModel,
    M2FNetVisualConfig,
    M2FNetVisualExtractor,
)


TINY_TEXT_CONFIG = {**tiny_model.TINY_TEXT_CONFIG, "vocab_size": 99, "max_position_embeddings": 64}
TINY_ENCODER_CONFIG = tiny_model.TINY_ENCODER_CONFIG


class M2FNetModelTester:
    """Builds a tiny M2FNet config (< 1M parameters) and matching raw inputs with one padded dialogue."""

    batch_size, num_utterances, seq_length, num_labels = 2, 4, 7, 7
    num_mel_bins, num_audio_frames = 16, 40  # log-mel
    num_frames, image_size, max_faces, face_size = 3, 32, 2, 16  # frames and faces

    def get_config(self, **overrides) -> M2FNetConfig:
        settings = {"num_hidden_layers": 2, "intermediate_size": 32, "classifier_hidden_size": 16, **overrides}
        settings.setdefault("text_config", dict(TINY_TEXT_CONFIG))
        return tiny_model.tiny_config(TINY_TEXT_CONFIG["vocab_size"], **settings)

    def prepare_inputs(self, seed: int = 0) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        b, n = self.batch_size, self.num_utterances
        utterance_mask = torch.ones(b, n, dtype=torch.long)
        utterance_mask[1, -1] = 0  # the second dialogue has one utterance less
        face_weights = torch.rand(b, n, self.num_frames, self.max_faces, generator=generator)
        face_weights[..., 1] = 0  # second face slot empty ...
        face_weights[0, 0, 0] = 0  # ... and one frame without any face
        face_weights = face_weights / face_weights.sum(-1, keepdim=True).clamp(min=1e-6)
        labels = torch.randint(0, self.num_labels, (b, n), generator=generator)
        labels[1, -1] = -100
        return {
            "input_ids": torch.randint(3, 99, (b, n, self.seq_length), generator=generator),
            "attention_mask": torch.ones(b, n, self.seq_length, dtype=torch.long),
            "input_features": torch.randn(b, n, self.num_mel_bins, self.num_audio_frames, generator=generator),
            "audio_attention_mask": torch.ones(b, n, self.num_audio_frames, dtype=torch.long),
            "pixel_values": torch.randn(
                b, n, self.num_frames, 3, self.image_size, self.image_size, generator=generator
            ),
            "face_pixel_values": torch.randn(
                b, n, self.num_frames, self.max_faces, 3, self.face_size, self.face_size, generator=generator
            ),
            "face_weights": face_weights,
            "utterance_mask": utterance_mask,
            "modality_mask": torch.ones(b, n, 3, dtype=torch.long),
            "labels": labels,
        }

    def prepare_embeds(self, config: M2FNetConfig, seed: int = 0) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        b, n = self.batch_size, self.num_utterances
        inputs = {
            f"{modality}_embeds": torch.randn(b, n, config.embed_dim(modality), generator=generator)
            for modality in config.modalities
        }
        inputs["utterance_mask"] = torch.tensor([[1] * n, [1] * (n - 1) + [0]])
        return inputs


def _count_forward_calls(module: torch.nn.Module) -> list[int]:
    """Counts the calls of `module` (in a one-element list, updated in place) with a forward hook."""
    counter = [0]

    def hook(*args):
        counter[0] += 1

    module.register_forward_hook(hook)
    return counter


def _model(config, seed=0):
    torch.manual_seed(seed)
    return M2FNetForEmotionRecognition(config).eval()


class M2FNetConfigTest(unittest.TestCase):
    def test_paper_defaults(self):
        config = M2FNetConfig()
        self.assertEqual(config.text_config.model_type, "roberta")
        self.assertEqual((config.text_embed_dim, config.audio_embed_dim, config.visual_embed_dim), (1024, 300, 600))
        self.assertEqual(config.num_fusion_layers, 5)
        self.assertEqual(config.num_hidden_layers, 1)
        self.assertEqual(
            list(config.id2label.values()), ["neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger"]
        )
        self.assertEqual(config.label2id["anger"], 6)
        self.assertEqual(config.audio_config.encoder_config.depths, [2, 2, 2, 2])
        audio = config.audio_config
        weights = (audio.triplet_loss_weight, audio.covariance_loss_weight, audio.variance_loss_weight)
        self.assertEqual(weights, (20.0, 5.0, 1.0))
        # Order at the dialogue level is opt-in: the paper has none.
        self.assertEqual((config.dialogue_position_embedding, config.use_speaker_embeddings), ("none", False))
        self.assertEqual((config.max_dialogue_utterances, config.relative_attention_max_distance), (256, 8))
        self.assertEqual(config.max_speakers, 16)

    def test_to_dict_round_trip(self):
        config = M2FNetModelTester().get_config(modalities=["text", "visual"], class_weights=[1.0] * 7)
        with tempfile.TemporaryDirectory() as tmp:
            config.save_pretrained(tmp)
            loaded = M2FNetConfig.from_pretrained(tmp)
        self.assertEqual(loaded.to_dict(), config.to_dict())
        self.assertIsInstance(loaded.visual_config, M2FNetVisualConfig)
        self.assertIsInstance(loaded.audio_config, M2FNetAudioConfig)

    def test_iemocap_labels(self):
        config = M2FNetConfig(id2label=dict(enumerate(["happy", "sad", "neutral", "angry", "excited", "frustrated"])))
        self.assertEqual(config.num_labels, 6)
        self.assertEqual(config.label2id["frustrated"], 5)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"modalities": ["text", "smell"]}, "modalities"),
        ({"modalities": []}, "modalities"),
        ({"num_attention_heads": 3}, "num_attention_heads"),
        ({"fusion_num_attention_heads": 5}, "fusion_num_attention_heads"),
        ({"hidden_dropout_prob": 1.5}, "hidden_dropout_prob"),
        ({"num_fusion_layers": -1}, "num_fusion_layers"),
        ({"num_hidden_layers": -2}, "num_hidden_layers"),
        ({"class_weights": [1.0, 2.0]}, "class_weights"),
        ({"text_pooling": "max"}, "text_pooling"),
        ({"visual_config": {"branches": ["scene", "body"]}}, "branches"),
        ({"audio_config": {"projection_dim": 0}}, "projection_dim"),
        ({"audio_config": {"triplet_loss_weight": -1.0}}, "triplet_loss_weight"),
        ({"dialogue_position_embedding": "learned"}, r"`dialogue_position_embedding` must be one of \['none'"),
        ({"max_dialogue_utterances": 0}, r"`max_dialogue_utterances` must be in \[1, inf\], got 0"),
        ({"relative_attention_max_distance": 0}, r"`relative_attention_max_distance` must be in \[1, inf\]"),
        ({"max_speakers": -1}, r"`max_speakers` must be in \[1, inf\], got -1"),
    ],
)
def test_config_rejects_bad_values(overrides, field):
    with pytest.raises(ValueError, match=field):
        M2FNetModelTester().get_config(**overrides)


def test_config_rejects_a_non_boolean_switch():
    with pytest.raises(StrictDataclassFieldValidationError, match="'use_speaker_embeddings' expected bool"):
        M2FNetModelTester().get_config(use_speaker_embeddings="yes")


class M2FNetModelTest(unittest.TestCase):
    all_model_classes = (M2FNetModel, M2FNetForEmotionRecognition)

    def setUp(self):
        self.tester = M2FNetModelTester()
        self.config = self.tester.get_config()
        self.inputs = self.tester.prepare_inputs()

    def test_tiny_config_is_small(self):
        num_parameters = sum(p.numel() for p in _model(self.config).parameters())
        self.assertLess(num_parameters, 1_000_000)

    def test_forward_shapes_raw_inputs(self):
        for model_class in self.all_model_classes:
            model = model_class(self.config).eval()
            with torch.no_grad():
                output = model(
                    **{k: v for k, v in self.inputs.items() if k != "labels" or model_class is not M2FNetModel}
                )
            hidden = 32 + 16 + 16
            self.assertEqual(output.last_hidden_state.shape, (2, 4, hidden))
            self.assertEqual(output.fused_features.shape, (2, 4, 32))
            self.assertEqual(output.audio_features.shape, (2, 4, 16))
            self.assertEqual(output.visual_features.shape, (2, 4, 16))
        self.assertEqual(output.logits.shape, (2, 4, 7))
        self.assertEqual(output.loss.shape, ())

    def test_raw_inputs_equal_precomputed_embeds(self):
        model = _model(self.config)
        base = model.m2fnet
        inputs = self.inputs
        selected = inputs["utterance_mask"].bool()
        with torch.no_grad():
            embeds = {
                "text_embeds": base.get_text_features(inputs["input_ids"], inputs["attention_mask"], selected),
                "audio_embeds": base.get_audio_features(
                    inputs["input_features"], inputs["audio_attention_mask"], selected
                ),
                "visual_embeds": base.get_visual_features(
                    inputs["pixel_values"], inputs["face_pixel_values"], inputs["face_weights"], selected
                ),
            }
            from_raw = model(**inputs).logits
            from_embeds = model(**embeds, utterance_mask=inputs["utterance_mask"]).logits
        torch.testing.assert_close(from_raw[selected], from_embeds[selected])

    def test_eval_is_deterministic(self):
        model = _model(self.config)
        with torch.no_grad():
            first = model(**self.inputs).logits
            second = model(**self.inputs).logits
        torch.testing.assert_close(first, second, rtol=0, atol=0)

    def test_padded_utterance_does_not_change_other_logits(self):
        model = _model(self.config)
        changed = copy.deepcopy(self.inputs)
        for key in ("input_ids", "input_features", "pixel_values", "face_pixel_values"):
            if key == "input_ids":
                changed[key][1, -1] = torch.randint(3, 99, changed[key][1, -1].shape)
            else:
                changed[key][1, -1] = torch.randn_like(changed[key][1, -1]) * 10
        with torch.no_grad():
            before = model(**self.inputs).logits
            after = model(**changed).logits
        real = self.inputs["utterance_mask"].bool()
        torch.testing.assert_close(before[real], after[real], rtol=0, atol=1e-5)

    def test_masked_modality_changes_no_logit(self):
        model = _model(self.config)
        for modality_index, keys in ((1, ("input_features",)), (2, ("pixel_values", "face_pixel_values"))):
            inputs = copy.deepcopy(self.inputs)
            inputs["modality_mask"][0, 1, modality_index] = 0
            changed = copy.deepcopy(inputs)
            for key in keys:
                changed[key][0, 1] = torch.randn_like(changed[key][0, 1]) * 10
            with torch.no_grad():
                before = model(**inputs).logits
                after = model(**changed).logits
            torch.testing.assert_close(before, after, rtol=0, atol=1e-5)
            with torch.no_grad():
                unmasked = model(**self.inputs).logits
            self.assertFalse(torch.allclose(unmasked[0, 1], before[0, 1]), "masking should change that utterance")

    def test_modality_missing_everywhere_needs_no_inputs(self):
        model = _model(self.config)
        inputs = {k: v for k, v in self.inputs.items() if k not in ("input_features", "audio_attention_mask")}
        inputs["modality_mask"] = inputs["modality_mask"].clone()
        inputs["modality_mask"][..., 1] = 0
        with torch.no_grad():
            output = model(**inputs)
        self.assertTrue(torch.all(output.audio_features == 0))
        self.assertTrue(torch.isfinite(output.logits).all())

    def test_gradients_reach_every_trainable_parameter(self):
        model = _model(self.config).train()
        output = model(**self.inputs)
        output.loss.backward()
        missing = [
            name
            for name, p in model.named_parameters()
            if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
        ]
        self.assertEqual(missing, [])

    def test_loss_is_cross_entropy_over_real_utterances(self):
        config = self.tester.get_config(class_weights=[1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 1.0])
        model = _model(config)
        labels = self.inputs["labels"].clone()
        labels[0, 2] = -100  # an ignored label inside a real dialogue
        with torch.no_grad():
            output = model(**{**self.inputs, "labels": labels})
        real = (self.inputs["utterance_mask"].bool()) & (labels != -100)
        weight = torch.tensor(config.class_weights)
        log_probs = output.logits[real].log_softmax(-1)
        picked = -log_probs[torch.arange(real.sum()), labels[real]]
        expected = (picked * weight[labels[real]]).sum() / weight[labels[real]].sum()
        torch.testing.assert_close(output.loss, expected)

    def test_all_labels_ignored_gives_zero_loss(self):
        model = _model(self.config).train()
        output = model(**{**self.inputs, "labels": torch.full((2, 4), -100)})
        self.assertEqual(output.loss.item(), 0.0)
        output.loss.backward()  # still connected to the graph

    def test_output_attentions_and_hidden_states(self):
        model = _model(self.tester.get_config(attn_implementation="eager"))
        with torch.no_grad():
            output = model(**self.inputs, output_attentions=True, output_hidden_states=True)
        self.assertEqual(len(output.hidden_states), self.config.num_fusion_layers + 1)
        self.assertEqual(len(output.attentions), self.config.num_fusion_layers)
        self.assertEqual(output.attentions[0].shape, (2, 2, 2, 4, 4))  # (batch, key modalities, heads, N, N)
        self.assertEqual(len(output.encoder_attentions), 3 * self.config.num_hidden_layers)
        self.assertEqual(output.encoder_attentions[0].shape, (2, 2, 4, 4))  # (batch, heads, N, N)
        for probs in (output.attentions[0][1], output.encoder_attentions[0][1]):  # the padded second dialogue
            self.assertTrue(torch.all(probs[..., -1] == 0))  # its padded utterance is attended to by no one ...
            self.assertTrue(torch.all(probs[..., -1, :] == 0))  # ... and attends to nothing
            torch.testing.assert_close(probs[..., :3, :3].sum(-1), torch.ones_like(probs[..., :3, 0]))
        torch.testing.assert_close(output.hidden_states[-1], output.fused_features)
        with torch.no_grad():
            plain = model(**self.inputs)
        self.assertIsNone(plain.attentions)
        self.assertIsNone(plain.hidden_states)

    def test_output_attentions_needs_eager_attention(self):
        model = _model(self.config)
        self.assertEqual(model.config._attn_implementation, "sdpa")  # the default
        with pytest.raises(ValueError, match='attn_implementation="eager"'):
            model(**self.inputs, output_attentions=True)
        model.set_attn_implementation("eager")
        self.assertEqual(len(model(**self.inputs, output_attentions=True).attentions), 2)

    def test_return_dict_false_gives_tuple(self):
        model = _model(self.config)
        with torch.no_grad():
            as_tuple = model(**self.inputs, return_dict=False)
            as_dict = model(**self.inputs)
        self.assertIsInstance(as_tuple, tuple)
        torch.testing.assert_close(as_tuple[0], as_dict.loss)
        torch.testing.assert_close(as_tuple[1], as_dict.logits)

    def test_save_load_round_trip(self):
        model = _model(self.config)
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            loaded = M2FNetForEmotionRecognition.from_pretrained(tmp).eval()
        with torch.no_grad():
            torch.testing.assert_close(model(**self.inputs).logits, loaded(**self.inputs).logits, rtol=0, atol=0)

    def test_gradient_checkpointing_recomputes_and_gives_the_same_gradients(self):
        """Same loss, logits and gradients with and without checkpointing, and the layers really are recomputed."""
        results = []
        for checkpointing in (False, True):
            model = _model(self.config).train()  # dropout on: checkpointing replays the same random numbers
            if checkpointing:
                model.activation_checkpointing_enable()
            calls = {
                "encoder": _count_forward_calls(model.m2fnet.dialogue_encoders["audio"].layers[0].mlp),
                "fusion": _count_forward_calls(model.m2fnet.fusion_layers[1].fc),
            }
            torch.manual_seed(0)
            output = model(**self.inputs)
            output.loss.backward()
            grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
            results.append((output, grads, calls))
        (plain, plain_grads, plain_calls), (checkpointed, grads, calls) = results
        # Inner modules run once without checkpointing, and once more in the backward pass with it.
        self.assertEqual(plain_calls, {"encoder": [1], "fusion": [1]})
        self.assertEqual(calls, {"encoder": [2], "fusion": [2]})
        torch.testing.assert_close(checkpointed.loss, plain.loss, rtol=0, atol=1e-6)
        torch.testing.assert_close(checkpointed.logits, plain.logits, rtol=0, atol=1e-6)
        self.assertEqual(grads.keys(), plain_grads.keys())
        self.assertGreater(len(grads), 50)
        for name, grad in grads.items():
            torch.testing.assert_close(grad, plain_grads[name], rtol=1e-5, atol=1e-7, msg=name)

    def test_missing_inputs_error_names_the_modality(self):
        model = _model(self.config)
        visual = {key: self.inputs[key] for key in ("pixel_values", "face_pixel_values", "face_weights")}
        with pytest.raises(ValueError, match="'audio' modality"):
            model(input_ids=self.inputs["input_ids"], **visual)

    def test_embeds_width_mismatch_error(self):
        model = _model(self.config)
        embeds = self.tester.prepare_embeds(self.config)
        embeds["audio_embeds"] = torch.randn(2, 4, 300)
        with pytest.raises(ValueError, match="audio_embeds` has width 300"):
            model(**embeds)


ABLATIONS = {
    "text": {"modalities": ["text"]},
    "text+audio": {"modalities": ["text", "audio"]},
    "text+visual": {"modalities": ["text", "visual"]},
    "text+audio+visual": {},
    "concatenation": {"num_fusion_layers": 0},
    "audio": {"modalities": ["audio"]},
    "visual": {"modalities": ["visual"]},
    "scene-only": {
        "modalities": ["text", "visual"],
        "visual_config": {"projection_dim": 8, "branches": ["scene"], "encoder_config": TINY_ENCODER_CONFIG},
    },
    "face-only": {
        "modalities": ["text", "visual"],
        "visual_config": {"projection_dim": 8, "branches": ["face"], "encoder_config": TINY_ENCODER_CONFIG},
    },
    "mean-pooled-text": {"text_pooling": "mean"},
    "iemocap-depth": {
        "num_hidden_layers": 5,
        "id2label": dict(enumerate(["happy", "sad", "neutral", "angry", "excited", "frustrated"])),
    },
}


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_ablation_switch(name):
    tester = M2FNetModelTester()
    config = tester.get_config(**ABLATIONS[name])
    model = _model(config).train()
    inputs = tester.prepare_inputs()
    inputs["labels"] = inputs["labels"].masked_fill(inputs["labels"] >= config.num_labels, 0)
    output = model(**inputs)
    expected_width = sum(config.embed_dim(modality) for modality in config.modalities)
    assert output.last_hidden_state.shape == (2, 4, expected_width)
    assert output.logits.shape == (2, 4, config.num_labels)
    assert (output.fused_features is not None) == config.uses_fusion
    absent = [m for m in ("text", "audio", "visual") if m not in config.modalities]
    assert all(getattr(output, f"{m}_features") is None for m in absent)
    output.loss.backward()
    assert not any(name.startswith(f"m2fnet.{m}_model") for m in absent for name, _ in model.named_parameters())


def _tiny_extractor_config(config_class, **kwargs):
    return config_class(projection_dim=8, encoder_config=dict(TINY_ENCODER_CONFIG), **kwargs)


class M2FNetExtractorTest(unittest.TestCase):
    def test_audio_extractor_shapes_and_triplet_loss(self):
        torch.manual_seed(0)
        extractor = M2FNetAudioExtractor(_tiny_extractor_config(M2FNetAudioConfig)).train()
        features = torch.randn(6, 16, 50)
        output = extractor(features, attention_mask=torch.ones(6, 50), labels=torch.tensor([0, 0, 1, 1, 2, 2]))
        self.assertEqual(output.embeddings.shape, (6, 8))
        self.assertGreater(output.num_triplets.item(), 0)
        expected = 20 * output.triplet_loss + 5 * output.covariance_loss + 1 * output.variance_loss
        torch.testing.assert_close(output.loss, expected)
        output.loss.backward()
        self.assertTrue(all(p.grad is not None for p in extractor.parameters()))

    def test_audio_extractor_mask_excludes_padding_from_pooling(self):
        torch.manual_seed(0)
        extractor = M2FNetAudioExtractor(_tiny_extractor_config(M2FNetAudioConfig)).eval()
        features = torch.randn(1, 16, 64)
        mask = torch.zeros(1, 64)
        mask[:, :32] = 1
        with torch.no_grad():
            full = extractor(features).embeddings
            masked = extractor(features, attention_mask=mask).embeddings
            feature_map = extractor.feature_encoder.encoder(features[:, None].expand(-1, 3, -1, -1)).last_hidden_state
            expected = extractor.feature_encoder.projector(
                feature_map[..., : feature_map.shape[-1] // 2].mean(dim=(2, 3))
            )
        torch.testing.assert_close(masked, expected)
        self.assertFalse(torch.allclose(full, masked))

    def test_audio_embedding_does_not_depend_on_the_batch_width(self):
        """A clip padded to 200 or to 1001 frames (its batch's longest clip) gets the same embedding."""
        torch.manual_seed(0)
        extractor = M2FNetAudioExtractor(_tiny_extractor_config(M2FNetAudioConfig)).eval()
        clip = torch.randn(1, 16, 150)
        embeddings = []
        for width in (200, 301, 1001):
            padded = torch.full((1, 16, width), -1.5)
            padded[..., :150] = clip
            mask = (torch.arange(width) < 150).long()[None]
            with torch.no_grad():
                embeddings.append(extractor(padded, attention_mask=mask).embeddings)
        torch.testing.assert_close(embeddings[0], embeddings[1])
        torch.testing.assert_close(embeddings[0], embeddings[2])

    def test_one_class_batch_gives_zero_loss_with_gradient(self):
        extractor = M2FNetAudioExtractor(_tiny_extractor_config(M2FNetAudioConfig)).train()
        output = extractor(torch.randn(4, 16, 30), labels=torch.zeros(4, dtype=torch.long))
        self.assertEqual(output.num_triplets.item(), 0)
        self.assertEqual(output.loss.item(), 0.0)
        output.loss.backward()

    def test_visual_scene_branch_is_order_invariant_max_pool(self):
        torch.manual_seed(0)
        extractor = M2FNetVisualExtractor(_tiny_extractor_config(M2FNetVisualConfig, branches=["scene"])).eval()
        frames = torch.randn(2, 5, 3, 32, 32)
        with torch.no_grad():
            embeddings = extractor(frames).embeddings
            shuffled = extractor(frames[:, torch.randperm(5)]).embeddings
            per_frame = extractor.feature_encoder(frames.flatten(0, 1)).view(2, 5, -1)
        torch.testing.assert_close(embeddings, shuffled)
        torch.testing.assert_close(embeddings, per_frame.amax(1))

    def test_visual_face_branch_area_weighting(self):
        torch.manual_seed(0)
        extractor = M2FNetVisualExtractor(_tiny_extractor_config(M2FNetVisualConfig, branches=["face"])).eval()
        faces = torch.randn(1, 2, 2, 3, 16, 16)
        weights = torch.tensor([[[0.75, 0.25], [0.0, 0.0]]])  # frame 0: two faces; frame 1: none
        with torch.no_grad():
            output = extractor(face_pixel_values=faces, face_weights=weights)
            encoded = extractor.feature_encoder(faces[0, 0])
        torch.testing.assert_close(output.embeddings[0], 0.75 * encoded[0] + 0.25 * encoded[1])
        self.assertTrue(output.face_found.item())
        no_face = extractor(face_pixel_values=faces, face_weights=torch.zeros(1, 2, 2))
        self.assertFalse(no_face.face_found.item())
        self.assertTrue(torch.all(no_face.embeddings == 0))

    def test_visual_missing_branch_input_is_an_error(self):
        extractor = M2FNetVisualExtractor(_tiny_extractor_config(M2FNetVisualConfig))
        with pytest.raises(ValueError, match="face branch needs"):
            extractor(pixel_values=torch.randn(1, 2, 3, 32, 32))

    def test_extractor_loaded_into_m2fnet(self):
        """A stage-1 extractor saved alone loads into the `audio_model` slot of M2FNet."""
        tester = M2FNetModelTester()
        config = tester.get_config()
        extractor = M2FNetAudioExtractor(config.audio_config)
        with tempfile.TemporaryDirectory() as tmp:
            extractor.save_pretrained(tmp)
            model = M2FNetForEmotionRecognition(config)
            model.m2fnet.audio_model = M2FNetAudioExtractor.from_pretrained(tmp)
        for (name, a), (_, b) in zip(extractor.state_dict().items(), model.m2fnet.audio_model.state_dict().items()):
            torch.testing.assert_close(a, b, msg=name)
        loaded_projector = model.m2fnet.audio_model.feature_encoder.projector.weight
        self.assertTrue(F.mse_loss(loaded_projector, extractor.feature_encoder.projector.weight) == 0)
