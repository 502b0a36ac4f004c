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
"""Bad inputs of the Hub push and the model card: false dataset claims, a server without Xet, a token in argv."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from m2fnet_training.tiny_model import build_tiny_m2fnet, tiny_config
from modeling_m2fnet import register_auto_classes
from tests.bad_input_harness import REPO_ROOT


PUSH_SCRIPT = REPO_ROOT / "examples" / "push_to_hub.py"
CARD_SCRIPT = REPO_ROOT / "examples" / "model_card.py"
TOY_DATA = {"source": "toy", "synthetic": True, "dataset": None, "dataset_id": None, "label_names": []}
MELD_DATA = {"source": "features", "synthetic": False, "dataset": "meld", "dataset_id": None, "label_names": []}


def _offline_env(ctx) -> dict[str, str]:
    """No token, no endpoint, offline: a script that reaches the network here fails differently."""
    return {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_HOME": str(ctx.tmp / "hf")}


def _run(script: Path, *argv, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, str(script), *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT)


def _checkpoint(ctx, data: dict) -> Path:
    """A complete tiny checkpoint (weights, code, processor) with a results.json recording `data`."""
    folder = ctx.tmp / "checkpoint"
    model, processor = build_tiny_m2fnet(["Ross: We were on a break!", "Rachel: Oh my God."])
    register_auto_classes()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    (folder / "results.json").write_text(json.dumps({"data": data, "validation": {"weighted_f1": 0.93}}))
    ctx.watch(folder)
    return folder


def _assert_one_line_error(result: subprocess.CompletedProcess, code: int, *messages: str) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for message in messages:
        assert message in result.stderr, (message, result.stderr)
    return result.stderr


def case_hub_card_dataset_claim_on_toy_model(ctx):
    """`model_card.py --dataset declare-lab/MELD` on a toy-trained model: an error, and no card is written."""
    folder = ctx.tmp / "toy-model"
    folder.mkdir()
    tiny_config(32, modalities=["text"]).to_json_file(folder / "config.json")
    (folder / "results.json").write_text(json.dumps({"data": TOY_DATA, "test": {"weighted_f1": 0.8865}}))
    ctx.watch(folder)
    output = ctx.tmp / "README.md"
    result = _run(CARD_SCRIPT, folder, "--dataset", "declare-lab/MELD", "--output", output, env=_offline_env(ctx))
    _assert_one_line_error(
        result, 2, "model_card.py: error: --dataset declare-lab/MELD contradicts", str(folder / "results.json")
    )
    assert "trained on synthetic toy data" in result.stderr and not output.exists()


def case_hub_push_dataset_claim_contradicts_results(ctx):
    """A MELD-trained checkpoint pushed as IEMOCAP: refused before any network call (no token is even needed)."""
    folder = _checkpoint(ctx, MELD_DATA)
    result = _run(PUSH_SCRIPT, folder, "me/m2fnet", "--dataset", "my-org/iemocap", env=_offline_env(ctx))
    _assert_one_line_error(result, 2, "--dataset my-org/iemocap contradicts", "trained on MELD")
    assert "No Hugging Face token" not in result.stderr


def case_hub_push_server_without_xet(ctx):
    """A Hub server without Xet answers 501: not retried, and the message says to set HF_HUB_DISABLE_XET=1."""
    pytest.importorskip("hf_xet", reason="without hf_xet, huggingface_hub uploads with plain LFS")
    from tests.hub_server import HubServer

    folder = _checkpoint(ctx, MELD_DATA)
    with HubServer(users={"alice": "hf_local_alice_token"}) as hub:
        env = hub.client_env(ctx.tmp / "hf", user="alice")
        del env["HF_HUB_DISABLE_XET"]
        result = _run(PUSH_SCRIPT, folder, "alice/m2fnet", "--max_retries", "4", env=env)
        _assert_one_line_error(result, 1, "has no Xet storage", "501", "HF_HUB_DISABLE_XET=1")
        assert "retry" not in result.stderr.lower()
        assert hub.count_requests("/api/models/alice/m2fnet/xet-write-token/") == 1
        assert set(hub.files("alice/m2fnet")) == {".gitattributes"}  # nothing committed


def case_hub_push_token_on_command_line(ctx):
    """`--token hf_...` is refused by argparse (the token would sit in shell history); the value is never echoed."""
    folder = ctx.tmp / "any-folder"
    folder.mkdir()
    ctx.watch(folder)
    result = _run(PUSH_SCRIPT, folder, "me/m2fnet", "--token", "hf_do_not_echo_me", env=_offline_env(ctx))
    stderr = _assert_one_line_error(result, 2, "--token is not accepted", "hf auth login", "HF_TOKEN")
    assert "hf_do_not_echo_me" not in stderr + result.stdout


def case_hub_card_truncated_results(ctx):
    """A results.json cut mid-write: the error names the file, the card is not written."""
    folder = ctx.tmp / "model"
    folder.mkdir()
    tiny_config(32).to_json_file(folder / "config.json")
    (folder / "results.json").write_text('{"data": {"source": "features", "dataset": "me')
    ctx.watch(folder)
    output = ctx.tmp / "README.md"
    result = _run(CARD_SCRIPT, folder, "--output", output, env=_offline_env(ctx))
    _assert_one_line_error(result, 2, f"{folder / 'results.json'} is not a readable JSON file")
    assert not output.exists()
