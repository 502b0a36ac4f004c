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
"""Bad inputs of the conversations builder and of `examples/build_dataset.py` (collected by `test_bad_inputs.py`).

Each case asserts the error class and that the message names the file, row and value at fault, or asserts the
documented rule (see `datasets_scripts/conversations.py`), and watches its inputs and earlier outputs.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datasets_scripts.conversations import ConversationsBuilder
from examples import build_dataset
from tests.bad_input_harness import REPO_ROOT


HEADER = ["conversation_id", "utterance_id", "speaker", "text", "label"]


def _csv(ctx, name: str, rows: list[list], header=HEADER) -> Path:
    path = ctx.tmp / name
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    ctx.watch(path)
    return path


def _build(ctx, path: Path, **config):
    builder = ConversationsBuilder(data_files=str(path), cache_dir=str(ctx.tmp / "cache"), **config)
    builder.download_and_prepare()
    return builder, builder.as_dataset()["train"]


def _cli(ctx, *args: str, file_size_kib: int | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO_ROOT / "examples" / "build_dataset.py"), "conversations", *map(str, args)]
    if file_size_kib is not None:  # `ulimit -f` makes writes past the limit fail with EFBIG, as on a full disk
        command = ["bash", "-c", f'ulimit -f {file_size_kib}; exec "$@"', "bash", *command]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(ctx.tmp / "hf")}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("build_dataset.py: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _refused(ctx, name: str, rows: list[list], message: str, header=HEADER, **config) -> None:
    """Builds `rows` written to `name` and expects a `ValueError` matching `message`."""
    path = _csv(ctx, name, rows, header)
    with pytest.raises(ValueError, match=message):
        _build(ctx, path, **config)


def case_conversations_order_column_mixed_types(ctx):
    rows = [["a", "6.2901", "A", "hi", "joy"], ["a", "00:00:07,000", "B", "yo", "joy"]]
    message = (
        r"mixed\.csv, row 2 \(line 3\): .*timestamp '00:00:07,000', but .*row 1 \(line 2\) holds the number '6.2901'"
    )
    _refused(ctx, "mixed.csv", rows, message)


def case_conversations_unparseable_timestamp(ctx):
    rows = [["a", "00:14:38,127", "A", "hi", "joy"], ["a", "00:1x:38,127", "B", "yo", "joy"]]
    message = r"times\.csv, row 2 \(line 3\): column 'utterance_id'.*'00:1x:38,127'.*cannot be parsed as a timestamp"
    _refused(ctx, "times.csv", rows, message)


def case_conversations_empty_order_cell(ctx):
    rows = [["a", "1", "A", "hi", "joy"], ["a", " ", "B", "yo", "joy"]]
    message = r"gap\.csv, row 2 \(line 3\): column 'utterance_id' \(--order_by\) is empty.*--order_by file"
    _refused(ctx, "gap.csv", rows, message)


def case_conversations_duplicate_dialogue_order_pairs(ctx):
    """Documented rule: a repeated (conversation, order) row identical to the first is dropped, another is a tie kept
    in file order; both are counted."""
    rows = [line.split(",") for line in ("a,1,A,hi,joy", "a,1,A,hi,joy", "a,1,B,no,anger", "a,0,C,first,joy")]
    builder, train = _build(ctx, _csv(ctx, "dupes.csv", rows))
    assert [u["text"] for u in train[0]["utterances"]] == ["first", "hi", "no"]
    report = builder.build_report["splits"]["train"]
    assert (report["duplicate_utterances"], report["tied_order_values"], report["dialogues_reordered"]) == (1, 1, 1)
    assert report["duplicate_examples"] == [f"a: 1 ({ctx.tmp / 'dupes.csv'}, row 2 (line 3))"]


def case_conversations_empty_label_cell(ctx):
    """Documented rule: an empty label cell in a labelled split is kept unlabelled (emotion None -> -100), counted,
    and a warning names the row."""
    path = _csv(ctx, "labels.csv", [["a", "0", "A", "hi", "joy"], ["a", "1", "B", "yo", ""]])
    builder, train = _build(ctx, path)
    assert [u["emotion"] for u in train[0]["utterances"]] == [0, None]
    assert builder.build_report["splits"]["train"]["unlabelled_examples"] == [f"{path}, row 2 (line 3)"]
    assert f"{path}, row 2 (line 3)" in ctx.caplog.text and "empty label" in ctx.caplog.text


def case_conversations_label_case_variants(ctx):
    rows = [line.split(",") for line in ("a,0,A,x,joy", "a,1,A,y,Joy", "a,2,A,z, JOY ", "a,3,A,w,anger")]
    builder, train = _build(ctx, _csv(ctx, "case.csv", rows))
    assert train.features["utterances"].feature["emotion"].names == ["anger", "joy"]
    assert [u["emotion"] for u in train[0]["utterances"]] == [1, 1, 1, 0]
    assert builder.build_report["label_spellings"] == {"joy": [" JOY ", "Joy", "joy"]}


def case_conversations_mixed_conversation_id_types(ctx):
    """Documented rule: ids compared as normalised text, whole numbers as integers (1, "1", 1.0, "01" -> "1")."""
    path = ctx.tmp / "ids.jsonl"
    lines = [
        '{"conversation_id": 1, "utterance_id": 0, "speaker": "A", "text": "a", "label": "joy"}',
        '{"conversation_id": "1", "utterance_id": 1, "speaker": "A", "text": "b", "label": "joy"}',
        '{"conversation_id": 1.0, "utterance_id": 2, "speaker": "A", "text": "c", "label": "joy"}',
        '{"conversation_id": "01", "utterance_id": 3, "speaker": "A", "text": "d", "label": "joy"}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ctx.watch(path)
    _, train = _build(ctx, path)
    assert train["dialogue_name"] == ["1"] and len(train[0]["utterances"]) == 4


def case_conversations_empty_part_of_composite_key(ctx):
    header = ["Season", "Episode", "Scene_ID", "Start_Time", "Speaker", "Utterance", "Emotion"]
    rows = [["1", "1", "3", "1.5", "A", "hi", "joy"], ["1", "", "3", "2.5", "B", "yo", "joy"]]
    message = r"scenes\.csv, row 2 \(line 3\): column 'Episode' \(part of the conversation id"
    columns = {"text_column": "Utterance", "label_column": "Emotion"}
    _refused(ctx, "scenes.csv", rows, message, header, dialogue_columns=header[:3], order_by="Start_Time", **columns)


def case_conversations_misnamed_columns(ctx):
    """One clean line that lists the file's columns and the options to set."""
    header = ["Dialogue_ID", "Start_Time", "Speaker", "Utterance", "Emotion"]
    path = _csv(ctx, "friends.csv", [["0", "1.5", "Ross", "Hi.", "Joy"]], header)
    line = _one_error_line(
        _cli(ctx, "--data_files", path, "--cache_dir", ctx.tmp / "cache", "--output_dir", ctx.tmp / "out")
    )
    assert "friends.csv: missing column(s) ['conversation_id', 'utterance_id', 'text']" in line
    assert str(header) in line
    assert (
        "--dialogue_columns Dialogue_ID --order_by Start_Time --text_column Utterance --label_column Emotion" in line
    )
    assert not (ctx.tmp / "out").exists()


