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
"""Push a saved M2FNet checkpoint (weights, config, code, processor, results, plots, card) to the Hub in one commit.

    python examples/push_to_hub.py MODEL_DIR REPO_ID [--private] [--revision BRANCH] [--commit_message MSG]

`MODEL_DIR` is a folder written by `save_pretrained` after `modeling_m2fnet.register_auto_classes()` (the quickstart
and the training script do this): `model.safetensors` (or shards + index), `config.json` with `auto_map`, the
`modeling_m2fnet` code files, the processor files, and optionally `results.json` and `*.png` plots. Everything is
uploaded in a single commit, together with a model card built by `examples/model_card.py`, so the repository is
either at its previous commit or has the whole new checkpoint. Managed files (weights, code, processor files, plots)
of an earlier push that are not in the folder any more are deleted in the same commit. The card is always generated
(a `README.md` in the folder is not uploaded; pass `card=` to `push_model_folder` to upload your own).

The token comes from the standard huggingface_hub places only: the `HF_TOKEN` environment variable or the file
written by `hf auth login`. `HF_ENDPOINT` selects another Hub-compatible server (one without Xet storage also needs
`HF_HUB_DISABLE_XET=1`, for plain LFS uploads). Transient failures (5xx answers, dropped connections, timeouts) are
retried with exponential backoff; a push that still fails leaves the repository unchanged, and running the same
command again completes it (LFS files already uploaded are not sent again).

From Python (the training script's `--push_to_hub`; call it on the main process only):

```python
from examples.push_to_hub import PushToHubError, push_model_folder

commit = push_model_folder("outputs/m2fnet-meld", "my-org/m2fnet-meld", private=True)
print(commit.oid)  # pin this in `from_pretrained(..., revision=commit.oid)`
```
"""

import argparse
import ast
import fnmatch
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar


REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from huggingface_hub import (  # noqa: E402
    CommitInfo,
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    ModelCard,
    constants,
    get_token,
)
from huggingface_hub.errors import HfHubHTTPError, HFValidationError  # noqa: E402
from huggingface_hub.utils import validate_repo_id  # noqa: E402

from examples.model_card import RESULTS_FILE, ModelCardError, build_model_card  # noqa: E402


try:  # the HTTP client of huggingface_hub 2.x; 1.x used httpx
    from httpx2 import TransportError
except ImportError:  # pragma: no cover - depends on the installed huggingface_hub
    from httpx import TransportError


logger = logging.getLogger("m2fnet.push_to_hub")

