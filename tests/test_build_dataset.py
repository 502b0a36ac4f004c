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
"""Tests of `examples/build_dataset.py` on conversations in a layout unlike the defaults, and of the script's shape."""

import ast
import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import datasets

from datasets_scripts.schema import dialogue_label_names
from examples import build_dataset
from m2fnet_training.io_utils import current_umask


REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "examples" / "build_dataset.py"
HEADER = ["Dialogue_ID", "Season", "Episode", "Scene_ID", "Start_Time", "Speaker", "Utterance", "Emotion"]
# Scene (1, 1, 3) is listed out of time order, (1, 1, 4) in order; the test split has its own scene.
TRAIN = [
    [0, 1, 1, 3, "14.75", "['Monica Geller']", "You're back!", "Joy"],
    [0, 1, 1, 3, "6.2901", "['Ross Geller']", "Hi.", "neutral"],
    [0, 1, 1, 3, "9", "['Monica Geller', 'Ross Geller']", "Hey!", " JOY "],
    [1, 1, 1, 4, "1.5", "Chandler", "Could it be any colder?", "Anger"],
    [1, 1, 1, 4, "3.25", "Joey", "How you doin'?", "neutral"],
]
VALIDATION = [[2, 2, 5, 1, "0.5", "Phoebe", "Smelly cat.", "JOY"], [2, 2, 5, 1, "1.0", "Rachel", "No.", "Anger"]]
FLAGS = "--dialogue_columns Season Episode Scene_ID --order_by Start_Time --text_column Utterance".split()
FLAGS += ["--label_column", "Emotion"]


def write_csv(path: Path, rows: list[list]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_non_default_layout_through_the_cli(tmp_path, capsys):
    train, validation = write_csv(tmp_path / "train.csv", TRAIN), write_csv(tmp_path / "dev.csv", VALIDATION)
    out, pq, report_json = tmp_path / "out", tmp_path / "pq", tmp_path / "reports" / "friends.json"
    result = build_dataset.main(
        [
            "conversations",
            "--data_files",
            f"train={train}",
            f"validation={validation}",
            *FLAGS,
            "--cache_dir",
            str(tmp_path / "cache"),
            "--output_dir",
            str(out),
            "--report_json",
            str(report_json),
            "--parquet_dir",
            str(pq),
            "--license",
            "cc-by-4.0",
        ]
    )
    assert "joy" in capsys.readouterr().out

    dataset = datasets.load_from_disk(str(out))
    assert isinstance(dataset, datasets.DatasetDict) and set(dataset) == {"train", "validation"}
    # The label names flow through as the `emotion` ClassLabel: lower-cased, sorted, shared by both splits.
    assert dialogue_label_names(dataset) == ["anger", "joy", "neutral"]
    scene = dataset["train"][0]
    assert scene["dialogue_name"] == "1_1_3"
    assert [(u["speaker"], u["text"], u["emotion"]) for u in scene["utterances"]] == [
        ("Ross Geller", "Hi.", 2),
        ("Monica Geller & Ross Geller", "Hey!", 1),
        ("Monica Geller", "You're back!", 1),
    ]
    assert [u["emotion"] for u in dataset["validation"][0]["utterances"]] == [1, 0]

    assert result["statistics"]["train"] == {
        "dialogues": 2,
        "utterances": 5,
        "media": {"audio": 0, "video": 0},
        "emotions": {"anger": 1, "joy": 2, "neutral": 2},
    }
    report = json.loads((out / "build_report.json").read_text())
    assert report == json.loads(report_json.read_text()) == json.loads(json.dumps(result["report"]))
    totals = report["totals"]
    assert (totals["dialogues_reordered"], totals["speaker_lists"], totals["multi_speaker_utterances"]) == (1, 3, 1)
    assert (totals["labels_normalised"], totals["tied_order_values"], totals["duplicate_utterances"]) == (5, 0, 0)
    assert report["label_spellings"] == {"anger": ["Anger"], "joy": [" JOY ", "JOY", "Joy"]}

    # The card of text-only data claims text classification only.
    card = (pq / "README.md").read_text()
    assert "license: cc-by-4.0" in card and "multimodal" not in card and "audio-classification" not in card
    assert datasets.load_dataset(str(pq), cache_dir=str(tmp_path / "pq_cache"))["train"]["dialogue_name"] == [
        "1_1_3",
        "1_1_4",
    ]

    # Final folders and files get the permissions of a plain mkdir/open, not the staging folder's 0700.
    umask = current_umask()
    for path in [out, *out.rglob("*"), pq, *pq.rglob("*")]:
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_help_documents_the_format():
    command = [sys.executable, str(SCRIPT), "conversations", "--help"]
    env = {**os.environ, "COLUMNS": "200"}  # argparse wraps help to the terminal width
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "| content | option (flag) | default | required |" in text
    for phrase in (
        "--dialogue_columns",
        "--order_by",
        "00:14:38,127",
        "ties",
        "['Monica Geller']",
        "-100",
        "(default: utterance_id)",
        "(default: ['conversation_id'])",
    ):
        assert phrase in text, phrase


def test_the_script_is_a_thin_cli():
    source = SCRIPT.read_text()
    tree = ast.parse(source)
    assert 100 <= len(source.splitlines()) <= 300
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name.split(".")[0] == "examples"}
    assert "sys" not in imported and "sys.path" not in source
    assert "--token" not in source and "/data/" not in source.replace("path/to/", "")
    last = tree.body[-1]
    assert isinstance(last, ast.If) and ast.unparse(last.body[0]) == "run_cli(main)"


def test_cli_errors_are_one_line(tmp_path):
    data = write_csv(tmp_path / "train.csv", TRAIN)
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("keep")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    for args, expected in [
        (["--output_dir", existing], f"{existing} exists; pass --overwrite"),
        ([*FLAGS[:6], "--output_dir", tmp_path / "new"], "missing column(s) ['text']"),
    ]:
        command = [
            sys.executable,
            str(SCRIPT),
            "conversations",
            "--data_files",
            str(data),
            "--cache_dir",
            str(tmp_path / "cache"),
            *map(str, args),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert expected in result.stderr.strip().splitlines()[-1]
    assert (existing / "keep.txt").read_text() == "keep" and not (tmp_path / "new").exists()
