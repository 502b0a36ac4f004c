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
"""Tests of the IEMOCAP builder on a tiny generated folder in the release's layout, and of the CLI on it."""

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

import datasets
import pytest

from datasets_scripts.iemocap import IemocapBuilder, flatten_dialogues, iemocap_features
from datasets_scripts.schema import dialogue_label_names
from examples import build_dataset
from modeling_m2fnet.configuration_m2fnet import IEMOCAP_EMOTIONS


# dialogue -> turns as (start, end, utterance name suffix, label, transcript), in the order the EmoEvaluation file
# lists them (deliberately not in time order for Ses01F_impro01).
DIALOGUES = {
    1: {
        "Ses01F_impro01": [
            (6.2901, 8.2357, "F000", "neu", "Excuse me."),
            (18.1, 20.0, "F001", "fru", "Is there a problem?"),
            (10.01, 11.3925, "M000", "xxx", "Do you have your forms?"),  # dropped (no agreement)
            (14.8872, 18.0, "M001", "ang", "Yeah."),
        ],
        "Ses01F_script01_1": [(2.0, 3.5, "F000", "hap", "I'm so happy."), (4.0, 5.0, "M000", "exc", "Me too!")],
        "Ses01M_impro02": [(1.0, 2.0, "M000", "sad", "I have to go."), (2.5, 4.0, "F000", "sad", "Oh.")],
    },
    5: {
        "Ses05F_impro01": [(0.5, 1.5, "F000", "neu", "Hello."), (1.8, 2.6, "M000", "sur", "Wow.")],  # sur dropped
    },
}


def evaluation_file(turns) -> str:
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for start, end, name, label, _ in turns:
        lines += [
            f"[{start:.4f} - {end:.4f}]\t{name}\t{label}\t[2.5000, 2.5000, 2.5000]",
            "C-E1:\tNeutral;\t()",
            "A-E3:\tval 3; act 2; dom  2;\t()",
            "",
        ]
    return "\n".join(lines) + "\n"


