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
"""A Hub user's machine: a venv with only torch + transformers loads saved checkpoints through remote code.

The venv test builds a real virtual environment (`python -m venv`, then `pip install torch==2.13.0 transformers` and
nothing else), cached between runs under the system's temporary folder (`M2FNET_TEST_VENV_DIR` overrides it). It
skips only when pip cannot reach a package index. The broken-checkpoint test runs the repository's interpreter in a
fresh process that cannot import this repository.
"""

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from m2fnet_training.tiny_model import build_tiny_m2fnet, load_sample_conversation
from modeling_m2fnet import M2FNetForEmotionRecognition, M2FNetProcessor, register_auto_classes
from tests.paths import REPO_ROOT, SAMPLE_CONVERSATION, SAMPLES_DIR
from tests.test_processing_m2fnet import model_inputs


TORCH_REQUIREMENT = "torch==2.13.0"
# The transformers of this environment, so that both sides compute the same logits.
TRANSFORMERS_REQUIREMENT = f"transformers=={transformers.__version__}"
MEDIA_MODULES = ("av", "soxr", "cv2", "PIL")
# What pip prints when it cannot reach an index (connection retries, DNS, proxies), as opposed to any other failure.
UNREACHABLE_INDEX = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|Name or service "
    r"not known|Network is unreachable|Connection refused|ConnectTimeoutError|ProxyError|Could not fetch URL"
)

# Prepended to a script run in a fresh process: acts as a machine without this repository (it may be pip-installed).
HIDE_REPOSITORY = textwrap.dedent(
    """
    import sys

    class HideRepository:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("modeling_m2fnet", "m2fnet_training", "datasets_scripts", "examples"):
                raise ImportError(f"{name} is hidden from this process")

    sys.meta_path.insert(0, HideRepository())
    try:
        import modeling_m2fnet  # noqa: F401
        raise SystemExit("the repository is importable: the test would not exercise remote code")
    except ImportError:
        pass
    """
)

HUB_USER_SCRIPT = textwrap.dedent(
    """
    import importlib, inspect, json, sys
    import numpy as np, torch
    from transformers import AutoConfig, AutoModel, AutoProcessor, pipeline

    request = json.load(open(sys.argv[1]))
    report = {"importable": {}, "checkpoints": {}}
    for module in ("av", "soxr", "cv2", "PIL", "datasets", "modeling_m2fnet", "m2fnet_training"):
        try:
            importlib.import_module(module)
            report["importable"][module] = True
        except ImportError:
            report["importable"][module] = False
    for name, folder in request["checkpoints"].items():
        config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
        model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
        accepted = inspect.signature(model.forward).parameters  # `speaker_ids` only once the model takes it
        entry = {"classes": [type(config).__name__, type(model).__name__, type(processor).__name__],
                 "model_module": type(model).__module__}
        for kind, conversation in request["conversations"].items():
            try:
                batch = processor(conversations=[conversation], return_tensors="pt")
            except ImportError as error:
                entry[kind] = {"import_error": str(error)}
                continue
            with torch.no_grad():
                logits = model(**{key: value for key, value in batch.items() if key in accepted}).logits
            np.save(f"{request['output_dir']}/{name}-{kind}.npy", logits.numpy())
            entry[kind] = {"modality_mask": batch["modality_mask"].tolist()}
        if "text" in request["conversations"]:
            classifier = pipeline(model=folder, trust_remote_code=True, model_kwargs={"use_safetensors": True})
            entry["pipeline"] = {"task": classifier.task, "text": classifier(request["conversations"]["text"])}
        report["checkpoints"][name] = entry
    report["media_modules_loaded"] = sorted(set(sys.modules) & {"av", "soxr", "cv2", "PIL"})
    print(json.dumps(report))
    """
)


