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
"""Writes `m2fnet_reference.safetensors`: a tiny M2FNet's weights, inputs, outputs and gradients (regression pin).

Runbook. The committed file was made with the package as it was before the performance work (commit 8692698), so
that `tests/test_regression_m2fnet.py` checks that the current code computes the same numbers:

```bash
python -c "import sys; sys.path.insert(0, 'benchmarks'); from _common import export_package; \
    export_package('8692698', '/tmp/m2fnet_ref')"
python tests/artifacts/make_m2fnet_reference.py --package_dir /tmp/m2fnet_ref/m2fnet_baseline
```

That revision names the visual extractor `vision_model` and its config `vision_config`; the committed file uses
today's names (`weights.m2fnet.visual_model.*`, renamed in 9193a40, numbers unchanged), and `reference_config` /
`build_reference` translate them when given a package of that age.

Attention maps: the file's maps come from the padded layout of that revision, where a padded utterance (and, in a
dialogue encoder, an utterance without the modality) still had a row of probabilities that fed no output. The
current model returns those rows as zero; the regression test compares the other rows and checks these are zero.
The numbers of every output and gradient are unchanged, so the file was not regenerated.

Regenerate it (without `--package_dir`, i.e. with the working tree's `modeling_m2fnet`) only when a change of the
model's numbers is intended, and say so in the commit message.

What it holds: the model weights (`weights.*`), the inputs (`inputs.*`), and for three cases the outputs, the
attention maps and statistics of the gradient of every parameter (sum, absolute sum, sum of squares): `raw` (token
ids with trailing all-padding columns, log-mels, frames and faces, eval mode), `embeds` (precomputed utterance
embeddings, eval mode) and `train` (raw inputs in training mode with every dropout at 0, so batch norm uses batch
statistics). The batch has padded utterances, missing modalities and a dialogue without any audio (a fusion attention
with no valid key).
"""

import argparse
import importlib
import sys
from pathlib import Path


ARTIFACT = Path(__file__).resolve().parent / "m2fnet_reference.safetensors"
ENCODER_CONFIG = {"model_type": "resnet", "layer_type": "basic", "depths": [1, 1], "hidden_sizes": [8, 16]}
ENCODER_CONFIG["embedding_size"] = 8
TEXT_CONFIG = {
    "model_type": "bert",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "vocab_size": 99,
    "max_position_embeddings": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}
CASES = ("raw", "embeds", "train")


def reference_config(package, **overrides):
    """The tiny config (2 encoder layers, 2 fusion layers) of the reference model, built with `package`."""
    kwargs = {
        "text_config": dict(TEXT_CONFIG),
        "audio_config": {"projection_dim": 16, "encoder_config": dict(ENCODER_CONFIG)},
        "visual_config": {"projection_dim": 8, "encoder_config": dict(ENCODER_CONFIG)},
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 48,
        "num_fusion_layers": 2,
        "fusion_num_attention_heads": 2,
        "classifier_hidden_size": 24,
    }
    kwargs.update(overrides)
    if _uses_vision_names(package):
        kwargs["vision_config"] = kwargs.pop("visual_config")
    return package.M2FNetConfig(**kwargs)


def _uses_vision_names(package) -> bool:
    """Whether `package` predates the `visual_*` names (9193a40): `vision_config`, `vision_model`."""
    return not hasattr(package, "M2FNetVisualConfig")


def current_name(name: str) -> str:
    """A tensor name of the artifact in today's spelling (`vision_model` became `visual_model`)."""
    return name.replace(".vision_model.", ".visual_model.")


def reference_inputs():
    """A padded batch of 3 dialogues (5, 3 and 1 utterances) with missing modalities, from a fixed seed."""
    import torch

    generator = torch.Generator().manual_seed(0)
    batch_size, num_utterances, seq_length = 3, 5, 12
    utterance_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    modality_mask = utterance_mask[..., None].repeat(1, 1, 3)
    modality_mask[0, 2, 1] = 0  # no audio
    modality_mask[0, 4, 2] = 0  # no video
    modality_mask[0, 3, 0] = 0  # no text
    modality_mask[1, :, 1] = 0  # a dialogue without any audio
    lengths = torch.randint(3, 9, (batch_size, num_utterances), generator=generator)  # 4 trailing padding columns
    attention_mask = (torch.arange(seq_length) < lengths[..., None]).long()
    input_ids = torch.randint(5, 99, (batch_size, num_utterances, seq_length), generator=generator) * attention_mask
    frames = torch.randint(20, 41, (batch_size, num_utterances), generator=generator)
    audio_attention_mask = (torch.arange(40) < frames[..., None]).long()
    face_weights = torch.rand(batch_size, num_utterances, 2, 2, generator=generator)
    face_weights[..., 1] = torch.where(face_weights[..., 1] > 0.5, face_weights[..., 1], 0.0)  # some empty slots
    face_weights[0, 1, 0] = 0.0  # a frame without a face
    face_weights = face_weights / face_weights.sum(-1, keepdim=True).clamp(min=1e-6)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "input_features": torch.randn(batch_size, num_utterances, 16, 40, generator=generator),
        "audio_attention_mask": audio_attention_mask,
        "pixel_values": torch.randn(batch_size, num_utterances, 2, 3, 16, 16, generator=generator),
        "face_pixel_values": torch.randn(batch_size, num_utterances, 2, 2, 3, 8, 8, generator=generator),
        "face_weights": face_weights,
        "utterance_mask": utterance_mask,
        "modality_mask": modality_mask,
        "labels": torch.randint(0, 7, (batch_size, num_utterances), generator=generator),
        "text_embeds": torch.randn(batch_size, num_utterances, 32, generator=generator),
        "audio_embeds": torch.randn(batch_size, num_utterances, 16, generator=generator),
        "visual_embeds": torch.randn(batch_size, num_utterances, 16, generator=generator),
    }


