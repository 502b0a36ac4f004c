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

import json
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from m2fnet_training.tiny_model import load_sample_conversation
from tests.import_checks import foreign_top_level_imports
from tests.paths import SAMPLE_CONVERSATION
from tests.test_hub_user_install import HIDE_REPOSITORY, run_fresh_process, save_tiny_checkpoint
from tests.test_processing_m2fnet import model_inputs


LOADER = HIDE_REPOSITORY + textwrap.dedent(
    """
    import inspect, json
    import numpy as np, torch
    from transformers import AutoConfig, AutoModel, AutoProcessor

    checkpoint, conversation_file, output_file = sys.argv[1:4]
    config = AutoConfig.from_pretrained(checkpoint, trust_remote_code=True)
    model = AutoModel.from_pretrained(checkpoint, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(checkpoint, trust_remote_code=True)
    conversation = json.load(open(conversation_file))
    batch = processor(conversations=[conversation], return_tensors="pt")
    accepted = inspect.signature(model.forward).parameters  # `speaker_ids` only once the model takes it
    with torch.no_grad():
        logits = model(**{key: value for key, value in batch.items() if key in accepted}).logits
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
        expected = model(**model_inputs(model, processor(conversations=[conversation]))).logits.numpy()

    info = run_fresh_process(LOADER, [checkpoint, conversation_file, output_file], tmp_path)
    assert info["model_class"] == "M2FNetForEmotionRecognition"
    assert info["model_module"].startswith("transformers_modules"), info["model_module"]
    assert info["config_class"] == "M2FNetConfig"
    classes = (info["processor_class"], info["feature_extractor_class"], info["image_processor_class"])
    assert classes == ("M2FNetProcessor", "M2FNetFeatureExtractor", "M2FNetImageProcessor")
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
    code_files = {path.name: path.read_text() for path in checkpoint.glob("*.py")}
    assert "pipeline_m2fnet.py" in code_files and "media_utils.py" in code_files
    assert foreign_top_level_imports(code_files) == []
