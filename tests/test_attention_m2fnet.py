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
"""One attention path: the dialogue level computes its predictions the same way whatever it is asked to return.

Attention goes through transformers' attention interface (eager or SDPA) over the `(batch, N)` layout with masks,
while the position-wise layers run on the packed real utterances. Asking for attention maps only returns what the
eager attention computed anyway, and the forward pass reads no tensor value on the host except the one that sizes
the packed rows.
"""

from collections import Counter

import pytest
import torch
from torch.overrides import TorchFunctionMode

from modeling_m2fnet import M2FNetForEmotionRecognition
from tests.test_modeling_m2fnet import ABLATIONS as ALL_ABLATIONS
from tests.test_modeling_m2fnet import M2FNetModelTester


# Fusion with each key modality, text alone, and fusion off (the concatenation ablation).
ABLATIONS = {name: ALL_ABLATIONS[name] for name in ("text", "text+audio", "text+visual", "text+audio+visual")}
ABLATIONS["fusion off"] = ALL_ABLATIONS["concatenation"]


def _inputs_with_gaps(tester: M2FNetModelTester) -> dict[str, torch.Tensor]:
    """Raw inputs of 2 dialogues: the second one padded, missing modalities, and a dialogue without any audio."""
    inputs = tester.prepare_inputs()
    inputs["modality_mask"][0, 1, 1] = 0  # no audio
    inputs["modality_mask"][0, 2, 2] = 0  # no video
    inputs["modality_mask"][0, 3, 0] = 0  # no text
    inputs["modality_mask"][1, :, 1] = 0  # the second dialogue has no audio at all
    return inputs


def _model(config) -> M2FNetForEmotionRecognition:
    torch.manual_seed(0)
    return M2FNetForEmotionRecognition(config)


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_output_attentions_changes_no_logit_or_gradient(name):
    tester = M2FNetModelTester()
    model = _model(tester.get_config(attn_implementation="eager", **ABLATIONS[name]))
    inputs = _inputs_with_gaps(tester)
    model.eval()
    with torch.no_grad():
        plain = model(**inputs)
        with_maps = model(**inputs, output_attentions=True, output_hidden_states=True)
    assert torch.equal(with_maps.logits, plain.logits)
    assert torch.equal(with_maps.last_hidden_state, plain.last_hidden_state)
    assert with_maps.encoder_attentions is not None and plain.encoder_attentions is None
    # Training mode (dropout everywhere, batch statistics in the extractors): same loss and gradients.
    model.train()
    gradients = []
    for output_attentions in (False, True):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        output = model(**inputs, output_attentions=output_attentions)
        output.loss.backward()
        gradients.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys()
    for parameter_name, gradient in gradients[0].items():
        assert torch.equal(gradients[1][parameter_name], gradient), parameter_name


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_eager_and_sdpa_give_the_same_outputs(name):
    tester = M2FNetModelTester()
    model = _model(tester.get_config(**ABLATIONS[name])).eval()
    inputs = _inputs_with_gaps(tester)
    assert model.config._attn_implementation == "sdpa"
    with torch.no_grad():
        sdpa = model(**inputs).logits
        model.set_attn_implementation("eager")
        eager = model(**inputs).logits
    torch.testing.assert_close(sdpa, eager, rtol=1e-5, atol=1e-6)


def test_masked_attention_equals_attention_over_the_real_keys_only():
    """Hand-computed: an utterance attends over the real utterances of its own dialogue that have the modality."""
    tester = M2FNetModelTester()
    config = tester.get_config(attn_implementation="eager", modalities=["text", "audio"], num_hidden_layers=1)
    model = _model(config).eval()
    inputs = tester.prepare_embeds(config)
    inputs["modality_mask"] = torch.ones(2, 4, 3, dtype=torch.long)
    inputs["modality_mask"][0, 2, 1] = 0  # utterance 2 of dialogue 0 has no audio
    with torch.no_grad():
        maps = model(**inputs, output_attentions=True).encoder_attentions[1]  # audio encoder, (batch, heads, N, N)
        attention = model.m2fnet.dialogue_encoders["audio"].layers[0].self_attn
        audio = inputs["audio_embeds"][0, [0, 1, 3]]  # the real keys of dialogue 0
        heads, head_dim = attention.num_heads, attention.head_dim
        queries = attention.q_proj(audio).view(3, heads, head_dim).transpose(0, 1)
        keys = attention.k_proj(audio).view(3, heads, head_dim).transpose(0, 1)
        expected = (queries @ keys.transpose(-1, -2) * head_dim**-0.5).softmax(-1)
    torch.testing.assert_close(maps[0][:, [0, 1, 3]][:, :, [0, 1, 3]], expected)
    assert (maps[0][:, :, 2] == 0).all() and (maps[0][:, 2] == 0).all()


class _HostReads(TorchFunctionMode):
    """Records the tensor operations that make the host wait for a value (or a data-dependent shape)."""

    SYNCING = {"__bool__", "item", "tolist", "nonzero", "__int__", "__float__", "__index__", "masked_select"}

    def __init__(self):
        super().__init__()
        self.calls = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        index = args[1] if name in ("__getitem__", "__setitem__") and len(args) > 1 else None
        if name in self.SYNCING or (isinstance(index, torch.Tensor) and index.dtype == torch.bool):
            self.calls[name] += 1
        return func(*args, **(kwargs or {}))


def test_forward_on_embeddings_reads_one_value_on_the_host():
    tester = M2FNetModelTester()
    config = tester.get_config()
    model = _model(config).eval()
    inputs = {**tester.prepare_embeds(config), "labels": tester.prepare_inputs()["labels"]}
    inputs["modality_mask"] = torch.ones(2, 4, 3, dtype=torch.long)
    with torch.no_grad(), _HostReads() as reads:
        model(**inputs)
    # The packed rows of the real utterances: their number depends on the mask's values.
    assert reads.calls == Counter({"nonzero": 1})
    with _HostReads() as control:  # negative control: the recorder sees these operations
        bool(torch.ones(1).any()), torch.ones(2)[torch.tensor([True, False])], torch.ones(1).tolist()
    assert control.calls == Counter({"__bool__": 1, "__getitem__": 1, "tolist": 1})
