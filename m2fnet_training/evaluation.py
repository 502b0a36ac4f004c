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
"""Scoring: the `erc_f1` metric over a dataloader, metric tables, plots and a description of the machine."""

import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator


ERC_F1_PATH = str(Path(__file__).resolve().parent / "erc_f1")
HEADLINE_METRICS = ("weighted_f1", "macro_f1", "accuracy", "loss", "num_examples")


def load_metric(accelerator: Accelerator | None = None):
    """The local `erc_f1` evaluate module (weighted / macro F1, accuracy, per-class F1, confusion matrix), offline."""
    import evaluate

    # Every process computes the metric on the same gathered predictions; keep_in_memory avoids a shared cache file.
    if accelerator is None:
        return evaluate.load(ERC_F1_PATH, keep_in_memory=True)
    with accelerator.main_process_first():
        return evaluate.load(ERC_F1_PATH, keep_in_memory=True)


@torch.no_grad()
def collect_logits(model, dataloader, accelerator: Accelerator) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Runs `model` over a prepared dataloader and gathers `(logits, labels)` from every process, flattened to
    `(num_items, num_labels)` and `(num_items,)` with unlabelled items (-100, padded utterances) removed.

    Batches are dicts of model inputs with `labels`: dialogue batches (`logits` `(B, N, C)`, an `utterance_mask`)
    or utterance batches (`logits` `(B, C)`).
    """
    model.eval()
    all_logits, all_labels = [], []
    for batch in dataloader:
        labels = batch.pop("labels")
        logits = model(**batch).logits
        if logits.dim() == 3:
            labels = labels.masked_fill(batch["utterance_mask"] == 0, -100)
            # Each process holds dialogues padded to its own length: pad to a common length, then gather.
            logits = accelerator.pad_across_processes(logits, dim=1, pad_index=0)
            labels = accelerator.pad_across_processes(labels, dim=1, pad_index=-100)
        # `gather_for_metrics` drops the samples Accelerate repeated to give every process a full last batch.
        logits, labels = accelerator.gather_for_metrics((logits, labels))
        all_logits.append(logits.reshape(-1, logits.shape[-1]).float().cpu())
        all_labels.append(labels.reshape(-1).cpu())
    logits, labels = torch.cat(all_logits), torch.cat(all_labels)
    keep = labels != -100
    return logits[keep], labels[keep]


def score_logits(logits: torch.Tensor, labels: torch.Tensor, metric, label_names: list[str]) -> dict[str, Any]:
    """`erc_f1` scores of `(num_items, num_labels)` logits, plus the mean cross-entropy as `loss`."""
    if labels.numel() == 0:
        raise ValueError("The evaluation split has no labelled utterance.")
    results = metric.compute(
        predictions=logits.argmax(-1).tolist(), references=labels.tolist(), label_names=label_names
    )
    results["loss"] = float(F.cross_entropy(logits, labels))
    return results


def evaluate_model(model, dataloader, accelerator: Accelerator, metric, label_names: list[str]) -> dict[str, Any]:
    """
    Scores `model` on a prepared dataloader: loss, weighted / macro F1, accuracy, per-class F1, confusion matrix.
    Identical on every process.
    """
    logits, labels = collect_logits(model, dataloader, accelerator)
    return score_logits(logits, labels, metric, label_names)


def format_metrics_table(split_results: dict[str, dict]) -> str:
    """A plain-text table: headline metrics per split, then per-class F1 and support."""
    splits = list(split_results)
    lines = [f"{'metric':<14}" + "".join(f"{name:>12}" for name in splits)]
    for key in HEADLINE_METRICS:
        cells = []
        for name in splits:
            value = split_results[name].get(key)
            cells.append(f"{value:>12}" if isinstance(value, int) else f"{value:>12.4f}")
        lines.append(f"{key:<14}" + "".join(cells))
    lines.append("")
    lines.append(f"{'F1 per class':<14}" + "".join(f"{name:>12}" for name in splits) + "   support")
    for label in split_results[splits[0]]["labels"]:
        cells = "".join(f"{split_results[name]['per_class_f1'][label]:>12.4f}" for name in splits)
        support = " / ".join(str(split_results[name]["support"][label]) for name in splits)
        lines.append(f"{label:<14}{cells}   {support}")
    return "\n".join(lines)


def machine_info(accelerator: Accelerator | None = None) -> dict[str, Any]:
    """Platform, CPU count, torch threads, device, processes and library versions, for reports."""
    import datasets
    import transformers

    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "datasets": datasets.__version__,
        },
    }
    if "accelerate" in sys.modules:
        info["versions"]["accelerate"] = sys.modules["accelerate"].__version__
    if accelerator is not None:
        info.update(
            device=str(accelerator.device),
            num_processes=accelerator.num_processes,
            distributed_type=str(accelerator.distributed_type),
            mixed_precision=accelerator.mixed_precision,
        )
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(accelerator.device)
    return info


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(results: dict, title: str, path: Path) -> None:
    """Row-normalised confusion matrix with counts, saved as a PNG."""
    plt = _pyplot()
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
    """`loss_curve.png` (train loss per step, validation loss per epoch) and `validation_f1.png`."""
    plt = _pyplot()
    validation = history["validation"]
    figure, axes = plt.subplots(figsize=(7, 4))
    if history["train_loss"]:
        steps, losses = zip(*history["train_loss"])
        axes.plot(steps, losses, label="train (per step)", alpha=0.7)
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


__all__ = [
    "ERC_F1_PATH",
    "collect_logits",
    "evaluate_model",
    "format_metrics_table",
    "load_metric",
    "machine_info",
    "plot_confusion_matrix",
    "plot_history",
    "score_logits",
]
