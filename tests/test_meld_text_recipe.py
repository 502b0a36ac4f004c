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
"""`benchmarks/meld_text_recipe.py` end to end on generated MELD CSVs (with a test split) and a tiny text encoder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from m2fnet_training.toy_data import toy_tokenizer
from tests.test_datasets_meld import write_meld_csv
from tests.test_text_finetuning import tiny_encoder


REPO_ROOT = Path(__file__).resolve().parents[1]
EMOTIONS = ["neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger"]
SENTENCES = ["Oh my God!", "Hi.", "We were on a break!", "Fine.", "Really?", "Just go.", "Okay."]


def _meld_rows(num_dialogues: int, first_dialogue: int) -> list[tuple]:
    """`(text, speaker, emotion, sentiment, dialogue, utterance)` rows, 4 utterances per dialogue, every emotion used."""
    rows = []
    for dialogue in range(first_dialogue, first_dialogue + num_dialogues):
        for utterance in range(4):
            index = (dialogue * 4 + utterance) % len(EMOTIONS)
            speaker = ("Ross", "Rachel")[utterance % 2]
            rows.append((SENTENCES[index], speaker, EMOTIONS[index], "neutral", dialogue, utterance))
    return rows


def test_recipe_from_csvs_to_the_results_json_with_test_figures(tmp_path):
    data_dir = tmp_path / "MELD"
    data_dir.mkdir()
    write_meld_csv(data_dir / "train_sent_emo.csv", _meld_rows(8, 0))
    write_meld_csv(data_dir / "dev_sent_emo.csv", _meld_rows(3, 0))
    write_meld_csv(data_dir / "test_sent_emo.csv", _meld_rows(3, 0))
    tokenizer = toy_tokenizer()
    encoder = tiny_encoder(vocab_size=len(tokenizer))
    encoder.save_pretrained(tmp_path / "encoder")
    tokenizer.save_pretrained(tmp_path / "encoder")
    results_path = tmp_path / "meld_text.json"
    command = [
        *(sys.executable, REPO_ROOT / "benchmarks" / "meld_text_recipe.py", "--data_dir", data_dir),
        *("--text_encoder", tmp_path / "encoder", "--work_dir", tmp_path / "work", "--results", results_path),
        *("--seeds", "42", "43", "--stage1_args", "--num_trainable_layers", "all", "--num_train_epochs", "2"),
        *("--learning_rate", "1e-3", "--per_device_train_batch_size", "8", "--save_plots", "false", "--seed", "42"),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        list(map(str, command)), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

    report = json.loads(results_path.read_text(encoding="utf-8"))
    configurations = report["configurations"]
    assert [entry["fine_tuned"] for entry in configurations] == [False, True, True]
    frozen, stage1, tuned = configurations
    assert frozen["seeds"] == tuned["seeds"] == [42, 43] and stage1["seeds"] == [42]
    for entry in configurations:
        assert 0 <= entry["dev_weighted_f1"] <= 100 and 0 <= entry["test_weighted_f1"] <= 100
        assert set(entry["per_class_f1"]) == set(EMOTIONS)
        assert entry["command"] and entry["wall_time_s"] > 0
    assert frozen["dev_weighted_f1_std"] is not None and stage1["dev_weighted_f1_std"] is None
    # Each figure is the mean over the seeds' own results, in percent; the test split is scored, never selected on.
    runs = [
        json.loads((tmp_path / "work" / "dialogue" / f"stage1-seed{s}" / "results.json").read_text()) for s in (42, 43)
    ]
    assert tuned["dev_weighted_f1"] == round(50 * sum(run["validation"]["weighted_f1"] for run in runs), 2)
    assert tuned["test_weighted_f1"] == round(50 * sum(run["test"]["weighted_f1"] for run in runs), 2)
    assert all(run["best"]["weighted_f1"] == pytest.approx(run["validation"]["weighted_f1"]) for run in runs)
    stage1_args = json.loads((tmp_path / "work" / "stage1" / "results.json").read_text())["args"]
    assert stage1_args["model"]["num_trainable_layers"] == "all"
