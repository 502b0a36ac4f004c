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
"""Tests of the MELD builder on the real transcripts and on a tiny generated MELD.Raw layout, and of the CLI."""

import csv
import json
import shutil
import sys
import tarfile
from pathlib import Path
from unittest.mock import MagicMock, patch

import datasets
import pytest

from datasets_scripts._common import MOJIBAKE_FALLBACK_TABLE, fix_mojibake
from datasets_scripts.meld import MELD_CSV_COLUMNS, MeldBuilder, flatten_dialogues, meld_features
from datasets_scripts.schema import dialogue_label_names
from examples import build_dataset
from modeling_m2fnet.configuration_m2fnet import MELD_EMOTIONS


REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_MELD_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "meld"
HEADER = ["Sr No.", *MELD_CSV_COLUMNS]


def write_meld_csv(path: Path, rows: list[tuple], header: list[str] = HEADER) -> Path:
    """Writes MELD-format rows `(text, speaker, emotion, sentiment, dialogue, utterance)` (times are made up)."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for number, (text, speaker, emotion, sentiment, dialogue, utterance) in enumerate(rows, start=1):
            start = f"00:01:{10 + utterance:02d},{100 * utterance:03d}"
            end = f"00:01:{11 + utterance:02d},500"
            full = [number, text, speaker, emotion, sentiment, dialogue, utterance, 3, 7, start, end]
            writer.writerow([value for name, value in zip(HEADER, full, strict=True) if name in header])
    return path


TRAIN_ROWS = [
    ("Oh my God, itâ€™s you!", "Rachel", "surprise", "positive", 0, 0),
    ("Itâ€™s me. Nestlé.", "Ross", "joy", "positive", 0, 2),  # listed before utterance 1: must be sorted
    ("Hi.", "Monica", "neutral", "neutral", 0, 1),
    ("Hi again.", "Monica", "neutral", "neutral", 0, 1),  # duplicate (0, 1): dropped and counted
    ("Pivot!", "Ross", "anger", "negative", 2, 0),
    ("We were on a break\x92", "Ross", "Sadness", "negative", 2, 1),  # C1 mojibake, label with a capital
]
DEV_ROWS = [("Fine.", "Joey", "disgust", "negative", 0, 0), ("Really?", "Chandler", "fear", "negative", 0, 1)]
TEST_ROWS = [("How you doin'?", "Joey", "joy", "positive", 5, 0)]


@pytest.fixture
def tiny_meld_dir(tmp_path, noface_video_mp4) -> Path:
    """A MELD.Raw-shaped folder: the three CSVs and the three clip folders, with clip dia2_utt1 missing."""
    root = tmp_path / "MELD.Raw"
    root.mkdir()
    write_meld_csv(root / "train_sent_emo.csv", TRAIN_ROWS)
    write_meld_csv(root / "dev_sent_emo.csv", DEV_ROWS)
    write_meld_csv(root / "test_sent_emo.csv", TEST_ROWS)
    clips = {
        "train_splits": ["dia0_utt0", "dia0_utt1", "dia0_utt2", "dia2_utt0"],  # dia2_utt1 missing
        "dev_splits_complete": ["dia0_utt0", "dia0_utt1"],
        "output_repeated_splits_test": ["dia5_utt0"],
    }
    for folder, names in clips.items():
        (root / folder).mkdir()
        for name in names:
            shutil.copy(noface_video_mp4, root / folder / f"{name}.mp4")
    return root


def build(config_name, cache_dir, **kwargs) -> tuple[MeldBuilder, datasets.DatasetDict]:
    builder = MeldBuilder(config_name=config_name, cache_dir=str(cache_dir), **kwargs)
    builder.download_and_prepare()
    return builder, builder.as_dataset()


@pytest.mark.skipif(
    not (REAL_MELD_DIR / "train_sent_emo.csv").is_file(), reason=f"real MELD CSVs not in {REAL_MELD_DIR}"
)
def test_real_meld_text_counts_and_defects(tmp_path):
    builder, dataset = build("text", tmp_path / "cache", data_dir=str(REAL_MELD_DIR), splits=("train", "validation"))
    # Official counts (MELD README): train 9,989 utterances / 1,038 dialogues, dev 1,109 / 114.
    for split, (utterances, dialogues) in {"train": (9989, 1038), "validation": (1109, 114)}.items():
        assert dataset[split].num_rows == dialogues
        assert sum(len(row["utterances"]) for row in dataset[split]) == utterances
        report = builder.build_report["splits"][split]
        assert (report["utterances"], report["dialogues"]) == (utterances, dialogues)
    texts = [u["text"] for split in dataset.values() for row in split for u in row["utterances"]]
    assert not any("â€" in text or "\x92" in text for text in texts)

    first = dataset["train"][0]
    assert (first["dialogue_id"], first["dialogue_name"], first["split"]) == (0, "dia0", "train")
    assert dialogue_label_names(dataset) == list(MELD_EMOTIONS)
    utterance = first["utterances"][0]
    assert utterance["text"] == "also I was the point person on my company’s transition from the KL-5 to GR-6 system."
    assert utterance["speaker"] == "Chandler"
    assert MELD_EMOTIONS[utterance["emotion"]] == "neutral"
    assert utterance["start_time"] == pytest.approx(16 * 60 + 16.059)
    # The release's known defects are counted, not fatal: train has no dialogue 60, and some dialogues skip ids.
    train_report = builder.build_report["splits"]["train"]
    assert train_report["missing_dialogue_id_examples"] == [60]
    assert train_report["dialogues_with_utterance_id_gaps"] == 72
    assert builder.build_report["splits"]["validation"]["dialogues_with_utterance_id_gaps"] == 2
    assert builder.build_report["totals"]["duplicate_utterances"] == 0
    # Class histogram of the MELD README ("Dataset Distribution", train column).
    emotions = [u["emotion"] for row in dataset["train"] for u in row["utterances"]]
    histogram = {name: emotions.count(index) for index, name in enumerate(MELD_EMOTIONS)}
    assert histogram == {
        "neutral": 4710,
        "surprise": 1205,
        "fear": 268,
        "sadness": 683,
        "joy": 1743,
        "disgust": 271,
        "anger": 1109,
    }


def test_raw_tiny_layout(tiny_meld_dir, tmp_path):
    builder, dataset = build("raw", tmp_path / "cache", data_dir=str(tiny_meld_dir))
    assert set(dataset) == {"train", "validation", "test"}
    assert dataset["train"].features == meld_features(with_video=True)
    assert [row["dialogue_id"] for row in dataset["train"]] == [0, 2]

    dia0 = dataset["train"][0]["utterances"]
    assert [u["utterance_id"] for u in dia0] == [0, 1, 2]
    assert dia0[1]["text"] == "Hi."  # the first of the duplicated (0, 1) rows is kept
    assert dia0[0]["text"] == "Oh my God, it’s you!"
    assert dia0[2]["text"] == "It’s me. Nestlé."
    assert dia0[0]["video"]["path"] == str(tiny_meld_dir / "train_splits" / "dia0_utt0.mp4")
    dia2 = dataset["train"][1]["utterances"]
    assert dia2[1]["text"] == "We were on a break’"
    assert MELD_EMOTIONS[dia2[1]["emotion"]] == "sadness"
    assert (dia2[1]["video"], dia2[1]["has_video"]) == (None, False)
    assert all(u["has_video"] for u in dia0)

    report = builder.build_report
    train = report["splits"]["train"]
    assert (train["missing_clips"], train["missing_clip_examples"]) == (1, ["dia2_utt1.mp4"])
    assert train["duplicate_utterances"] == 1
    assert train["mojibake_fixed_rows"] == 3
    assert report["totals"]["missing_clips"] == 1
    assert report["totals"]["utterances"] == 5 + 2 + 1
    assert dataset["validation"][0]["utterances"][0]["video"]["path"].endswith("dev_splits_complete/dia0_utt0.mp4")
    assert dataset["test"][0]["split"] == "test"

    # The report survives the cache: a second builder that finds the prepared dataset reads it back.
    again = MeldBuilder(config_name="raw", cache_dir=str(tmp_path / "cache"), data_dir=str(tiny_meld_dir))
    again.download_and_prepare()
    assert again.build_report == json.loads(json.dumps(report))


def test_build_is_deterministic(tiny_meld_dir, tmp_path):
    _, first = build("raw", tmp_path / "a", data_dir=str(tiny_meld_dir))
    _, second = build("raw", tmp_path / "b", data_dir=str(tiny_meld_dir))
    for split in first:
        assert first[split].to_list() == second[split].to_list()


def test_mojibake_fallback_without_ftfy(tiny_meld_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ftfy", None)  # `import ftfy` now raises ImportError
    for bad, good in MOJIBAKE_FALLBACK_TABLE:
        assert fix_mojibake(f"x{bad}y") == f"x{good}y"
    assert fix_mojibake("It’s fine — really…") == "It’s fine — really…"
    builder, dataset = build("text", tmp_path / "cache", data_dir=str(tiny_meld_dir), splits=("train",))
    assert builder.build_report["splits"]["train"]["mojibake_fixer"] == "builtin-table"
    assert builder.build_report["splits"]["train"]["mojibake_fixed_rows"] == 3
    assert dataset["train"][0]["utterances"][0]["text"] == "Oh my God, it’s you!"


def test_flatten_dialogues(tiny_meld_dir, tmp_path):
    _, dataset = build("raw", tmp_path / "cache", data_dir=str(tiny_meld_dir))
    flat = flatten_dialogues(dataset["train"])
    assert flat.num_rows == 5
    assert flat.column_names[:4] == ["dialogue_id", "dialogue_name", "split", "utterance_index"]
    assert flat["dialogue_id"] == [0, 0, 0, 2, 2]
    assert flat["utterance_index"] == [0, 1, 2, 0, 1]
    assert flat.features["video"] == datasets.Video(decode=False)
    assert flat.features["emotion"].names == list(MELD_EMOTIONS)
    assert flat[4]["has_video"] is False
    assert set(flatten_dialogues(dataset)) == {"train", "validation", "test"}


def test_parquet_export_round_trip(tiny_meld_dir, tmp_path):
    _, dataset = build("raw", tmp_path / "cache", data_dir=str(tiny_meld_dir))
    files = {}
    for split, split_dataset in dataset.items():
        files[split] = str(tmp_path / f"{split}.parquet")
        split_dataset.to_parquet(files[split])
    reloaded = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "pq_cache"))
    for split in dataset:
        assert reloaded[split].features == dataset[split].features
        assert reloaded[split].to_list() == dataset[split].to_list()


def test_download_path_with_local_archives(tiny_meld_dir, tmp_path):
    """`data_dir=None` downloads the CSVs and MELD.Raw.tar.gz (here local files stand in for the URLs)."""
    staging = tmp_path / "staging" / "MELD.Raw"
    staging.mkdir(parents=True)
    for archive, folder in [("train.tar.gz", "train_splits"), ("dev.tar.gz", "dev_splits_complete")]:
        with tarfile.open(staging / archive, "w:gz") as tar:
            tar.add(tiny_meld_dir / folder, arcname=folder)
    raw_tarball = tmp_path / "MELD.Raw.tar.gz"
    with tarfile.open(raw_tarball, "w:gz") as tar:
        tar.add(staging, arcname="MELD.Raw")
    builder, dataset = build(
        "raw",
        tmp_path / "cache",
        csv_base_url=str(tiny_meld_dir),
        raw_url=str(raw_tarball),
        splits=("train", "validation"),
    )
    assert builder.build_report["totals"]["missing_clips"] == 1
    path = dataset["train"][0]["utterances"][0]["video"]["path"]
    assert Path(path).is_file() and path.endswith("train_splits/dia0_utt0.mp4")


def test_errors_name_what_is_wrong(tiny_meld_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        MeldBuilder(config_name="text", data_dir=str(tmp_path / "does-not-exist")).download_and_prepare()

    no_test = tmp_path / "no_test"
    no_test.mkdir()
    shutil.copy(tiny_meld_dir / "train_sent_emo.csv", no_test)
    with pytest.raises(FileNotFoundError, match=r"no_test/dev_sent_emo\.csv \(validation\), .*test_sent_emo\.csv"):
        build("text", tmp_path / "c1", data_dir=str(no_test))

    with pytest.raises(FileNotFoundError, match="dev_splits_complete"):
        shutil.copy(tiny_meld_dir / "dev_sent_emo.csv", no_test)
        build("raw", tmp_path / "c2", data_dir=str(no_test), splits=("validation",))

    bad_column = tmp_path / "bad_column"
    bad_column.mkdir()
    write_meld_csv(bad_column / "train_sent_emo.csv", TRAIN_ROWS, header=[h for h in HEADER if h != "Emotion"])
    with pytest.raises(ValueError, match=r"train_sent_emo\.csv.*missing column.*'Emotion'"):
        build("text", tmp_path / "c3", data_dir=str(bad_column), splits=("train",))

    bad_label = tmp_path / "bad_label"
    bad_label.mkdir()
    write_meld_csv(bad_label / "train_sent_emo.csv", [*TRAIN_ROWS[:2], ("Hm.", "Joey", "boredom", "neutral", 0, 3)])
    with pytest.raises(ValueError, match=r"train_sent_emo\.csv, row 3 \(line 4\): unknown emotion 'boredom'"):
        build("text", tmp_path / "c4", data_dir=str(bad_label), splits=("train",))

    empty = tmp_path / "empty"
    empty.mkdir()
    write_meld_csv(empty / "train_sent_emo.csv", [])
    with pytest.raises(ValueError, match=r"'train' split is empty"):
        build("text", tmp_path / "c5", data_dir=str(empty), splits=("train",))

    with pytest.raises(ValueError, match="splits"):
        MeldBuilder(config_name="text", data_dir=str(tiny_meld_dir), splits=("dev",))


def raw_meld_argv(data_dir: Path, tmp_path: Path, *extra) -> list[str]:
    return [
        "meld",
        "--config",
        "raw",
        "--data_dir",
        str(data_dir),
        "--cache_dir",
        str(tmp_path / "cache"),
        *map(str, extra),
    ]


def test_cli_end_to_end_writes_outputs_atomically(tiny_meld_dir, tmp_path, capsys):
    out, pq, report_json = tmp_path / "out", tmp_path / "pq", tmp_path / "reports" / "meld.json"
    argv = raw_meld_argv(
        tiny_meld_dir, tmp_path, "--output_dir", out, "--parquet_dir", pq, "--report_json", report_json
    )
    with patch.object(sys, "argv", ["build_dataset.py", *argv]):
        result = build_dataset.main()
    printed = capsys.readouterr().out
    assert "validation" in printed and "surprise" in printed and "missing_clips" in printed
    assert result["statistics"]["train"] == {
        "dialogues": 2,
        "utterances": 5,
        "media": {"video": 4},
        "emotions": {"neutral": 1, "surprise": 1, "fear": 0, "sadness": 1, "joy": 1, "disgust": 0, "anger": 1},
    }
    assert json.loads(report_json.read_text())["totals"]["missing_clips"] == 1

    # save_to_disk output: media embedded, reloadable.
    saved = datasets.load_from_disk(str(out))
    assert saved["train"][0]["utterances"][0]["video"]["bytes"] is not None
    assert json.loads((out / "build_report.json").read_text())["totals"]["duplicate_utterances"] == 1
    # Parquet output: reloads with the plain parquet loader, card carries licence, citation and report.
    reloaded = datasets.load_dataset(str(pq), cache_dir=str(tmp_path / "pq_cache"))
    assert reloaded["train"]["dialogue_id"] == saved["train"]["dialogue_id"] == [0, 2]
    assert reloaded["train"].features == meld_features(with_video=True)
    card = (pq / "README.md").read_text()
    assert "license: gpl-3.0" in card and "poria-etal-2019-meld" in card and '"missing_clips": 1' in card
    assert not [path.name for path in tmp_path.iterdir() if ".tmp-" in path.name]

    # An existing output is not touched without --overwrite.
    with pytest.raises(FileExistsError, match="--overwrite"):
        build_dataset.main(argv)
    # A crash while writing one output leaves every output as it was, and no temporary folder behind.
    before = {path: path.read_bytes() for path in [*out.rglob("*"), *pq.rglob("*")] if path.is_file()}
    with (
        patch.object(build_dataset, "export_parquet", side_effect=RuntimeError("crash")),
        pytest.raises(RuntimeError, match="crash"),
    ):
        build_dataset.main([*argv, "--overwrite"])
    assert {path: path.read_bytes() for path in [*out.rglob("*"), *pq.rglob("*")] if path.is_file()} == before
    assert not [path.name for path in tmp_path.iterdir() if ".tmp-" in path.name or ".old-" in path.name]


def test_cli_parquet_embed_media_and_push(tiny_meld_dir, tmp_path):
    pq = tmp_path / "pq"
    argv = raw_meld_argv(
        tiny_meld_dir, tmp_path, "--parquet_dir", pq, "--embed_media", "--push_to_hub", "me/meld-tiny"
    )
    fake_card = MagicMock()
    fake_card.data = {}
    with (
        patch.object(datasets.DatasetDict, "push_to_hub") as push,
        patch("huggingface_hub.DatasetCard.load", return_value=fake_card),
    ):
        build_dataset.main(argv)
    push.assert_called_once()
    assert push.call_args.args[0] == "me/meld-tiny" and push.call_args.kwargs["embed_external_files"] is True
    assert "token" not in push.call_args.kwargs  # the token comes from HF_TOKEN or `hf auth login`
    # A text-only dataset is not tagged multimodal; this one has clips.
    assert fake_card.data["tags"] == ["emotion-recognition-in-conversation", "multimodal", "m2fnet"]
    assert fake_card.data["license"] == "gpl-3.0" and "configs" not in fake_card.data
    assert "## Build report" in fake_card.text and "@inproceedings{poria" in fake_card.text
    fake_card.push_to_hub.assert_called_once()

    reloaded = datasets.load_dataset(
        "parquet", data_files={"train": str(pq / "train.parquet")}, cache_dir=str(tmp_path / "pq_cache")
    )
    video = reloaded["train"][0]["utterances"][0]["video"]
    assert video["bytes"] == (tiny_meld_dir / "train_splits" / "dia0_utt0.mp4").read_bytes()
