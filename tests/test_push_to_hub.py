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

from m2fnet_training.model_card import MEDIA_INSTALL
from m2fnet_training.tiny_model import build_tiny_m2fnet, load_sample_conversation
from modeling_m2fnet import register_auto_classes
from modeling_m2fnet.configuration_m2fnet import MELD_EMOTIONS
from tests.hub_server import HubServer
from tests.import_checks import foreign_top_level_imports
from tests.paths import SAMPLE_CONVERSATION


# huggingface_hub's own LFS upload passes a file object as `data=` to httpx2, which warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

PUSH_SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "push_to_hub.py"
REPO_ID = "alice/m2fnet-tiny"
MELD_FEATURES = {
    "source": "features",
    "synthetic": False,
    "dataset": "meld",
    "dataset_id": None,
    "label_names": list(MELD_EMOTIONS),
}
RESULTS_V1 = {
    "data": MELD_FEATURES,
    "base_model": "sentence-transformers/all-MiniLM-L6-v2",
    "language": "en",
    "args": {"training": {"num_train_epochs": 1, "seed": 0, "learning_rate": 5e-4, "per_device_train_batch_size": 4}},
    "machine": {"num_processes": 1},
    "best": {"epoch": 1, "step": 10, "weighted_f1": 0.4},
    "validation": {"weighted_f1": 0.4, "accuracy": 0.45},
    "test": {"weighted_f1": 0.4321, "accuracy": 0.5012},
}
RESULTS_V2 = {
    "data": MELD_FEATURES,
    "base_model": "sentence-transformers/all-MiniLM-L6-v2",
    "test": {"weighted_f1": 0.5123, "accuracy": 0.6034, "macro_f1": 0.31},
}

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
        model = AutoModel.from_pretrained(
            repo_id, trust_remote_code=True, revision=revision, use_safetensors=True
        ).eval()
        processor = AutoProcessor.from_pretrained(repo_id, trust_remote_code=True, revision=revision)
        batch = processor(conversations=[conversation], return_tensors="pt")
        with torch.no_grad():
            np.save(f"{output_dir}/{name}.npy", model(**batch).logits.numpy())
        info[name] = {"model_class": type(model).__name__, "model_module": type(model).__module__,
                      "processor_class": type(processor).__name__}
        if getattr(model.config, "custom_pipelines", None):
            from transformers import pipeline

            classifier = pipeline(
                model=repo_id, trust_remote_code=True, revision=revision, model_kwargs={"use_safetensors": True}
            )
            info[name]["pipeline"] = classifier(conversation)
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
    """
    Version 1: a tiny random checkpoint with its code (`register_auto_classes`) + results.json + a plot; version 2:
    other classifier weights and results.
    """
    from PIL import Image

    root = tmp_path_factory.mktemp("checkpoints")
    first = root / "v1"
    conversation = load_sample_conversation(SAMPLE_CONVERSATION)
    model, processor = build_tiny_m2fnet(f"{utterance['speaker']}: {utterance['text']}" for utterance in conversation)
    register_auto_classes()
    model.save_pretrained(first)
    processor.save_pretrained(first)
    (first / "results.json").write_text(json.dumps(RESULTS_V1))
    Image.new("RGB", (16, 8), (200, 30, 30)).save(first / "loss_curve.png")
    second = root / "v2"
    shutil.copytree(first, second)
    state = load_file(first / "model.safetensors")
    state = {name: tensor + 0.5 if name.startswith("classifier") else tensor for name, tensor in state.items()}
    save_file(state, second / "model.safetensors", metadata={"format": "pt"})
    (second / "results.json").write_text(json.dumps(RESULTS_V2))
    return first, second


