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
"""The Accelerate training loop shared by every stage: epochs, accumulation, clipping, checkpoints, resume, selection.

It is the loop of transformers' `run_*_no_trainer.py` scripts, written once: each stage supplies the model, the data,
an `evaluate()` that scores the validation split and a `save_best()` that writes the best model.
"""

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .checkpointing import TRAINING_STATE_NAME, TrainingState, check_rng_states, resolve_checkpoint, save_checkpoint
from .optim import build_optimizer, build_scheduler


logger = logging.getLogger(__name__)


@dataclass
class LoopSettings:
    """How long to train and when to log and checkpoint."""

    output_dir: Path
    num_train_epochs: int
    max_train_steps: int
    max_grad_norm: float = 1.0
    logging_steps: int = 10
    checkpointing_steps: str | None = None  # an integer (every N optimizer steps) or "epoch"
    checkpoints_total_limit: int | None = 2
    report_to: str = "none"


def steps_per_epoch(num_batches: int, gradient_accumulation_steps: int) -> int:
    """Optimizer steps in an epoch of `num_batches` (per process) batches."""
    return math.ceil(num_batches / gradient_accumulation_steps)


def plan_steps(
    num_batches: int, gradient_accumulation_steps: int, num_train_epochs: int, max_train_steps: int | None
) -> tuple[int, int]:
    """`(num_train_epochs, max_train_steps)` once one of them is fixed by the user."""
    per_epoch = steps_per_epoch(num_batches, gradient_accumulation_steps)
    max_train_steps = max_train_steps or num_train_epochs * per_epoch
    return math.ceil(max_train_steps / per_epoch), max_train_steps


@dataclass
class PreparedTraining:
    """Everything `run_training_loop` needs, prepared by Accelerate, and the state to start from."""

    model: Any
    optimizer: Any
    lr_scheduler: Any
    train_dataloader: Any
    eval_dataloaders: dict
    settings: LoopSettings
    state: TrainingState


def prepare_training(
    accelerator: Accelerator,
    model,
    train_dataloader,
    eval_dataloaders: dict,
    training_args,
    learning_rate: float,
    group_learning_rates: dict[str, float] | None = None,
) -> PreparedTraining:
    """
    Prepares dataloaders, model, AdamW and the schedule with Accelerate, plans the steps and, with
    `--resume_from_checkpoint`, restores the newest complete checkpoint (refusing one whose random states are lost).
    """
    # Dataloaders first: with N processes each one gets 1/N of the batches, which sets the schedule's length.
    train_dataloader, *prepared = accelerator.prepare(train_dataloader, *eval_dataloaders.values())
    eval_dataloaders = dict(zip(eval_dataloaders, prepared))
    num_epochs, max_steps = plan_steps(
        len(train_dataloader),
        training_args.gradient_accumulation_steps,
        training_args.num_train_epochs,
        training_args.max_train_steps,
    )
    optimizer = build_optimizer(model, learning_rate, training_args.weight_decay, group_learning_rates)
    lr_scheduler = build_scheduler(
        training_args.lr_scheduler_type,
        optimizer,
        max_steps,
        training_args.warmup_ratio,
        training_args.num_warmup_steps,
        accelerator.num_processes,
    )
    model, optimizer, lr_scheduler = accelerator.prepare(model, optimizer, lr_scheduler)
    output_dir = Path(training_args.output_dir)
    state = TrainingState()
    checkpoint = resolve_checkpoint(training_args.resume_from_checkpoint, output_dir)
    if checkpoint is not None:
        check_rng_states(checkpoint, accelerator.process_index, training_args.allow_inexact_resume)
        accelerator.load_state(str(checkpoint))
        state = TrainingState(**json.loads((checkpoint / TRAINING_STATE_NAME).read_text(encoding="utf-8")))
        logger.info(f"Resumed from {checkpoint}: {state.epoch} epochs and {state.completed_steps} steps done")
    elif training_args.resume_from_checkpoint == "latest":
        logger.info(f"No complete checkpoint in {output_dir}: training from scratch.")
    settings = LoopSettings(
        output_dir=output_dir,
        num_train_epochs=num_epochs,
        max_train_steps=max_steps,
        max_grad_norm=training_args.max_grad_norm,
        logging_steps=training_args.logging_steps,
        checkpointing_steps=training_args.checkpointing_steps,
        checkpoints_total_limit=training_args.checkpoints_total_limit,
        report_to=training_args.report_to,
    )
    return PreparedTraining(model, optimizer, lr_scheduler, train_dataloader, eval_dataloaders, settings, state)


def _optimizer_step(accelerator: Accelerator, model, optimizer, lr_scheduler, loss, max_grad_norm: float) -> None:
    # `accumulate` (around this call) sums gradients over the accumulation steps and skips the DDP gradient
    # synchronisation in between; the prepared optimizer and scheduler only act when gradients are synchronised.
    accelerator.backward(loss)
    if accelerator.sync_gradients and max_grad_norm > 0:
        accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    lr_scheduler.step()
    optimizer.zero_grad()


