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
"""IEMOCAP (Busso et al., 2008) as a `datasets` builder with one row per dialogue, from a local release folder.

IEMOCAP is licence-gated (request it at https://sail.usc.edu/iemocap/), so there is no download URL: `data_dir`
must point at the `IEMOCAP_full_release` folder (or its parent). The layout read (that of the release):

```
IEMOCAP_full_release/Session{1..5}/
    dialog/EmoEvaluation/<dialog>.txt      "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]"
    dialog/transcriptions/<dialog>.txt     "Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me."
    dialog/avi/DivX/<dialog>.avi           one video per dialogue (both actors)
    sentences/wav/<dialog>/<utterance>.wav one 16 kHz wav per utterance
```

```python
from datasets_scripts.iemocap import IemocapBuilder

builder = IemocapBuilder(data_dir="/data/IEMOCAP_full_release")
builder.download_and_prepare()
dataset = builder.as_dataset()  # DatasetDict: train / validation / test
```

Choices (the M2FNet paper's setup, after DialogueRNN): the six classes happy (`hap`), sad, neutral (`neu`),
angry (`ang`), excited (`exc`) and frustrated (`fru`); utterances with any other label (`xxx`, `sur`, `fea`,
`dis`, `oth`) are dropped and counted per label in `build_report`. Sessions 1-4 are training data and session 5 is
the test split; `validation_fraction` (10 %) of the training dialogues, drawn with `random.Random(seed)` from the
sorted names of the training sessions' EmoEvaluation files, form the validation split, as the paper draws its validation set from the training
dialogues. (The paper's table lists 100 / 20 / 31 dialogues; `validation_fraction=1/6` reproduces that ratio.)

Rows are dialogues sorted by name; their utterances are sorted by start time (the EmoEvaluation files do not always
list them in time order). The speaker is the utterance id's gender letter qualified by session (`Ses01_F` for
`Ses01F_impro01_F000`): in IEMOCAP that letter names who speaks, whereas the letter after the session number names
the actor wearing the motion-capture markers.

Media: each utterance's sentence wav is `audio` (`Audio(sampling_rate=16000, decode=False)`). IEMOCAP records one
video per dialogue, so `video` (`Video(decode=False)`) is a dialogue-level column and each utterance's `start_time`
/ `end_time` locate it there (each utterance's `has_video` says whether that video exists); the processor cuts
the clip. (Storing the video on every utterance would copy the
whole dialogue video into each utterance whenever media are embedded, as `save_to_disk` and `push_to_hub` do.)
Media are declared undecoded because `datasets` >= 4 decodes through `torchcodec`, which not every torch build can
load; the `M2FNetProcessor` decodes with PyAV, and users with torchcodec can
`flatten_dialogues(ds).cast_column("audio", Audio(sampling_rate=16000))`.
"""

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets.utils import logging
from datasets.utils.tqdm import tqdm

from modeling_m2fnet.configuration_m2fnet import IEMOCAP_EMOTIONS

from ._common import (
    BuildReportMixin,
    capped_append,
    encode_table,
    flatten_dialogues,
    media_value,
    resolve_data_dir,
    sum_split_reports,
)
from .schema import dialogue_features


logger = logging.get_logger(__name__)

# Release label -> class name, in the class order of the M2FNet paper (Sec. 4.1), which `IEMOCAP_EMOTIONS` follows.
IEMOCAP_LABELS = dict(zip(("hap", "sad", "neu", "ang", "exc", "fru"), IEMOCAP_EMOTIONS, strict=True))
IEMOCAP_SESSIONS = (1, 2, 3, 4, 5)

_EVALUATION_LINE = re.compile(r"^\[\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*\]\s+(\S+)\s+(\S+)")
_TRANSCRIPTION_LINE = re.compile(r"^(\S+)\s+\[\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*\]:\s?(.*?)\s*$")
_SPEAKER_SUFFIX = re.compile(r"^([FM])\d+$")

_CITATION = """\
@article{busso2008iemocap,
    title = {{IEMOCAP}: Interactive emotional dyadic motion capture database},
    author = {Busso, Carlos and Bulut, Murtaza and Lee, Chi-Chun and Kazemzadeh, Abe and Mower, Emily and
      Kim, Samuel and Chang, Jeannette N. and Lee, Sungbok and Narayanan, Shrikanth S.},
    journal = {Language Resources and Evaluation},
    volume = {42},
    number = {4},
    pages = {335--359},
    year = {2008},
}
"""

_DESCRIPTION = """\
IEMOCAP: about 12 hours of dyadic conversations by ten actors in five sessions, with per-utterance categorical
emotion labels. One row per dialogue (six-class ERC setup: happy, sad, neutral, angry, excited, frustrated).
"""


