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
"""`save_pretrained` + `AutoModel`/`AutoProcessor(trust_remote_code=True)` in a fresh process without this repo."""

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from examples.quickstart import save_tiny_checkpoint
from m2fnet_training.tiny_model import load_sample_conversation
from tests.paths import SAMPLE_CONVERSATION


LOADER = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch
    from transformers import AutoConfig, AutoModel, AutoProcessor

    checkpoint, conversation_file, output_file = sys.argv[1:4]


    class HideRepository:  # acts as a machine without this repository (it may be pip-installed, e.g. in CI)

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("modeling_m2fnet", "datasets_scripts", "examples"):
                raise ImportError(f"{name} is hidden from this process")
            return None


    sys.meta_path.insert(0, HideRepository())
    try:
        import modeling_m2fnet  # noqa: F401
        raise SystemExit("the repository is importable: the test would not exercise remote code")
    except ImportError:
        pass
    config = AutoConfig.from_pretrained(checkpoint, trust_remote_code=True)
    model = AutoModel.from_pretrained(checkpoint, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(checkpoint, trust_remote_code=True)
    conversation = json.load(open(conversation_file))
    batch = processor(conversations=[conversation], return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    np.save(output_file, logits.numpy())
    print(json.dumps({
        "config_class": type(config).__name__, "model_class": type(model).__name__,
        "model_module": type(model).__module__, "processor_class": type(processor).__name__,
        "feature_extractor_class": type(processor.feature_extractor).__name__,
        "image_processor_class": type(processor.image_processor).__name__,
        "batch_keys": sorted(batch.keys()),
    }))
    """
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("remote") / "tiny-m2fnet")


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH",)}
    env.update({"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home"), "PYTHONNOUSERSITE": "1"})
    return env


def test_remote_code_round_trip_in_fresh_process(checkpoint, tmp_path):
    conversation = load_sample_conversation(SAMPLE_CONVERSATION)
    conversation_file = tmp_path / "conversation.json"
    conversation_file.write_text(json.dumps(conversation))
    output_file = tmp_path / "logits.npy"

    # The reference: the same checkpoint and processor, in this process, through the repository's own classes.
    from modeling_m2fnet import M2FNetForEmotionRecognition, M2FNetProcessor

    model = M2FNetForEmotionRecognition.from_pretrained(checkpoint).eval()
    processor = M2FNetProcessor.from_pretrained(checkpoint, trust_remote_code=True)
    with torch.no_grad():
        expected = model(**processor(conversations=[conversation])).logits.numpy()

    result = subprocess.run(
        [sys.executable, "-c", LOADER, str(checkpoint), str(conversation_file), str(output_file)],
        cwd=tmp_path,  # not the repository: `modeling_m2fnet` must come from the checkpoint folder
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["model_class"] == "M2FNetForEmotionRecognition"
    assert info["model_module"].startswith("transformers_modules"), info["model_module"]
    assert info["config_class"] == "M2FNetConfig"
    assert (info["processor_class"], info["feature_extractor_class"], info["image_processor_class"]) == (
        "M2FNetProcessor", "M2FNetFeatureExtractor", "M2FNetImageProcessor",
    )  # fmt: skip
    assert {"input_ids", "input_features", "pixel_values", "face_pixel_values"} <= set(info["batch_keys"])
    np.testing.assert_array_equal(np.load(output_file), expected)


def test_checkpoint_files(checkpoint):
    files = {path.name for path in checkpoint.iterdir()}
    assert "model.safetensors" in files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files)
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_m2fnet.M2FNetConfig",
        "AutoModel": "modeling_m2fnet.M2FNetForEmotionRecognition",
    }
    state = load_file(checkpoint / "model.safetensors")
    assert any(key.startswith("m2fnet.text_model.") for key in state)  # backbone weights live in the checkpoint


def test_saved_code_imports_only_torch_transformers_numpy_at_top_level(checkpoint):
    """`trust_remote_code` refuses to load when a plain top-level import is missing on the user's machine."""
    allowed = set(sys.stdlib_module_names) | {"torch", "transformers", "numpy", "huggingface_hub"}  # + deps of transformers
    for code_file in checkpoint.glob("*.py"):
        tree = ast.parse(code_file.read_text())
        for node in tree.body:  # module level only: lazy imports inside functions are fine
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{code_file.name} imports {name} at top level"
