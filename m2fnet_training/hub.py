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
"""Pushing a saved M2FNet checkpoint (weights, config, code, processor, results, plots, card) to the Hub in one commit.

```python
from m2fnet_training.hub import push_model_folder

commit = push_model_folder("outputs/m2fnet-meld", "my-org/m2fnet-meld", private=True)
print(commit.oid)  # pin this in `from_pretrained(..., revision=commit.oid)`
```

The token comes from the standard huggingface_hub places only: the `HF_TOKEN` environment variable or the file written
by `hf auth login`. `HF_ENDPOINT` selects another Hub-compatible server; one without Xet storage answers the Xet
upload with HTTP 501 and needs `HF_HUB_DISABLE_XET=1` (plain LFS uploads; huggingface_hub reads it when it is
imported). Only transient failures are retried (timeouts, dropped connections, HTTP 408, 429 and 5xx other than 501),
with exponential backoff; anything else fails at once with a message saying what to do. A push that fails leaves the
repository at its previous commit, and running it again completes it (LFS files already uploaded are not re-sent).
"""

import ast
import fnmatch
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from huggingface_hub import (
    CommitInfo,
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    ModelCard,
    constants,
    get_token,
)
from huggingface_hub.errors import HfHubHTTPError, HFValidationError
from huggingface_hub.utils import validate_repo_id

from m2fnet_training.model_card import RESULTS_FILE, ModelCardError, build_model_card


try:  # the HTTP client of huggingface_hub 2.x; 1.x used httpx
    from httpx2 import TransportError
except ImportError:  # pragma: no cover - depends on the installed huggingface_hub
    from httpx import TransportError


logger = logging.getLogger(__name__)

