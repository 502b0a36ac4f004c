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
"""Command-line arguments shared by the training scripts, and the run set-up they share (Accelerator, logging)."""

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

import datasets
import torch
import transformers
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers import HfArgumentParser, SchedulerType

from .checkpointing import DEFAULT_CHECKPOINTS_TOTAL_LIMIT


logger = logging.getLogger(__name__)


_POSITIVE_FIELDS = (
    "num_train_epochs",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "logging_steps",
)


@dataclass
class TrainingLoopArguments:
    """The optimisation loop: epochs, batches, AdamW, schedule, checkpoints, threads. Stages override the defaults."""

    output_dir: str = field(
        default="outputs/run", metadata={"help": "Where models, results, plots and checkpoints go."}
    )
    seed: int = field(default=42, metadata={"help": "Seed of initialisation, shuffling and dropout."})
    num_train_epochs: int = field(default=10, metadata={"help": "Training epochs."})
    max_train_steps: int | None = field(
        default=None, metadata={"help": "Total optimizer steps; overrides --num_train_epochs when set."}
    )
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Training items per batch and process."})
    per_device_eval_batch_size: int = field(default=16, metadata={"help": "Evaluation items per batch and process."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Batches per optimizer step."})
    learning_rate: float = field(default=5e-4, metadata={"help": "AdamW learning rate."})
    weight_decay: float = field(default=5e-4, metadata={"help": "AdamW weight decay (not on biases and norms)."})
    lr_scheduler_type: SchedulerType = field(default="linear", metadata={"help": "Learning-rate schedule."})
    warmup_ratio: float = field(default=0.1, metadata={"help": "Fraction of the steps used for linear warm-up."})
    num_warmup_steps: int | None = field(default=None, metadata={"help": "Warm-up steps; overrides --warmup_ratio."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm (0 disables clipping)."})
    mixed_precision: Literal["no", "fp16", "bf16"] | None = field(
        default=None, metadata={"help": "Mixed precision; defaults to the `accelerate launch` / config setting."}
    )
    report_to: str = field(
        default="none",
        metadata={"help": "Experiment trackers for `Accelerator(log_with=...)`: tensorboard, wandb, all or none."},
    )
    logging_steps: int = field(default=10, metadata={"help": "Log the training loss every N optimizer steps."})
    checkpointing_steps: str | None = field(
        default=None,
        metadata={"help": "Save the training state every N optimizer steps (an integer) or at each `epoch` end."},
    )
    checkpoints_total_limit: int | None = field(
        default=DEFAULT_CHECKPOINTS_TOTAL_LIMIT,
        metadata={"help": "Keep only the N newest checkpoints (each holds the model and optimizer state)."},
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={
            "help": "A checkpoint folder, or `latest`: the newest complete checkpoint of --output_dir (training "
            "starts from scratch when there is none)."
        },
    )
    allow_inexact_resume: bool = field(
        default=False,
        metadata={
            "help": "Resume even when a checkpoint's random-number-generator state is unreadable (a warning is "
            "logged; dropout and shuffling then differ from an uninterrupted run). By default such a resume is refused."
        },
    )
    save_plots: bool = field(default=True, metadata={"help": "Write the PNG plots (matplotlib, Agg backend)."})
    num_threads: int | None = field(
        default=None,
        metadata={
            "help": "CPU threads per process (`torch.set_num_threads`). On a shared machine use 1 per process: "
            "threads competing with other jobs can be many times slower."
        },
    )

    def __post_init__(self):
        for name in _POSITIVE_FIELDS:
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")
        for name in ("max_train_steps", "checkpoints_total_limit", "num_threads", "num_warmup_steps"):
            if getattr(self, name) is not None and getattr(self, name) < (0 if name == "num_warmup_steps" else 1):
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")
        if self.learning_rate <= 0:
            raise ValueError(f"--learning_rate must be > 0, got {self.learning_rate}.")
        if self.weight_decay < 0 or self.max_grad_norm < 0:
            raise ValueError("--weight_decay and --max_grad_norm must be >= 0.")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"--warmup_ratio must be in [0, 1), got {self.warmup_ratio}.")
        if self.checkpointing_steps is not None and self.checkpointing_steps != "epoch":
            if not str(self.checkpointing_steps).isdigit() or int(self.checkpointing_steps) < 1:
                raise ValueError(
                    f"--checkpointing_steps must be a positive integer or 'epoch', got {self.checkpointing_steps!r}."
                )
        self.lr_scheduler_type = SchedulerType(self.lr_scheduler_type)


def parse_arguments(dataclass_types: tuple, argv: list[str] | None = None, description: str | None = None) -> tuple:
    """Parses the command line (or a single `.json` file holding the same arguments) into the given dataclasses."""
    parser = HfArgumentParser(dataclass_types, description=description)
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) == 1 and argv[0].endswith(".json"):
            return parser.parse_json_file(json_file=os.path.abspath(argv[0]))
        *parsed, unknown = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except ValueError as error:  # raised by the dataclasses' checks: report it like any other argparse error
        parser.error(str(error))
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return tuple(parsed)


def parse_config_overrides(overrides: str | None) -> dict[str, Any]:
    """
    `"a=1,b=cls"` -> `{"a": 1, "b": "cls"}` (values parsed as JSON when they can be); a JSON object is taken as is
    (for nested values, e.g. `'{"encoder_config": {...}}'`).
    """
    if overrides and overrides.strip().startswith("{"):
        try:
            parsed = json.loads(overrides)
        except json.JSONDecodeError as error:
            raise ValueError(f"--config_overrides is not valid JSON ({error}).") from None
        if not isinstance(parsed, dict):
            raise ValueError("--config_overrides must be a JSON object or key=value items.")
        return parsed
    parsed = {}
    for item in filter(None, (overrides or "").split(",")):
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"--config_overrides items must look like key=value, got {item!r}.")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value.strip()
    return parsed


_WORLD_SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def _several_processes_requested_but_one_started() -> bool:
    """
    `accelerate launch` with several CPU processes but without MPI (a config file with `distributed_type: MULTI_CPU`,
    or `--cpu --num_processes N`) sets `MASTER_ADDR` for the processes it means to start, then starts one.
    """
    launched_by_accelerate = "ACCELERATE_MIXED_PRECISION" in os.environ or "ACCELERATE_USE_CPU" in os.environ
    has_world = any(os.environ.get(variable) for variable in _WORLD_SIZE_VARIABLES)
    return launched_by_accelerate and "MASTER_ADDR" in os.environ and not has_world


def check_launch(accelerator: Accelerator) -> None:
    """Stops with instructions when `accelerate launch` was asked for several CPU processes but started one."""
    if accelerator.num_processes == 1 and _several_processes_requested_but_one_started():
        raise ValueError(
            "accelerate launch was asked for several CPU processes but started one: accelerate 1.x runs a single "
            "process for `distributed_type: MULTI_CPU` configs and `--cpu --num_processes N` unless MPI is set up. For "
            "N CPU processes run `ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N <script> ...`, "
            "or set num_processes: 1 in the config."
        )


def set_up_run(training_args: TrainingLoopArguments, default_num_threads: int | None = None) -> Accelerator:
    """The Accelerator, logging (INFO on the main process), threads and seed of a training run."""
    accelerator = Accelerator(
        gradient_accumulation_steps=training_args.gradient_accumulation_steps,
        mixed_precision=training_args.mixed_precision,
        log_with=None if training_args.report_to == "none" else training_args.report_to,
        project_dir=training_args.output_dir,
    )
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # one line per saved file otherwise
    if not accelerator.is_local_main_process:
        logging.getLogger().setLevel(logging.ERROR)
        transformers.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    check_launch(accelerator)
    num_threads = training_args.num_threads or default_num_threads
    if num_threads is not None and accelerator.device.type == "cpu":
        torch.set_num_threads(num_threads)
    # Same seed on every process: identical initialisation everywhere (DDP also broadcasts rank 0's weights).
    set_seed(training_args.seed)
    return accelerator


__all__ = ["TrainingLoopArguments", "check_launch", "parse_arguments", "parse_config_overrides", "set_up_run"]
