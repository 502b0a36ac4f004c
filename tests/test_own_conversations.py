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
"""The README's "Train on your own conversations" example, end to end: build, model, features, training, evaluation.

The CSV is laid out like a public ERC corpus (a dialogue key over three columns, start times as order, speakers
written as lists, labels in mixed case): nothing is converted by hand, and the label names reach every step.
"""

import csv
import json
import os
import random
import shlex
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import torch
from transformers import BertConfig, BertModel

from m2fnet_training.tiny_model import train_tiny_tokenizer
from tests.paths import REPO_ROOT


HEADER = ["Season", "Episode", "Scene_ID", "Start_Time", "Speaker", "Utterance", "Emotion"]
PHRASES = {
    "Joy": ["I am so happy for you!", "This is wonderful news!", "Yay, we won!"],
    "anger": ["I am so angry at you!", "Stop lying to me!", "Get out now!"],
    " NEUTRAL ": ["The bus leaves at six.", "Pass me the remote.", "The meeting is at noon."],
}
SPEAKERS = ["['Monica Geller']", "['Ross Geller']", "Chandler", "['Joey Tribbiani', 'Rachel Green']"]


def write_corpus(path: Path, scenes: int, seed: int) -> None:
    """`scenes` dialogues of 4 utterances, rows shuffled (file order differs from time order)."""
    rng = random.Random(seed)
    rows = []
    for scene in range(scenes):
        for turn in range(4):
            label = rng.choice(list(PHRASES))
            start = f"00:{scene:02d}:{10 + 7 * turn:02d}.{rng.randrange(1000):03d}"
            rows.append([1, 1 + scene % 2, scene, start, SPEAKERS[turn % 4], rng.choice(PHRASES[label]), label])
    rng.shuffle(rows)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        writer.writerows(rows)


def run(script: str, *arguments, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(REPO_ROOT / "examples" / script), *map(str, arguments)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("friends")
    write_corpus(root / "friends_train.csv", scenes=16, seed=0)
    write_corpus(root / "friends_dev.csv", scenes=6, seed=1)
    tokenizer = train_tiny_tokenizer([text for phrases in PHRASES.values() for text in phrases] + SPEAKERS)
    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=len(tokenizer),
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(root / "encoder")
    tokenizer.save_pretrained(root / "encoder")
    return root


def test_misnamed_columns_give_one_line_with_the_header_and_the_flags(corpus):
    result = run(
        "build_dataset.py",
        "conversations",
        "--data_files",
        "train=friends_train.csv",
        "--output_dir",
        "out",
        cwd=corpus,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "Season" in error and "Utterance" in error and "--dialogue_columns" in error and "--text_column" in error


def step(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Runs one README command (`script.py arguments`) and fails the test, with its stderr, if it fails."""
    script, *arguments = shlex.split(command)
    result = run(script, *arguments, cwd=cwd)
    assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    return result


# The README's commands, with the tiny encoder and fewer epochs.
BUILD = (
    "build_dataset.py conversations --data_files train=friends_train.csv validation=friends_dev.csv "
    "--dialogue_columns Season Episode Scene_ID --order_by Start_Time --text_column Utterance --label_column Emotion "
    "--output_dir dataset"
)
MODEL = "build_model.py --text_encoder encoder --modalities text --dataset_dir dataset --output_dir model"
FEATURES = "extract_features.py --model model --dataset dataset --output_dir features --shard_utterances 16"
TRAIN = (
    "train_m2fnet.py --model_name_or_path model --features_dir features --output_dir trained --num_train_epochs 3 "
    "--save_plots false --num_threads 1"
)
EVALUATE = (
    "evaluate_m2fnet.py --model_name_or_path trained --features_dir features --split validation --output_dir eval"
)


def test_own_conversations_from_csv_to_evaluation(corpus):
    step(BUILD, corpus)
    dataset = datasets.load_from_disk(str(corpus / "dataset"))
    labels = dataset["train"].features["utterances"].feature["emotion"].names
    assert labels == ["anger", "joy", "neutral"]  # " NEUTRAL " and "Joy" normalised
    first = dataset["train"][0]["utterances"]
    assert [u["speaker"] for u in first[:2]] == ["Monica Geller", "Ross Geller"]  # time order, list strings read
    assert json.loads((corpus / "dataset" / "build_report.json").read_text())["totals"]["dialogues_reordered"] > 0

    step(MODEL, corpus)
    config = json.loads((corpus / "model" / "config.json").read_text())
    assert [config["id2label"][str(index)] for index in range(3)] == labels  # no --label_names needed
    step(FEATURES, corpus)
    assert json.loads((corpus / "features" / "extraction_report.json").read_text())["label_names"] == labels
    step(TRAIN, corpus)
    results = json.loads((corpus / "trained" / "results.json").read_text())
    assert results["data"]["label_names"] == labels and results["data"]["source"] == "features"
    assert set(results["validation"]["per_class_f1"]) == set(labels)
    step(EVALUATE, corpus)
    scored = json.loads((corpus / "eval" / "results.json").read_text())["validation"]
    assert scored["weighted_f1"] == pytest.approx(results["validation"]["weighted_f1"])
    assert scored["confusion_matrix"] == results["validation"]["confusion_matrix"]