# Top-level files of a checkpoint folder that a push uploads (and, when gone from the folder, deletes remotely).
UPLOAD_PATTERNS = (
    *("*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json"),
    "*.py",  # the code that `trust_remote_code` executes
    *("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt"),
    *("vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "chat_template.*"),
    *("processor_config.json", "preprocessor_config.json", "feature_extractor_config.json"),
    *("image_processor_config.json", "video_preprocessor_config.json", RESULTS_FILE, "*.png"),
)
# Retried: the request may succeed later. 501 (Not Implemented) is a 5xx that never will.
TRANSIENT_STATUS_CODES = frozenset({408, 429} | set(range(500, 600)) - {501})
INITIAL_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
EXIT_INVALID_INPUT = 2  # like argparse: fix the command line or the folder
EXIT_HUB_ERROR = 1
# How hf_xet (reqwest) reports an HTTP error inside its `ConnectionError` messages.
XET_STATUS = re.compile(r"HTTP status (?:client|server) error \((\d{3})")

T = TypeVar("T")


class PushToHubError(Exception):
    """A push that cannot be done; the message says why and what to do. `exit_code` is what the CLI returns."""

    def __init__(self, message: str, exit_code: int = EXIT_HUB_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


# --- local checks (no network) -----------------------------------------------------------------------------------


def _relative_imports(code_file: Path) -> set[str]:
    """Modules that `code_file` imports relatively (`from .losses import ...`): they must sit next to it."""
    try:
        tree = ast.parse(code_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError) as error:
        raise PushToHubError(f"{code_file} cannot be parsed as Python: {error}", EXIT_INVALID_INPUT) from error
    return {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
    }


def _code_references(data: dict) -> Iterator[str]:
    """`"module.Class"` strings of a config's `auto_map` (also nested ones) and `custom_pipelines` implementations."""
    maps = [data.get("auto_map") or {}] + [
        value.get("auto_map") or {} for value in data.values() if isinstance(value, dict)
    ]
    for mapping in maps:
        for reference in mapping.values() if isinstance(mapping, dict) else ():
            yield from reference if isinstance(reference, list) else [reference]
    pipelines = data.get("custom_pipelines")
    for task in pipelines.values() if isinstance(pipelines, dict) else ():
        if isinstance(task, dict):
            yield task.get("impl")


def _check_weights(model_dir: Path) -> None:
    if not sorted(model_dir.glob("*.safetensors")):
        legacy = sorted(path.name for path in model_dir.iterdir() if path.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        hint = f" (found {', '.join(legacy)}: only safetensors weights are pushed)" if legacy else ""
        raise PushToHubError(
            f"{model_dir} has no model weights: expected model.safetensors (or shards with "
            f"model.safetensors.index.json) written by `model.save_pretrained(...)`{hint}.",
            EXIT_INVALID_INPUT,
        )
    index_path = model_dir / "model.safetensors.index.json"
    if index_path.is_file():
        try:
            shards = set(json.loads(index_path.read_text())["weight_map"].values())
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise PushToHubError(f"{index_path} is not a valid shard index: {error}", EXIT_INVALID_INPUT) from error
        missing = sorted(shard for shard in shards if not (model_dir / shard).is_file())
        if missing:
            raise PushToHubError(f"{model_dir} lacks weight shards listed in its index: {missing}", EXIT_INVALID_INPUT)


def check_model_folder(model_dir: str | Path) -> list[Path]:
    """
    Checks that `model_dir` holds a checkpoint that `from_pretrained(..., trust_remote_code=True)` can load and
    returns the files to upload. Raises `PushToHubError` (exit code 2) naming what is missing.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise PushToHubError(f"{model_dir} is not a folder", EXIT_INVALID_INPUT)
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise PushToHubError(
            f"{model_dir} has no config.json: it is not a folder written by `model.save_pretrained(...)`.",
            EXIT_INVALID_INPUT,
        )
    _check_weights(model_dir)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PushToHubError(f"{config_path} is not valid JSON: {error}", EXIT_INVALID_INPUT) from error
    if not isinstance(config, dict) or not config.get("auto_map"):
        raise PushToHubError(
            f"{config_path} has no `auto_map`, so `AutoModel.from_pretrained(..., trust_remote_code=True)` could not "
            "find the M2FNet code. Call `modeling_m2fnet.register_auto_classes()` before `model.save_pretrained(...)` "
            "and `processor.save_pretrained(...)`, then push the new folder.",
            EXIT_INVALID_INPUT,
        )

    # Every module named by an `auto_map` or `custom_pipelines` (model and processor configs), and what those
    # modules import relatively.
    modules = set()
    configs = [config_path, model_dir / "tokenizer_config.json"] + sorted(model_dir.glob("*processor*config.json"))
    for json_file in configs:
        try:
            data = json.loads(json_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        for item in _code_references(data) if isinstance(data, dict) else ():
            if isinstance(item, str) and "--" not in item:  # "repo--module.Class" points at another repo
                modules.add(item.rsplit(".", 1)[0])
    pending, seen = sorted(modules), set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        code_file = model_dir / f"{module}.py"
        if not code_file.is_file():
            raise PushToHubError(
                f"{model_dir} lacks {code_file.name}, which `trust_remote_code` needs (named by an `auto_map` or "
                "`custom_pipelines`, or imported by another code file). Save again after "
                "`modeling_m2fnet.register_auto_classes()`.",
                EXIT_INVALID_INPUT,
            )
        pending.extend(sorted(_relative_imports(code_file) - seen))

    if not (model_dir / "processor_config.json").is_file():
        logger.warning(
            f"{model_dir} has no processor_config.json: `AutoProcessor.from_pretrained` will not work for this "
            "repository. Save the processor too: `processor.save_pretrained(MODEL_DIR)`."
        )
    return sorted(
        path
        for path in model_dir.iterdir()
        if path.is_file() and any(fnmatch.fnmatch(path.name, pattern) for pattern in UPLOAD_PATTERNS)
    )


# --- network errors and retries ----------------------------------------------------------------------------------


@dataclass
class _PushState:
    """How far a push got: named in the error message when it fails."""

    step: str = "checking your token"
    user: str | None = None
    head: str | None = None  # the branch's commit before this push


def _error_chain(error: BaseException | None) -> Iterator[BaseException]:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def http_status(error: BaseException) -> int | None:
    """The HTTP status behind a failed Hub call (also one reported by hf_xet inside a `ConnectionError`)."""
    for item in _error_chain(error):
        if isinstance(item, HfHubHTTPError) and item.response is not None:
            return item.response.status_code
        match = XET_STATUS.search(str(item)) if isinstance(item, ConnectionError) else None
        if match:
            return int(match.group(1))
    return None


def is_transient(error: BaseException) -> bool:
    """A timeout, a dropped connection, or HTTP 408 / 429 / 5xx other than 501, anywhere in the exception chain."""
    status = http_status(error)
    if status is not None:
        return status in TRANSIENT_STATUS_CODES
    return any(isinstance(item, (TransportError, ConnectionError, TimeoutError)) for item in _error_chain(error))


def is_xet_unsupported(error: BaseException) -> bool:
    """A 501 answer to a Xet storage request: the server has no Xet storage."""
    return http_status(error) == 501 and any("xet" in str(item).lower() for item in _error_chain(error))


def with_retries(action: Callable[[], T], description: str, max_retries: int) -> T:
    """Runs `action`, retrying transient failures up to `max_retries` times with exponential backoff."""
    attempt = 0
    while True:
        try:
            return action()
        except Exception as error:
            if attempt >= max_retries or not is_transient(error):
                raise
            delay = min(INITIAL_BACKOFF_SECONDS * 2**attempt, MAX_BACKOFF_SECONDS)
            attempt += 1
            logger.warning(f"{description} failed ({_summary(error)}); retry {attempt}/{max_retries} in {delay:g} s")
            time.sleep(delay)


def _summary(error: BaseException) -> str:
    status = http_status(error)
    if status is not None:
        return f"HTTP {status}"
    for item in _error_chain(error):
        if isinstance(item, (TransportError, ConnectionError, TimeoutError)):
            return f"{type(item).__name__}: {item}"
    return f"{type(error).__name__}: {error}"


def _server_message(error: BaseException) -> str:
    for item in _error_chain(error):
        if isinstance(item, HfHubHTTPError):
            return item.server_message or str(item).splitlines()[0]
    return str(error)


def _explain(error: Exception, state: _PushState, repo_id: str, endpoint: str) -> str:
    """A message for a failed Hub call: what happened, and what to do."""
    step, user, head = state.step, state.user, state.head
    status = http_status(error)
    namespace, _, name = repo_id.rpartition("/")
    unchanged = f" Nothing was committed: `{repo_id}` is still at its previous commit {head}." if head else ""
    unchanged = unchanged or " Nothing was committed."
    if status == 401:
        return (
            f"The Hub at {endpoint} rejected your token (401 Unauthorized) while {step}: it is invalid, expired or "
            f"revoked. Create a token with write access at {endpoint}/settings/tokens, then run `hf auth login` or "
            "set HF_TOKEN."
        )
    if status == 403:
        own = f" such as `{user}/{name}`" if user else ""
        return (
            f"You have no write access to `{repo_id}` on {endpoint} (403 Forbidden, while {step}): the namespace "
            f"`{namespace}` belongs to another user or organization, or your token is read-only. Push to a "
            f"repository you own{own}, ask an owner of `{namespace}` for write access, or use a write token. "
            f"Server message: {_server_message(error)}"
        )
    if status == 404:
        return (
            f"Not found (404) on {endpoint} while {step}: {_server_message(error)}. Check the repository id "
            f"`{repo_id}`, the revision and HF_ENDPOINT."
        )
    if is_xet_unsupported(error):
        return (
            f"The Hub server at {endpoint} has no Xet storage: it answered 501 Not Implemented to the Xet upload "
            f"while {step}.{unchanged} Set HF_HUB_DISABLE_XET=1 to upload with plain Git LFS, then run the same "
            "command again: `HF_HUB_DISABLE_XET=1 python examples/push_to_hub.py ...` (from Python, set it before "
            "huggingface_hub is imported)."
        )
    if is_transient(error):
        return (
            f"Network or server failure while {step} ({_summary(error)}), after retries.{unchanged} Run the same "
            "command again to finish the push (LFS files already uploaded are not sent again)."
        )
    if status is not None:
        return (
            f"The Hub at {endpoint} answered HTTP {status} while {step}: {_server_message(error)}.{unchanged} This "
            "is not a transient failure, so it was not retried: fix the request (or the server) first."
        )
    return f"Push failed while {step}: {type(error).__name__}: {error}.{unchanged}"


# --- the push ----------------------------------------------------------------------------------------------------


def _matches_managed(path_in_repo: str) -> bool:
    return "/" not in path_in_repo and any(fnmatch.fnmatch(path_in_repo, pattern) for pattern in UPLOAD_PATTERNS)


def _commit_folder(
    api: HfApi, repo_id: str, branch: str, files: list[Path], readme: bytes, info, message, description
):
    """
    One commit: the folder's files, the card, and deletions of managed files the folder no longer has. Returns a
    function for `with_retries`: each attempt reads the remote files again (a try whose answer was lost may have
    landed) and builds fresh operation objects (huggingface_hub marks them as used).
    """
    names, pending = {path.name for path in files}, [info]

    def commit_once() -> CommitInfo:
        remote = pending.pop() if pending else api.model_info(repo_id, revision=branch)
        stale = sorted(
            sibling.rfilename
            for sibling in remote.siblings or []
            if _matches_managed(sibling.rfilename) and sibling.rfilename not in names
        )
        operations = [CommitOperationAdd(path_in_repo=path.name, path_or_fileobj=str(path)) for path in files]
        operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=readme))
        operations += [CommitOperationDelete(path_in_repo=name) for name in stale]
        return api.create_commit(
            repo_id, operations, commit_message=message, commit_description=description, revision=branch
        )

    return commit_once


def _authenticated_api() -> HfApi:
    """An `HfApi` for `HF_ENDPOINT` with the token of `HF_TOKEN` or `hf auth login`; never one from the command line."""
    token = get_token()
    if token is None:
        raise PushToHubError(
            "No Hugging Face token found. Log in with `hf auth login` (it stores a token in the huggingface_hub "
            "cache), or set the HF_TOKEN environment variable to a token with write access "
            "(https://huggingface.co/settings/tokens). Tokens are never taken from the command line."
        )
    return HfApi(endpoint=(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/"), token=token)


def _prepare_branch(api: HfApi, repo_id: str, branch: str, private: bool | None, max_retries: int, state: _PushState):
    """Creates the repository (or reuses it) and the branch; returns the branch's `ModelInfo` and records its head."""
    state.step = f"creating or reusing `{repo_id}`"
    with_retries(lambda: api.create_repo(repo_id, private=private, exist_ok=True), "create_repo", max_retries)
    info = with_retries(lambda: api.model_info(repo_id), "model_info", max_retries)
    if private and not info.private:
        logger.warning(f"`{repo_id}` already exists and is public: --private does not change its visibility.")
    if branch != constants.DEFAULT_REVISION:
        state.step = f"creating branch `{branch}` of `{repo_id}`"
        with_retries(lambda: api.create_branch(repo_id, branch=branch, exist_ok=True), "create_branch", max_retries)
        info = with_retries(lambda: api.model_info(repo_id, revision=branch), "model_info", max_retries)
    state.head = info.sha
    return info


def push_model_folder(
    model_dir: str | Path,
    repo_id: str,
    *,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    commit_description: str | None = None,
    license: str = "apache-2.0",
    dataset: str | None = None,
    language: str | None = None,
    base_model: str | None = None,
    card: ModelCard | None = None,
    max_retries: int = 5,
) -> CommitInfo:
    """
    Uploads a checkpoint folder and its model card to a Hub model repository in a single commit.

    Args:
        model_dir (`str` or `Path`):
            Folder written by `save_pretrained` after `modeling_m2fnet.register_auto_classes()`.
        repo_id (`str`):
            `"namespace/name"` (or `"name"` for your own namespace). Created if it does not exist.
        private (`bool`, *optional*):
            Create the repository as private. An existing repository keeps its visibility.
        revision (`str`, *optional*):
            Branch to commit to (created from `main` if missing). Defaults to `main`.
        commit_message (`str`, *optional*):
            Defaults to `"Upload M2FNet checkpoint"`.
        commit_description (`str`, *optional*):
            Longer description of the commit.
        license (`str`, *optional*, defaults to `"apache-2.0"`):
            Licence id written in the model card.
        dataset, language, base_model (`str`, *optional*):
            Passed to `m2fnet_training.model_card.build_model_card` (a `dataset` that contradicts `results.json` is
            an error; `language` and `base_model` override `results.json`).
        card (`ModelCard`, *optional*):
            A card to upload instead of the generated one.
        max_retries (`int`, *optional*, defaults to 5):
            Retries of each Hub call on transient failures (exponential backoff from 1 s, at most 30 s).

    Returns:
        `huggingface_hub.CommitInfo`: `oid` is the commit sha (pin it with `revision=`), `commit_url` its page.

    Raises:
        `PushToHubError`: with a message that says what to fix; `exit_code` 2 for a bad repository id, folder or
        card claim (checked before any network call), 1 for authentication, permission, Hub and network failures.
    """
    # 1. Everything that can be checked locally, before any network call.
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise PushToHubError(
            f"Invalid repository id {repo_id!r}: {error} Use `namespace/name`, e.g. `my-org/m2fnet-meld`.",
            EXIT_INVALID_INPUT,
        ) from error
    files = check_model_folder(model_dir)
    branch = revision or constants.DEFAULT_REVISION

    def make_card(repo_id: str) -> bytes:
        try:
            model_card = card
            if model_card is None:
                model_card = build_model_card(model_dir, repo_id, branch, license, dataset, language, base_model)
        except ModelCardError as error:
            raise PushToHubError(str(error), EXIT_INVALID_INPUT) from error
        return str(model_card).encode("utf-8")

    readme = make_card(repo_id)  # a malformed results.json or a false dataset claim fails here, offline
    api, state = _authenticated_api(), _PushState()
    try:
        # 2. Who am I (fails fast on a bad token); resolve a bare repository name to my namespace.
        state.user = with_retries(api.whoami, "whoami", max_retries)["name"]
        if "/" not in repo_id:
            repo_id = f"{state.user}/{repo_id}"
            readme = make_card(repo_id)
        # 3. Create the repository or reuse it (and the branch).
        info = _prepare_branch(api, repo_id, branch, private, max_retries, state)
        # 4. One commit with everything.
        state.step = f"uploading {len(files) + 1} files to `{repo_id}` (branch `{branch}`)"
        message = commit_message or "Upload M2FNet checkpoint"
        commit_once = _commit_folder(api, repo_id, branch, files, readme, info, message, commit_description)
        commit = with_retries(commit_once, "create_commit", max_retries)
        if commit.oid == state.head:
            logger.info(f"No file changed since commit {state.head} of `{repo_id}`: nothing new was committed.")
        return commit
    except PushToHubError:
        raise
    except Exception as error:
        if http_status(error) is None and not is_transient(error) and not isinstance(error, (OSError, ValueError)):
            raise  # a bug, not a Hub failure: keep the traceback
        raise PushToHubError(_explain(error, state, repo_id, api.endpoint.rstrip("/"))) from error


__all__ = [
    "UPLOAD_PATTERNS",
    "PushToHubError",
    "check_model_folder",
    "http_status",
    "is_transient",
    "is_xet_unsupported",
    "push_model_folder",
    "with_retries",
]