RAW_KEYS = (
    "input_ids",
    "attention_mask",
    "input_features",
    "audio_attention_mask",
    "pixel_values",
    "face_pixel_values",
    "face_weights",
    "utterance_mask",
    "modality_mask",
    "labels",
)
EMBED_KEYS = ("text_embeds", "audio_embeds", "visual_embeds", "utterance_mask", "modality_mask", "labels")
OUTPUT_KEYS = (
    "loss",
    "logits",
    "last_hidden_state",
    "fused_features",
    "text_features",
    "audio_features",
    "visual_features",
)


def run_case(model, inputs: dict, case: str, with_maps: bool = True) -> dict:
    """
    Forward and backward of one case; returns flat named tensors. With `with_maps`, the forward also returns the
    attention maps and the fusion hidden states (which the model computes in the padded dialogue layout); without,
    it takes the model's default path (real utterances packed).
    """
    import torch

    model.zero_grad(set_to_none=True)
    model.train(case == "train")
    keys = EMBED_KEYS if case == "embeds" else RAW_KEYS
    output = model(**{key: inputs[key] for key in keys}, output_attentions=with_maps, output_hidden_states=with_maps)
    output.loss.backward()
    tensors = {f"{case}.{key}": getattr(output, key).detach() for key in OUTPUT_KEYS}
    if with_maps:
        tensors[f"{case}.attentions"] = torch.stack(output.attentions).detach()
        tensors[f"{case}.encoder_attentions"] = torch.stack(output.encoder_attentions).detach()
        tensors[f"{case}.hidden_states"] = torch.stack(output.hidden_states).detach()
    for name, parameter in model.named_parameters():
        if parameter.grad is not None:
            tensors[f"{case}.grad.{name}"] = gradient_statistics(parameter.grad)
    return tensors


def gradient_statistics(gradient):
    """`[sum, sum of absolute values, sum of squares]` of a gradient (what the artifact keeps per parameter)."""
    import torch

    gradient = gradient.detach().double()
    return torch.stack([gradient.sum(), gradient.abs().sum(), gradient.square().sum()])


def build_reference(package) -> dict:
    """All tensors of the artifact, computed with `package` (a `modeling_m2fnet` of any revision)."""
    import torch

    torch.manual_seed(0)
    train_config = reference_config(package, hidden_dropout_prob=0.0, attention_dropout=0.0, classifier_dropout=0.0)
    model = package.M2FNetForEmotionRecognition(train_config)
    weights = {f"weights.{name}": value.detach().clone() for name, value in model.state_dict().items()}
    inputs = reference_inputs()
    tensors = {**weights, **{f"inputs.{key}": value for key, value in inputs.items()}}
    for case in CASES:
        model.load_state_dict({name[len("weights.") :]: value for name, value in weights.items()})
        tensors.update(run_case(model, inputs, case))
    return {current_name(name): value for name, value in tensors.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--package_dir",
        default=None,
        help="A `modeling_m2fnet` folder of another revision (default: the working tree's).",
    )
    parser.add_argument("--output", default=str(ARTIFACT), help="Where to write the safetensors file.")
    args = parser.parse_args(argv)
    from safetensors.torch import save_file

    if args.package_dir:
        package_dir = Path(args.package_dir).resolve()
        sys.path.insert(0, str(package_dir.parent))
        package = importlib.import_module(package_dir.name)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        package = importlib.import_module("modeling_m2fnet")
    tensors = {name: value.contiguous() for name, value in build_reference(package).items()}
    save_file(tensors, args.output, metadata={"package": str(Path(package.__file__).parent)})
    size = Path(args.output).stat().st_size
    print(f"wrote {len(tensors)} tensors ({size / 1024:.0f} KiB) to {args.output} with {package.__file__}")


if __name__ == "__main__":
    main()