def save_tiny_checkpoint(folder: Path, **config_overrides) -> Path:
    """A tiny random M2FNet and its processor saved with their code (`register_auto_classes`), as a Hub repo holds."""
    conversation = load_sample_conversation(SAMPLE_CONVERSATION)
    texts = [f"{utterance['speaker']}: {utterance['text']}" for utterance in conversation]
    model, processor = build_tiny_m2fnet(texts, **config_overrides)
    register_auto_classes()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _clean_env(home: Path, python_path: str | None = None) -> dict[str, str]:
    """The environment of a user's process: no repository on the path, offline, its own Hugging Face cache."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"HF_HUB_OFFLINE": "1", "HF_HOME": str(home / "hf_home"), "PYTHONNOUSERSITE": "1"})
    # The same number of threads as this process, so that float reductions run in the same order and the logits
    # of both processes can be compared exactly.
    env.update({"OMP_NUM_THREADS": str(torch.get_num_threads()), "TOKENIZERS_PARALLELISM": "false"})
    if python_path:
        env["PYTHONPATH"] = python_path
    return env


def _pip_install(python: Path, arguments: list[str], what: str) -> None:
    """Runs `python -m pip install ...`; skips the test when no index is reachable, fails on any other error."""
    command = [str(python), "-m", "pip", "install", "--no-input", "--disable-pip-version-check", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if UNREACHABLE_INDEX.search(output):
            pytest.skip(f"pip cannot reach a package index to install {what}: {output.strip().splitlines()[-1]}")
        pytest.fail(f"`pip install {' '.join(arguments)}` failed:\n{output[-4000:]}")


def _cached_install(name: str, build) -> Path:
    """`build(folder)` once into a cached folder under the temporary directory (locked against parallel runs)."""
    root = Path(os.environ.get("M2FNET_TEST_VENV_DIR") or Path(tempfile.gettempdir()) / "m2fnet-test-venvs")
    root.mkdir(parents=True, exist_ok=True)
    folder, ready = root / name, root / f"{name}.ready"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            shutil.rmtree(folder, ignore_errors=True)
            try:
                build(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            ready.touch()
    return folder


@pytest.fixture(scope="session")
def bare_venv() -> Path:
    """A venv with torch 2.13.0 + transformers and their dependencies only; returns its python."""

    def build(venv: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        _pip_install(venv / "bin" / "python", [TORCH_REQUIREMENT, TRANSFORMERS_REQUIREMENT], "torch + transformers")

    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    pins = f"{TORCH_REQUIREMENT}-{TRANSFORMERS_REQUIREMENT}".replace("==", "")
    venv = _cached_install(f"hub-user-{version}-{pins}", build)
    return venv / "bin" / "python"


def run_fresh_process(script: str, args: list, workdir: Path, python=sys.executable, python_path=None) -> dict:
    """Runs `script` in a new interpreter outside the repository (`workdir`, offline, its own Hugging Face cache) and
    returns the JSON object its last output line holds."""
    result = subprocess.run(
        [str(python), "-c", script, *map(str, args)],
        cwd=workdir,  # not the repository: the code must come from the checkpoint folders
        env=_clean_env(workdir, python_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _run_as_hub_user(python: Path, request: dict, workdir: Path, python_path: str | None = None) -> dict:
    (workdir / "request.json").write_text(json.dumps(request))
    return run_fresh_process(HUB_USER_SCRIPT, [workdir / "request.json"], workdir, python, python_path)


def _expected_logits(folder: Path, conversation: list[dict]) -> np.ndarray:
    """The logits of the repository's own classes, in this process."""
    model = M2FNetForEmotionRecognition.from_pretrained(folder, use_safetensors=True).eval()
    processor = M2FNetProcessor.from_pretrained(folder)
    with torch.no_grad():
        return model(**model_inputs(model, processor(conversations=[conversation]))).logits.numpy()


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory) -> Path:
    """Checkpoints and media in a folder outside the repository, as a Hub user's download would be."""
    folder = tmp_path_factory.mktemp("hub_user")
    assert not folder.resolve().is_relative_to(REPO_ROOT.resolve())
    save_tiny_checkpoint(folder / "m2fnet-tiny")
    save_tiny_checkpoint(folder / "m2fnet-tiny-text", modalities=["text"])
    for name in ("ross.wav", "rachel.mp4"):
        shutil.copy(SAMPLES_DIR / name, folder / name)
    return folder


