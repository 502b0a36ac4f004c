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
"""Tests of the builder for user conversations (CSV and JSONL) and of the CLI on it."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from datasets_scripts.conversations import ConversationsBuilder, conversations_features, flatten_dialogues


REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "examples"))
import build_dataset  # noqa: E402


CSV_ROWS = [
    {"conversation_id": "cafe", "utterance_id": "1", "speaker": "Ross", "text": "We were on a break!",
     "audio": "media/u1.wav", "video": "", "label": "anger"},
    {"conversation_id": "cafe", "utterance_id": "0", "speaker": "Rachel", "text": "Hi.",
     "audio": "", "video": "media/u0.mp4", "label": "neutral"},
    {"conversation_id": "door", "utterance_id": "0", "speaker": "Joey", "text": "How you doin'?",
     "audio": "media/missing.wav", "video": "", "label": ""},
]  # fmt: skip
JSONL_ROWS = [
    {"conversation_id": 7, "utterance_id": 0, "speaker": "Phoebe", "text": "Smelly cat.", "label": "joy"},
    {"conversation_id": 7, "utterance_id": 1, "speaker": "Monica", "text": "Okay.", "label": "neutral"},
]


def write_csv(path: Path, rows: list[dict], columns=None) -> Path:
    columns = columns or list(rows[0])
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def conversations_dir(tmp_path, speech_wav, noface_video_mp4) -> Path:
    """`train.csv` (relative media paths, one missing) and `test.jsonl` in one folder."""
    root = tmp_path / "mine"
    (root / "media").mkdir(parents=True)
    shutil.copy(speech_wav, root / "media" / "u1.wav")
    shutil.copy(noface_video_mp4, root / "media" / "u0.mp4")
    write_csv(root / "train.csv", CSV_ROWS)
    write_jsonl(root / "test.jsonl", JSONL_ROWS)
    return root


def build(cache_dir, **kwargs):
    builder = ConversationsBuilder(cache_dir=str(cache_dir), **kwargs)
    builder.download_and_prepare()
    return builder, builder.as_dataset()


def test_csv_and_jsonl_from_data_dir(conversations_dir, tmp_path):
    builder, dataset = build(tmp_path / "cache", data_dir=str(conversations_dir))
    assert set(dataset) == {"train", "test"}
    # Labels inferred from all splits, sorted.
    assert dataset["train"].features == conversations_features(["anger", "joy", "neutral"])
    assert dataset["train"]["dialogue_name"] == ["cafe", "door"]
    assert dataset["train"]["dialogue_id"] == [0, 1]

    cafe = dataset["train"][0]["utterances"]
    assert [u["speaker"] for u in cafe] == ["Rachel", "Ross"]  # sorted by utterance_id
    assert [u["emotion"] for u in cafe] == [2, 0]
    assert cafe[0]["video"]["path"] == str((conversations_dir / "media" / "u0.mp4").resolve())
    assert (cafe[0]["audio"], cafe[0]["has_audio"], cafe[0]["has_video"]) == (None, False, True)
    assert cafe[1]["audio"]["path"] == str((conversations_dir / "media" / "u1.wav").resolve())
    door = dataset["train"][1]["utterances"][0]
    assert (door["emotion"], door["has_audio"]) == (None, False)  # unlabelled; missing audio counted

    test = dataset["test"][0]
    assert (test["dialogue_name"], test["split"]) == ("7", "test")
    assert [u["text"] for u in test["utterances"]] == ["Smelly cat.", "Okay."]

    report = builder.build_report
    assert report["label_names"] == ["anger", "joy", "neutral"]
    assert report["splits"]["train"]["missing_audio"] == 1
    assert report["splits"]["train"]["unlabelled_utterances"] == 1
    assert report["totals"]["utterances"] == 5

    flat = flatten_dialogues(dataset["train"])
    assert flat["utterance_index"] == [0, 1, 0] and flat["dialogue_name"] == ["cafe", "cafe", "door"]
    assert flat.features["audio"] == datasets.Audio(sampling_rate=16000, decode=False)


def test_data_files_custom_columns_and_given_labels(tmp_path):
    renamed = [{"dia": row["conversation_id"], "turn": row["utterance_id"], "who": row["speaker"],
                "utt": row["text"], "emo": row["label"] or "neutral"} for row in CSV_ROWS]  # fmt: skip
    path = write_csv(tmp_path / "data.csv", renamed)
    columns = {"dialogue_column": "dia", "utterance_column": "turn", "speaker_column": "who", "text_column": "utt",
               "label_column": "emo"}  # fmt: skip
    _, dataset = build(tmp_path / "cache", data_files=str(path), label_names=("neutral", "anger"), **columns)
    assert list(dataset) == ["train"]
    assert dataset["train"].features["utterances"].feature["emotion"].names == ["neutral", "anger"]
    assert [u["emotion"] for u in dataset["train"][0]["utterances"]] == [0, 1]
    assert not any(u["has_audio"] or u["has_video"] for row in dataset["train"] for u in row["utterances"])


def test_parquet_round_trip(conversations_dir, tmp_path):
    _, dataset = build(tmp_path / "cache", data_dir=str(conversations_dir))
    dataset["train"].to_parquet(str(tmp_path / "train.parquet"))
    reloaded = datasets.load_dataset("parquet", data_files={"train": str(tmp_path / "train.parquet")},
                                     cache_dir=str(tmp_path / "pq_cache"))["train"]  # fmt: skip
    assert reloaded.features == dataset["train"].features
    assert reloaded.to_list() == dataset["train"].to_list()


def test_errors_name_file_row_and_column(conversations_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build(tmp_path / "c0", data_dir=str(tmp_path / "nowhere"))
    (tmp_path / "no_files").mkdir()
    with pytest.raises(FileNotFoundError, match=r"train\.csv"):
        build(tmp_path / "c1", data_dir=str(tmp_path / "no_files"))

    no_speaker = write_csv(tmp_path / "no_speaker.csv", CSV_ROWS, columns=["conversation_id", "utterance_id", "text"])
    with pytest.raises(ValueError, match=r"no_speaker\.csv: missing column\(s\) \['speaker'\]"):
        build(tmp_path / "c2", data_files=str(no_speaker))

    jsonl = write_jsonl(tmp_path / "bad.jsonl", [JSONL_ROWS[0], {"conversation_id": 7, "utterance_id": 1}])
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 2: missing column\(s\) \['speaker', 'text'\]"):
        build(tmp_path / "c3", data_files=str(jsonl), label_names=("joy",))

    path = conversations_dir / "train.csv"
    with pytest.raises(ValueError, match=r"train\.csv, row 1 \(line 2\): unknown label 'anger' in column 'label'"):
        build(tmp_path / "c4", data_files=str(path), label_names=("neutral", "joy"))

    bad_order = write_csv(tmp_path / "bad_order.csv", [{**CSV_ROWS[0], "utterance_id": "first"}])
    with pytest.raises(ValueError, match=r"bad_order\.csv, row 1 \(line 2\): column 'utterance_id' should be"):
        build(tmp_path / "c5", data_files=str(bad_order))

    empty = write_csv(tmp_path / "empty.csv", [], columns=list(CSV_ROWS[0]))
    with pytest.raises(ValueError, match=r"'test' split is empty"):
        build(tmp_path / "c6", data_files={"train": str(path), "test": str(empty)})

    with pytest.raises(
        FileNotFoundError, match=r"row 3 \(line 4\): audio file .*missing\.wav' \(column 'audio'\) does not exist"
    ):
        build(tmp_path / "c7", data_files=str(path), strict_media=True)


def test_cli_conversations(conversations_dir, tmp_path, capsys):
    out = tmp_path / "out"
    build_dataset.main(["conversations", "--data_files", f"train={conversations_dir / 'train.csv'}",
                        f"test={conversations_dir / 'test.jsonl'}", "--cache_dir", str(tmp_path / "cache"),
                        "--output_dir", str(out), "--license", "cc-by-4.0"])  # fmt: skip
    printed = capsys.readouterr().out
    assert "unlabelled" in printed and "anger" in printed
    saved = datasets.load_from_disk(str(out))
    audio = saved["train"][0]["utterances"][1]["audio"]
    assert audio["bytes"] == (conversations_dir / "media" / "u1.wav").read_bytes()  # save_to_disk embeds media
    statistics = json.loads((out / "statistics.json").read_text())
    assert statistics["train"] == {"dialogues": 2, "utterances": 3, "unlabelled": 1,
                                   "emotions": {"anger": 1, "joy": 0, "neutral": 1}}  # fmt: skip
    assert json.loads((out / "build_report.json").read_text())["totals"]["missing_audio"] == 1


def test_cli_as_a_script(conversations_dir, tmp_path):
    """`python examples/build_dataset.py` works from a clone without installing the package."""
    parquet_dir = tmp_path / "pq"
    command = [sys.executable, str(REPO_ROOT / "examples" / "build_dataset.py"), "conversations",
               "--data_dir", str(conversations_dir), "--cache_dir", str(tmp_path / "cache"),
               "--parquet_dir", str(parquet_dir), "--embed_media"]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "utterances" in result.stdout
    assert sorted(path.name for path in parquet_dir.iterdir()) == [
        "README.md", "build_report.json", "statistics.json", "test.parquet", "train.parquet"]  # fmt: skip
    reloaded = datasets.load_dataset("parquet", data_files=str(parquet_dir / "train.parquet"), split="train",
                                     cache_dir=str(tmp_path / "pq_cache"))  # fmt: skip
    assert reloaded[0]["utterances"][1]["audio"]["bytes"] == (conversations_dir / "media" / "u1.wav").read_bytes()


def test_unlabelled_first_utterance_does_not_break_label_encoding(tmp_path):
    """Regression: `datasets` encodes class names only when a list's first element is a name."""
    rows = [
        {"conversation_id": "d1", "utterance_id": 0, "speaker": "A", "text": "hi", "label": ""},
        {"conversation_id": "d1", "utterance_id": 1, "speaker": "B", "text": "wow", "label": "surprise"},
        {"conversation_id": "d2", "utterance_id": 0, "speaker": "A", "text": "oh no", "label": "sadness"},
    ]
    path = write_csv(tmp_path / "data.csv", rows)
    _, dataset = build(tmp_path / "cache", data_files=str(path))
    names = dataset["train"].features["utterances"].feature["emotion"].names
    assert names == ["sadness", "surprise"]
    assert [u["emotion"] for u in dataset["train"][0]["utterances"]] == [None, 1]
    assert [u["emotion"] for u in dataset["train"][1]["utterances"]] == [0]
