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
"""`examples/push_to_hub.py` against a local Hub: push, load by repo id in a fresh process, card, versions, errors."""

import ast
import json
import shutil
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from examples.quickstart import save_tiny_checkpoint
from m2fnet_training.tiny_model import load_sample_conversation
from tests.hub_server import HubServer
from tests.paths import SAMPLE_CONVERSATION


# huggingface_hub's own LFS upload passes a file object as `data=` to httpx2, which warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

PUSH_SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "push_to_hub.py"
REPO_ID = "alice/m2fnet-tiny"
RESULTS_V1 = {
    "dataset": "meld",
    "dataset_config": "text",
    "test": {"weighted_f1": 0.4321, "accuracy": 0.5012},
    "validation": {"weighted_f1": 0.4, "accuracy": 0.45},
    "training": {"num_train_epochs": 1, "seed": 0},
}
RESULTS_V2 = {"dataset": "meld", "test": {"weighted_f1": 0.5123, "accuracy": 0.6034, "macro_f1": 0.31}}

LOADER = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch
    from huggingface_hub import ModelCard
    from transformers import AutoModel, AutoProcessor

    repo_id, first_commit, conversation_file, output_dir = sys.argv[1:5]


    class HideRepository:  # acts as a machine without this repository (it may be pip-installed, e.g. in CI)

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("modeling_m2fnet", "datasets_scripts", "examples", "tests"):
                raise ImportError(f"{name} is hidden from this process")
            return None


    sys.meta_path.insert(0, HideRepository())
    try:
        import modeling_m2fnet  # noqa: F401
        raise SystemExit("the repository is importable: the test would not exercise remote code")
    except ImportError:
        pass
    conversation = json.load(open(conversation_file))
    info = {}
    for name, revision in (("main", None), ("first", first_commit)):
        model = AutoModel.from_pretrained(repo_id, trust_remote_code=True, revision=revision).eval()
        processor = AutoProcessor.from_pretrained(repo_id, trust_remote_code=True, revision=revision)
        batch = processor(conversations=[conversation], return_tensors="pt")
        with torch.no_grad():
            np.save(f"{output_dir}/{name}.npy", model(**batch).logits.numpy())
        info[name] = {"model_class": type(model).__name__, "model_module": type(model).__module__,
                      "processor_class": type(processor).__name__}
    card = ModelCard.load(repo_id)
    info["card_data"] = card.data.to_dict()
    info["card_text"] = card.text
    print(json.dumps(info))
    """
)


@pytest.fixture(scope="module")
def hub(local_hub) -> HubServer:
    local_hub.create_repo("bob/bobs-model")  # a repository alice cannot write to
    return local_hub


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> tuple[Path, Path]:
    """Version 1: the tiny checkpoint + results.json + a plot; version 2: other classifier weights and results."""
    from PIL import Image

    root = tmp_path_factory.mktemp("checkpoints")
    first = save_tiny_checkpoint(root / "v1")
    (first / "results.json").write_text(json.dumps(RESULTS_V1))
    Image.new("RGB", (16, 8), (200, 30, 30)).save(first / "loss_curve.png")
    second = root / "v2"
    shutil.copytree(first, second)
    state = load_file(first / "model.safetensors")
    state = {name: tensor + 0.5 if name.startswith("classifier") else tensor for name, tensor in state.items()}
    save_file(state, second / "model.safetensors", metadata={"format": "pt"})
    (second / "results.json").write_text(json.dumps(RESULTS_V2))
    return first, second


def push(hub: HubServer, home: Path, *args: str, user: str | None = "alice", token: str | None = None):
    """Runs the CLI in a subprocess with only the standard token mechanisms (`HF_TOKEN`) and `HF_ENDPOINT`."""
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, str(PUSH_SCRIPT), *map(str, args)],
        cwd=home,
        env=hub.client_env(home / "hf_home", user=user, token=token),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def pushed(hub, checkpoints, tmp_path_factory) -> dict:
    """Two pushes of the same repository: version 1, then version 2."""
    home = tmp_path_factory.mktemp("push")
    initial = hub.head(REPO_ID)
    first = push(hub, home, checkpoints[0], REPO_ID, "--commit_message", "first version")
    assert first.returncode == 0, first.stderr[-3000:]
    first_commit = hub.head(REPO_ID)
    second = push(hub, home, checkpoints[1], REPO_ID)
    assert second.returncode == 0, second.stderr[-3000:]
    return {"initial": initial, "first": first_commit, "second": hub.head(REPO_ID), "first_run": first}


@pytest.fixture(scope="module")
def expected_logits(checkpoints) -> dict[str, np.ndarray]:
    """The reference: each checkpoint run locally through the repository's own classes."""
    from modeling_m2fnet import M2FNetForEmotionRecognition, M2FNetProcessor

    conversation, logits = load_sample_conversation(SAMPLE_CONVERSATION), {}
    for name, checkpoint in zip(("first", "main"), checkpoints):
        model = M2FNetForEmotionRecognition.from_pretrained(checkpoint).eval()
        processor = M2FNetProcessor.from_pretrained(checkpoint, trust_remote_code=True)
        with torch.no_grad():
            logits[name] = model(**processor(conversations=[conversation])).logits.numpy()
    return logits


