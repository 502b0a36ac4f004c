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
"""Trains M2FNet for emotion recognition in conversation with 🤗 Accelerate: the dialogue level, or end to end.

```bash
# the main job: M2FNet (text, audio, visual, attention fusion) on the embedded synthetic dataset, plus the text-only
# ablation, on a tiny random model (under a minute on 2 CPU cores)
python examples/train_m2fnet.py
# the same with 2 CPU processes (gloo)
ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 examples/train_m2fnet.py --per_device_train_batch_size 4
# stage 2 of the paper: the dialogue level on cached utterance embeddings (examples/extract_features.py)
accelerate launch examples/train_m2fnet.py --model_name_or_path out/m2fnet-init --features_dir out/meld-features
# end to end from a built dataset (examples/build_dataset.py): raw text and media through the processor
accelerate launch examples/train_m2fnet.py --model_name_or_path out/m2fnet-init --dataset_dir out/meld --freeze_text_encoder
# all arguments from one JSON file; resume an interrupted run from its last complete checkpoint
python examples/train_m2fnet.py args.json
python examples/train_m2fnet.py --checkpointing_steps 50 --resume_from_checkpoint latest
```

Outputs in `--output_dir`: the best model (by validation weighted F1) with its processor and code, loadable with
`AutoModel.from_pretrained(output_dir, trust_remote_code=True)`; `results.json` (validation and test metrics,
per-class F1, confusion matrices, history, data source, config, arguments, wall time, machine, ablations);
`confusion_matrix_*.png`, `loss_curve.png`, `validation_f1.png`; `checkpoints/checkpoint-<step>/` when
`--checkpointing_steps` is set (the newest `--checkpoints_total_limit` are kept); `ablations/<modalities>/` with
`--ablations` (default on the toy data: `text`).
"""

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from accelerate import PartialState

from m2fnet_training.arguments import parse_arguments
from m2fnet_training.cli import run_cli
from m2fnet_training.dialogue_training import (
    DataArguments,
    DialogueTrainingArguments,
    ModelArguments,
    train_dialogue_level,
)
from m2fnet_training.io_utils import write_json


@dataclass
class AblationArguments:
    """Paper-style ablations trained after the main run with the same recipe (fewer modalities)."""

    ablations: list[str] | None = field(
        default=None,
        metadata={
            "help": "Modality sets to train as ablations, e.g. `text text+audio`; each goes to "
            "<output_dir>/ablations/<set> and its scores into results.json. Default: `text` on the toy data, "
            "none otherwise. Pass `none` to skip."
        },
    )


def _ablation_sets(ablation_args: AblationArguments, data_args: DataArguments) -> list[list[str]]:
    sets = ablation_args.ablations
    if sets is None:
        sets = ["text"] if not (data_args.dataset_dir or data_args.features_dir) else []
    if sets == ["none"]:
        return []
    return [item.split("+") for item in sets]


def main(argv: list[str] | None = None) -> dict:
    arguments = (ModelArguments, DataArguments, DialogueTrainingArguments, AblationArguments)
    model_args, data_args, training_args, ablation_args = parse_arguments(
        arguments, sys.argv[1:] if argv is None else argv, __doc__.splitlines()[0]
    )
    report = train_dialogue_level(model_args, data_args, training_args)
    ablations = {}
    for modalities in _ablation_sets(ablation_args, data_args):
        name = "+".join(modalities)
        ablation_model = dataclasses.replace(model_args, modalities=modalities)
        ablation_training = dataclasses.replace(
            training_args, output_dir=str(Path(training_args.output_dir) / "ablations" / name), save_plots=False
        )
        result = train_dialogue_level(ablation_model, data_args, ablation_training)
        ablations[name] = {
            split: {key: result[split][key] for key in ("weighted_f1", "macro_f1", "accuracy", "per_class_f1")}
            for split in (data_args.validation_split, data_args.test_split)
            if split in result
        }
    if ablations:
        modalities = "+".join(report["config"]["modalities"])
        ablations[modalities] = {
            split: {key: report[split][key] for key in ("weighted_f1", "macro_f1", "accuracy", "per_class_f1")}
            for split in (data_args.validation_split, data_args.test_split)
            if split in report
        }
        report["ablations"] = ablations
        if not PartialState().is_main_process:
            return report
        write_json(Path(training_args.output_dir) / "results.json", report)
        lines = [f"{'modalities':<22}" + "".join(f"{split + ' wF1':>18}" for split in next(iter(ablations.values())))]
        for name, scores in ablations.items():
            lines.append(f"{name:<22}" + "".join(f"{values['weighted_f1']:>18.4f}" for values in scores.values()))
        print("\nAblations (weighted F1):\n" + "\n".join(lines))
    return report


if __name__ == "__main__":
    run_cli(main)
