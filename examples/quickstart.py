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
"""Quickstart: build a small random M2FNet, save it with its code, reload it with `AutoModel` and run a conversation.

    python examples/quickstart.py [--output_dir outputs/quickstart-m2fnet]

Everything happens offline: the tokenizer is trained on the sample conversation, the weights are random (the
predictions are therefore arbitrary; `examples/train_m2fnet.py` trains one). The point is the full path a user
takes with a Hub checkpoint: `save_pretrained` writes weights, config with `auto_map`, processor files and the
modeling code; `AutoModel` / `AutoProcessor` with `trust_remote_code=True` load them back.
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from transformers import AutoModel, AutoProcessor  # noqa: E402

from m2fnet_training.tiny_model import build_tiny_m2fnet, load_sample_conversation  # noqa: E402
from modeling_m2fnet import register_auto_classes  # noqa: E402


def save_tiny_checkpoint(output_dir: Path) -> Path:
    """Builds the tiny random model + processor and saves them (with code) atomically to `output_dir`."""
    conversation = load_sample_conversation(SAMPLES_DIR / "conversation.json")
    model, processor = build_tiny_m2fnet(f"{utterance['speaker']}: {utterance['text']}" for utterance in conversation)
    register_auto_classes()
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    model.save_pretrained(staging)
    processor.save_pretrained(staging)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    staging.rename(output_dir)  # a crash above never leaves a half-written checkpoint at `output_dir`
    return output_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", type=Path, default=REPO_ROOT / "outputs" / "quickstart-m2fnet",
                        help="where the checkpoint is written (replaced if it exists)")  # fmt: skip
    args = parser.parse_args(argv)

    checkpoint = save_tiny_checkpoint(args.output_dir)
    print(f"Saved a random tiny M2FNet with its code to {checkpoint}")

    # --- what a user of a Hub checkpoint writes (DESIGN §1) ---
    model = AutoModel.from_pretrained(checkpoint, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(checkpoint, trust_remote_code=True)
    conversation = load_sample_conversation(SAMPLES_DIR / "conversation.json")
    batch = processor(conversations=[conversation], return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)  # out.logits: (batch, n_utterances, n_labels)
    # ---

    probabilities = out.logits.softmax(-1)[0]
    modality_mask = batch["modality_mask"][0]
    print(f"\nloaded {type(model).__name__} from {type(model).__module__}; logits {tuple(out.logits.shape)}\n")
    print(f"{'#':>2}  {'speaker':<8} {'modalities':<18} {'prediction':<10} {'p':>5}  text")
    for index, utterance in enumerate(conversation):
        label_id = int(probabilities[index].argmax())
        used = "+".join(name for name, on in zip(("text", "audio", "visual"), modality_mask[index].tolist()) if on)
        print(
            f"{index:>2}  {utterance['speaker']:<8} {used:<18} {model.config.id2label[label_id]:<10} "
            f"{probabilities[index, label_id].item():>5.2f}  {utterance['text']}"
        )
    print("\n(random weights: predictions are arbitrary until you train, see README)")


if __name__ == "__main__":
    main()