def test_torch_and_transformers_alone_load_and_run_checkpoints(bare_venv, user_folder, tmp_path):
    checkpoints = {name: str(user_folder / name) for name in ("m2fnet-tiny", "m2fnet-tiny-text")}
    text = [{"speaker": "Ross", "text": "We were on a break!"}, {"speaker": "Rachel", "text": "Oh my God."}]
    media = [{"speaker": "Ross", "text": "Fine.", "audio": str(user_folder / "ross.wav")}]
    media.append({"speaker": "Rachel", "text": "Just go.", "video": str(user_folder / "rachel.mp4")})
    request = {
        "checkpoints": checkpoints,
        "conversations": {"text": text, "media": media},
        "output_dir": str(tmp_path),
    }
    report = _run_as_hub_user(bare_venv, request, tmp_path)

    # The venv really lacks the media packages (and this repository).
    assert not any(report["importable"][module] for module in (*MEDIA_MODULES, "modeling_m2fnet", "m2fnet_training"))
    assert not report["importable"]["datasets"] and report["media_modules_loaded"] == []
    install_lines = set()
    for name, folder in checkpoints.items():
        entry = report["checkpoints"][name]
        assert entry["classes"] == ["M2FNetConfig", "M2FNetForEmotionRecognition", "M2FNetProcessor"]
        assert entry["model_module"].startswith("transformers_modules")
        assert entry["text"]["modality_mask"] == [[[1, 0, 0], [1, 0, 0]]]
        expected = _expected_logits(Path(folder), text)
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}-text.npy"), expected)
        # The checkpoint's own pipeline, with the task read from its config: one {label, score} per utterance.
        pipeline_entry = entry["pipeline"]
        assert pipeline_entry["task"] == "emotion-recognition-in-conversation"
        id2label = json.loads((Path(folder) / "config.json").read_text())["id2label"]
        probabilities = torch.from_numpy(expected[0]).softmax(-1)
        assert [result["label"] for result in pipeline_entry["text"]] == [
            id2label[str(int(row.argmax()))] for row in probabilities
        ]
        assert [result["score"] for result in pipeline_entry["text"]] == pytest.approx(
            [float(row.max()) for row in probabilities], rel=1e-5
        )
        # A conversation with media needs the media packages: the error names them.
        message = entry["media"]["import_error"]
        assert 'pip install av soxr "opencv-python-headless<5"' in message and "m2fnet[media]" not in message
        install_lines.add(re.search(r"install the media packages: `pip install ([^`]+)`", message).group(1))

    # Installing exactly what the message names makes the media conversation work.
    (packages,) = install_lines
    digest = hashlib.sha256(packages.encode()).hexdigest()[:12]
    target = _cached_install(
        f"hub-user-media-{digest}-{bare_venv.parent.parent.name}",
        lambda folder: _pip_install(bare_venv, ["--target", str(folder), *shlex.split(packages)], packages),
    )
    media_run = tmp_path / "with_media"
    media_run.mkdir()
    request = {**request, "conversations": {"media": media}, "output_dir": str(media_run)}
    report = _run_as_hub_user(bare_venv, request, media_run, python_path=str(target))
    assert report["checkpoints"]["m2fnet-tiny"]["media"]["modality_mask"] == [[[1, 1, 0], [1, 1, 1]]]
    assert report["media_modules_loaded"] == ["av", "cv2", "soxr"]  # Pillow is not needed
    expected = _expected_logits(user_folder / "m2fnet-tiny", media)
    np.testing.assert_allclose(np.load(media_run / "m2fnet-tiny-media.npy"), expected, rtol=1e-4, atol=1e-5)


BROKEN_CHECKPOINT_SCRIPT = HIDE_REPOSITORY + textwrap.dedent(
    """
    import json
    from transformers import AutoModel, AutoProcessor

    results = {}
    for name, (auto_class, folder) in json.load(open(sys.argv[1])).items():
        try:
            {"AutoModel": AutoModel, "AutoProcessor": AutoProcessor}[auto_class].from_pretrained(
                folder, trust_remote_code=True
            )
            results[name] = None
        except Exception as error:
            results[name] = [type(error).__name__, str(error), isinstance(error, OSError)]
    print(json.dumps(results))
    """
)


def test_checkpoint_with_missing_or_stale_code_gives_a_clear_error(tmp_path):
    good = save_tiny_checkpoint(tmp_path / "good")
    broken = {}

    def variant(name: str, edit) -> str:
        folder = tmp_path / name
        shutil.copytree(good, folder)
        edit(folder)
        return str(folder)

    def edit_json(folder: Path, file: str, change) -> None:
        data = json.loads((folder / file).read_text())
        change(data)
        (folder / file).write_text(json.dumps(data))

    broken["no_processor_code"] = ("AutoProcessor", variant("a", lambda f: (f / "processing_m2fnet.py").unlink()))
    broken["no_media_code"] = ("AutoProcessor", variant("b", lambda f: (f / "media_utils.py").unlink()))

    def newer_model_class(config: dict) -> None:  # the config names a class that the code files do not have (yet)
        config["auto_map"]["AutoModel"] = "modeling_m2fnet.M2FNetForEmotionRecognition2"

    def newer_processor_settings(config: dict) -> None:  # written by a later processor than the code files
        config["processor_format_version"] += 1

    broken["class_missing_from_code"] = (
        "AutoModel",
        variant("c", lambda f: edit_json(f, "config.json", newer_model_class)),
    )
    broken["processor_config_newer_than_code"] = (
        "AutoProcessor",
        variant("d", lambda f: edit_json(f, "processor_config.json", newer_processor_settings)),
    )
    broken["good"] = ("AutoProcessor", str(good))
    (tmp_path / "request.json").write_text(json.dumps(broken))
    errors = run_fresh_process(BROKEN_CHECKPOINT_SCRIPT, [tmp_path / "request.json"], tmp_path)
    assert errors["good"] is None
    # transformers' own loader names the missing file, and the class the config asks for.
    for name, missing in (("no_processor_code", "processing_m2fnet.py"), ("no_media_code", "media_utils.py")):
        kind, message, is_os_error = errors[name]
        assert is_os_error and missing in message, errors[name]
    kind, message, _ = errors["class_missing_from_code"]
    assert kind == "AttributeError" and "modeling_m2fnet" in message and "M2FNetForEmotionRecognition2" in message
    # The processor's own check: a processor_config.json written by newer code than the files beside it.
    kind, message, _ = errors["processor_config_newer_than_code"]
    assert kind == "ValueError" and "settings version 3" in message and "older than its config" in message
