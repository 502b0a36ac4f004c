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
"""MELD, text only, from the official CSVs to the final numbers: frozen baseline, stage 1, stage 2 over 3 seeds.

    python benchmarks/meld_text_recipe.py --data_dir path/to/MELD --text_encoder local_models/all-mpnet-base-v2

`--data_dir` holds MELD's `train_sent_emo.csv` and `dev_sent_emo.csv` (and `test_sent_emo.csv` when you have it:
test figures are then reported too, for the epochs selected on validation only). Each step runs the documented
command-line script, in order; a step whose output exists is skipped, so an interrupted recipe resumes (and each
training script resumes from its own checkpoints). Writes `benchmarks/results/meld_text.json` (`--results`):

| configuration | what it is |
|---|---|
| `frozen` | the text encoder as is (mean pooling, no context), M2FNet's dialogue level on its features |
| `stage1` | the text encoder fine-tuned on the utterance labels with its neighbours (first token), alone |
| `stage1+dialogue` | M2FNet's dialogue level on the first-token features of the fine-tuned encoder |

The dialogue level is trained with 3 seeds (`--seeds`) and reported as mean ± standard deviation; stage 1 once
(one seed: a CPU epoch of all-mpnet-base-v2 with all layers trained takes 30 to 40 minutes). Wall times are measured per step.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"
# All layers: the best measured setting (benchmarks/RESULTS.md). `--stage1_args` swaps in another, e.g. the top 4 layers
# on cached lower-layer states at about two thirds of the CPU time.
DEFAULT_STAGE1 = [
    *("--num_trainable_layers", "all", "--num_train_epochs", "5", "--learning_rate", "3e-5"),
    *("--mixed_precision", "bf16", "--seed", "42"),
]
FROZEN_NAME = "frozen text encoder (mean pooling, no context) + M2FNet dialogue level"
STAGE1_NAME = "stage 1: text encoder fine-tuned on the utterance labels (first token, previous + next utterance)"
TUNED_NAME = "stage 1 + M2FNet dialogue level (first-token features of the fine-tuned encoder)"
DEFAULT_STAGE2 = [
    *("--num_train_epochs", "10", "--per_device_train_batch_size", "8", "--learning_rate", "5e-4"),
    *("--weight_decay", "5e-4"),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, help="Folder with MELD's official CSVs.")
    parser.add_argument("--text_encoder", required=True, help="Pretrained text encoder (folder or Hub id).")
    parser.add_argument("--work_dir", default="outputs/meld-text-recipe", help="Where every step writes.")
    parser.add_argument("--results", default=str(REPO_ROOT / "benchmarks" / "results" / "meld_text.json"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44], help="Seeds of the dialogue level.")
    parser.add_argument("--num_threads", type=int, default=1, help="torch threads per process.")
    parser.add_argument("--stage1_dir", help="Use this finished stage-1 output instead of training one.")
    parser.add_argument("--stage1_args", nargs=argparse.REMAINDER, default=None, help="Replace the stage-1 settings.")
    return parser.parse_args()


class Recipe:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work_dir).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        # Wall times survive an interrupted recipe: a rerun skips finished steps but still reports their time.
        self.log_path = self.work / "recipe_log.json"
        log = json.loads(self.log_path.read_text(encoding="utf-8")) if self.log_path.is_file() else {}
        self.times: dict[str, float] = log.get("times", {})
        self.commands: dict[str, str] = {}

    def run(self, name: str, script: str, arguments: list, done: Path) -> None:
        """Runs `examples/<script>` unless `done` exists; records the command and its wall time."""
        command = [sys.executable, str(EXAMPLES / script), *map(str, arguments)]
        self.commands[name] = " ".join(["python", f"examples/{script}", *map(str, arguments)])
        if done.exists():
            print(f"[{name}] done already ({done})", flush=True)
            return
        print(f"[{name}] {self.commands[name]}", flush=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(self.args.num_threads), "TOKENIZERS_PARALLELISM": "false"}
        start = time.time()
        subprocess.run(command, check=True, env=env)
        self.times[name] = round(time.time() - start, 1)
        self.log_path.write_text(json.dumps({"times": self.times}, indent=2), encoding="utf-8")

    def threads(self) -> list[str]:
        return ["--num_threads", str(self.args.num_threads)]

    def splits(self) -> list[str]:
        has_test = (Path(self.args.data_dir) / "test_sent_emo.csv").is_file()
        return ["train", "validation", *(["test"] if has_test else [])]

    def build(self) -> Path:
        dataset = self.work / "datasets" / "meld-text"
        arguments = ["meld", "--config", "text", "--data_dir", self.args.data_dir, "--splits", *self.splits()]
        self.run("build_dataset", "build_dataset.py", [*arguments, "--output_dir", dataset], dataset)
        return dataset

    def features(self, name: str, text_encoder, dataset: Path, extra: list) -> Path:
        model = self.work / "models" / name
        features = self.work / "features" / name
        build = ["--text_encoder", text_encoder, "--modalities", "text", "--dataset_dir", dataset, *extra]
        self.run(f"build_model[{name}]", "build_model.py", [*build, "--output_dir", model], model)
        extract = ["--model", model, "--dataset", dataset, "--output_dir", features, *self.threads()]
        self.run(f"extract_features[{name}]", "extract_features.py", extract, features)
        return features

    def dialogue_level(self, name: str, features: Path) -> list[dict]:
        runs = []
        for seed in self.args.seeds:
            output = self.work / "dialogue" / f"{name}-seed{seed}"
            arguments = [
                *("--model_name_or_path", self.work / "models" / name, "--features_dir", features),
                *("--output_dir", output, "--seed", seed, *DEFAULT_STAGE2, *self.threads()),
                *("--checkpointing_steps", "epoch", "--resume_from_checkpoint", "latest"),
            ]
            self.run(f"train_m2fnet[{name}, seed {seed}]", "train_m2fnet.py", arguments, output / "results.json")
            runs.append(json.loads((output / "results.json").read_text(encoding="utf-8")))
        return runs

    def stage1(self, dataset: Path) -> Path:
        if self.args.stage1_dir:
            return Path(self.args.stage1_dir)
        output = self.work / "stage1"
        arguments = [
            *("--modality", "text", "--text_encoder", self.args.text_encoder, "--dataset_dir", dataset),
            *("--output_dir", output, *(self.args.stage1_args or DEFAULT_STAGE1), *self.threads()),
            *("--resume_from_checkpoint", "latest"),
        ]
        self.run("train_extractor[text]", "train_extractor.py", arguments, output / "results.json")
        return output


def summarise(name: str, runs: list[dict], fine_tuned: bool, command: str, wall_time: float, seeds: list) -> dict:
    """One configuration: mean ± std (percent) over the runs, per-class F1 means, test when present."""

    def mean_std(split: str, key: str) -> tuple[float, float | None]:
        values = [100 * run[split][key] for run in runs]
        return round(statistics.mean(values), 2), round(statistics.stdev(values), 2) if len(values) > 1 else None

    entry = {"name": name, "fine_tuned": fine_tuned, "seeds": seeds}
    entry["dev_weighted_f1"], entry["dev_weighted_f1_std"] = mean_std("validation", "weighted_f1")
    entry["dev_macro_f1"], entry["dev_macro_f1_std"] = mean_std("validation", "macro_f1")
    entry["dev_accuracy"], _ = mean_std("validation", "accuracy")
    labels = runs[0]["validation"]["per_class_f1"]
    entry["per_class_f1"] = {
        label: round(statistics.mean(100 * run["validation"]["per_class_f1"][label] for run in runs), 2)
        for label in labels
    }
    if all("test" in run for run in runs):
        entry["test_weighted_f1"], entry["test_weighted_f1_std"] = mean_std("test", "weighted_f1")
        entry["test_accuracy"], _ = mean_std("test", "accuracy")
    entry["best_epochs"] = [run["best"]["epoch"] for run in runs]
    entry.update(wall_time_s=wall_time, command=command)
    return entry


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}; load average at the end {os.getloadavg()}"


def main() -> None:
    args = parse_args()
    recipe = Recipe(args)
    dataset = recipe.build()
    frozen = recipe.features("frozen", args.text_encoder, dataset, ["--text_pooling", "mean", "--context_window", "0"])
    frozen_runs = recipe.dialogue_level("frozen", frozen)
    stage1 = recipe.stage1(dataset)
    tuned = recipe.features("stage1", stage1, dataset, [])
    tuned_runs = recipe.dialogue_level("stage1", tuned)

    stage1_report = json.loads((stage1 / "results.json").read_text(encoding="utf-8"))
    times, commands = recipe.times, recipe.commands
    stage1_time = stage1_report.get("wall_time_seconds")

    def steps_of(name: str) -> tuple[str, float | None]:
        keys = [key for key in commands if f"[{name}" in key]
        seconds = sum(times.get(key, 0.0) for key in keys)
        return "; ".join(commands[key] for key in keys), round(seconds, 1) or None

    frozen_command, frozen_time = steps_of("frozen")
    tuned_command, tuned_time = steps_of("stage1")
    stage1_command = commands.get("train_extractor[text]", f"(given with --stage1_dir {stage1}: see its arguments)")
    stage1_seed = [stage1_report["args"]["training"]["seed"]]
    configurations = [
        summarise(FROZEN_NAME, frozen_runs, False, frozen_command, frozen_time, args.seeds),
        {
            **summarise(STAGE1_NAME, [stage1_report], True, stage1_command, stage1_time, stage1_seed),
            "arguments": stage1_report["args"],
        },
        summarise(TUNED_NAME, tuned_runs, True, tuned_command, tuned_time, args.seeds),
    ]
    payload = {
        "configurations": configurations,
        "data": {"data_dir": args.data_dir, "splits": recipe.splits()},
        "text_encoder": args.text_encoder,
        "step_wall_times_s": times,
        "machine": machine(),
        "command": "python benchmarks/meld_text_recipe.py " + " ".join(sys.argv[1:]),
    }
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'configuration':<90} {'dev wF1':>14} {'macro F1':>9}")
    for entry in configurations:
        std = f" ± {entry['dev_weighted_f1_std']:.2f}" if entry["dev_weighted_f1_std"] is not None else ""
        print(f"{entry['name']:<90} {entry['dev_weighted_f1']:>7.2f}{std:<7} {entry['dev_macro_f1']:>9.2f}")
    print(f"\nwritten to {results}")


if __name__ == "__main__":
    main()
