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
"""The model card says what the checkpoint folder records, and nothing it does not: one test per rule."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import ModelCard
from safetensors.numpy import save_file

from m2fnet_training.model_card import (
    CORE_INSTALL,
    MEDIA_INSTALL,
    ModelCardError,
    build_model_card,
    count_parameters,
    read_eval_results,
)
from m2fnet_training.tiny_model import tiny_config
from modeling_m2fnet.configuration_m2fnet import MELD_EMOTIONS
from tests.paths import REPO_ROOT


BASE_TAGS = {"m2fnet", "emotion-recognition", "emotion-recognition-in-conversation", "custom_code"}
PIPELINE = {
    "emotion-recognition-in-conversation": {
        "impl": "pipeline_m2fnet.M2FNetEmotionRecognitionPipeline",
        "pt": ["AutoModel"],
        "tf": [],
        "type": "multimodal",
    }
}


def toy_results() -> dict:
    """A results.json of a toy run, as the training script writes it."""
    return {
        "data": {
            "source": "toy",
            "synthetic": True,
            "location": None,
            "dataset": "toy",
            "label_names": list(MELD_EMOTIONS),
        },
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "language": "en",
        "args": {
            "model": {"class_weighted_loss": False, "freeze_text_encoder": False},
            "data": {"max_utterances": None},
            "training": {
                "learning_rate": 5e-4,
                "text_encoder_learning_rate": 2e-5,
                "num_train_epochs": 3,
                "per_device_train_batch_size": 8,
                "gradient_accumulation_steps": 1,
                "weight_decay": 5e-4,
                "warmup_ratio": 0.1,
                "lr_scheduler_type": "linear",
                "seed": 42,
                "max_grad_norm": 1.0,
            },
        },
        "machine": {"num_processes": 2},
        "best": {"epoch": 2, "step": 20, "weighted_f1": 0.8},
        "validation": {"weighted_f1": 0.8, "macro_f1": 0.7, "accuracy": 0.81, "per_class_f1": {"joy": 0.9}},
        "test": {"weighted_f1": 0.79, "accuracy": 0.8},
    }


def meld_features_results(dataset_id=None) -> dict:
    """A results.json of a dialogue-level run on cached MELD features, text only, validation split only."""
    return {
        "data": {
            "source": "features",
            "synthetic": False,
            "dataset": "meld",
            "dataset_id": dataset_id,
            "label_names": list(MELD_EMOTIONS),
        },
        "base_model": "sentence-transformers/all-mpnet-base-v2",
        "language": None,
        "args": {"model": {"class_weighted_loss": True}, "training": {"learning_rate": 5e-4, "seed": 0}},
        "best": {"epoch": 9, "step": 900, "weighted_f1": 0.6012},
        "validation": {"weighted_f1": 0.6012, "accuracy": 0.6234, "macro_f1": 0.4511},
    }


def make_folder(tmp_path: Path, results: dict | None, modalities=("text",), **config_extra) -> Path:
    folder = tmp_path / "m2fnet-model"
    folder.mkdir(parents=True)
    config = tiny_config(64, modalities=list(modalities)).to_dict()
    config.update(config_extra)
    (folder / "config.json").write_text(json.dumps(config))
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results))
    return folder


def table(text: str, heading: str) -> dict[str, str]:
    """The two-column markdown table under `heading`, as {first cell: second cell}."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in section.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): cells[1].strip() for cells in rows[1:]}


def metric_values(card: ModelCard) -> dict[tuple, float]:
    return {
        (result.dataset_split, result.metric_type, result.metric_config): result.metric_value
        for result in card.data.eval_results or []
    }


def test_toy_card_says_synthetic_at_the_top_and_has_no_model_index(tmp_path):
    card = build_model_card(make_folder(tmp_path, toy_results()), "alice/m2fnet-toy")
    data = card.data.to_dict()
    assert "model-index" not in data and card.data.eval_results is None and "datasets" not in data
    assert "pipeline_tag" not in data
    assert set(data["tags"]) == BASE_TAGS  # text only: no multimodal, audio or video tag
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and data["language"] == ["en"]

    first_paragraph = card.text.split("# m2fnet-toy\n", 1)[1].strip().split("\n\n")[0]
    assert first_paragraph.startswith("> **Trained on synthetic data.**")
    assert "synthetic toy dialogues" in first_paragraph and "not on real conversations" in first_paragraph
    assert "On the synthetic toy splits" in card.text and "| validation | 80.00 | 81.00 | 70.00 |" in card.text
    assert "MELD" not in card.text and "the paper reports" not in card.text

    assert CORE_INSTALL in card.text and MEDIA_INSTALL not in card.text
    assert '"audio":' not in card.text and '"video":' not in card.text