@dataclass
class IemocapConfig(datasets.BuilderConfig):
    """
    Configuration of [`IemocapBuilder`].

    Args:
        sessions (`tuple[int]`, *optional*, defaults to `(1, 2, 3, 4, 5)`):
            The sessions to read; each must exist under `data_dir`.
        test_sessions (`tuple[int]`, *optional*, defaults to `(5,)`):
            Sessions that form the test split; the other sessions are training data.
        validation_fraction (`float`, *optional*, defaults to 0.1):
            Fraction of the training dialogues moved to the validation split (rounded, at least one when positive);
            `0` builds no validation split.
        seed (`int`, *optional*, defaults to 42):
            Seed of the `random.Random` that draws the validation dialogues from the sorted training dialogue names.
    """

    sessions: tuple = IEMOCAP_SESSIONS
    test_sessions: tuple = (5,)
    validation_fraction: float = 0.1
    seed: int = 42

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self):
        """Normalises the fields (sequences to tuples) and raises `ValueError` on invalid values."""
        self.sessions = tuple(int(session) for session in self.sessions)
        self.test_sessions = tuple(int(session) for session in self.test_sessions)
        if not self.sessions or any(session not in IEMOCAP_SESSIONS for session in self.sessions):
            raise ValueError(f"`sessions` must be a non-empty subset of {IEMOCAP_SESSIONS} (got {self.sessions}).")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"`validation_fraction` must be in [0, 1) (got {self.validation_fraction}).")


def iemocap_features() -> datasets.Features:
    """The features of [`IemocapBuilder`]: the dialogue schema with IEMOCAP's fields."""
    return dialogue_features(
        IEMOCAP_EMOTIONS,
        utterance_fields={
            "utterance_name": datasets.Value("string"),
            "start_time": datasets.Value("float32"),
            "end_time": datasets.Value("float32"),
        },
        utterance_media=("audio",),
        dialogue_media=("video",),
        dialogue_fields={"session": datasets.Value("int32")},
    )


def _text_files(folder: Path) -> list[Path]:
    # The release carries macOS metadata files (`._Ses01F_impro01.txt`) next to the real ones.
    return sorted(path for path in folder.glob("*.txt") if path.is_file() and not path.name.startswith("._"))


def parse_emo_evaluation(path: Path) -> list[dict]:
    """
    Reads the turn lines of one `EmoEvaluation/<dialog>.txt` file, in file order.

    Returns:
        `list[dict]`: one `{"name", "start_time", "end_time", "label", "line"}` per turn line.
    """
    turns = []
    with open(path, encoding="utf-8", errors="replace") as file:
        for line_number, line in enumerate(file, start=1):
            match = _EVALUATION_LINE.match(line)
            if match:
                start, end, name, label = match.groups()
                turn = {"name": name, "start_time": float(start), "end_time": float(end), "label": label}
                turns.append({**turn, "line": line_number})
    return turns


def parse_transcription(path: Path) -> dict[str, str]:
    """Reads one `transcriptions/<dialog>.txt` file into `{utterance name: text}` (lines of other shapes skipped)."""
    texts = {}
    with open(path, encoding="utf-8", errors="replace") as file:
        for line in file:
            match = _TRANSCRIPTION_LINE.match(line.strip())
            if match:
                texts.setdefault(match.group(1), match.group(4))
    return texts


def _speaker(session: int, utterance_name: str) -> str | None:
    match = _SPEAKER_SUFFIX.match(utterance_name.rsplit("_", 1)[-1])
    return f"Ses{session:02d}_{match.group(1)}" if match else None


def _empty_read_report(root: Path) -> dict:
    """The `read` part of the build report before any file is read: counts, and capped lists of examples."""
    report = {"data_dir": str(root)}
    for count, examples in [
        ("files_without_turns", "files_without_turns_examples"),
        ("duplicate_utterances", "duplicate_examples"),
        ("reordered_dialogues", "reordered_dialogue_examples"),
        ("dropped_utterances", "dropped_labels"),
        ("unknown_speakers", "unknown_speaker_examples"),
        ("missing_transcription_files", "missing_transcription_file_examples"),
        ("missing_transcriptions", "missing_transcription_examples"),
        ("missing_audio", "missing_audio_examples"),
        ("missing_videos", "missing_video_examples"),
        ("dialogues_without_six_class_utterances", "dialogues_without_six_class_utterance_examples"),
    ]:
        report[count] = 0
        report[examples] = {} if examples == "dropped_labels" else []
    return report


