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
"""Numerical regression: a tiny M2FNet computes the outputs and gradients pinned in `tests/artifacts/`.

The artifact was computed by the package before the performance changes (commit 8692698, see the runbook in
`tests/artifacts/make_m2fnet_reference.py`), so these tests pin that the optimised code paths (packed dialogue
level, attention through transformers' attention interface, trimmed text padding, chunked extractor encoding)
compute the same numbers, with the eager and the SDPA attention.

Attention maps: the artifact's maps were computed in the padded layout, where a padded utterance (or, in a dialogue
encoder, an utterance without that modality) still had a row of probabilities that nothing used. Those rows are now
zero by definition, so the maps are compared on the rows that feed the outputs and checked to be zero elsewhere.
"""

import pytest
import torch

import modeling_m2fnet
from tests.artifacts.make_m2fnet_reference import (
    ARTIFACT,
    CASES,
    OUTPUT_KEYS,
    reference_config,
    run_case,
)


safetensors_torch = pytest.importorskip("safetensors.torch")

# float32 work in another order (packed rows, fewer padding columns) moves results by a few ulps.
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    return safetensors_torch.load_file(str(ARTIFACT))


def _model(reference, attn_implementation=None, **overrides):
    # `None`: the default, SDPA for the dialogue level (an explicit "sdpa" string would also reach the ResNet
    # extractors, which transformers refuses for attention-free models).
    config = reference_config(
        modeling_m2fnet,
        hidden_dropout_prob=0.0,
        attention_dropout=0.0,
        classifier_dropout=0.0,
        attn_implementation=attn_implementation,
        **overrides,
    )
    model = modeling_m2fnet.M2FNetForEmotionRecognition(config)
    weights = {name[len("weights.") :]: value for name, value in reference.items() if name.startswith("weights.")}
    model.load_state_dict(weights)
    assert model.config._attn_implementation == (attn_implementation or "sdpa")
    return model


def _inputs(reference) -> dict[str, torch.Tensor]:
    return {name[len("inputs.") :]: value for name, value in reference.items() if name.startswith("inputs.")}


def _query_rows(reference, case: str) -> dict[str, torch.Tensor]:
    """Per stacked map, 1 for the query rows that feed the outputs (the others must be zero)."""
    inputs = _inputs(reference)
    utterances = inputs["utterance_mask"].bool()
    modality = utterances[..., None] & inputs["modality_mask"].bool()  # (batch, N, 3)
    num_layers = reference[f"{case}.encoder_attentions"].shape[0] // 3
    # Encoder maps: text, audio, visual, layer by layer: (3 * layers, batch, 1, N, 1).
    encoder = modality.permute(2, 0, 1).repeat_interleave(num_layers, dim=0)[:, :, None, :, None]
    # Fusion maps (layers, batch, key modality, heads, N, N): a query needs a real utterance and a key in its dialogue.
    keys = modality[..., 1:] & modality[..., :1]  # audio / visual with text
    fusion = (utterances[..., None] & keys.any(dim=1, keepdim=True)).permute(0, 2, 1)[None, :, :, None, :, None]
    return {"encoder_attentions": encoder.float(), "attentions": fusion.float()}


def _compare(actual: dict, reference: dict, case: str) -> None:
    for key in (*OUTPUT_KEYS, "hidden_states"):
        if f"{case}.{key}" in actual or key in OUTPUT_KEYS:
            torch.testing.assert_close(actual[f"{case}.{key}"], reference[f"{case}.{key}"], **TOLERANCE, msg=key)
    if f"{case}.attentions" in actual:
        for key, rows in _query_rows(reference, case).items():
            expected = reference[f"{case}.{key}"] * rows
            torch.testing.assert_close(actual[f"{case}.{key}"], expected, **TOLERANCE, msg=key)
            assert (actual[f"{case}.{key}"] * (1 - rows) == 0).all()
            assert (rows == 1).any() and (rows == 0).any()
    expected_grads = sorted(name for name in reference if name.startswith(f"{case}.grad."))
    assert sorted(name for name in actual if name.startswith(f"{case}.grad.")) == expected_grads
    for name in expected_grads:
        torch.testing.assert_close(actual[name], reference[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize(
    "attn_implementation, with_maps",
    [(None, False), ("eager", False), ("eager", True)],
    ids=["sdpa", "eager", "maps"],
)
@pytest.mark.parametrize("case", CASES)
def test_outputs_and_gradients_match_the_reference(reference, case, attn_implementation, with_maps):
    # One computation whatever is returned: asking for the attention maps (eager) must give the reference numbers too.
    actual = run_case(_model(reference, attn_implementation), _inputs(reference), case, with_maps=with_maps)
    _compare(actual, reference, case)


@pytest.mark.parametrize("case", ["raw", "train"])
def test_chunked_extractors_match_the_reference(reference, case):
    # 30 frames and up to 60 faces per forward: chunks of 4 images exercise the chunked path (eval mode only;
    # training mode encodes everything at once, so batch norm statistics are those of the whole batch).
    model = _model(reference)
    for extractor in (model.m2fnet.audio_model, model.m2fnet.visual_model):
        extractor.config.encoder_batch_size = 4
    actual = run_case(model, _inputs(reference), case, with_maps=False)
    _compare(actual, reference, case)
