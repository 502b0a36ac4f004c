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
"""Atomic, resumable training checkpoints and atomic model saving for the Accelerate training loops."""

import json
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from accelerate import Accelerator
from accelerate.utils import RNG_STATE_NAME
from accelerate.utils.other import load as accelerate_load
from safetensors.torch import load_file

from .io_utils import (
    apply_default_permissions,
    move_into,
    os_errors_named,
    remove_stale_staging,
    replace_path,
    staging_dir_for,
    write_json,
)


logger = logging.getLogger(__name__)

CHECKPOINTS_DIRNAME = "checkpoints"
CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
TRAINING_STATE_NAME = "training_state.json"
BEST_MODEL_DIRNAME = "best_model"
BEST_MODEL_INFO_NAME = "best_model_info.json"
CHECKPOINT_MODEL_DIRNAME = "model_files"  # what rebuilds the run's model: its config, processor or tokenizer
DEFAULT_CHECKPOINTS_TOTAL_LIMIT = 2


@dataclass
class TrainingState:
    """What `accelerator.save_state` does not hold: the loop's position and the history, saved as JSON."""

    epoch: int = 0  # epochs completed (the loop is in epoch `epoch + 1`, numbered from 1)
    batches_in_epoch: int = 0  # batches of the epoch in progress already trained on (skipped on resume)
    completed_steps: int = 0  # optimizer steps
    history: dict = field(default_factory=lambda: {"train_loss": [], "validation": []})
    best: dict | None = None  # {"epoch", "step", "weighted_f1"} of the best validation score so far


class ResumeError(ValueError):
    """A checkpoint cannot be resumed exactly; the message names the file and the options."""


def list_checkpoints(output_dir: Path) -> list[Path]:
    """The complete checkpoints of `output_dir`, oldest first. Temporary folders of an interrupted save are skipped."""
    folder = Path(output_dir) / CHECKPOINTS_DIRNAME
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and path.is_dir() and (path / TRAINING_STATE_NAME).is_file():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def resolve_checkpoint(resume_from_checkpoint: str | None, output_dir: Path) -> Path | None:
    """`latest` → the newest complete checkpoint of `output_dir` (None if there is none); a folder → that folder."""
    if resume_from_checkpoint is None:
        return None
    if resume_from_checkpoint == "latest":
        checkpoints = list_checkpoints(output_dir)
        return checkpoints[-1] if checkpoints else None
    path = Path(resume_from_checkpoint)
    if not (path / TRAINING_STATE_NAME).is_file():
        raise FileNotFoundError(
            f"{str(path)!r} is not a complete checkpoint (no {TRAINING_STATE_NAME}); pass a "
            f"{CHECKPOINTS_DIRNAME}/checkpoint-<step> folder or `latest`."
        )
    return path


def remove_stale_temporaries(output_dir: Path) -> None:
    """Deletes the temporary folders an interrupted save left behind (they are never resumed from)."""
    output_dir = Path(output_dir)
    stale = []
    if (output_dir / CHECKPOINTS_DIRNAME).is_dir():
        for path in (output_dir / CHECKPOINTS_DIRNAME).iterdir():
            if path.name.startswith(".checkpoint-"):
                shutil.rmtree(path, ignore_errors=True)
                stale.append(path)
    stale += remove_stale_staging(output_dir / BEST_MODEL_DIRNAME)
    stale += remove_stale_staging(output_dir / "model")
    for path in stale:
        logger.warning(f"Removed {path}, left over by an interrupted save.")


def check_rng_states(checkpoint: Path, process_index: int, allow_inexact: bool) -> None:
    """
    Refuses a checkpoint whose random-number-generator state cannot be read (accelerate would skip it and the resumed
    run would silently stop being exact), or warns when `allow_inexact` is set.
    """
    path = Path(checkpoint) / f"{RNG_STATE_NAME}_{process_index}.pkl"
    try:
        accelerate_load(path)
    except Exception as error:  # a missing, truncated or foreign file: any failure means the state is lost
        message = (
            f"cannot read the random-number-generator state {path} ({type(error).__name__}: {error}); a resumed run "
            "would not replay the interrupted one exactly (dropout and shuffling would differ)"
        )
        if not allow_inexact:
            raise ResumeError(
                f"Refusing to resume: {message}. Resume from an earlier checkpoint, or pass --allow_inexact_resume "
                "to continue with fresh random states."
            ) from error
        logger.warning(f"Resuming with fresh random states: {message}.")