@pytest.fixture(scope="module")
def remote(hub, pushed, tmp_path_factory) -> dict:
    """Loads the pushed repository BY REPO ID (main and the first commit) in a fresh process without this repo."""
    work = tmp_path_factory.mktemp("remote")
    conversation_file = work / "conversation.json"
    conversation_file.write_text(json.dumps(load_sample_conversation(SAMPLE_CONVERSATION)))
    env = hub.client_env(work / "hf_home", user="alice")
    env.pop("PYTHONPATH", None)
    env["PYTHONNOUSERSITE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", LOADER, REPO_ID, pushed["first"], str(conversation_file), str(work)],
        cwd=work,  # not the repository: the code must come from the Hub
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    info["logits"] = {name: np.load(work / f"{name}.npy") for name in ("main", "first")}
    return info


def test_push_uploads_the_checkpoint_in_one_commit(hub, pushed, checkpoints):
    assert pushed["initial"] is None and pushed["first"] != pushed["second"]
    assert pushed["first"] in pushed["first_run"].stdout  # the CLI prints the commit to pin
    files = hub.files(REPO_ID, pushed["first"])
    local = {path.name for path in checkpoints[0].iterdir()}
    assert {"model.safetensors", "config.json", "modeling_m2fnet.py", "processing_m2fnet.py", "tokenizer.json",
            "processor_config.json", "results.json", "loss_curve.png"} <= local  # fmt: skip
    assert set(files) == local | {"README.md", ".gitattributes"}
    for name in local:
        assert files[name] == (checkpoints[0] / name).read_bytes(), name
    # One commit per push: the repository's creation, then exactly two commits.
    history = json.loads(urllib.request.urlopen(f"{hub.url}/api/models/{REPO_ID}/commits/main").read())
    assert [commit["id"] for commit in history[:2]] == [pushed["second"], pushed["first"]] and len(history) == 3
    assert history[1]["title"] == "first version"


def test_load_by_repo_id_in_fresh_process_gives_identical_logits(remote, expected_logits):
    for name in ("main", "first"):
        assert remote[name]["model_class"] == "M2FNetForEmotionRecognition"
        assert remote[name]["model_module"].startswith("transformers_modules"), remote[name]["model_module"]
        assert remote[name]["processor_class"] == "M2FNetProcessor"
    np.testing.assert_array_equal(remote["logits"]["main"], expected_logits["main"])
    # `revision=<first commit>` still loads the first version after the second push.
    np.testing.assert_array_equal(remote["logits"]["first"], expected_logits["first"])
    assert not np.array_equal(expected_logits["main"], expected_logits["first"])


def test_model_card_metadata_and_text(remote, hub, pushed):
    data = remote["card_data"]
    assert data["library_name"] == "transformers" and data["license"] == "apache-2.0"
    assert data["pipeline_tag"] == "video-classification" and data["datasets"] == ["meld"]
    assert {"emotion-recognition", "multimodal", "m2fnet"} <= set(data["tags"])
    (model_index,) = data["model-index"]
    test_results = [result for result in model_index["results"] if result["dataset"]["split"] == "test"]
    metrics = {(metric["type"], metric.get("config")): metric["value"] for metric in test_results[0]["metrics"]}
    assert metrics == {("f1", "weighted"): 0.5123, ("accuracy", None): 0.6034, ("f1", "macro"): 0.31}
    assert test_results[0]["dataset"]["name"] == "MELD"

    text = remote["card_text"]
    for expected in (f'repo_id, revision = "{REPO_ID}", "main"', "trust_remote_code=True, revision=revision",
                     'processor(conversations=[conversation], return_tensors="pt")', "pip install av soxr",
                     '"opencv-python-headless<5"', "@inproceedings{chudasama2022m2fnet", "text, audio, visual",
                     "## Limitations", "## Intended use", "| test | 51.23 | 60.34 | 31.00 |"):  # fmt: skip
        assert expected in text, expected

    # The card of the first commit still describes the first version.
    first_card = hub.files(REPO_ID, pushed["first"])["README.md"].decode()
    assert "value: 0.4321" in first_card and "![loss curve](loss_curve.png)" in first_card
    assert "| num_train_epochs | 1 |" in first_card


