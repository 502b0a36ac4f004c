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
"""Stable fingerprints of what determines a cache: model weights, tokenizers, settings."""

import hashlib
import json
from typing import Any

import torch


def weights_hash(module: torch.nn.Module | dict[str, torch.Tensor]) -> str:
    """A BLAKE2b hash of a module's state dict (or of a state dict): names, dtypes, shapes and bytes of every tensor."""
    state = module if isinstance(module, dict) else module.state_dict()
    hasher = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(state.items()):
        tensor = tensor.detach().cpu().contiguous()
        hasher.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return hasher.hexdigest()


def tokenizer_signature(tokenizer) -> dict:
    """The tokenizer's full definition (hashed) and its special token ids."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    content = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    special = {name: getattr(tokenizer, f"{name}_token_id", None) for name in ("cls", "sep", "bos", "eos", "pad")}
    return {"content": hashlib.sha256(content.encode()).hexdigest(), "special_ids": special}


def fingerprint(obj: Any, length: int = 32) -> str:
    """A short hex digest of a JSON-serialisable object (keys sorted)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:length]


__all__ = ["fingerprint", "tokenizer_signature", "weights_hash"]
