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
"""Evaluation, reports and atomic checkpoints of `examples/train_m2fnet.py` (also used by `examples/evaluate.py`)."""

import json
import os
import platform
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


EXAMPLES_DIR = Path(__file__).resolve().parent
REPO_ROOT = EXAMPLES_DIR.parent
# `python examples/train_m2fnet.py` puts `examples/` first on `sys.path`, where `examples/evaluate.py` would shadow
# the 🤗 `evaluate` library: make the repository root the import root instead.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != EXAMPLES_DIR]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import datasets  # noqa: E402
import evaluate  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from accelerate.logging import get_logger  # noqa: E402
from safetensors.torch import load_file  # noqa: E402


logger = get_logger(__name__)

METRIC_PATH = REPO_ROOT / "metrics" / "erc_f1"
CHECKPOINTS_DIRNAME = "checkpoints"
CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
TRAINING_STATE_NAME = "training_state.json"
BEST_MODEL_DIRNAME = "best_model"
BEST_MODEL_INFO_NAME = "best_model_info.json"
CHECKPOINT_MODEL_DIRNAME = "model_files"  # config + processor of the run, inside every checkpoint
logger = get_logger(__name__)


# ----------------------------------------------------------------------------------------------------------------------
# Evaluation and reports
# ----------------------------------------------------------------------------------------------------------------------


def load_metric(accelerator: Accelerator):
    # Every process computes the metric on the same gathered predictions; keep_in_memory avoids a shared cache file.
    with accelerator.main_process_first():
        return evaluate.load(str(METRIC_PATH), keep_in_memory=True)


@torch.no_grad()
def evaluate_model(model, dataloader, accelerator: Accelerator, metric, label_names: list[str]) -> dict[str, Any]:
    """
    Scores `model` on a prepared dataloader: loss, weighted / macro F1, accuracy, per-class F1, confusion matrix.
    Identical on every process.
    """
    model.eval()
    all_logits, all_labels = [], []
    for batch in dataloader:
        labels = batch.pop("labels")
        logits = model(**batch).logits
        labels = labels.masked_fill(batch["utterance_mask"] == 0, -100)
        # Each process holds dialogues padded to its own length: pad to a common length, then gather.
        # `gather_for_metrics` also drops the samples Accelerate repeated to give every process a full last batch.
        logits = accelerator.pad_across_processes(logits, dim=1, pad_index=0)
        labels = accelerator.pad_across_processes(labels, dim=1, pad_index=-100)
        logits, labels = accelerator.gather_for_metrics((logits, labels))
        all_logits.append(logits.flatten(0, 1).float().cpu())
        all_labels.append(labels.flatten().cpu())
    logits, labels = torch.cat(all_logits), torch.cat(all_labels)
    keep = labels != -100
    if not keep.any():
        raise ValueError("The evaluation split has no labelled utterance.")
    results = metric.compute(
        predictions=logits[keep].argmax(-1).tolist(), references=labels[keep].tolist(), label_names=label_names
    )
    results["loss"] = float(F.cross_entropy(logits[keep], labels[keep]))
    return results


def format_metrics_table(split_results: dict[str, dict]) -> str:
    """A plain-text table: headline metrics per split, then per-class F1 and support."""
    splits = list(split_results)
    lines = [f"{'metric':<14}" + "".join(f"{name:>12}" for name in splits)]
    for key in ("weighted_f1", "macro_f1", "accuracy", "loss", "num_examples"):
        cells = []
        for name in splits:
            value = split_results[name].get(key)
            cells.append(f"{value:>12}" if isinstance(value, int) else f"{value:>12.4f}")
        lines.append(f"{key:<14}" + "".join(cells))
    lines.append("")
    lines.append(f"{'F1 per class':<14}" + "".join(f"{name:>12}" for name in splits) + "   support")
    first = split_results[splits[0]]
    for label in first["labels"]:
        cells = "".join(f"{split_results[name]['per_class_f1'][label]:>12.4f}" for name in splits)
        support = " / ".join(str(split_results[name]["support"][label]) for name in splits)
        lines.append(f"{label:<14}{cells}   {support}")
    return "\n".join(lines)


def machine_info(accelerator: Accelerator) -> dict[str, Any]:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(accelerator.device),
        "num_processes": accelerator.num_processes,
        "distributed_type": str(accelerator.distributed_type),
        "mixed_precision": accelerator.mixed_precision,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "accelerate": sys.modules["accelerate"].__version__,
            "datasets": datasets.__version__,
            "evaluate": evaluate.__version__,
        },
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(accelerator.device)
    return info