def test_pushed_code_imports_only_torch_transformers_numpy_at_top_level(hub, pushed):
    """`trust_remote_code` refuses to load when a plain top-level import is missing on the user's machine."""
    allowed = set(sys.stdlib_module_names) | {"torch", "transformers", "numpy", "huggingface_hub"}
    code_files = {name: content for name, content in hub.files(REPO_ID).items() if name.endswith(".py")}
    assert {"configuration_m2fnet.py", "modeling_m2fnet.py", "processing_m2fnet.py"} <= set(code_files)
    for name, content in code_files.items():
        for node in ast.parse(content).body:  # module level only: lazy imports inside functions are fine
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] in allowed, f"{name} imports {module} at top level"


def test_unchanged_folder_makes_no_new_commit_and_branch_push_leaves_main(hub, pushed, checkpoints, tmp_path):
    again = push(hub, tmp_path, checkpoints[1], REPO_ID)
    assert again.returncode == 0, again.stderr[-3000:]
    assert hub.head(REPO_ID) == pushed["second"] and "nothing new was committed" in again.stdout + again.stderr

    folder = tmp_path / "without-plot"
    shutil.copytree(checkpoints[0], folder)
    (folder / "loss_curve.png").unlink()
    branch = push(hub, tmp_path, folder, REPO_ID, "--revision", "experiment")
    assert branch.returncode == 0, branch.stderr[-3000:]
    assert hub.head(REPO_ID) == pushed["second"]  # main is untouched
    files = hub.files(REPO_ID, "experiment")
    assert files["model.safetensors"] == (checkpoints[0] / "model.safetensors").read_bytes()
    assert "loss_curve.png" not in files  # a managed file the folder no longer has is deleted in the same commit
    assert f'"{REPO_ID}", "experiment"' in files["README.md"].decode()


def test_read_eval_results_accepts_nested_flat_and_percent_values():
    from examples.model_card import read_eval_results

    assert read_eval_results({"test": {"weighted_f1": 0.5, "accuracy": 60.0, "loss": 1.2}}) == {
        "test": {"weighted_f1": 0.5, "accuracy": 0.6}
    }
    assert read_eval_results({"eval_weighted_f1": 0.4, "test_accuracy": 0.7, "epoch": 3}) == {
        "test": {"accuracy": 0.7}, "validation": {"weighted_f1": 0.4}
    }  # fmt: skip
    assert read_eval_results({"split": "test", "f1_weighted": 0.3}) == {"test": {"weighted_f1": 0.3}}
    assert read_eval_results({"metrics": {"validation": {"macro_f1": 0.2}}}) == {"validation": {"macro_f1": 0.2}}


def _status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        return urllib.request.urlopen(request).status
    except urllib.error.HTTPError as error:
        return error.code


def test_private_repository(hub, checkpoints, tmp_path):
    result = push(hub, tmp_path, checkpoints[0], "alice/private-m2fnet", "--private")
    assert result.returncode == 0, result.stderr[-3000:]
    url = f"{hub.url}/alice/private-m2fnet/resolve/main/config.json"
    assert _status(url, hub.users["alice"]) == 200
    assert _status(url) == 401 and _status(url, hub.users["bob"]) == 404  # hidden from everyone else