class IemocapBuilder(BuildReportMixin, datasets.ArrowBasedBuilder):
    """
    Builds IEMOCAP with one row per dialogue from a local `IEMOCAP_full_release` folder (see the module docstring).

    Rows are keyed by dialogue name (`Ses01F_impro01`); `dialogue_id` is the dialogue's index in the sorted list of
    all the EmoEvaluation files of the requested sessions (a file left out for want of six-class utterances keeps
    its number), and `utterance_id` the utterance's rank by start time among all the dialogue's evaluated turns
    (dropped ones included, so ids have gaps where a turn was dropped).

    Raises:
        `ValueError`: if `data_dir` is not given (IEMOCAP cannot be downloaded), or a split ends up empty.
        `FileNotFoundError`: if `data_dir` does not exist or lacks a requested `Session{n}/dialog/EmoEvaluation`.
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = IemocapConfig
    BUILDER_CONFIGS = [IemocapConfig(name="default", description="Six-class IEMOCAP, text + audio + video.")]
    DEFAULT_CONFIG_NAME = "default"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dataset_name", "iemocap")
        super().__init__(*args, **kwargs)

    def _info(self):
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=iemocap_features(),
            homepage="https://sail.usc.edu/iemocap/",
            license="other (IEMOCAP release licence, https://sail.usc.edu/iemocap/iemocap_release.htm)",
            citation=_CITATION,
        )

    def _resolve_root(self) -> Path:
        if self.config.data_dir is None:
            raise ValueError(
                "IEMOCAP is licence-gated and cannot be downloaded: request it at https://sail.usc.edu/iemocap/ and "
                "pass `data_dir` pointing at the extracted `IEMOCAP_full_release` folder."
            )
        root = resolve_data_dir(self.config.data_dir, "the IEMOCAP_full_release folder (Session1 ... Session5)")
        if not (root / "Session1").is_dir() and (root / "IEMOCAP_full_release").is_dir():
            root = root / "IEMOCAP_full_release"
        return root

    def _list_dialogues(self, root: Path) -> list[tuple[str, int, Path]]:
        """`(name, session, EmoEvaluation file)` of every dialogue of the requested sessions, sorted by name."""
        listed = []
        for session in self.config.sessions:
            evaluation_dir = root / f"Session{session}" / "dialog" / "EmoEvaluation"
            if not evaluation_dir.is_dir():
                raise FileNotFoundError(f"IEMOCAP session {session} not found: expected the folder {evaluation_dir}.")
            listed += [(path.stem, session, path) for path in _text_files(evaluation_dir)]
        return sorted(listed)

    def _read_dialogue(self, session: int, session_dir: Path, evaluation_file: Path, report: dict) -> dict | None:
        name = evaluation_file.stem
        turns = parse_emo_evaluation(evaluation_file)
        if not turns:
            report["files_without_turns"] += 1
            capped_append(report["files_without_turns_examples"], str(evaluation_file))
            return None
        unique, seen = [], set()
        for turn in turns:
            if turn["name"] in seen:
                report["duplicate_utterances"] += 1
                capped_append(report["duplicate_examples"], turn["name"])
                continue
            seen.add(turn["name"])
            unique.append(turn)
        ordered = sorted(unique, key=lambda turn: (turn["start_time"], turn["end_time"], turn["name"]))
        if ordered != unique:
            report["reordered_dialogues"] += 1
            capped_append(report["reordered_dialogue_examples"], name)

        transcription_file = session_dir / "dialog" / "transcriptions" / f"{name}.txt"
        if transcription_file.is_file():
            texts = parse_transcription(transcription_file)
        else:
            texts = {}
            report["missing_transcription_files"] += 1
            capped_append(report["missing_transcription_file_examples"], str(transcription_file))
        wav_dir = session_dir / "sentences" / "wav" / name
        wavs = set(os.listdir(wav_dir)) if wav_dir.is_dir() else set()
        video = session_dir / "dialog" / "avi" / "DivX" / f"{name}.avi"
        has_video = video.is_file()
        if not has_video:
            report["missing_videos"] += 1
            capped_append(report["missing_video_examples"], str(video))

        utterances = []
        for utterance_id, turn in enumerate(ordered):
            label = turn["label"].lower()
            if label not in IEMOCAP_LABELS:
                report["dropped_utterances"] += 1
                report["dropped_labels"][label] = report["dropped_labels"].get(label, 0) + 1
                continue
            speaker = _speaker(session, turn["name"])
            if speaker is None:
                report["unknown_speakers"] += 1
                capped_append(report["unknown_speaker_examples"], turn["name"])
                speaker = f"Ses{session:02d}_?"
            if turn["name"] not in texts:
                report["missing_transcriptions"] += 1
                capped_append(report["missing_transcription_examples"], turn["name"])
            has_audio = f"{turn['name']}.wav" in wavs
            if not has_audio:
                report["missing_audio"] += 1
                capped_append(report["missing_audio_examples"], turn["name"])
            utterances.append(
                {
                    "utterance_id": utterance_id,
                    "utterance_name": turn["name"],
                    "speaker": speaker,
                    "text": texts.get(turn["name"], ""),
                    "emotion": IEMOCAP_LABELS[label],
                    "start_time": turn["start_time"],
                    "end_time": turn["end_time"],
                    "audio": media_value(wav_dir / f"{turn['name']}.wav") if has_audio else None,
                    "has_audio": has_audio,
                    "has_video": has_video,
                }
            )
        if not utterances:
            report["dialogues_without_six_class_utterances"] += 1
            capped_append(report["dialogues_without_six_class_utterance_examples"], name)
            return None
        return {
            "dialogue_name": name,
            "session": session,
            "video": media_value(video) if has_video else None,
            "utterances": utterances,
        }

    def _split_generators(self, dl_manager):
        root = self._resolve_root()
        listed = self._list_dialogues(root)
        test_sessions = set(self.config.test_sessions)
        validation_names = self._draw_validation([name for name, session, _ in listed if session not in test_sessions])
        members = {"train": [], "validation": [], "test": []}
        for dialogue_id, (name, session, path) in enumerate(listed):
            split = "test" if session in test_sessions else "validation" if name in validation_names else "train"
            members[split].append((dialogue_id, session, str(path)))
        if self.config.validation_fraction == 0:
            del members["validation"]
        if not set(self.config.sessions) & test_sessions:
            del members["test"]
        for split, dialogues in members.items():
            if not dialogues:
                raise self._empty_split_error(split, root)
        self._root, self._validation_names = root, sorted(validation_names)
        self._read_report = _empty_read_report(root)
        # A tuple, not a list: `datasets` would shard a list over `num_proc` processes, and the report is gathered here.
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "dialogues": tuple(dialogues)})
            for split, dialogues in members.items()
        ]

    def _empty_split_error(self, split: str, root: Path) -> ValueError:
        return ValueError(
            f"The IEMOCAP {split!r} split is empty (sessions {self.config.sessions}, test sessions "
            f"{self.config.test_sessions}, validation_fraction {self.config.validation_fraction}) under {root}."
        )

    def _generate_tables(self, split, dialogues):
        rows = []
        for dialogue_id, session, evaluation_file in tqdm(dialogues, desc=f"Reading IEMOCAP {split}"):
            evaluation_file = Path(evaluation_file)  # <root>/Session{n}/dialog/EmoEvaluation/<name>.txt
            dialogue = self._read_dialogue(session, evaluation_file.parents[2], evaluation_file, self._read_report)
            if dialogue is not None:
                rows.append({**dialogue, "dialogue_id": dialogue_id, "split": split})
        if not rows:
            raise self._empty_split_error(split, self._root)
        self._record_split_report(
            split,
            {
                "dialogues": len(rows),
                "utterances": sum(len(row["utterances"]) for row in rows),
                "sessions": sorted({row["session"] for row in rows}),
            },
        )
        # An ArrowBasedBuilder: `datasets` 5 cannot encode an `Audio` value without torchcodec (see `encode_table`).
        for start in range(0, len(rows), 64):
            yield f"{split}_{start}", encode_table(rows[start : start + 64], self.info.features)

    def _assemble_build_report(self, split_reports: dict[str, dict]) -> dict:
        read = self._read_report
        if read["dropped_utterances"]:
            logger.info(f"IEMOCAP: dropped {read['dropped_utterances']} utterances ({read['dropped_labels']}).")
        for key in ("missing_audio", "missing_videos", "missing_transcriptions", "duplicate_utterances"):
            if read[key]:
                logger.warning(f"IEMOCAP: {key} = {read[key]} (see `build_report`).")
        return {
            "dataset": "iemocap",
            "config": self.config.name,
            "seed": self.config.seed,
            "validation_fraction": self.config.validation_fraction,
            "validation_dialogues": self._validation_names,
            "read": read,
            "splits": split_reports,
            "totals": {
                **sum_split_reports(split_reports),
                **{key: value for key, value in read.items() if isinstance(value, int)},
                "dropped_labels": dict(sorted(read["dropped_labels"].items())),
            },
        }

    def _draw_validation(self, train_names: list[str]) -> set:
        if self.config.validation_fraction == 0 or not train_names:
            return set()
        count = max(1, round(self.config.validation_fraction * len(train_names)))
        if count >= len(train_names):
            raise ValueError(
                f"`validation_fraction` {self.config.validation_fraction} of {len(train_names)} training dialogues "
                "leaves the IEMOCAP 'train' split empty."
            )
        return set(random.Random(self.config.seed).sample(sorted(train_names), count))


__all__ = ["IEMOCAP_EMOTIONS", "IEMOCAP_LABELS", "IemocapBuilder", "IemocapConfig", "flatten_dialogues"]
