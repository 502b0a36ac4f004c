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
"""Evaluates a saved M2FNet (local folder or Hub id, loaded with `trust_remote_code=True`) on one split.

```bash
python examples/evaluate.py --model_name_or_path outputs/m2fnet-toy                      # toy validation split
python examples/evaluate.py --model_name_or_path org/m2fnet-meld --revision <sha> --dataset_dir out/meld --split test
accelerate launch examples/evaluate.py --model_name_or_path out/run --features_dir out/meld-features --split test
```

Writes `<output_dir>/results.json` (weighted / macro F1, accuracy, per-class F1, support, confusion matrix, model,
split, wall time, machine) and `<output_dir>/confusion_matrix_<split>.png`, and prints the metrics table. The data
arguments are those of `examples/train_m2fnet.py` (the toy data is regenerated from the same `--toy_*` settings).
"""

import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


EXAMPLES_DIR = Path(__file__).resolve().parent
REPO_ROOT = EXAMPLES_DIR.parent
# This file is named like the 🤗 `evaluate` library: take `examples/` off `sys.path` so that `import evaluate` (here
# and in train_m2fnet.py) finds the library, and import the repository from its root.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != EXAMPLES_DIR]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import datasets  # noqa: E402
import transformers  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from accelerate.logging import get_logger  # noqa: E402
from transformers import AutoModel, AutoProcessor, HfArgumentParser  # noqa: E402

from examples.train_m2fnet import (  # noqa: E402
    RESULTS_NAME,
    DataArguments,
    build_dataloader,
    dataset_label_names,
    evaluate_model,
    format_metrics_table,
    label_mapping,
    load_metric,
    load_raw_datasets,
    machine_info,
    make_collator,
    plot_confusion_matrix,
    prepare_split,
    write_json,
)


logger = get_logger(__name__)


@dataclass
class EvaluationArguments:
    """The model to evaluate, the split, and where the report goes."""

    model_name_or_path: str = field(
        default="outputs/m2fnet-toy",
        metadata={"help": "A saved M2FNet folder or Hub id (loaded with `trust_remote_code=True`)."},
    )
    revision: str | None = field(
        default=None, metadata={"help": "Hub revision (branch, tag or commit sha: pin the code you execute)."}
    )
    split: str = field(default="validation", metadata={"help": "The split to score."})
    output_dir: str | None = field(
        default=None, metadata={"help": "Where the report goes; defaults to <model folder>/eval_<split>."}
    )
    per_device_eval_batch_size: int = field(default=16, metadata={"help": "Dialogues per batch and process."})
    save_plots: bool = field(default=True, metadata={"help": "Write the confusion-matrix PNG."})

    def __post_init__(self):
        if self.per_device_eval_batch_size < 1:
            raise ValueError(f"--per_device_eval_batch_size must be >= 1, got {self.per_device_eval_batch_size}.")


def parse_args(argv: list[str] | None = None) -> tuple[EvaluationArguments, DataArguments]:
    """Parses the command line, or a single `.json` file holding the same arguments."""
    parser = HfArgumentParser((EvaluationArguments, DataArguments), description=__doc__.split("\n")[0])
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) == 1 and argv[0].endswith(".json"):
            return parser.parse_json_file(json_file=argv[0])
        *parsed, unknown = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except ValueError as error:
        parser.error(str(error))
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return tuple(parsed)


def main(argv: list[str] | None = None) -> dict:
    eval_args, data_args = parse_args(argv)
    start_time = time.time()
    accelerator = Accelerator()
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    if not accelerator.is_local_main_process:
        transformers.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()

    # What a user of a Hub checkpoint runs: the checkpoint's own code, through the Auto classes.
    model = AutoModel.from_pretrained(
        eval_args.model_name_or_path, trust_remote_code=True, revision=eval_args.revision
    )
    label_names = [model.config.id2label[index] for index in range(model.config.num_labels)]
    processor = None
    if data_args.source != "features":
        processor = AutoProcessor.from_pretrained(
            eval_args.model_name_or_path, trust_remote_code=True, revision=eval_args.revision
        )
        processor.label_names = label_names

    with accelerator.main_process_first():
        raw = load_raw_datasets(data_args)
    if eval_args.split not in raw:
        raise ValueError(f"The data has no {eval_args.split!r} split (splits: {list(raw)}).")
    label_map = label_mapping(dataset_label_names(raw, data_args.source, data_args.features_dir), label_names)
    collate_fn = make_collator(
        data_args.source, processor, model.config.modalities, data_args.max_utterances, label_map
    )
    dataloader = build_dataloader(
        prepare_split(raw[eval_args.split], data_args.source, label_map),
        collate_fn,
        eval_args.per_device_eval_batch_size,
        data_args.dataloader_num_workers,
        seed=0,
        shuffle=False,
    )
    model, dataloader = accelerator.prepare(model, dataloader)

    results = evaluate_model(model, dataloader, accelerator, load_metric(accelerator), label_names)
    output_dir = Path(eval_args.output_dir or Path(eval_args.model_name_or_path) / f"eval_{eval_args.split}")
    report = {
        "model_name_or_path": eval_args.model_name_or_path,
        "revision": eval_args.revision,
        "source": data_args.source,
        "split": eval_args.split,
        eval_args.split: results,
        "args": {"evaluation": asdict(eval_args), "data": asdict(data_args)},
        "wall_time_seconds": round(time.time() - start_time, 2),
        "machine": machine_info(accelerator),
    }
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        write_json(output_dir / RESULTS_NAME, report)
        if eval_args.save_plots:
            plot_confusion_matrix(
                results,
                f"{eval_args.model_name_or_path}, {eval_args.split} split",
                output_dir / f"confusion_matrix_{eval_args.split}.png",
            )
        logger.info(
            f"{eval_args.model_name_or_path} on {data_args.source}/{eval_args.split}; report in "
            f"{output_dir / RESULTS_NAME}\n\n" + format_metrics_table({eval_args.split: results})
        )
    return report


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as error:  # bad input or data: a message naming it, not a traceback
        sys.exit(f"evaluate.py: error: {error}")