@pytest.mark.parametrize(
    "case, expected_code, expected_messages",
    [
        ("no_token", 1, ["No Hugging Face token found", "hf auth login", "HF_TOKEN"]),
        ("wrong_token", 1, ["rejected your token (401", "hf auth login"]),
        ("someone_elses_repo", 1, ["bob/bobs-model", "403", "no write access"]),
        ("someone_elses_namespace", 1, ["carol/m2fnet", "403", "no write access"]),
        ("invalid_repo_id", 2, ["Invalid repository id", "namespace/name"]),
        ("no_weights", 2, ["no model weights", "model.safetensors"]),
        ("no_config", 2, ["no config.json"]),
        ("no_auto_map", 2, ["no `auto_map`", "register_auto_classes()"]),
    ],
)
def test_bad_input_gives_a_clear_message_and_non_zero_exit(
    case, expected_code, expected_messages, hub, checkpoints, tmp_path
):
    folder, repo_id, user, token = checkpoints[0], "alice/m2fnet-bad-input", "alice", None
    if case == "no_token":
        user = None
    elif case == "wrong_token":
        token = "hf_not_a_valid_token_123"
    elif case == "someone_elses_repo":
        repo_id = "bob/bobs-model"
    elif case == "someone_elses_namespace":
        repo_id = "carol/m2fnet"
    elif case == "invalid_repo_id":
        repo_id = "alice/not a valid--name.."
    else:
        folder = tmp_path / "checkpoint"
        shutil.copytree(checkpoints[0], folder)
        if case == "no_weights":
            (folder / "model.safetensors").unlink()
        elif case == "no_config":
            (folder / "config.json").unlink()
        else:
            config = json.loads((folder / "config.json").read_text())
            del config["auto_map"]
            (folder / "config.json").write_text(json.dumps(config))
    bobs_head, requests_before = hub.head("bob/bobs-model"), len(hub.requests)

    result = push(hub, tmp_path, folder, repo_id, user=user, token=token)

    assert result.returncode == expected_code, (result.stdout, result.stderr)
    for message in expected_messages:
        assert message in result.stderr, (message, result.stderr)
    assert "Traceback" not in result.stderr
    if token is not None:
        assert token not in result.stdout + result.stderr  # the token is never echoed
    if expected_code == 2 or case == "no_token":  # checked before any network call
        assert len(hub.requests) == requests_before
    assert hub.head("bob/bobs-model") == bobs_head and hub.head("alice/m2fnet-bad-input") is None
    assert hub.head("carol/m2fnet") is None


def test_network_drop_mid_upload_keeps_previous_commit_and_rerun_completes(hub, checkpoints, tmp_path):
    repo_id = "alice/m2fnet-flaky"
    hub.create_repo(repo_id)
    previous = hub.head(repo_id)
    # The connection drops after each commit request is sent (the first try and its one retry).
    hub.inject_fault("commit", mode="drop", times=2)
    failed = push(hub, tmp_path, checkpoints[0], repo_id, "--max_retries", "1")
    assert failed.returncode == 1, failed.stderr
    assert (
        f"still at its previous commit {previous}" in failed.stderr and "Run the same command again" in failed.stderr
    )
    assert hub.head(repo_id) == previous and set(hub.files(repo_id)) == {".gitattributes"}

    requests_before = len(hub.requests)
    rerun = push(hub, tmp_path, checkpoints[0], repo_id, "--max_retries", "1")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert hub.head(repo_id) != previous
    assert hub.files(repo_id)["model.safetensors"] == (checkpoints[0] / "model.safetensors").read_bytes()
    # The LFS objects were stored by the failed run: the rerun only commits.
    assert not any(method == "PUT" for method, _ in hub.requests[requests_before:])


def test_transient_failures_are_retried(hub, checkpoints, tmp_path):
    repo_id = "alice/m2fnet-retried"
    hub.inject_fault("lfs_upload", mode="drop", times=1)  # halfway through the weights
    hub.inject_fault("commit", mode="503", times=1)
    result = push(hub, tmp_path, checkpoints[0], repo_id)
    hub.clear_faults()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "create_commit failed (HTTP 503); retry 1/5" in result.stderr
    assert hub.files(repo_id)["model.safetensors"] == (checkpoints[0] / "model.safetensors").read_bytes()


def test_python_api_for_the_training_script(hub, checkpoints, monkeypatch):
    """`push_model_folder` (what `train_m2fnet.py --push_to_hub` calls) and `main(argv)`, in this process."""
    import huggingface_hub

    from examples.push_to_hub import PushToHubError, main, push_model_folder

    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # read at call time, so it works after huggingface_hub is imported
    monkeypatch.setenv("HF_TOKEN", hub.users["alice"])
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # the env var is read at import
    commit = push_model_folder(checkpoints[0], "m2fnet-api", commit_message="from Python")  # bare name: my namespace
    assert commit.oid == hub.head("alice/m2fnet-api") and commit.repo_url.repo_id == "alice/m2fnet-api"
    with pytest.raises(PushToHubError, match="403") as error:
        push_model_folder(checkpoints[0], "bob/bobs-model", max_retries=0)
    assert error.value.exit_code == 1
    assert main([str(checkpoints[0]), "alice/m2fnet-api", "--commit_message", "again"]) == 0
    assert main([str(checkpoints[0]), "bad repo id"]) == 2