def run_training_loop(
    accelerator: Accelerator,
    prepared: PreparedTraining,
    evaluate: Callable[[], dict],
    save_best: Callable[[dict], None],
    set_train_mode: Callable[[], None] | None = None,
    save_model_files: Callable[[Path], None] | None = None,
    compute_loss: Callable[[dict], torch.Tensor] | None = None,
) -> TrainingState:
    """
    Trains `prepared.model` from `prepared.state` (fresh, or restored from a checkpoint) until
    `prepared.settings.max_train_steps`.

    After every epoch, `evaluate()` returns the validation metrics (with `weighted_f1`), and `save_best(info)` is
    called when they are the best so far. Epochs are numbered from 1 in logs, progress bar and history. Checkpoints
    are atomic; a resumed run skips the batches of the interrupted epoch it already trained on, so it ends with the
    same weights as an uninterrupted one. `compute_loss(batch)` defaults to `model(**batch).loss`.
    """
    model, optimizer, lr_scheduler = prepared.model, prepared.optimizer, prepared.lr_scheduler
    train_dataloader, settings, state = prepared.train_dataloader, prepared.settings, prepared.state
    compute_loss = compute_loss or (lambda batch: model(**batch).loss)
    set_train_mode = set_train_mode or model.train
    progress = tqdm(
        total=settings.max_train_steps,
        initial=state.completed_steps,
        disable=not accelerator.is_local_main_process,
        desc=f"epoch {state.epoch + 1}/{settings.num_train_epochs}",
        dynamic_ncols=True,
    )
    # Log records go through tqdm.write, so they never break the progress bar's line.
    with logging_redirect_tqdm():
        step_losses = []
        for epoch in range(state.epoch, settings.num_train_epochs):
            if state.completed_steps >= settings.max_train_steps:
                break
            progress.set_description(f"epoch {epoch + 1}/{settings.num_train_epochs}")
            set_train_mode()
            # The epoch's order: the same on every process, and the same again after a resume.
            train_dataloader.set_epoch(epoch)
            batches = train_dataloader
            if state.batches_in_epoch > 0:
                batches = accelerator.skip_first_batches(train_dataloader, state.batches_in_epoch)
            for batch in batches:
                with accelerator.accumulate(model):
                    loss = compute_loss(batch)
                    _optimizer_step(accelerator, model, optimizer, lr_scheduler, loss, settings.max_grad_norm)
                state.batches_in_epoch += 1
                step_losses.append(loss.detach())
                if not accelerator.sync_gradients:
                    continue
                step_loss = accelerator.reduce(torch.stack(step_losses).mean(), reduction="mean").item()
                step_losses = []
                state.completed_steps += 1
                state.history["train_loss"].append([state.completed_steps, round(step_loss, 6)])
                progress.update(1)
                progress.set_postfix(loss=f"{step_loss:.4f}")
                if state.completed_steps % settings.logging_steps == 0 and settings.report_to != "none":
                    accelerator.log(
                        {"train_loss": step_loss, "learning_rate": lr_scheduler.get_last_lr()[-1]},
                        step=state.completed_steps,
                    )
                every = settings.checkpointing_steps
                if every not in (None, "epoch") and state.completed_steps % int(every) == 0:
                    save_checkpoint(
                        accelerator, state, settings.output_dir, settings.checkpoints_total_limit, save_model_files
                    )
                if state.completed_steps >= settings.max_train_steps:
                    break
            _end_of_epoch(accelerator, epoch, state, settings, evaluate, save_best, save_model_files)
    progress.close()
    return state


def _end_of_epoch(accelerator, epoch, state, settings, evaluate, save_best, save_model_files) -> None:
    """Scores the validation split, keeps the best model, and checkpoints when asked to at epoch ends."""
    results = evaluate()
    entry = {"epoch": epoch + 1, "step": state.completed_steps}
    entry.update({key: results[key] for key in ("weighted_f1", "macro_f1", "accuracy", "loss")})
    state.history["validation"].append(entry)
    logger.info(
        f"epoch {epoch + 1}/{settings.num_train_epochs}: validation weighted F1 {results['weighted_f1']:.4f}, "
        f"macro F1 {results['macro_f1']:.4f}, accuracy {results['accuracy']:.4f}, loss {results['loss']:.4f}"
    )
    if settings.report_to != "none":
        accelerator.log({f"validation_{k}": v for k, v in entry.items() if k != "step"}, step=state.completed_steps)
    if state.best is None or results["weighted_f1"] > state.best["weighted_f1"]:
        state.best = {"epoch": epoch + 1, "step": state.completed_steps, "weighted_f1": results["weighted_f1"]}
        save_best(state.best)
    state.epoch, state.batches_in_epoch = epoch + 1, 0
    if settings.checkpointing_steps == "epoch":
        save_checkpoint(accelerator, state, settings.output_dir, settings.checkpoints_total_limit, save_model_files)


__all__ = [
    "LoopSettings",
    "PreparedTraining",
    "plan_steps",
    "prepare_training",
    "run_training_loop",
    "steps_per_epoch",
]
