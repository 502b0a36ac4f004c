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
def upper_layers_only(encoder: nn.Module, first_layer: int) -> Iterator[None]:
    """Inside the block, `encoder(inputs_embeds=states_of_layer_input, attention_mask=...)` runs layers `first_layer..`."""
    layers = encoder_layers(encoder)
    # ELECTRA projects its embeddings to the hidden size: the cached states are already past that projection.
    replaced = {
        name: getattr(encoder, name) for name in ("embeddings", "embeddings_project") if hasattr(encoder, name)
    }
    encoder.embeddings = _PassThroughEmbeddings()
    if "embeddings_project" in replaced:
        encoder.embeddings_project = nn.Identity()
    encoder.encoder.layer = nn.ModuleList(list(layers[first_layer:]))
    try:
        yield
    finally:
        for name, module in replaced.items():
            setattr(encoder, name, module)
        encoder.encoder.layer = layers


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


def cache_key(encoder: nn.Module, tokenizer, first_layer: int, dtype: torch.dtype, token_ids: dict) -> str:
    """Fingerprint of everything that determines the cached states: frozen weights, tokenizer, layer, dtype, inputs."""
    trained_layers = {id(layer) for layer in encoder_layers(encoder)[first_layer:]}
    trained = tuple(f"{name}." for name, module in encoder.named_modules() if id(module) in trained_layers)
    frozen = {name: tensor for name, tensor in encoder.state_dict().items() if not name.startswith(trained)}
    return fingerprint(
        {
            "format": CACHE_FORMAT_VERSION,
            "architecture": type(encoder).__name__,
            "frozen_weights": weights_hash(frozen),
            "tokenizer": tokenizer_signature(tokenizer),
            "first_layer": first_layer,
            "dtype": str(dtype),
            "inputs": {split: fingerprint(ids) for split, ids in sorted(token_ids.items())},
        }
    )


@torch.no_grad()
def _compute_shard(encoder, token_ids, first_layer, pad_id, batch_size, dtype) -> tuple[torch.Tensor, np.ndarray]:
    order = sorted(range(len(token_ids)), key=lambda index: len(token_ids[index]))
    outputs: list[torch.Tensor | None] = [None] * len(token_ids)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        length = max(len(token_ids[index]) for index in chunk)
        input_ids = torch.full((len(chunk), length), pad_id, dtype=torch.long)
        mask = torch.zeros(len(chunk), length, dtype=torch.long)
        for row, index in enumerate(chunk):
            input_ids[row, : len(token_ids[index])] = torch.tensor(token_ids[index])
            mask[row, : len(token_ids[index])] = 1
        hidden = encoder(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states
        for row, index in enumerate(chunk):
            outputs[index] = hidden[first_layer][row, : len(token_ids[index])].to(dtype)
    offsets = np.cumsum([0] + [len(ids) for ids in token_ids])
    return torch.cat(outputs), offsets


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
    The cached inputs of layer `first_layer` for every split of `token_ids` (split → one token-id list per
    utterance), computed in eval mode and written to `cache_root/<key>/<split>-<shard>.safetensors` in shards of
    `CACHE_SHARD_SIZE` utterances. Shards already on disk (same key) are reused, so an interrupted computation
    resumes at the first missing shard; each shard file is written atomically.
    """
    folder = Path(cache_root) / cache_key(encoder, tokenizer, first_layer, dtype, token_ids)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(
        folder / "cache_info.json", {"first_layer": first_layer, "dtype": str(dtype), "splits": list(token_ids)}
    )
    was_training = encoder.training
    encoder.eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    caches = {}
    try:
        for split, ids in token_ids.items():
            starts = range(0, len(ids), CACHE_SHARD_SIZE)
            parts, offsets = [], [np.zeros(1, dtype=np.int64)]
            for start in tqdm(starts, desc=f"caching layer-{first_layer} inputs ({split})", unit="shard"):
                path = folder / f"{split}-{start // CACHE_SHARD_SIZE:05d}.safetensors"
                if not path.is_file():
                    states, shard_offsets = _compute_shard(
                        encoder, ids[start : start + CACHE_SHARD_SIZE], first_layer, pad_id, batch_size, dtype
                    )
                    with atomic_output_file(path) as temporary:
                        save_file({"states": states, "offsets": torch.from_numpy(shard_offsets)}, str(temporary))
                shard = load_file(str(path))
                parts.append(shard["states"])
                offsets.append(shard["offsets"].numpy()[1:] + offsets[-1][-1])
            caches[split] = LowerLayerCache(torch.cat(parts), np.concatenate(offsets))
    finally:
        encoder.train(was_training)
    logger.info(f"Lower-layer cache: {folder}")
    return caches


__all__ = [
    "LowerLayerCache",
    "build_lower_layer_cache",
    "encoder_layers",
    "first_trained_layer",
    "freeze_lower_layers",
    "upper_layers_only",
]