def case_build_dataset_disk_full(ctx):
    """A write that fails (`ulimit -f`) in the cache or in the outputs: one line naming the path, earlier outputs
    byte-identical, no temporary folder left."""
    rows = [[f"d{index // 8}", index % 8, "A", "word " * 60, "joy" if index % 3 else "anger"] for index in range(800)]
    path = _csv(ctx, "big.csv", rows)
    out, parquet = ctx.tmp / "outputs" / "dataset", ctx.tmp / "outputs" / "parquet"
    common = ["--data_files", path, "--output_dir", out, "--parquet_dir", parquet]
    build_dataset.main([*map(str, ["conversations", *common, "--cache_dir", ctx.tmp / "cache"])])
    ctx.watch(out, parquet)
    # In the `datasets` cache (a fresh cache folder, so the build writes Arrow files first) ...
    line = _one_error_line(_cli(ctx, *common, "--overwrite", "--cache_dir", ctx.tmp / "cache2", file_size_kib=64))
    assert "file size limit" in line and str(ctx.tmp / "cache2") in line
    # ... and in the outputs (the cached dataset is reused, so only the outputs are written).
    line = _one_error_line(
        _cli(ctx, *common, "--overwrite", "--cache_dir", ctx.tmp / "cache", "--reuse_cache", file_size_kib=64)
    )
    assert "file size limit" in line and str(out) in line
    # (`datasets` keeps its `*.lock` files in the cache; its unfinished `*.incomplete` folders must be gone.)
    leftovers = [p for p in ctx.tmp.rglob("*") if ".tmp-" in p.name or ".old-" in p.name or p.suffix == ".incomplete"]
    assert leftovers == [], leftovers
    assert sorted(p.name for p in (ctx.tmp / "outputs").iterdir()) == ["dataset", "parquet"]
