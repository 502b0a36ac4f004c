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
"""Tests of the builder for user conversations (CSV and JSONL): layouts, order, keys, speakers, labels, errors."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from datasets_scripts.conversation_format import normalise_key, normalise_label, normalise_speaker, parse_order_value
from datasets_scripts.conversations import ConversationsBuilder, conversations_features, flatten_dialogues
from datasets_scripts.schema import dialogue_features, dialogue_label_names
from examples import build_dataset


REPO_ROOT = Path(__file__).resolve().parents[1]


CSV_COLUMNS = ["conversation_id", "utterance_id", "speaker", "text", "audio", "video", "label"]
CSV_ROWS = [
    dict(zip(CSV_COLUMNS, values, strict=True))
    for values in [
        ("cafe", "1", "Ross", "We were on a break!", "media/u1.wav", "", "anger"),
        ("cafe", "0", "Rachel", "Hi.", "", "media/u0.mp4", "neutral"),
        ("door", "0", "Joey", "How you doin'?", "media/missing.wav", "", ""),
    ]
]
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
    renamed = [
        {
            "dia": row["conversation_id"],
            "turn": row["utterance_id"],
            "who": row["speaker"],
            "utt": row["text"],
            "emo": row["label"] or "neutral",
        }
        for row in CSV_ROWS
    ]
    path = write_csv(tmp_path / "data.csv", renamed)
    columns = {
        "dialogue_columns": "dia",
        "order_by": "turn",
        "speaker_column": "who",
        "text_column": "utt",
        "label_column": "emo",
    }
    _, dataset = build(tmp_path / "cache", data_files=str(path), label_names=("neutral", "anger"), **columns)
    assert list(dataset) == ["train"]
    assert dataset["train"].features["utterances"].feature["emotion"].names == ["neutral", "anger"]
    assert [u["emotion"] for u in dataset["train"][0]["utterances"]] == [0, 1]
    assert not any(u["has_audio"] or u["has_video"] for row in dataset["train"] for u in row["utterances"])


def test_parquet_round_trip(conversations_dir, tmp_path):
    _, dataset = build(tmp_path / "cache", data_dir=str(conversations_dir))
    dataset["train"].to_parquet(str(tmp_path / "train.parquet"))
    reloaded = datasets.load_dataset(
        "parquet", data_files={"train": str(tmp_path / "train.parquet")}, cache_dir=str(tmp_path / "pq_cache")
    )["train"]
    assert reloaded.features == dataset["train"].features
    assert reloaded.to_list() == dataset["train"].to_list()


def test_errors_name_file_row_and_column(conversations_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build(tmp_path / "c0", data_dir=str(tmp_path / "nowhere"))
    (tmp_path / "no_files").mkdir()
    with pytest.raises(FileNotFoundError, match=r"train\.csv"):
        build(tmp_path / "c1", data_dir=str(tmp_path / "no_files"))

    no_speaker = write_csv(tmp_path / "no_speaker.csv", CSV_ROWS, columns=["conversation_id", "utterance_id", "text"])
    with pytest.raises(ValueError, match=r"no_speaker\.csv: missing column\(s\) \['speaker'\].*--speaker_column"):
        build(tmp_path / "c2", data_files=str(no_speaker))

    jsonl = write_jsonl(tmp_path / "bad.jsonl", [JSONL_ROWS[0], {"conversation_id": 7, "utterance_id": 1}])
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 2: missing column\(s\) \['speaker', 'text'\]"):
        build(tmp_path / "c3", data_files=str(jsonl), label_names=("joy",))

    path = conversations_dir / "train.csv"
    with pytest.raises(ValueError, match=r"train\.csv, row 1 \(line 2\): unknown label 'anger' in column 'label'"):
        build(tmp_path / "c4", data_files=str(path), label_names=("neutral", "joy"))

    bad_order = write_csv(tmp_path / "bad_order.csv", [{**CSV_ROWS[0], "utterance_id": "first"}])
    with pytest.raises(
        ValueError, match=r"bad_order\.csv, row 1 \(line 2\): column 'utterance_id' \(--order_by\) holds 'first'"
    ):
        build(tmp_path / "c5", data_files=str(bad_order))

    empty = write_csv(tmp_path / "empty.csv", [], columns=list(CSV_ROWS[0]))
    with pytest.raises(ValueError, match=r"'test' split is empty"):
        build(tmp_path / "c6", data_files={"train": str(path), "test": str(empty)})

    with pytest.raises(
        FileNotFoundError, match=r"row 3 \(line 4\): audio file .*missing\.wav' \(column 'audio'\) does not exist"
    ):
        build(tmp_path / "c7", data_files=str(path), strict_media=True)

    with pytest.raises(ValueError, match=r"No file has the column 'Emotion' given as --label_column"):
        build(tmp_path / "c8", data_files=str(path), label_column="Emotion")
    no_labels = write_csv(
        tmp_path / "no_labels.csv", CSV_ROWS, columns=["conversation_id", "utterance_id", "speaker", "text", "emo"]
    )
    with pytest.raises(ValueError, match=r"No label found in column 'label'.*'emo'.*--label_names"):
        build(tmp_path / "c9", data_files=str(no_labels))
    with pytest.raises(ValueError, match=r"label_names.*distinct.*\['joy', 'Joy'\]"):
        ConversationsBuilder(data_files=str(path), label_names=("joy", "Joy"))
    with pytest.raises(ValueError, match=r"order_by.*part of the conversation id"):
        ConversationsBuilder(data_files=str(path), dialogue_columns=("a", "b"), order_by="b")


def test_cli_conversations(conversations_dir, tmp_path, capsys):
    out = tmp_path / "out"
    build_dataset.main(
        [
            "conversations",
            "--data_files",
            f"train={conversations_dir / 'train.csv'}",
            f"test={conversations_dir / 'test.jsonl'}",
            "--cache_dir",
            str(tmp_path / "cache"),
            "--output_dir",
            str(out),
            "--license",
            "cc-by-4.0",
        ]
    )
    printed = capsys.readouterr().out
    assert "unlabelled" in printed and "anger" in printed
    saved = datasets.load_from_disk(str(out))
    audio = saved["train"][0]["utterances"][1]["audio"]
    assert audio["bytes"] == (conversations_dir / "media" / "u1.wav").read_bytes()  # save_to_disk embeds media
    statistics = json.loads((out / "statistics.json").read_text())
    assert statistics["train"] == {
        "dialogues": 2,
        "utterances": 3,
        "unlabelled": 1,
        "media": {"audio": 1, "video": 1},
        "emotions": {"anger": 1, "joy": 0, "neutral": 1},
    }
    assert json.loads((out / "build_report.json").read_text())["totals"]["missing_audio"] == 1


def test_cli_as_a_script(conversations_dir, tmp_path):
    """`python examples/build_dataset.py` works from a clone without installing the package."""
    parquet_dir = tmp_path / "pq"
    command = [
        sys.executable,
        str(REPO_ROOT / "examples" / "build_dataset.py"),
        "conversations",
        "--data_dir",
        str(conversations_dir),
        "--cache_dir",
        str(tmp_path / "cache"),
        "--parquet_dir",
        str(parquet_dir),
        "--embed_media",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "utterances" in result.stdout
    assert sorted(path.name for path in parquet_dir.iterdir()) == [
        "README.md",
        "build_report.json",
        "statistics.json",
        "test.parquet",
        "train.parquet",
    ]
    reloaded = datasets.load_dataset(
        "parquet", data_files=str(parquet_dir / "train.parquet"), split="train", cache_dir=str(tmp_path / "pq_cache")
    )
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


# A layout unlike the defaults: MELD-like column names, a dialogue key over three columns (one `Season` written `01`),
# float start times out of file order, list-string speakers and labels in mixed case.
FRIENDS_HEADER = [
    "Sr No.",
    "Utterance",
    "Speaker",
    "Emotion",
    "Dialogue_ID",
    "Season",
    "Episode",
    "Scene_ID",
    "Start_Time",
]
FRIENDS_ROWS = [
    [1, "Hello.", "['Monica Geller']", "Joy", 0, "1", "1", "3", "12.5"],
    [2, "Hi.", "['Ross Geller']", "neutral", 0, "1", "1", "3", "6.2901"],
    [3, "What?", "['Monica Geller', 'Ross Geller']", " JOY ", 0, "1", "1", "3", "14"],
    [4, "Okay.", "Chandler", "sadness", 1, "1", "1", "4", "1.0"],
    [5, "Fine.", "Joey", "", 1, "01", "1", "4", "2.0"],  # unlabelled; `01` is season 1
    [6, "Fine.", "Joey", "", 1, "1", "1", "4", "2.0"],  # identical to row 5 at the same time: a duplicate
    [7, "Really?", "Joey", "SADNESS", 1, "1", "1", "4", "2"],  # same time as row 5 but another utterance: a tie
    [8, "Bye.", "['Phoebe Buffay']", "neutral", 2, "1", "2", "1", "0.5"],
    [9, "Wait.", "Rachel", "surprise", 2, "1", "2", "1", "0.25"],
]
FRIENDS_COLUMNS = {
    "dialogue_columns": ("Season", "Episode", "Scene_ID"),
    "order_by": "Start_Time",
    "text_column": "Utterance",
    "label_column": "Emotion",
}


def write_rows(path: Path, header: list, rows: list[list]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def utterance_view(row: dict) -> list[tuple]:
    return [(u["utterance_id"], u["speaker"], u["text"], u["emotion"]) for u in row["utterances"]]


def test_non_default_layout_order_keys_speakers_and_labels(tmp_path):
    path = write_rows(tmp_path / "friends.csv", FRIENDS_HEADER, FRIENDS_ROWS)
    builder, dataset = build(tmp_path / "cache", data_files=str(path), **FRIENDS_COLUMNS)
    train = dataset["train"]
    # `Speaker` is found for the default `speaker` (case-insensitive match); labels lower-cased and sorted.
    assert dialogue_label_names(dataset) == ["joy", "neutral", "sadness", "surprise"]
    assert train["dialogue_name"] == ["1_1_3", "1_1_4", "1_2_1"] and train["dialogue_id"] == [0, 1, 2]
    assert utterance_view(train[0]) == [
        (0, "Ross Geller", "Hi.", 1),
        (1, "Monica Geller", "Hello.", 0),
        (2, "Monica Geller & Ross Geller", "What?", 0),
    ]
    # 1.0 < 2.0 = 2.0 (= 2.0, the duplicate, dropped): the tie keeps its file order.
    assert utterance_view(train[1]) == [
        (0, "Chandler", "Okay.", 2),
        (1, "Joey", "Fine.", None),
        (2, "Joey", "Really?", 2),
    ]
    assert utterance_view(train[2]) == [(0, "Rachel", "Wait.", 3), (1, "Phoebe Buffay", "Bye.", 1)]

    report = builder.build_report
    split = report["splits"]["train"]
    where = f"{path}, row {{}} (line {{}})"
    expected = {
        "rows": 9,
        "dialogues": 3,
        "utterances": 8,
        "order_kind": "number",
        "dialogues_reordered": 2,
        "dialogues_reordered_examples": ["1_1_3", "1_2_1"],
        "tied_order_values": 1,
        "tied_order_examples": [f"1_1_4: 2 ({where.format(7, 8)})"],
        "duplicate_utterances": 1,
        "duplicate_examples": [f"1_1_4: 2.0 ({where.format(6, 7)})"],
        "unlabelled_utterances": 1,
        "unlabelled_examples": [where.format(5, 6)],
        "labels_normalised": 3,
        "speaker_lists": 4,
        "multi_speaker_utterances": 1,
        "label_spellings": {"joy": [" JOY ", "Joy"], "sadness": ["SADNESS", "sadness"]},
    }
    assert {key: split[key] for key in expected} == expected
    assert report["dialogue_columns"] == ["Season", "Episode", "Scene_ID"] and report["order_by"] == "Start_Time"
    assert report["label_spellings"] == expected["label_spellings"]
    assert report["totals"]["utterances"] == 8

    # The same file by Dialogue_ID in file order: nothing reordered, no tie (so no duplicate either), 9 utterances.
    builder, dataset = build(
        tmp_path / "cache2",
        data_files=str(path),
        dialogue_columns="Dialogue_ID",
        order_by="file",
        text_column="Utterance",
        label_column="Emotion",
    )
    assert dataset["train"]["dialogue_name"] == ["0", "1", "2"]
    assert [row["text"] for row in dataset["train"][2]["utterances"]] == ["Bye.", "Wait."]
    split = builder.build_report["splits"]["train"]
    assert (split["order_kind"], split["dialogues_reordered"], split["tied_order_values"]) == ("file", 0, 0)
    assert (split["duplicate_utterances"], split["utterances"]) == (0, 9)


def test_timestamp_order_and_file_order_across_files(tmp_path):
    header = ["conversation_id", "utterance_id", "speaker", "text", "label"]
    rows = [
        ["a", "00:14:38,127", "A", "third", "joy"],
        ["a", "00:14:38.1", "B", "second", "joy"],
        ["a", "14:37.5", "A", "first", "joy"],
        ["b", "1:00:00", "C", "only", "anger"],
    ]
    path = write_rows(tmp_path / "times.csv", header, rows)
    builder, dataset = build(tmp_path / "cache", data_files=str(path))
    assert [u["text"] for u in dataset["train"][0]["utterances"]] == ["first", "second", "third"]
    split = builder.build_report["splits"]["train"]
    assert (split["order_kind"], split["dialogues_reordered"]) == ("timestamp", 1)

    # File order spans files: the files in the order given, then their rows.
    part1 = write_rows(
        tmp_path / "part1.csv", ["conversation_id", "speaker", "text", "label"], [["a", "A", "x", "joy"]]
    )
    part2 = write_rows(
        tmp_path / "part2.csv", ["conversation_id", "speaker", "text", "label"], [["a", "B", "y", "joy"]]
    )
    _, dataset = build(tmp_path / "cache2", data_files={"train": [str(part2), str(part1)]}, order_by="file")
    assert [u["text"] for u in dataset["train"][0]["utterances"]] == ["y", "x"]


def test_jsonl_mixed_id_types_speakers_and_given_labels(tmp_path):
    rows = [
        {"conversation_id": 1, "utterance_id": 0, "speaker": 0, "text": "a", "label": "joy"},
        {"conversation_id": "1", "utterance_id": 1, "speaker": ["Ann", "Bob"], "text": "b", "label": " NEUTRAL "},
        {"conversation_id": 1.0, "utterance_id": 2.5, "speaker": "Ann", "text": "c", "label": None},
        {"conversation_id": " 01 ", "utterance_id": 3, "speaker": "[inaudible]", "text": "d", "label": "Joy"},
        {"conversation_id": "1.5", "utterance_id": 0, "speaker": "Bob", "text": "e", "label": "joy"},
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    builder, dataset = build(tmp_path / "cache", data_files=str(path), label_names=("Neutral", "Joy"))
    train = dataset["train"]
    assert train["dialogue_name"] == ["1", "1.5"]
    assert utterance_view(train[0]) == [
        (0, "0", "a", 1),
        (1, "Ann & Bob", "b", 0),
        (2, "Ann", "c", None),
        (3, "[inaudible]", "d", 1),
    ]
    assert dialogue_label_names(train) == ["Neutral", "Joy"]
    split = builder.build_report["splits"]["train"]
    # "joy", " NEUTRAL " and "joy" differ from the names "Joy" / "Neutral"; "Joy" does not.
    assert (split["labels_normalised"], split["speaker_lists"], split["multi_speaker_utterances"]) == (3, 1, 1)


def test_cell_rules():
    assert parse_order_value("6.2901") == ("number", 6.2901)
    assert parse_order_value(" 007 ") == ("number", 7) and parse_order_value(3) == ("number", 3)
    for text in ("00:14:38,127", "00:14:38.127", "14:38.127"):
        kind, seconds = parse_order_value(text)
        assert kind == "timestamp" and seconds == pytest.approx(14 * 60 + 38.127)
    assert parse_order_value("1:02:03") == ("timestamp", 3723)
    for bad, reason in [
        ("", "is empty"),
        ("abc", "not a number"),
        ("00:61:00,000", "cannot be parsed"),
        ("00:00:75", "cannot be parsed"),
        ("1:2:3:4", "cannot be parsed"),
        (True, "boolean"),
        (float("nan"), "finite"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_order_value(bad)
    assert [normalise_key(v) for v in (1, "1", 1.0, " 01 ", "1.0", "1.5", "cafe ")] == [
        "1",
        "1",
        "1",
        "1",
        "1",
        "1.5",
        "cafe",
    ]
    assert normalise_speaker("['Monica Geller']") == ("Monica Geller", 1)
    assert normalise_speaker('["A", " B "]') == ("A & B", 2)
    assert normalise_speaker("[]") == ("", 0)
    assert normalise_speaker("[inaudible]") == ("[inaudible]", None)
    assert normalise_speaker(0) == ("0", None) and normalise_speaker(None) == ("", None)
    assert normalise_label(" Very  HAPPY ") == "very happy"


def test_dialogue_schema_has_one_owner():
    features = dialogue_features(
        ["b", "a"],
        utterance_media=["audio"],
        dialogue_media=["video"],
        dialogue_fields={"session": datasets.Value("int32")},
    )
    assert list(features) == ["dialogue_id", "dialogue_name", "split", "session", "video", "utterances"]
    assert list(features["utterances"].feature) == [
        "utterance_id",
        "speaker",
        "text",
        "emotion",
        "audio",
        "has_audio",
        "has_video",
    ]
    assert dialogue_label_names(features) == ["b", "a"]
    assert conversations_features(["x"]) == dialogue_features(["x"], utterance_media=("audio", "video"))
    for kwargs, message in [
        ({"label_names": []}, "non-empty"),
        ({"label_names": ["a", "a"]}, "unique"),
        ({"label_names": ["a"], "utterance_media": ["smell"]}, "smell"),
        ({"label_names": ["a"], "utterance_fields": {"text": datasets.Value("string")}}, "text"),
        ({"label_names": ["a"], "utterance_media": ["video"], "dialogue_media": ["video"]}, "both"),
    ]:
        with pytest.raises(ValueError, match=message):
            dialogue_features(**kwargs)
    mismatched = datasets.DatasetDict(
        {
            split: datasets.Dataset.from_list(
                [{"dialogue_id": 0, "dialogue_name": "d", "split": split, "utterances": []}],
                features=dialogue_features([name]),
            )
            for split, name in [("train", "a"), ("test", "b")]
        }
    )
    with pytest.raises(ValueError, match="different label names"):
        dialogue_label_names(mismatched)


def test_builders_take_files_through_gen_kwargs_and_only_public_hooks(conversations_dir, tmp_path):
    """Files (not parsed rows) go through `gen_kwargs`; no private `datasets` method is overridden."""
    from datasets_scripts.iemocap import IemocapBuilder
    from datasets_scripts.meld import MeldBuilder

    builder = ConversationsBuilder(data_dir=str(conversations_dir), cache_dir=str(tmp_path / "cache"))
    generators = builder._split_generators(None)
    assert {g.name: g.gen_kwargs for g in generators} == {
        "train": {"split": "train", "files": (str(conversations_dir / "train.csv"),)},
        "test": {"split": "test", "files": (str(conversations_dir / "test.jsonl"),)},
    }
    hooks = {"_info", "_split_generators", "_generate_examples", "_generate_tables"}
    for cls in (ConversationsBuilder, MeldBuilder, IemocapBuilder):
        for klass in cls.__mro__:
            if klass.__module__.startswith("datasets_scripts"):
                overridden = {name for name in vars(klass) if name.startswith("_") and not name.startswith("__")}
                private_datasets = {
                    name
                    for name in overridden
                    if hasattr(datasets.DatasetBuilder, name) or hasattr(datasets.ArrowBasedBuilder, name)
                }
                assert private_datasets <= hooks, (klass, private_datasets - hooks)