def save_checkpoint(
    accelerator: Accelerator,
    state: TrainingState,
    output_dir: Path,
    total_limit: int | None = DEFAULT_CHECKPOINTS_TOTAL_LIMIT,
    save_model_files: Callable[[Path], None] | None = None,
) -> None:
    """
    Saves the full training state atomically: everything goes to a temporary folder that is renamed to
    `checkpoint-<step>` only once complete, so a crash mid-save never leaves a checkpoint that resume would pick.
    Only the `total_limit` newest checkpoints are kept (None keeps all). `save_model_files(folder)` writes what
    rebuilds the run's model (its config and processor) into `folder`.
    """
    folder = Path(output_dir) / CHECKPOINTS_DIRNAME
    final = folder / f"checkpoint-{state.completed_steps}"
    temporary = folder / f".checkpoint-{state.completed_steps}.tmp"
    if accelerator.is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(temporary, ignore_errors=True)  # left over by a crash
    accelerator.wait_for_everyone()
    try:
        # Model, optimizer, scheduler, gradient scaler and every process's RNG states (each process writes its own).
        with os_errors_named(final):
            accelerator.save_state(str(temporary))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            if save_model_files is not None:
                save_model_files(temporary / CHECKPOINT_MODEL_DIRNAME)
            write_json(temporary / TRAINING_STATE_NAME, asdict(state))  # written last: marks the folder complete
            if final.exists():
                shutil.rmtree(final)
            temporary.rename(final)
    except BaseException:
        if accelerator.is_main_process:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    if accelerator.is_main_process:
        if total_limit is not None:
            for old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old, ignore_errors=True)
        logger.info(f"Saved checkpoint {final}")
    accelerator.wait_for_everyone()


def save_model_atomically(
    accelerator: Accelerator,
    save: Callable[[Path], None],
    directory: Path,
    info: dict | None = None,
    into_existing: bool = False,
) -> None:
    """
    Runs `save(staging_folder)` on the main process (e.g. `save_pretrained` of the model and its processor), then
    either replaces `directory` with the staging folder, or (`into_existing=True`, for a run's output folder that
    also holds results and checkpoints) moves its files into `directory` one by one. A failure leaves `directory`
    as it was and removes the staging folder.
    """
    directory = Path(directory)
    if accelerator.is_main_process:
        staging = staging_dir_for(directory)
        try:
            with os_errors_named(directory):
                save(staging)
            if info is not None:
                write_json(staging / BEST_MODEL_INFO_NAME, info)
            if into_existing:
                move_into(staging, directory)
            else:
                apply_default_permissions(staging)
                replace_path(staging, directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    accelerator.wait_for_everyone()


def load_saved_weights(module, directory: Path, allow_missing: tuple[str, ...] = ("num_batches_tracked",)) -> None:
    """
    Loads the weights `save_pretrained` wrote in `directory` (single or sharded safetensors) into `module`, by name;
    keys missing from the files are an error unless their names contain one of `allow_missing`.
    """
    directory = Path(directory)
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    state = {}
    for name in files:
        state.update(load_file(str(directory / name)))
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [key for key in missing if not any(part in key for part in allow_missing)]
    if missing or unexpected:
        raise ValueError(f"{directory} does not match the model (missing {missing}, unexpected {unexpected}).")


def restore_best_model(load, best_dir: Path, state: TrainingState) -> dict:
    """
    Loads the best model kept in `best_dir` with `load(best_dir)` and returns its `{"epoch", "step", "weighted_f1"}`.
    When `best_dir` does not hold it (a finished run continued with more epochs, whose best epoch came before), the
    model stays the last one, with a warning, and the returned record says so.
    """
    if state.best is not None and read_best_model_info(best_dir) == state.best:
        load(best_dir)
        return state.best
    logger.warning(
        f"{best_dir} does not hold the best model {state.best} (it was written by an earlier, finished run): the final "
        "model is the last one."
    )
    return {"epoch": state.epoch, "step": state.completed_steps, "weighted_f1": None, "note": "last model"}


def read_best_model_info(directory: Path) -> dict | None:
    path = Path(directory) / BEST_MODEL_INFO_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


__all__ = [
    "BEST_MODEL_DIRNAME",
    "CHECKPOINTS_DIRNAME",
    "CHECKPOINT_MODEL_DIRNAME",
    "DEFAULT_CHECKPOINTS_TOTAL_LIMIT",
    "TRAINING_STATE_NAME",
    "ResumeError",
    "TrainingState",
    "check_rng_states",
    "list_checkpoints",
    "load_saved_weights",
    "read_best_model_info",
    "remove_stale_temporaries",
    "resolve_checkpoint",
    "restore_best_model",
    "save_checkpoint",
    "save_model_atomically",
]