def test_toy_card_lists_the_training_hyperparameters(tmp_path):
    card = build_model_card(make_folder(tmp_path, toy_results()), "alice/m2fnet-toy")
    rows = table(card.text, "## Training hyper-parameters")
    assert rows == {
        "training data": "synthetic toy dialogues generated by `m2fnet_training.toy_data`",
        "learning rate (dialogue level)": "0.0005",
        "learning rate (text encoder)": "2e-05",
        "text encoder": "fine-tuned",
        "epochs": "3",
        "batch size": "8 dialogues per device × 2 processes × 1 accumulation step = 16 dialogues per optimizer step",
        "weight decay": "0.0005",
        "learning-rate schedule": "linear",
        "warm-up": "0.1 of the optimizer steps",
        "gradient clipping (max norm)": "1",
        "class weighting": "none",
        "seed": "42",
        "best epoch": "2 (step 20, validation weighted F1 80.00)",
    }


@pytest.mark.parametrize("claim", ["declare-lab/MELD", "meld", "my-org/iemocap"])
def test_a_dataset_claim_on_a_toy_model_is_an_error(claim, tmp_path):
    folder = make_folder(tmp_path, toy_results())
    with pytest.raises(ModelCardError, match="trained on synthetic toy data") as error:
        build_model_card(folder, dataset=claim)
    assert claim in str(error.value) and str(folder / "results.json") in str(error.value)


@pytest.mark.parametrize(
    "dataset_id, claim, recorded",
    [(None, "my-org/iemocap", "MELD"), ("my-org/meld-text", "other-org/conversations", "my-org/meld-text")],
)
def test_a_dataset_claim_that_contradicts_the_record_is_an_error(dataset_id, claim, recorded, tmp_path):
    folder = make_folder(tmp_path, meld_features_results(dataset_id))
    with pytest.raises(ModelCardError, match=f"contradicts .* trained on {recorded}"):
        build_model_card(folder, dataset=claim)


def test_meld_features_card_has_a_model_index_with_the_validation_numbers(tmp_path):
    folder = make_folder(tmp_path, meld_features_results())
    card = build_model_card(folder, "alice/m2fnet-meld")
    assert metric_values(card) == {
        ("validation", "f1", "weighted"): 0.6012,
        ("validation", "accuracy", None): 0.6234,
        ("validation", "f1", "macro"): 0.4511,
    }
    assert {result.dataset_type for result in card.data.eval_results} == {"meld"}
    assert {result.dataset_name for result in card.data.eval_results} == {"MELD"}
    assert card.data.datasets == ["meld"] and card.data.language == ["en"] and "meld" in card.data.tags
    assert "Trained on cached utterance embeddings of MELD" in card.text and "synthetic" not in card.text.lower()
    assert "| validation | 60.12 | 62.34 | 45.11 |" in card.text
    assert "accuracy 67.24 and weighted F1 66.23 on the MELD test set with text" in card.text  # the paper's row
    assert table(card.text, "## Training hyper-parameters")["text encoder"] == "not trained (cached features)"
    # What the Hub reads back from README.md.
    assert metric_values(ModelCard(str(card))) == metric_values(card)

    # A matching Hub id names the dataset in the model-index.
    claimed = build_model_card(folder, "alice/m2fnet-meld", dataset="declare-lab/MELD")
    assert {result.dataset_type for result in claimed.data.eval_results} == {"declare-lab/MELD"}
    assert claimed.data.datasets == ["declare-lab/MELD"]


@pytest.mark.parametrize(
    "modalities, tags, media",
    [
        (("text",), set(), False),
        (("text", "audio"), {"multimodal", "audio"}, True),
        (("text", "visual"), {"multimodal", "video"}, True),
        (("text", "audio", "visual"), {"multimodal", "audio", "video"}, True),
    ],
)
def test_tags_install_line_and_snippet_follow_the_trained_modalities(modalities, tags, media, tmp_path):
    card = build_model_card(make_folder(tmp_path, None, modalities=modalities), "alice/m2fnet")
    assert set(card.data.tags) == BASE_TAGS | tags
    assert (MEDIA_INSTALL in card.text) == media
    assert ('"audio": "u0.wav"' in card.text) == ("audio" in modalities)
    assert ('"video": "u0.mp4"' in card.text) == ("visual" in modalities)
    assert table(card.text, "## Model details")["modalities"] == ", ".join(modalities)
    assert ("fusion layers" in table(card.text, "## Model details")) == (len(modalities) > 1)


def test_usage_shows_the_custom_pipeline_first_and_no_pipeline_tag(tmp_path):
    with_pipeline = build_model_card(make_folder(tmp_path, None, custom_pipelines=PIPELINE), "alice/m2fnet", "abc123")
    text = with_pipeline.text
    call = "classifier = pipeline(model=repo_id, trust_remote_code=True, revision=revision)"
    assert call in text and 'repo_id, revision = "alice/m2fnet", "abc123"' in text
    assert text.index(call) < text.index("AutoModel.from_pretrained(repo_id") < text.index("## Model details")
    assert with_pipeline.data.pipeline_tag is None

    without = build_model_card(
        make_folder(tmp_path / "plain", None, custom_pipelines={}), "alice/m2fnet"
    )  # older code
    assert "pipeline(" not in without.text and "AutoModel.from_pretrained(repo_id" in without.text