# Top-level files of a checkpoint folder that a push uploads (and, when gone from the folder, deletes remotely).
UPLOAD_PATTERNS = (
    "*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json",
    "*.py",  # the code that `trust_remote_code` executes
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
    "vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "chat_template.*",
    "processor_config.json", "preprocessor_config.json", "feature_extractor_config.json",
    "image_processor_config.json", "video_preprocessor_config.json",
    RESULTS_FILE, "*.png",
)  # fmt: skip
TRANSIENT_STATUS_CODES = (408, 429, 500, 502, 503, 504)
INITIAL_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
EXIT_INVALID_INPUT = 2  # like argparse: fix the command line or the folder
EXIT_HUB_ERROR = 1

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
    weights = sorted(model_dir.glob("*.safetensors"))
    if not weights:
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
        except (ValueError, KeyError, TypeError) as error:
            raise PushToHubError(f"{index_path} is not a valid shard index: {error}", EXIT_INVALID_INPUT) from error
        missing = sorted(shard for shard in shards if not (model_dir / shard).is_file())
        if missing:
            raise PushToHubError(f"{model_dir} lacks weight shards listed in its index: {missing}", EXIT_INVALID_INPUT)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PushToHubError(f"{config_path} is not valid JSON: {error}", EXIT_INVALID_INPUT) from error
    auto_map = config.get("auto_map") if isinstance(config, dict) else None
    if not auto_map:
        raise PushToHubError(
            f"{config_path} has no `auto_map`, so `AutoModel.from_pretrained(..., trust_remote_code=True)` could not "
            "find the M2FNet code. Call `modeling_m2fnet.register_auto_classes()` before `model.save_pretrained(...)` "
            "and `processor.save_pretrained(...)`, then push the new folder.",
            EXIT_INVALID_INPUT,
        )

    # Every module named by an `auto_map` (model and processor configs), and what those modules import relatively.
    modules = set()
    configs = [config_path, model_dir / "tokenizer_config.json"] + sorted(model_dir.glob("*processor*config.json"))
    for json_file in configs:
        try:
            data = json.loads(json_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        maps = [data.get("auto_map") or {}] + [
            value.get("auto_map") or {} for value in data.values() if isinstance(value, dict)
        ]
        for mapping in maps:
            for reference in mapping.values():
                for item in reference if isinstance(reference, list) else [reference]:
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
                "imported by another code file). Save again after `modeling_m2fnet.register_auto_classes()`.",
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


# --- network, with retries ---------------------------------------------------------------------------------------


def _error_chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _http_status(error: BaseException) -> int | None:
    for item in _error_chain(error):
        if isinstance(item, HfHubHTTPError) and item.response is not None:
            return item.response.status_code
    return None


def is_transient(error: BaseException) -> bool:
    """A 5xx / 408 / 429 answer, a dropped connection or a timeout, anywhere in the exception chain."""
    if _http_status(error) in TRANSIENT_STATUS_CODES:
        return True
    return any(isinstance(item, (TransportError, ConnectionError, TimeoutError)) for item in _error_chain(error))


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
    status = _http_status(error)
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


def _explain(error: Exception, step: str, repo_id: str, endpoint: str, user: str | None, head: str | None) -> str:
    """A message for a failed Hub call: what happened, and what to do."""
    status = _http_status(error)
    namespace, _, name = repo_id.rpartition("/")
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
    unchanged = (
        f" Nothing was committed: `{repo_id}` is still at its previous commit {head}."
        if head
        else " Nothing was committed."
    )
    if is_transient(error):
        return (
            f"Network or server failure while {step} ({_summary(error)}), after retries.{unchanged} Run the same "
            "command again to finish the push (LFS files already uploaded are not sent again)."
        )
    if status is not None:
        return f"The Hub at {endpoint} answered HTTP {status} while {step}: {_server_message(error)}.{unchanged}"
    return f"Push failed while {step}: {type(error).__name__}: {error}.{unchanged}"


# --- the push ----------------------------------------------------------------------------------------------------


def _matches_managed(path_in_repo: str) -> bool:
    return "/" not in path_in_repo and any(fnmatch.fnmatch(path_in_repo, pattern) for pattern in UPLOAD_PATTERNS)


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
        dataset (`str`, *optional*):
            Training dataset for the card when `results.json` does not name one.
        card (`ModelCard`, *optional*):
            A card to upload instead of the one built by `examples.model_card.build_model_card`.
        max_retries (`int`, *optional*, defaults to 5):
            Retries of each Hub call on transient failures (exponential backoff from 1 s, at most 30 s).

    Returns:
        `huggingface_hub.CommitInfo`: `oid` is the commit sha (pin it with `revision=`), `commit_url` its page.

    Raises:
        `PushToHubError`: with a message that says what to fix; `exit_code` 2 for a bad repository id or folder
        (checked before any network call), 1 for authentication, permission, Hub and network failures.
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
            model_card = card if card is not None else build_model_card(model_dir, repo_id, branch, license, dataset)
        except ModelCardError as error:
            raise PushToHubError(str(error), EXIT_INVALID_INPUT) from error
        return str(model_card).encode("utf-8")

    readme = make_card(repo_id)  # a malformed results.json fails here, before any network call
    token = get_token()
    if token is None:
        raise PushToHubError(
            "No Hugging Face token found. Log in with `hf auth login` (it stores a token in the huggingface_hub "
            "cache), or set the HF_TOKEN environment variable to a token with write access "
            "(https://huggingface.co/settings/tokens). Tokens are never taken from the command line."
        )
    endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    api = HfApi(endpoint=endpoint, token=token)
    user, head, step = None, None, "checking your token"

    try:
        # 2. Who am I (fails fast on a bad token); resolve a bare repository name to my namespace.
        user = with_retries(lambda: api.whoami(token=token), "whoami", max_retries)["name"]
        if "/" not in repo_id:
            repo_id = f"{user}/{repo_id}"
            readme = make_card(repo_id)

        # 3. Create the repository or reuse it (and the branch).
        step = f"creating or reusing `{repo_id}`"
        with_retries(lambda: api.create_repo(repo_id, private=private, exist_ok=True), "create_repo", max_retries)
        info = with_retries(lambda: api.model_info(repo_id), "model_info", max_retries)
        if private and not info.private:
            logger.warning(f"`{repo_id}` already exists and is public: --private does not change its visibility.")
        if branch != constants.DEFAULT_REVISION:
            step = f"creating branch `{branch}` of `{repo_id}`"
            with_retries(
                lambda: api.create_branch(repo_id, branch=branch, exist_ok=True), "create_branch", max_retries
            )
            info = with_retries(lambda: api.model_info(repo_id, revision=branch), "model_info", max_retries)
        head = info.sha
        names = {path.name for path in files}
        pending = [info]

        # 4. One commit: the folder's files, the card, and deletions of managed files the folder no longer has.
        def commit_once() -> CommitInfo:
            # Read the remote files again on a retry: an attempt whose answer was lost may have landed.
            remote = pending.pop() if pending else api.model_info(repo_id, revision=branch)
            stale = sorted(
                sibling.rfilename
                for sibling in remote.siblings or []
                if _matches_managed(sibling.rfilename) and sibling.rfilename not in names
            )
            # Fresh operation objects for each attempt: huggingface_hub marks them as used.
            operations = [CommitOperationAdd(path_in_repo=path.name, path_or_fileobj=str(path)) for path in files]
            operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=readme))
            operations += [CommitOperationDelete(path_in_repo=name) for name in stale]
            return api.create_commit(
                repo_id,
                operations,
                commit_message=commit_message or "Upload M2FNet checkpoint",
                commit_description=commit_description,
                revision=branch,
            )

        step = f"uploading {len(files) + 1} files to `{repo_id}` (branch `{branch}`)"
        commit = with_retries(commit_once, "create_commit", max_retries)
        if commit.oid == head:
            logger.info(f"No file changed since commit {head} of `{repo_id}`: nothing new was committed.")
        return commit
    except PushToHubError:
        raise
    except Exception as error:
        if _http_status(error) is None and not is_transient(error) and not isinstance(error, (OSError, ValueError)):
            raise  # a bug, not a Hub failure: keep the traceback
        raise PushToHubError(_explain(error, step, repo_id, endpoint, user, head)) from error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Token: HF_TOKEN or `hf auth login` (never a command-line argument). Endpoint: HF_ENDPOINT.",
    )
    parser.add_argument("model_dir", type=Path, help="folder written by save_pretrained (+ results.json, *.png)")
    parser.add_argument("repo_id", help="Hub repository, `namespace/name` (created if missing)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--revision", default=None, help="branch to commit to (default: main; created if missing)")
    parser.add_argument("--commit_message", default=None, help='default: "Upload M2FNet checkpoint"')
    parser.add_argument("--commit_description", default=None, help="longer commit description")
    parser.add_argument("--license", default="apache-2.0", help="licence id of the weights, for the model card")
    parser.add_argument("--dataset", default=None, help="training dataset for the card, if results.json has none")
    parser.add_argument("--max_retries", type=int, default=5, help="retries per Hub call on transient failures")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)

    try:
        commit = push_model_folder(
            args.model_dir,
            args.repo_id,
            private=True if args.private else None,
            revision=args.revision,
            commit_message=args.commit_message,
            commit_description=args.commit_description,
            license=args.license,
            dataset=args.dataset,
            max_retries=args.max_retries,
        )
    except PushToHubError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    repo_id = commit.repo_url.repo_id
    print(f"{commit.repo_url} is at commit {commit.oid} with the contents of {args.model_dir} ({commit.commit_url})")
    print(
        "Load exactly this version with:\n"
        f'  AutoModel.from_pretrained("{repo_id}", trust_remote_code=True, revision="{commit.oid}")\n'
        f'  AutoProcessor.from_pretrained("{repo_id}", trust_remote_code=True, revision="{commit.oid}")'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