def transcription_file(turns) -> str:
    lines = [f"{name} [{start:08.4f}-{end:08.4f}]: {text}" for start, end, name, _, text in turns]
    return "\n".join([*lines, "M: [BREATHING]"]) + "\n"  # plus a line of another shape, which is skipped


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("`ffmpeg` is not installed (Debian: `apt-get install ffmpeg`)")
    folder = tmp_path_factory.mktemp("iemocap_media")
    wav, avi = folder / "sentence.wav", folder / "dialog.avi"

    def run(*args):
        subprocess.run([ffmpeg, "-y", "-loglevel", "error", *args], check=True)

    run("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000:duration=0.5", "-ac", "1", str(wav))
    run("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "1", "-c:v", "mpeg4", str(avi))
    return wav, avi


@pytest.fixture
def tiny_iemocap_dir(tmp_path, media) -> Path:
    """`IEMOCAP_full_release` with sessions 1 and 5 in the release layout; the avi of Ses01M_impro02 is missing."""
    wav, avi = media
    root = tmp_path / "IEMOCAP_full_release"
    for session, dialogues in DIALOGUES.items():
        dialog_dir = root / f"Session{session}" / "dialog"
        for folder in ("EmoEvaluation", "transcriptions", "avi/DivX"):
            (dialog_dir / folder).mkdir(parents=True, exist_ok=True)
        (dialog_dir / "EmoEvaluation" / "Categorical").mkdir()  # sub-folders of the release are ignored
        for dialogue, suffixed in dialogues.items():
            turns = [(start, end, f"{dialogue}_{suffix}", label, text) for start, end, suffix, label, text in suffixed]
            (dialog_dir / "EmoEvaluation" / f"{dialogue}.txt").write_text(evaluation_file(turns))
            (dialog_dir / "EmoEvaluation" / f"._{dialogue}.txt").write_bytes(b"\x00\x05\x16\x07macOS")
            (dialog_dir / "transcriptions" / f"{dialogue}.txt").write_text(transcription_file(turns))
            if dialogue != "Ses01M_impro02":
                shutil.copy(avi, dialog_dir / "avi" / "DivX" / f"{dialogue}.avi")
            wav_dir = root / f"Session{session}" / "sentences" / "wav" / dialogue
            wav_dir.mkdir(parents=True)
            for turn in turns:
                shutil.copy(wav, wav_dir / f"{turn[2]}.wav")
    return root


def build(cache_dir, **kwargs):
    kwargs.setdefault("sessions", (1, 5))
    kwargs.setdefault("validation_fraction", 0.34)  # 1 of the 3 training dialogues
    builder = IemocapBuilder(cache_dir=str(cache_dir), **kwargs)
    builder.download_and_prepare()
    return builder, builder.as_dataset()


def test_tiny_layout(tiny_iemocap_dir, tmp_path):
    builder, dataset = build(tmp_path / "cache", data_dir=str(tiny_iemocap_dir))
    assert dataset["train"].features == iemocap_features()
    assert dialogue_label_names(dataset) == list(IEMOCAP_EMOTIONS)
    assert {split: dataset[split].num_rows for split in dataset} == {"train": 2, "validation": 1, "test": 1}

    # The validation dialogue is drawn with random.Random(seed) from the sorted training dialogue names.
    names = sorted(DIALOGUES[1])
    expected_validation = random.Random(42).sample(names, 1)
    assert dataset["validation"]["dialogue_name"] == expected_validation
    assert dataset["train"]["dialogue_name"] == [name for name in names if name not in expected_validation]
    everything = {row["dialogue_name"]: row for split in dataset.values() for row in split}
    assert [everything[name]["dialogue_id"] for name in [*names, "Ses05F_impro01"]] == [0, 1, 2, 3]

    impro = everything["Ses01F_impro01"]
    assert impro["session"] == 1
    assert impro["video"]["path"] == str(tiny_iemocap_dir / "Session1/dialog/avi/DivX/Ses01F_impro01.avi")
    utterances = impro["utterances"]
    # Sorted by start time although the file lists F001 before M001; the xxx turn (rank 1) is dropped.
    assert [u["utterance_name"] for u in utterances] == [
        "Ses01F_impro01_F000",
        "Ses01F_impro01_M001",
        "Ses01F_impro01_F001",
    ]
    assert [u["utterance_id"] for u in utterances] == [0, 2, 3]
    assert [IEMOCAP_EMOTIONS[u["emotion"]] for u in utterances] == ["neutral", "angry", "frustrated"]
    assert [u["speaker"] for u in utterances] == ["Ses01_F", "Ses01_M", "Ses01_F"]
    assert [u["text"] for u in utterances] == ["Excuse me.", "Yeah.", "Is there a problem?"]
    assert utterances[1]["start_time"] == pytest.approx(14.8872)
    assert utterances[0]["audio"]["path"].endswith("Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav")
    assert all(u["has_audio"] and u["has_video"] for u in utterances)

    no_video = everything["Ses01M_impro02"]
    assert no_video["video"] is None
    assert not any(u["has_video"] for u in no_video["utterances"])
    assert [IEMOCAP_EMOTIONS[u["emotion"]] for u in everything["Ses01F_script01_1"]["utterances"]] == [
        "happy",
        "excited",
    ]
    assert len(everything["Ses05F_impro01"]["utterances"]) == 1

    report = builder.build_report
    assert report["totals"]["dropped_utterances"] == 2
    assert report["totals"]["dropped_labels"] == {"sur": 1, "xxx": 1}
    assert report["totals"]["missing_videos"] == 1
    assert report["totals"]["reordered_dialogues"] == 1
    assert report["totals"]["utterances"] == 3 + 2 + 2 + 1
    assert report["validation_dialogues"] == expected_validation

    flat = flatten_dialogues(dataset["train"])
    assert flat.num_rows == sum(len(row["utterances"]) for row in dataset["train"])
    assert flat.features["audio"] == datasets.Audio(sampling_rate=16000, decode=False)
    assert flat.features["video"] == datasets.Video(decode=False)  # the dialogue's video, repeated as a path


def test_parent_folder_and_no_validation(tiny_iemocap_dir, tmp_path):
    _, dataset = build(tmp_path / "cache", data_dir=str(tiny_iemocap_dir.parent), validation_fraction=0)
    assert set(dataset) == {"train", "test"}
    assert dataset["train"].num_rows == 3


def test_parquet_round_trip(tiny_iemocap_dir, tmp_path):
    _, dataset = build(tmp_path / "cache", data_dir=str(tiny_iemocap_dir))
    dataset["train"].to_parquet(str(tmp_path / "train.parquet"))
    reloaded = datasets.load_dataset(
        "parquet", data_files=str(tmp_path / "train.parquet"), split="train", cache_dir=str(tmp_path / "pq_cache")
    )
    assert reloaded.features == dataset["train"].features
    assert reloaded.to_list() == dataset["train"].to_list()


def test_errors(tiny_iemocap_dir, tmp_path):
    with pytest.raises(ValueError, match="licence-gated"):
        IemocapBuilder(cache_dir=str(tmp_path / "c0")).download_and_prepare()
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build(tmp_path / "c1", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"Session2/dialog/EmoEvaluation"):
        build(tmp_path / "c2", data_dir=str(tiny_iemocap_dir), sessions=(1, 2, 5))
    with pytest.raises(ValueError, match="sessions"):
        IemocapBuilder(data_dir=str(tiny_iemocap_dir), sessions=(6,))
    # Session 5 holding only dropped labels leaves the test split empty.
    evaluation = tiny_iemocap_dir / "Session5/dialog/EmoEvaluation/Ses05F_impro01.txt"
    evaluation.write_text(evaluation.read_text().replace("\tneu\t", "\txxx\t"))
    with pytest.raises(ValueError, match=r"'test' split is empty"):
        build(tmp_path / "c3", data_dir=str(tiny_iemocap_dir))


def test_cli(tiny_iemocap_dir, tmp_path, capsys):
    pq = tmp_path / "pq"
    argv = [
        "iemocap",
        "--data_dir",
        str(tiny_iemocap_dir),
        "--sessions",
        "1",
        "5",
        "--validation_fraction",
        "0.34",
        "--cache_dir",
        str(tmp_path / "cache"),
        "--parquet_dir",
        str(pq),
    ]
    with patch.object(sys, "argv", ["build_dataset.py", *argv]):
        result = build_dataset.main()
    assert "frustrated" in capsys.readouterr().out
    assert result["statistics"]["test"] == {
        "dialogues": 1,
        "utterances": 1,
        "media": {"audio": 1, "video": 1},
        "emotions": {"happy": 0, "sad": 0, "neutral": 1, "angry": 0, "excited": 0, "frustrated": 0},
    }
    assert json.loads((pq / "build_report.json").read_text())["totals"]["dropped_labels"] == {"sur": 1, "xxx": 1}
    card = (pq / "README.md").read_text()
    assert "license: other" in card and "busso2008iemocap" in card
    reloaded = datasets.load_dataset(str(pq), cache_dir=str(tmp_path / "pq_cache"))
    assert set(reloaded) == {"train", "validation", "test"}
    with pytest.raises(ValueError, match="private"):
        build_dataset.main([*argv, "--push_to_hub", "me/iemocap", "--overwrite"])
