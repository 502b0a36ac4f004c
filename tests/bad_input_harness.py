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
"""The harness of the bad-input suite: a scratch context per case that records files which must stay intact.

Cases live in `tests/test_bad_inputs.py` and in `tests/bad_inputs_*.py` modules (functions named `case_*`, taking one
`Context`); `tests/test_bad_inputs.py` collects and runs them all.
"""

import csv
import hashlib
import shutil
from pathlib import Path

from datasets_scripts.meld import MELD_CSV_COLUMNS, MeldBuilder
from m2fnet_training.tiny_model import tiny_processor


REPO_ROOT = Path(__file__).resolve().parents[1]
MELD_HEADER = ["Sr No.", *MELD_CSV_COLUMNS]  # the official files start with a row number


def _digest(paths) -> dict[str, str]:
    """sha256 of every file under `paths` (files or folders)."""
    digests = {}
    for path in map(Path, paths):
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            digests[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return digests


class Context:
    """What a case needs: fixtures, a scratch folder, the tiny processor; records files that must stay intact."""

    def __init__(self, tmp_path, media, caplog, processor):
        self.tmp = tmp_path
        self.media = media
        self.caplog = caplog
        self.processor = processor
        self.recorded: dict[str, str] = {}

    def watch(self, *paths) -> None:
        """Records the files' digests now; the test checks them again after the case has run."""
        self.recorded.update(_digest(paths))

    def damaged(self) -> list[str]:
        now = _digest(Path(path) for path in self.recorded)
        return [path for path, digest in self.recorded.items() if now.get(path) != digest]

    def copy(self, source: Path, name: str) -> Path:
        target = self.tmp / name
        shutil.copy(source, target)
        self.watch(target)
        return target

    def run(self, conversation, **processor_kwargs):
        processor = (
            self.processor if not processor_kwargs else tiny_processor(self.processor.tokenizer, **processor_kwargs)
        )
        return processor(conversations=[conversation], return_tensors="np")


def _meld_dir(ctx: Context, rows: list[list], header=MELD_HEADER, encoding="utf-8", name="meld") -> Path:
    root = ctx.tmp / name
    root.mkdir()
    for split in ("train", "dev"):
        with open(root / f"{split}_sent_emo.csv", "w", encoding=encoding, newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(rows)
    ctx.watch(root)
    return root


def _meld_row(text="Hi.", emotion="neutral", dialogue=0, utterance=0):
    return [1, text, "Ross", emotion, "neutral", dialogue, utterance, 1, 1, "00:00:01,000", "00:00:02,000"]


def _build_meld(ctx: Context, data_dir: Path):
    builder = MeldBuilder(
        config_name="text", data_dir=str(data_dir), cache_dir=str(ctx.tmp / "cache"), splits=("train", "validation")
    )
    builder.download_and_prepare()
    return builder, builder.as_dataset()
