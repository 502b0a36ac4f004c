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
"""Scores a trained M2FNet on one split: weighted / macro F1, accuracy, per-class F1, confusion matrix.

```bash
python examples/evaluate_m2fnet.py --model_name_or_path outputs/m2fnet-toy --split test            # the toy data
python examples/evaluate_m2fnet.py --model_name_or_path outputs/m2fnet-meld-text \
    --features_dir outputs/features/meld-text --split validation                                   # cached features
python examples/evaluate_m2fnet.py --model_name_or_path my-org/m2fnet-meld --revision <sha> \
    --dataset_dir outputs/datasets/meld-raw --split test                                           # raw dialogues
```

The model is loaded the way a Hub user loads it (`AutoModel` / `AutoProcessor` with `trust_remote_code=True`,
safetensors only). The data's labels must be the model's (by name; the order may differ). The report goes to
`<output_dir>/results.json` with a confusion-matrix plot.
"""

import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from accelerate import Accelerator
from torch.utils.data import DataLoader
from transformers import AutoModel, AutoProcessor

from m2fnet_training.arguments import parse_arguments
from m2fnet_training.cli import run_cli
from m2fnet_training.dialogue_training import DataArguments, label_mapping
from m2fnet_training.evaluation import (
    evaluate_model,
    format_metrics_table,
    load_metric,
    machine_info,
    plot_confusion_matrix,
)
from m2fnet_training.io_utils import write_json


logger = logging.getLogger("evaluate_m2fnet")


@dataclass
class EvaluationArguments:
    """The model to evaluate, the split, and where the report goes."""

    model_name_or_path: str = field(
        default="outputs/m2fnet-toy", metadata={"help": "A saved M2FNet folder or Hub id (its own code is run)."}
    )
    revision: str | None = field(default=None, metadata={"help": "Hub revision: pin the code you execute."})
    split: str = field(default="validation", metadata={"help": "The split to score."})
    output_dir: str | None = field(default=None, metadata={"help": "Report folder (default: <model>/eval_<split>)."})
    per_device_eval_batch_size: int = field(default=16, metadata={"help": "Dialogues per batch and process."})
    save_plots: bool = field(default=True, metadata={"help": "Write the confusion-matrix PNG."})

    def __post_init__(self):
        if self.per_device_eval_batch_size < 1:
            raise ValueError(f"--per_device_eval_batch_size must be >= 1, got {self.per_device_eval_batch_size}.")


def main(argv: list[str] | None = None) -> dict:
    eval_args, data_args = parse_arguments(
        (EvaluationArguments, DataArguments), sys.argv[1:] if argv is None else argv, __doc__.splitlines()[0]
    )
    start_time = time.time()
    accelerator = Accelerator()
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    source = data_args.make_source()
    loading = {"trust_remote_code": True, "revision": eval_args.revision}
    model = AutoModel.from_pretrained(eval_args.model_name_or_path, use_safetensors=True, **loading)
    label_names = [model.config.id2label[index] for index in range(model.config.num_labels)]
    processor = (
        AutoProcessor.from_pretrained(eval_args.model_name_or_path, **loading) if source.needs_processor else None
    )
    if processor is not None:
        processor.label_names = label_names
    with accelerator.main_process_first():
        raw = source.load()
    if eval_args.split not in raw:
        raise ValueError(f"The data has no {eval_args.split!r} split (splits: {list(raw)}).")
    label_map = label_mapping(source.label_names(), label_names)
    collate_fn = source.collator(processor, model.config.modalities, data_args.max_utterances, label_map)
    split = source.prepare_split(raw[eval_args.split], label_map)
    dataloader = DataLoader(split, batch_size=eval_args.per_device_eval_batch_size, collate_fn=collate_fn)
    model, dataloader = accelerator.prepare(model, dataloader)
    results = evaluate_model(model, dataloader, accelerator, load_metric(accelerator), label_names)

    output_dir = Path(eval_args.output_dir or Path(eval_args.model_name_or_path) / f"eval_{eval_args.split}")
    report = {
        "model_name_or_path": eval_args.model_name_or_path,
        "revision": eval_args.revision,
        "data": source.describe(),
        "split": eval_args.split,
        eval_args.split: results,
        "args": {"evaluation": asdict(eval_args), "data": asdict(data_args)},
        "wall_time_seconds": round(time.time() - start_time, 2),
        "machine": machine_info(accelerator),
    }
    if accelerator.is_main_process:
        write_json(output_dir / "results.json", report)
        if eval_args.save_plots:
            title = f"{eval_args.model_name_or_path}, {eval_args.split} split"
            plot_confusion_matrix(results, title, output_dir / f"confusion_matrix_{eval_args.split}.png")
        logger.info(
            f"{eval_args.model_name_or_path} on {source.kind}/{eval_args.split}; report in {output_dir / 'results.json'}"
            "\n\n" + format_metrics_table({eval_args.split: results})
        )
    return report


if __name__ == "__main__":
    run_cli(main)
