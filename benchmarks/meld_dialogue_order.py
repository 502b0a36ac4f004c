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
"""Does order help the dialogue level? Positions and speaker turns on MELD dev, frozen features, 3 seeds each.

    python benchmarks/meld_dialogue_order.py --model outputs/meld-text-recipe/models/frozen \\
        --features_dir outputs/meld-text-recipe/features/frozen

`--model` / `--features_dir` are the frozen text encoder's M2FNet and its cached features, as
`benchmarks/meld_text_recipe.py` writes them (mean pooling, no neighbouring utterances: the setting in which the
dialogue level is the only place where order can enter). Each variant trains the dialogue level with the recipe's
settings and 3 seeds; results (mean ± std of dev weighted F1, macro F1, per-class F1) go to
`benchmarks/results/meld_dialogue_order.json`. Finished runs are reused.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "none (paper)": "dialogue_position_embedding=none",
    "absolute positions": "dialogue_position_embedding=absolute",
    "relative positions": "dialogue_position_embedding=relative",
    "speaker embeddings": "use_speaker_embeddings=true",
    "relative positions + speaker embeddings": "dialogue_position_embedding=relative,use_speaker_embeddings=true",
}
STAGE2 = ["--num_train_epochs", "10", "--per_device_train_batch_size", "8", "--learning_rate", "5e-4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="The frozen-encoder M2FNet (build_model.py output).")
    parser.add_argument("--features_dir", required=True, help="Its cached features (extract_features.py output).")
    parser.add_argument("--work_dir", default="outputs/meld-dialogue-order", help="Where the runs go.")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--num_threads", type=int, default=1)
    parser.add_argument(
        "--baseline_dir",
        help="The recipe's `dialogue` folder: its `frozen-seed<N>` runs are the `none` variant (same settings).",
    )
    parser.add_argument("--results", default=str(REPO_ROOT / "benchmarks" / "results" / "meld_dialogue_order.json"))
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.num_threads)}
    rows = []
    for name, overrides in VARIANTS.items():
        runs = []
        for seed in args.seeds:
            output = Path(args.work_dir) / overrides.replace(",", "+").replace("=", "-") / f"seed{seed}"
            if args.baseline_dir and overrides == VARIANTS["none (paper)"]:
                output = Path(args.baseline_dir) / f"frozen-seed{seed}"
            if not (output / "results.json").is_file():
                command = [
                    sys.executable,
                    str(REPO_ROOT / "examples" / "train_m2fnet.py"),
                    "--model_name_or_path",
                    args.model,
                    "--features_dir",
                    args.features_dir,
                    "--output_dir",
                    str(output),
                    "--seed",
                    str(seed),
                    "--config_overrides",
                    overrides,
                    "--num_threads",
                    str(args.num_threads),
                    "--save_plots",
                    "false",
                    *STAGE2,
                ]
                subprocess.run(command, check=True, env=env)
            runs.append(json.loads((output / "results.json").read_text(encoding="utf-8")))
        values = [100 * run["validation"]["weighted_f1"] for run in runs]
        macro = [100 * run["validation"]["macro_f1"] for run in runs]
        labels = runs[0]["validation"]["per_class_f1"]
        rows.append(
            {
                "variant": name,
                "config_overrides": overrides,
                "seeds": args.seeds,
                "dev_weighted_f1": round(statistics.mean(values), 2),
                "dev_weighted_f1_std": round(statistics.stdev(values), 2),
                "dev_macro_f1": round(statistics.mean(macro), 2),
                "per_seed": [round(value, 2) for value in values],
                "per_class_f1": {
                    label: round(statistics.mean(100 * run["validation"]["per_class_f1"][label] for run in runs), 2)
                    for label in labels
                },
                "wall_time_s": round(sum(run["wall_time_seconds"] for run in runs), 1),
            }
        )
        print(f"{name:<45} {rows[-1]['dev_weighted_f1']:6.2f} ± {rows[-1]['dev_weighted_f1_std']:.2f}", flush=True)
    payload = {
        "variants": rows,
        "model": args.model,
        "features_dir": args.features_dir,
        "command": "python benchmarks/meld_dialogue_order.py " + " ".join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} cores; load average at the end {os.getloadavg()}",
    }
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.results}")


if __name__ == "__main__":
    main()
