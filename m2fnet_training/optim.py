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
"""Optimizer, schedule and class weights shared by the training stages."""

import math
from collections.abc import Sequence

import numpy as np
import torch
from transformers import get_scheduler


def build_optimizer(
    model: torch.nn.Module,
    learning_rate: float,
    weight_decay: float,
    group_learning_rates: dict[str, float] | None = None,
) -> torch.optim.AdamW:
    """
    AdamW over the trainable parameters. Parameters whose name starts with a key of `group_learning_rates` get that
    learning rate (e.g. a pretrained text encoder gets a smaller one than a freshly initialised head); biases and
    normalisation weights get no weight decay.
    """
    group_learning_rates = group_learning_rates or {}
    groups: dict[tuple[str, bool], list] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        prefix = next((prefix for prefix in group_learning_rates if name.startswith(prefix)), "")
        decays = not (name.endswith(".bias") or "norm" in name.lower())
        groups.setdefault((prefix, decays), []).append(parameter)
    parameter_groups = [
        {
            "params": parameters,
            "lr": group_learning_rates.get(prefix, learning_rate),
            "weight_decay": weight_decay if decays else 0.0,
        }
        for (prefix, decays), parameters in sorted(groups.items())
    ]
    if not parameter_groups:
        raise ValueError("The model has no trainable parameter: check the freezing options.")
    return torch.optim.AdamW(parameter_groups, lr=learning_rate)


def build_scheduler(
    name: str, optimizer, max_train_steps: int, warmup_ratio: float, num_warmup_steps: int | None, num_processes: int
):
    """The learning-rate schedule; the prepared scheduler steps once per process at every step, hence the factor."""
    if num_warmup_steps is None:
        num_warmup_steps = math.ceil(warmup_ratio * max_train_steps)
    return get_scheduler(
        name,
        optimizer=optimizer,
        num_warmup_steps=num_warmup_steps * num_processes,
        num_training_steps=max_train_steps * num_processes,
    )


def inverse_frequency_weights(labels: Sequence[int] | np.ndarray, num_labels: int) -> list[float]:
    """`n / (num_labels * n_c)` per class c over the labelled items (ids < 0 ignored; 1.0 for an absent class)."""
    labels = np.asarray(labels, dtype=np.int64)
    labels = labels[labels >= 0]
    counts = np.bincount(labels, minlength=num_labels).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (num_labels * np.maximum(counts, 1)), 1.0)
    return [round(float(weight), 6) for weight in weights]


__all__ = ["build_optimizer", "build_scheduler", "inverse_frequency_weights"]