def push(hub: HubServer, home: Path, *args: str, user: str | None = "alice", token: str | None = None, xet=False):
    """
    Runs the CLI in a subprocess with only the standard token mechanisms (`HF_TOKEN`) and `HF_ENDPOINT`; `xet=True`
    lets huggingface_hub try Xet storage, which the local hub lacks (it answers 501).
    """
    home.mkdir(parents=True, exist_ok=True)
    env = hub.client_env(home / "hf_home", user=user, token=token)
    if xet:
        env.pop("HF_HUB_DISABLE_XET")
    return subprocess.run(
        [sys.executable, str(PUSH_SCRIPT), *map(str, args)],
        cwd=home,
        env=env,
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
        model = M2FNetForEmotionRecognition.from_pretrained(checkpoint, use_safetensors=True).eval()
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
    assert {
        "model.safetensors",
        "config.json",
        "modeling_m2fnet.py",
        "processing_m2fnet.py",
        "tokenizer.json",
        "processor_config.json",
        "results.json",
        "loss_curve.png",
    } <= local
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
    assert "pipeline_tag" not in data  # no Hub task runs this model: no widget, no wrong task
    assert data["datasets"] == ["meld"] and data["language"] == ["en"]
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"emotion-recognition", "multimodal", "audio", "video", "m2fnet", "meld"} <= set(data["tags"])
    (model_index,) = data["model-index"]
    test_results = [result for result in model_index["results"] if result["dataset"]["split"] == "test"]
    metrics = {(metric["type"], metric.get("config")): metric["value"] for metric in test_results[0]["metrics"]}
    assert metrics == {("f1", "weighted"): 0.5123, ("accuracy", None): 0.6034, ("f1", "macro"): 0.31}
    assert test_results[0]["dataset"]["name"] == "MELD"

    text = remote["card_text"]
    expected_snippets = (
        f'repo_id, revision = "{REPO_ID}", "main"',
        "trust_remote_code=True, revision=revision",
        'processor(conversations=[conversation], return_tensors="pt")',
        'pip install torch "transformers>=5,<6"',
        MEDIA_INSTALL,
        "@inproceedings{chudasama2022m2fnet",
        "| modalities | text, audio, visual |",
        "## Limitations",
        "## Intended use",
        "| test | 51.23 | 60.34 | 31.00 |",
    )
    for expected in expected_snippets:
        assert expected in text, expected
    assert "synthetic" not in text.lower()

    # The card of the first commit still describes the first version.
    first_card = hub.files(REPO_ID, pushed["first"])["README.md"].decode()
    assert "value: 0.4321" in first_card and "![loss curve](loss_curve.png)" in first_card
    assert (
        "| epochs | 1 |" in first_card and "| best epoch | 1 (step 10, validation weighted F1 40.00) |" in first_card
    )


def test_pipeline_by_repo_id_returns_one_label_per_utterance(remote, checkpoints):
    """The card shows `pipeline(model=repo_id, trust_remote_code=True, revision=...)` first when config.json has it."""
    config = json.loads((checkpoints[0] / "config.json").read_text())
    if not config.get("custom_pipelines"):
        pytest.skip(reason="the tiny checkpoint registers no custom pipeline (config.json has no custom_pipelines)")
    labels = set(config["id2label"].values())
    conversation = load_sample_conversation(SAMPLE_CONVERSATION)
    for name in ("main", "first"):
        predictions = remote[name]["pipeline"]
        assert len(predictions) == len(conversation)
        assert all(set(item) >= {"label", "score"} and item["label"] in labels for item in predictions)
        assert all(0.0 <= item["score"] <= 1.0 for item in predictions)
    assert remote["card_text"].index("pipeline(model=repo_id") < remote["card_text"].index("AutoModel.from_pretrained")


def test_pushed_code_imports_only_torch_transformers_numpy_at_top_level(hub, pushed):
    """`trust_remote_code` refuses to load when a plain top-level import is missing on the user's machine."""
    code_files = {name: content for name, content in hub.files(REPO_ID).items() if name.endswith(".py")}
    assert {"configuration_m2fnet.py", "modeling_m2fnet.py", "processing_m2fnet.py"} <= set(code_files)
    assert foreign_top_level_imports(code_files) == []


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

    from examples.push_to_hub import main
    from m2fnet_training.hub import PushToHubError, push_model_folder

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


# HTTP status -> retried? Timeouts, rate limits and server errors may pass later; 501 and 4xx never will.
RETRIED = {400: False, 401: False, 403: False, 404: False, 408: True, 409: False, 412: False, 429: True}
RETRIED.update({500: True, 501: False, 502: True, 503: True, 504: True, 507: True})


@pytest.mark.parametrize("status, transient", sorted(RETRIED.items()))
def test_only_timeouts_408_429_and_5xx_but_501_count_as_transient(status, transient):
    """The retry rule on real huggingface_hub errors and hf_xet's error messages, without a server."""
    httpx2 = pytest.importorskip("httpx2")
    from huggingface_hub.errors import HfHubHTTPError

    from m2fnet_training.hub import http_status, is_transient

    request = httpx2.Request("POST", "http://127.0.0.1/api/models/alice/m/commit/main")
    hub_error = HfHubHTTPError(f"HTTP {status}", response=httpx2.Response(status, request=request))
    reason = "Not Implemented" if status == 501 else "Error"
    kind = "server" if status >= 500 else "client"
    xet_error = ConnectionError(f"Request error: HTTP status {kind} error ({status} {reason}), domain: http://h/x")
    for error in (hub_error, xet_error):
        assert http_status(error) == status and is_transient(error) == transient
    assert is_transient(httpx2.ReadTimeout("read timed out")) and is_transient(ConnectionResetError("reset"))
    assert not is_transient(ValueError("not a network error"))


