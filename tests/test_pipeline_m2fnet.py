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
"""The emotion-recognition-in-conversation pipeline every checkpoint ships: inputs, outputs, windows, saved code."""

import json

import pytest
import torch
from transformers import pipeline

from m2fnet_training.model_building import save_m2fnet
from m2fnet_training.tiny_model import build_tiny_m2fnet
from modeling_m2fnet import register_auto_classes
from modeling_m2fnet.configuration_m2fnet import PIPELINE_TASK


CONVERSATION = [
    {"speaker": "Ross", "text": "We were on a break!"},
    {"speaker": "Rachel", "text": "Oh my God."},
    {"speaker": "Ross", "text": "Fine, you know what, fine."},
    {"speaker": "Rachel", "text": "Just go."},
    {"speaker": "Ross", "text": "Okay."},
]


@pytest.fixture(scope="module")
def model_and_processor():
    register_auto_classes()
    texts = [f"{u['speaker']}: {u['text']}" for u in CONVERSATION] + ["we were on a break oh my god"]
    model, processor = build_tiny_m2fnet(texts, modalities=["text"], seed=3)
    return model.eval(), processor


@pytest.fixture(scope="module")
def classifier(model_and_processor):
    model, processor = model_and_processor
    return pipeline(task=PIPELINE_TASK, model=model, processor=processor)


def direct_probabilities(model_and_processor, conversation) -> torch.Tensor:
    model, processor = model_and_processor
    with torch.no_grad():
        return model(**processor(conversations=[conversation], return_tensors="pt")).logits[0].softmax(-1)


def test_one_conversation_gives_one_label_and_score_per_utterance(classifier, model_and_processor):
    results = classifier(CONVERSATION)
    probabilities = direct_probabilities(model_and_processor, CONVERSATION)
    id2label = model_and_processor[0].config.id2label
    assert [result["label"] for result in results] == [id2label[int(i)] for i in probabilities.argmax(-1)]
    assert [result["score"] for result in results] == pytest.approx(probabilities.max(-1).values.tolist(), rel=1e-5)
    assert all(set(result) == {"label", "score"} for result in results)


def test_strings_and_lists_of_conversations(classifier, model_and_processor):
    as_strings = classifier([utterance["text"] for utterance in CONVERSATION])  # one conversation, no speakers
    expected = direct_probabilities(model_and_processor, [{"text": u["text"]} for u in CONVERSATION])
    assert [result["score"] for result in as_strings] == pytest.approx(expected.max(-1).values.tolist(), rel=1e-5)
    single = classifier("We were on a break!")  # one utterance: a conversation of one
    assert len(single) == 1 and set(single[0]) == {"label", "score"}
    both = classifier([CONVERSATION[:2], CONVERSATION[2:]])
    assert [len(results) for results in both] == [2, 3]
    assert both[1] == classifier(CONVERSATION[2:])


def test_top_k_and_modalities(classifier, model_and_processor):
    results = classifier(CONVERSATION[:2], top_k=3, return_modalities=True)
    probabilities = direct_probabilities(model_and_processor, CONVERSATION[:2])
    for result, row in zip(results, probabilities):
        scores = [entry["score"] for entry in result["top_k"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert scores == pytest.approx(row.topk(3).values.tolist(), rel=1e-5)
        assert result["label"] == result["top_k"][0]["label"]
        assert result["modalities"] == {"text": True, "audio": False, "visual": False}
        assert result["face_found"] is None  # no video


def test_long_conversations_are_classified_in_windows(classifier, model_and_processor):
    processor = classifier.processor
    previous = processor.max_utterances
    processor.max_utterances = 2
    try:
        results = classifier(CONVERSATION)
    finally:
        processor.max_utterances = previous
    assert len(results) == len(CONVERSATION)  # one result per utterance, none dropped
    first_window = direct_probabilities(model_and_processor, CONVERSATION[:2])
    last_window = direct_probabilities(model_and_processor, CONVERSATION[4:])
    assert [r["score"] for r in results[:2]] == pytest.approx(first_window.max(-1).values.tolist(), rel=1e-5)
    assert results[4]["score"] == pytest.approx(float(last_window.max()), rel=1e-5)


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([], "an empty list"),
        (42, "got int"),
        ([CONVERSATION[:1], "not a conversation"], "utterance 0: expected a dict .* got list"),
        ([CONVERSATION[:1], []], "Input 1 is not a conversation"),
        ([{"text": "hi"}, 3], "utterance 1: expected a dict"),
    ],
)
def test_bad_inputs_name_what_is_wrong(classifier, inputs, message):
    with pytest.raises(ValueError, match=message):
        classifier(inputs)


def test_bad_options(classifier):
    with pytest.raises(ValueError, match="`top_k` must be a positive integer"):
        classifier(CONVERSATION, top_k=0)
    with pytest.raises(TypeError, match="Unexpected arguments: \\['topk'\\]"):
        classifier(CONVERSATION, topk=2)


def test_saved_checkpoints_carry_the_pipeline_and_its_code(model_and_processor, tmp_path):
    folder = save_m2fnet(*model_and_processor, tmp_path / "checkpoint")
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"][PIPELINE_TASK]["impl"] == "pipeline_m2fnet.M2FNetEmotionRecognitionPipeline"
    assert (folder / "pipeline_m2fnet.py").is_file()
    loaded = pipeline(model=str(folder), trust_remote_code=True, model_kwargs={"use_safetensors": True})
    assert loaded.task == PIPELINE_TASK and type(loaded).__module__.startswith("transformers_modules")
    from_folder = loaded(CONVERSATION)
    in_memory = pipeline(task=PIPELINE_TASK, model=model_and_processor[0], processor=model_and_processor[1])(
        CONVERSATION
    )
    assert [result["label"] for result in from_folder] == [result["label"] for result in in_memory]
    assert [result["score"] for result in from_folder] == pytest.approx([result["score"] for result in in_memory])
