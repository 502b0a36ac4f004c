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
"""Fine-tuning only the top layers of a text encoder, with the frozen lower layers computed once and cached.

A BERT-family encoder (BERT, RoBERTa, XLM-R, MPNet, ELECTRA, ...) is `embeddings → layer 0 → ... → layer L-1`. When
only the top `k` layers train, the output of layer `L-k-1` for an utterance never changes, so it is computed once
(`hidden_states[L-k]` of a frozen forward pass, in eval mode) and stored on disk; every epoch then runs just the `k`
top layers forward and backward. `upper_layers_only` runs those layers on the cached states by temporarily
replacing the encoder's embeddings with a pass-through and its layer list with the top `k`, so that the encoder's own
`forward` (attention masks, relative position biases) does the rest, for any architecture of that family.
"""

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from .hashing import fingerprint, tokenizer_signature, weights_hash
from .io_utils import atomic_output_file, write_json


logger = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 1
CACHE_SHARD_SIZE = 1024  # utterances per cache file: the unit of progress and of resume


class _PassThroughEmbeddings(nn.Module):
    """Stands in for an encoder's embeddings: returns `inputs_embeds` (the cached hidden states) unchanged."""

    def forward(self, input_ids=None, inputs_embeds=None, **kwargs):
        return inputs_embeds


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The transformer layers of a BERT-family encoder (`encoder.encoder.layer`), or a clear error."""
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList) or not hasattr(encoder, "embeddings"):
        raise ValueError(
            f"Training only the top layers needs an encoder with `embeddings` and `encoder.layer` (BERT, RoBERTa, "
            f"XLM-R, MPNet, ELECTRA, ...); {type(encoder).__name__} has another layout. Use --num_trainable_layers all."
        )
    return layers


def first_trained_layer(encoder: nn.Module, num_trainable_layers: int | None) -> int:
    """Index of the lowest trained layer (0 when every layer trains, i.e. `num_trainable_layers` is None)."""
    if num_trainable_layers is None:
        return 0
    num_layers = len(encoder_layers(encoder))
    if not 1 <= num_trainable_layers <= num_layers:
        raise ValueError(f"--num_trainable_layers must be in [1, {num_layers}] or 'all', got {num_trainable_layers}.")
    return num_layers - num_trainable_layers


def freeze_lower_layers(encoder: nn.Module, first_layer: int) -> list[nn.Module]:
    """
    Freezes everything below layer `first_layer`: the embeddings, layers `0 .. first_layer - 1` and every parameter
    outside the layers (a pooler, a shared relative-position bias), since the cached states were computed with them.
    Returns the frozen modules, which must stay in eval mode (no dropout) like the pass that computed the cache.
    """
    if first_layer == 0:
        return []
    layers = encoder_layers(encoder)
    trained = {id(parameter) for layer in layers[first_layer:] for parameter in layer.parameters()}
    for parameter in encoder.parameters():
        if id(parameter) not in trained:
            parameter.requires_grad_(False)
    return [module for name, module in encoder.named_children() if name != "encoder"] + list(layers[:first_layer])


@contextlib.contextmanager
def layers_between(encoder: nn.Module, start: int, end: int | None = None) -> Iterator[None]:
    """
    Inside the block, the encoder runs only its layers `start .. end - 1`: with `start > 0`,
    `encoder(inputs_embeds=<inputs of layer start>, attention_mask=...)`; with `start == 0`,
    `encoder(input_ids=..., attention_mask=...)` through the embeddings. `last_hidden_state` is then the input of
    layer `end` (the output of the last layer when `end` is None).
    """
    layers = encoder_layers(encoder)
    replaced = {}
    if start > 0:
        # ELECTRA projects its embeddings to the hidden size: cached states are already past that projection.
        replaced = {
            name: getattr(encoder, name) for name in ("embeddings", "embeddings_project") if hasattr(encoder, name)
        }
        encoder.embeddings = _PassThroughEmbeddings()
        if "embeddings_project" in replaced:
            encoder.embeddings_project = nn.Identity()
    encoder.encoder.layer = nn.ModuleList(list(layers[start:end]))
    try:
        yield
    finally:
        for name, module in replaced.items():
            setattr(encoder, name, module)
        encoder.encoder.layer = layers


def upper_layers_only(encoder: nn.Module, first_layer: int):
    """Inside the block, `encoder(inputs_embeds=states_of_layer_input, attention_mask=...)` runs layers `first_layer..`."""
    return layers_between(encoder, first_layer)


class LowerLayerCache:
    """
    The cached input states of the first trained layer for every utterance of a split: one `(num_tokens, hidden)`
    tensor per utterance (real tokens only), stored concatenated with their offsets.
    """

    def __init__(self, states: torch.Tensor, offsets: np.ndarray):
        self.states = states
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.states[self.offsets[index] : self.offsets[index + 1]]

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """`(len(indices), max_tokens, hidden)` float32 states, zero-padded, and the `(len(indices), max_tokens)` mask."""
        items = [self[index] for index in indices]
        length = max(item.shape[0] for item in items)
        states = torch.zeros(len(items), length, self.states.shape[-1], dtype=torch.float32)
        mask = torch.zeros(len(items), length, dtype=torch.long)
        for row, item in enumerate(items):
            states[row, : item.shape[0]] = item
            mask[row, : item.shape[0]] = 1
        return states, mask


def cache_key(encoder: nn.Module, tokenizer, dtype: torch.dtype, token_ids: dict) -> str:
    """
    Fingerprint of what determines the cached states of every layer: the encoder's pretrained weights (all of them,
    hashed before any training), its tokenizer, the storage type and the inputs. The caches of all layers of one
    encoder over one dataset live in one folder, `layer-<index>` each.
    """
    return fingerprint(
        {
            "format": CACHE_FORMAT_VERSION,
            "architecture": type(encoder).__name__,
            "weights": weights_hash(encoder),
            "tokenizer": tokenizer_signature(tokenizer),
            "dtype": str(dtype),
            "inputs": {split: fingerprint(ids) for split, ids in sorted(token_ids.items())},
        }
    )


def _pad(rows: list[torch.Tensor], pad_value) -> tuple[torch.Tensor, torch.Tensor]:
    """Pads `(length, ...)` rows to `(len(rows), max_length, ...)`, with the `(len(rows), max_length)` mask."""
    length = max(row.shape[0] for row in rows)
    batch = rows[0].new_full((len(rows), length, *rows[0].shape[1:]), pad_value)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for index, row in enumerate(rows):
        batch[index, : row.shape[0]] = row
        mask[index, : row.shape[0]] = 1
    return batch, mask


@torch.no_grad()
def _compute_shard(encoder, inputs: list[torch.Tensor], start: int, end: int, pad_id: int, batch_size: int, dtype):
    """
    The inputs of layer `end` for each utterance: from token ids (`start == 0`) or from the cached inputs of layer
    `start`, running only layers `start .. end - 1`, in batches of similar lengths.
    """
    order = sorted(range(len(inputs)), key=lambda index: inputs[index].shape[0])
    outputs: list[torch.Tensor | None] = [None] * len(inputs)
    with layers_between(encoder, start, end):
        for first in range(0, len(order), batch_size):
            chunk = order[first : first + batch_size]
            if start == 0:
                input_ids, mask = _pad([inputs[index] for index in chunk], pad_id)
                hidden = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
            else:
                states, mask = _pad([inputs[index].float() for index in chunk], 0.0)
                hidden = encoder(inputs_embeds=states, attention_mask=mask).last_hidden_state
            for row, index in enumerate(chunk):
                outputs[index] = hidden[row, : inputs[index].shape[0]].to(dtype)
    return torch.cat(outputs), np.cumsum([0] + [item.shape[0] for item in inputs])


def _complete_layers(folder: Path) -> list[int]:
    return sorted(int(path.parent.name.split("-")[1]) for path in folder.glob("layer-*/complete.json"))


def _read_shard(path: Path) -> list[torch.Tensor]:
    shard = load_file(str(path))
    offsets = shard["offsets"].tolist()
    return [shard["states"][offsets[index] : offsets[index + 1]] for index in range(len(offsets) - 1)]


def build_lower_layer_cache(
    encoder: nn.Module,
    tokenizer,
    token_ids: dict[str, list[list[int]]],
    first_layer: int,
    cache_root: str | os.PathLike,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 32,
) -> dict[str, LowerLayerCache]:
    """
    The inputs of layer `first_layer` for every utterance of every split of `token_ids` (split → one token-id list
    per utterance), computed in eval mode with the encoder's current (pretrained) weights and stored in
    `cache_root/<key>/layer-<first_layer>/<split>-<shard>.safetensors`, `CACHE_SHARD_SIZE` utterances a shard.

    Only the layers that are needed run: from the highest complete lower layer already cached for the same encoder
    and inputs (another run's), else from the embeddings. Finished shards are reused, so an interrupted computation
    resumes at the first missing shard; every file is written atomically.
    """
    root = Path(cache_root) / cache_key(encoder, tokenizer, dtype, token_ids)
    folder = root / f"layer-{first_layer:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    start = max([layer for layer in _complete_layers(root) if layer < first_layer], default=0)
    was_training = encoder.training
    encoder.eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    caches = {}
    try:
        for split, ids in token_ids.items():
            shards = range(0, len(ids), CACHE_SHARD_SIZE)
            parts, offsets = [], [np.zeros(1, dtype=np.int64)]
            description = f"caching inputs of layer {first_layer} from layer {start} ({split})"
            for shard_start in tqdm(shards, desc=description, unit="shard"):
                name = f"{split}-{shard_start // CACHE_SHARD_SIZE:05d}.safetensors"
                path = folder / name
                if not path.is_file():
                    if start == 0:
                        inputs = [torch.tensor(row) for row in ids[shard_start : shard_start + CACHE_SHARD_SIZE]]
                    else:
                        inputs = _read_shard(root / f"layer-{start:02d}" / name)
                    states, shard_offsets = _compute_shard(
                        encoder, inputs, start, first_layer, pad_id, batch_size, dtype
                    )
                    with atomic_output_file(path) as temporary:
                        save_file({"states": states, "offsets": torch.from_numpy(shard_offsets)}, str(temporary))
                shard = load_file(str(path))
                parts.append(shard["states"])
                offsets.append(shard["offsets"].numpy()[1:] + offsets[-1][-1])
            caches[split] = LowerLayerCache(torch.cat(parts), np.concatenate(offsets))
    finally:
        encoder.train(was_training)
    write_json(
        folder / "complete.json", {"first_layer": first_layer, "computed_from_layer": start, "splits": list(token_ids)}
    )
    logger.info(f"Lower-layer cache: {folder} (from layer {start})")
    return caches


__all__ = [
    "LowerLayerCache",
    "build_lower_layer_cache",
    "encoder_layers",
    "first_trained_layer",
    "freeze_lower_layers",
    "layers_between",
    "upper_layers_only",
]
