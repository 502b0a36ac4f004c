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
"""Batch orders that are reproducible per epoch and identical on every process (so that a resumed run replays them)."""

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    """
    Shuffles `num_samples` items with a permutation drawn from `seed + epoch` by its own generator.

    Every process draws the same permutation (Accelerate then gives each process its share of the batches), a resumed
    run replays the interrupted epoch's order exactly, and the global RNG (dropout) is left alone.
    """

    def __init__(self, num_samples: int, seed: int):
        self.num_samples = num_samples
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        yield from torch.randperm(self.num_samples, generator=generator).tolist()

    def __len__(self) -> int:
        return self.num_samples


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """
    Batches of items of similar length, so that dynamic padding pads little.

    With `shuffle`, each epoch draws a permutation from `seed + epoch`, cuts it into groups of
    `batch_size * group_size_multiplier` items, sorts each group by length, cuts it into batches and shuffles the
    batches: every batch is a random draw of similar lengths. Without `shuffle`, items are batched in order of
    length (for evaluation). The batch order depends only on `seed` and the epoch.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        group_size_multiplier: int = 50,
    ):
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.group_size = batch_size * group_size_multiplier
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        if not self.shuffle:
            order = sorted(range(len(self.lengths)), key=lambda index: (self.lengths[index], index))
            return [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        permutation = torch.randperm(len(self.lengths), generator=generator).tolist()
        batches = []
        for start in range(0, len(permutation), self.group_size):
            group = sorted(permutation[start : start + self.group_size], key=lambda index: self.lengths[index])
            batches += [group[first : first + self.batch_size] for first in range(0, len(group), self.batch_size)]
        order = torch.randperm(len(batches), generator=generator).tolist()
        return [batches[index] for index in order]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


__all__ = ["EpochShuffleSampler", "LengthGroupedBatchSampler"]