def plot_confusion_matrix(results: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(results["confusion_matrix"], dtype=np.float64)
    normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    labels = results["labels"]
    figure, axes = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.7 * len(labels)))
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    for row in range(len(labels)):
        for column in range(len(labels)):
            color = "white" if normalised[row, column] > 0.5 else "black"
            axes.text(column, row, int(matrix[row, column]), ha="center", va="center", color=color, fontsize=8)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{title}\nweighted F1 {results['weighted_f1']:.4f}, accuracy {results['accuracy']:.4f}")
    figure.colorbar(image, ax=axes, fraction=0.046, label="fraction of the true class")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_history(history: dict, output_dir: Path, best_epoch: int | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    if history["train_loss"]:
        steps, losses = zip(*history["train_loss"])
        axes.plot(steps, losses, label="train (per step)", alpha=0.7)
    validation = history["validation"]
    if validation:
        axes.plot([e["step"] for e in validation], [e["loss"] for e in validation], "o-", label="validation")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("cross-entropy")
    axes.set_title("Loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(output_dir / "loss_curve.png", dpi=120)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(7, 4))
    epochs = [entry["epoch"] for entry in validation]
    for key in ("weighted_f1", "macro_f1", "accuracy"):
        axes.plot(epochs, [entry[key] for entry in validation], "o-", label=key)
    if best_epoch is not None:
        axes.axvline(best_epoch, color="grey", linestyle="--", label=f"best (epoch {best_epoch})")
    axes.set_xlabel("epoch")
    axes.set_ylim(0, 1)
    axes.set_title("Validation")
    axes.legend()
    figure.tight_layout()
    figure.savefig(output_dir / "validation_f1.png", dpi=120)
    plt.close(figure)


def write_json(path: Path, payload: dict) -> None:
    """Writes JSON through a temporary file and a rename, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    os.replace(temporary, path)


# ----------------------------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class TrainingState:
    """What `accelerator.save_state` does not hold: the loop's position and the history, saved as JSON."""

    epoch: int = 0  # the epoch in progress
    batches_in_epoch: int = 0  # batches of that epoch already trained on (skipped on resume)
    completed_steps: int = 0  # optimizer steps
    history: dict = field(default_factory=lambda: {"train_loss": [], "validation": []})
    best: dict | None = None  # {"epoch", "step", "weighted_f1"} of the best validation score so far


def list_checkpoints(output_dir: Path) -> list[Path]:
    """The complete checkpoints of `output_dir`, oldest first. Temporary folders of an interrupted save are skipped."""
    folder = output_dir / CHECKPOINTS_DIRNAME
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and path.is_dir() and (path / TRAINING_STATE_NAME).is_file():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def resolve_checkpoint(resume_from_checkpoint: str | None, output_dir: Path) -> Path | None:
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
    for pattern in (f"{CHECKPOINTS_DIRNAME}/.checkpoint-*.tmp", ".*.saving.tmp"):
        for path in output_dir.glob(pattern):
            logger.warning(f"Removing {path}, left over by an interrupted save.")
            shutil.rmtree(path, ignore_errors=True)


def save_checkpoint(
    accelerator: Accelerator, model, processor, state: TrainingState, output_dir: Path, total_limit: int | None
) -> None:
    """
    Saves the full training state atomically: everything goes to a temporary folder that is renamed to
    `checkpoint-<step>` only once complete, so a crash mid-save never leaves a checkpoint that resume would pick.
    """
    folder = output_dir / CHECKPOINTS_DIRNAME
    final = folder / f"checkpoint-{state.completed_steps}"
    temporary = folder / f".checkpoint-{state.completed_steps}.tmp"
    if accelerator.is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(temporary, ignore_errors=True)  # left over by a crash
    accelerator.wait_for_everyone()
    # Model, optimizer, scheduler, gradient scaler and every process's RNG states (each process writes its own).
    accelerator.save_state(str(temporary))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        # The run's config and processor (the toy tokenizer cannot be retrained identically), to rebuild the model.
        accelerator.unwrap_model(model).config.save_pretrained(temporary / CHECKPOINT_MODEL_DIRNAME)
        if processor is not None:
            processor.save_pretrained(temporary / CHECKPOINT_MODEL_DIRNAME)
        write_json(temporary / TRAINING_STATE_NAME, asdict(state))  # written last: marks the folder complete
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
        if total_limit is not None:
            for old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old, ignore_errors=True)
        logger.info(f"Saved checkpoint {final}")
    accelerator.wait_for_everyone()


def save_model(
    accelerator: Accelerator, model, processor, directory: Path, info: dict | None = None, into_existing=False
) -> None:
    """
    `save_pretrained` of the unwrapped model, its processor and its code, written to a temporary folder first. Then
    the folder replaces `directory`, or (`into_existing=True`, for the run's output folder, which also holds the
    results and checkpoints) its files are moved into `directory` one by one.
    """
    temporary = directory.parent / f".{directory.name}.saving.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)
    accelerator.wait_for_everyone()
    # Unwrap (DDP, mixed-precision wrappers) and let only the main process write.
    accelerator.unwrap_model(model).save_pretrained(
        temporary, is_main_process=accelerator.is_main_process, save_function=accelerator.save
    )
    accelerator.wait_for_everyone()  # every process is done with the folder before it moves
    if accelerator.is_main_process:
        if processor is not None:
            processor.save_pretrained(temporary)
        if info is not None:
            write_json(temporary / BEST_MODEL_INFO_NAME, info)
        if into_existing:
            directory.mkdir(parents=True, exist_ok=True)
            for path in temporary.iterdir():
                os.replace(path, directory / path.name)
            temporary.rmdir()
        else:
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(temporary, directory)
    accelerator.wait_for_everyone()


def load_saved_weights(model, directory: Path) -> None:
    """Loads the weights `save_pretrained` wrote in `directory` (single or sharded safetensors) into `model`."""
    if (directory / "model.safetensors").is_file():
        missing, unexpected = model.load_state_dict(load_file(directory / "model.safetensors"), strict=False)
        if unexpected or [key for key in missing if not key.endswith("num_batches_tracked")]:
            raise ValueError(f"{directory} does not match the model (missing {missing}, unexpected {unexpected}).")
    else:
        transformers.modeling_utils.load_sharded_checkpoint(model, str(directory))