def test_older_results_files_are_read(tmp_path):
    toy = build_model_card(make_folder(tmp_path / "toy", {"source": "toy", "validation": {"accuracy": 0.9}}))
    assert toy.data.eval_results is None and "> **Trained on synthetic data.**" in toy.text
    with pytest.raises(ModelCardError, match="synthetic toy data"):
        build_model_card(tmp_path / "toy" / "m2fnet-model", dataset="declare-lab/MELD")

    legacy = {"source": "features", "dataset": "meld", "test": {"weighted_f1": 66.5}, "training": {"seed": 3}}
    meld = build_model_card(make_folder(tmp_path / "meld", legacy))
    assert metric_values(meld) == {("test", "f1", "weighted"): 0.665}
    assert table(meld.text, "## Training hyper-parameters")["seed"] == "3"

    unnamed = build_model_card(make_folder(tmp_path / "unnamed", {"source": "dataset", "test": {"accuracy": 0.5}}))
    assert unnamed.data.eval_results is None and unnamed.data.datasets is None


def test_uploader_named_dataset_without_a_record_gets_no_model_index(tmp_path):
    results = {"data": {"source": "dialogues", "synthetic": False, "dataset": "conversations", "dataset_id": None}}
    results["test"] = {"weighted_f1": 0.5}
    card = build_model_card(make_folder(tmp_path, results), dataset="my-org/support-calls")
    assert card.data.eval_results is None and card.data.datasets == ["my-org/support-calls"]
    assert "Trained on my-org/support-calls, as the uploader states" in card.text


def test_overrides_and_absent_keys(tmp_path):
    folder = make_folder(tmp_path, toy_results())
    card = build_model_card(folder, language="fr", base_model="FacebookAI/roberta-large")
    assert card.data.language == ["fr"] and card.data.base_model == "FacebookAI/roberta-large"
    with pytest.raises(ModelCardError, match="--base_model .* is not a Hub repository id"):
        build_model_card(folder, base_model=str(tmp_path))

    local = make_folder(tmp_path / "local", {"base_model": str(tmp_path), "language": None})
    card = build_model_card(local)  # a local path in results.json is not a Hub id: omitted
    assert card.data.base_model is None and card.data.language is None
    assert "records no training hyper-parameters" in card.text and "holds no evaluation metrics" in card.text

    bare = build_model_card(make_folder(tmp_path / "bare", None))
    assert "No evaluation results: this folder had no `results.json`" in bare.text
    assert "does not record the training data" in bare.text and bare.data.eval_results is None


@pytest.mark.parametrize("content", ["[1, 2]", '{"data": "toy"}', "{not json"])
def test_malformed_results_file_is_an_error_naming_it(content, tmp_path):
    folder = make_folder(tmp_path, None)
    (folder / "results.json").write_text(content)
    with pytest.raises(ModelCardError, match="results.json"):
        build_model_card(folder)


def test_count_parameters_reads_safetensors_headers(tmp_path):
    save_file({"a": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float16)}, str(tmp_path / "model.safetensors"))
    save_file({"c": np.zeros((2, 2, 2), np.float32)}, str(tmp_path / "extra.safetensors"))
    assert count_parameters(tmp_path) == 3 * 4 + 5 + 8
    assert count_parameters(tmp_path / "missing") is None


def test_read_eval_results_accepts_nested_flat_and_percent_values():
    assert read_eval_results({"test": {"weighted_f1": 0.5, "accuracy": 60.0, "loss": 1.2}}) == {
        "test": {"weighted_f1": 0.5, "accuracy": 0.6}
    }
    assert read_eval_results({"eval_weighted_f1": 0.4, "test_accuracy": 0.7, "epoch": 3}) == {
        "test": {"accuracy": 0.7},
        "validation": {"weighted_f1": 0.4},
    }
    assert read_eval_results({"split": "test", "f1_weighted": 0.3}) == {"test": {"weighted_f1": 0.3}}
    assert read_eval_results({"metrics": {"validation": {"macro_f1": 0.2}}}) == {"validation": {"macro_f1": 0.2}}


def test_cli_writes_the_card_that_the_library_builds(tmp_path):
    folder = make_folder(tmp_path, meld_features_results())
    output = tmp_path / "card" / "README.md"
    script = REPO_ROOT / "examples" / "model_card.py"
    argv = [sys.executable, str(script), str(folder), "--repo_id", "alice/m2fnet-meld", "--output", str(output)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8") == str(build_model_card(folder, "alice/m2fnet-meld"))
