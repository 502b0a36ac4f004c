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
"""Quickstart: build a small random M2FNet, save it with its code, and load it back as a Hub user would.

    python examples/quickstart.py [--output_dir outputs/quickstart-m2fnet]

Everything happens offline: the tokenizer is trained on the sample conversation and the weights are random (the
predictions are therefore arbitrary; `examples/train_m2fnet.py` trains a model). The first half saves weights,
config with `auto_map`, processor files and the modeling code (`save_pretrained` after `register_auto_classes`).
The second half runs in a fresh Python process in which this repository cannot be imported (a meta-path hook hides
it, even when it is pip-installed), so the classes that answer are the copies saved next to the weights, loaded by
`AutoModel` / `AutoProcessor` with `trust_remote_code=True`, exactly as on a machine that has only the checkpoint.
"""

import argparse
import subprocess
import sys
from pathlib import Path


SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
REPOSITORY_PACKAGES = ("modeling_m2fnet", "m2fnet_training", "datasets_scripts")


class HideRepository:
    """A meta-path finder that makes this repository's packages unimportable in the current process."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REPOSITORY_PACKAGES:
            raise ImportError(f"{name} is hidden: this process only has the checkpoint")
        return None


def save_checkpoint(output_dir: Path) -> Path:
    """Builds the tiny random model + processor and saves them, with the code, atomically to `output_dir`."""
    from m2fnet_training.model_building import save_m2fnet
    from m2fnet_training.tiny_model import build_tiny_m2fnet, load_sample_conversation

    conversation = load_sample_conversation(SAMPLES_DIR / "conversation.json")
    model, processor = build_tiny_m2fnet(f"{utterance['speaker']}: {utterance['text']}" for utterance in conversation)
    return save_m2fnet(model, processor, output_dir, overwrite=True)


def load_and_predict(checkpoint: str) -> None:
    """What a user of the checkpoint writes (only torch and transformers are needed for text)."""
    sys.meta_path.insert(0, HideRepository())
    import json

    import torch
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(checkpoint, trust_remote_code=True, use_safetensors=True).eval()
    processor = AutoProcessor.from_pretrained(checkpoint, trust_remote_code=True)
    conversation = json.loads((SAMPLES_DIR / "conversation.json").read_text(encoding="utf-8"))
    for utterance in conversation:  # media paths are relative to the samples folder
        for key in ("audio", "video"):
            if utterance.get(key):
                utterance[key] = str(SAMPLES_DIR / utterance[key])
    batch = processor(conversations=[conversation], return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)  # out.logits: (batch, n_utterances, n_labels)

    probabilities = out.logits.softmax(-1)[0]
    print(f"loaded {type(model).__name__} from {type(model).__module__} (the checkpoint's copy of the code)")
    print(
        f"logits {tuple(out.logits.shape)}\n\n{'#':>2}  {'speaker':<8} {'modalities':<18} {'prediction':<10} {'p':>5}  text"
    )
    for index, utterance in enumerate(conversation):
        label_id = int(probabilities[index].argmax())
        used = "+".join(
            name for name, on in zip(processor.modalities, batch["modality_mask"][0, index].tolist()) if on
        )
        print(
            f"{index:>2}  {utterance['speaker']:<8} {used:<18} {model.config.id2label[label_id]:<10} "
            f"{probabilities[index, label_id].item():>5.2f}  {utterance['text']}"
        )
    print("\n(random weights: predictions are arbitrary until you train, see README)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output_dir", type=Path, default=Path("outputs/quickstart-m2fnet"), help="Checkpoint folder (replaced)."
    )
    parser.add_argument("--load_only", metavar="CHECKPOINT", help=argparse.SUPPRESS)  # the second half
    args = parser.parse_args(argv)
    if args.load_only:
        load_and_predict(args.load_only)
        return
    checkpoint = save_checkpoint(args.output_dir)
    print(f"Saved a random tiny M2FNet with its code to {checkpoint}\n")
    subprocess.run([sys.executable, __file__, "--load_only", str(checkpoint)], check=True)


if __name__ == "__main__":
    main()
