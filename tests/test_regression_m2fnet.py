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

The artifact was computed by the package before the performance changes of issue 7 (see the runbook in
`tests/artifacts/make_m2fnet_reference.py`), so these tests pin that the optimised code paths (packed dialogue
level, trimmed text padding, chunked extractor encoding) compute the same numbers.
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


def _model(reference, **overrides):
    config = reference_config(
        modeling_m2fnet, hidden_dropout_prob=0.0, attention_dropout=0.0, classifier_dropout=0.0, **overrides
    )
    model = modeling_m2fnet.M2FNetForEmotionRecognition(config)
    weights = {name[len("weights.") :]: value for name, value in reference.items() if name.startswith("weights.")}
    model.load_state_dict(weights)
    return model


def _inputs(reference) -> dict[str, torch.Tensor]:
    return {name[len("inputs.") :]: value for name, value in reference.items() if name.startswith("inputs.")}


def _compare(actual: dict, reference: dict, case: str) -> None:
    for key in (*OUTPUT_KEYS, "attentions", "encoder_attentions", "hidden_states"):
        if f"{case}.{key}" in actual or key in OUTPUT_KEYS:
            torch.testing.assert_close(actual[f"{case}.{key}"], reference[f"{case}.{key}"], **TOLERANCE, msg=key)
    expected_grads = sorted(name for name in reference if name.startswith(f"{case}.grad."))
    assert sorted(name for name in actual if name.startswith(f"{case}.grad.")) == expected_grads
    for name in expected_grads:
        torch.testing.assert_close(actual[name], reference[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("with_maps", [False, True], ids=["packed", "with_attention_maps"])
@pytest.mark.parametrize("case", CASES)
def test_outputs_and_gradients_match_the_reference(reference, case, with_maps):
    # Without attention maps the dialogue level packs the real utterances (block-diagonal attention); with them it
    # keeps the padded layout. Both must give the reference numbers.
    actual = run_case(_model(reference), _inputs(reference), case, with_maps=with_maps)
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