# Where each fault point shows in the request log of the local hub.
FAULT_PATHS = {"commit": "/api/models/{repo_id}/commit/", "lfs_batch": "/{repo_id}.git/info/lfs/objects/batch"}


@pytest.mark.parametrize(
    "point, status, expected",
    [
        ("commit", "400", ["HTTP 400", "not retried"]),
        ("lfs_batch", "403", ["403 Forbidden", "no write access"]),
        ("commit", "501", ["HTTP 501", "not retried"]),
    ],
)
def test_non_transient_failures_fail_at_once(point, status, expected, hub, checkpoints, tmp_path):
    repo_id = f"alice/m2fnet-fails-{point}-{status}"
    hub.create_repo(repo_id)
    previous = hub.head(repo_id)
    hub.inject_fault(point, mode=status, times=10)  # a retry would meet the same answer
    try:
        result = push(hub, tmp_path, checkpoints[0], repo_id, "--max_retries", "3")
    finally:
        hub.clear_faults()
    assert result.returncode == 1, result.stderr
    for message in expected:
        assert message in result.stderr, (message, result.stderr)
    assert "retry" not in result.stderr.lower() and "Traceback" not in result.stderr
    assert hub.count_requests(FAULT_PATHS[point].format(repo_id=repo_id), "POST") == 1
    assert hub.head(repo_id) == previous


@pytest.mark.parametrize("status", ["429", "503"])
def test_transient_status_is_retried_then_succeeds(status, hub, checkpoints, tmp_path):
    repo_id = f"alice/m2fnet-retried-{status}"
    hub.inject_fault("commit", mode=status, times=1)
    try:
        result = push(hub, tmp_path, checkpoints[0], repo_id)
    finally:
        hub.clear_faults()
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"create_commit failed (HTTP {status}); retry 1/5" in result.stderr
    assert hub.count_requests(FAULT_PATHS["commit"].format(repo_id=repo_id), "POST") == 2
    assert hub.files(repo_id)["model.safetensors"] == (checkpoints[0] / "model.safetensors").read_bytes()


def test_server_without_xet_is_not_retried_and_says_how_to_push(hub, checkpoints, tmp_path):
    """With hf_xet installed, huggingface_hub asks for a Xet write token; a server without Xet answers 501."""
    pytest.importorskip("hf_xet", reason="without hf_xet, huggingface_hub uploads with plain LFS")
    repo_id = "alice/m2fnet-no-xet"
    result = push(hub, tmp_path, checkpoints[0], repo_id, "--max_retries", "3", xet=True)
    assert result.returncode == 1, result.stderr
    assert "has no Xet storage" in result.stderr and "HF_HUB_DISABLE_XET=1" in result.stderr
    assert "retry" not in result.stderr.lower() and "Traceback" not in result.stderr
    assert hub.count_requests(f"/api/models/{repo_id}/xet-write-token/") == 1
    assert set(hub.files(repo_id)) == {".gitattributes"}  # created, nothing committed

    rerun = push(hub, tmp_path, checkpoints[0], repo_id)  # the advice works: plain LFS
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert hub.files(repo_id)["model.safetensors"] == (checkpoints[0] / "model.safetensors").read_bytes()


def test_token_on_the_command_line_is_refused_before_any_request(hub, checkpoints, tmp_path, capsys):
    from examples.push_to_hub import parse_args

    requests_before = len(hub.requests)
    result = push(hub, tmp_path, checkpoints[0], "alice/m2fnet-token", "--token", "hf_secret_value_123")
    assert result.returncode == 2, result.stderr
    assert "--token is not accepted" in result.stderr and "hf auth login" in result.stderr
    assert "HF_TOKEN" in result.stderr and "hf_secret_value_123" not in result.stdout + result.stderr
    assert len(hub.requests) == requests_before
    for argv in (["--token=hf_secret_value_123"], ["--hub_token", "hf_secret_value_123"], ["--token"]):
        with pytest.raises(SystemExit) as exit_info:
            parse_args([str(checkpoints[0]), "alice/m2fnet-token", *argv])
        assert exit_info.value.code == 2
        message = capsys.readouterr().err
        assert "is not accepted" in message and "hf_secret_value_123" not in message
