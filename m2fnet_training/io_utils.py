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
"""Writing outputs safely: folders and files appear complete or not at all, with the user's normal permissions.

Every script of the project writes through these helpers, so that a crash, a kill or a full disk never leaves a
half-written model, dataset, feature cache or report where a later run (or a user) would take it for a finished one.
"""

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process's umask (read without changing it for good)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def apply_default_permissions(root: str | os.PathLike) -> None:
    """
    Gives `root` and everything under it the permissions a plain `open()` / `mkdir()` would have: `0o666 & ~umask`
    for files, `0o777 & ~umask` for folders. Staging folders come from `tempfile.mkdtemp` (mode 0700) and
    `save_pretrained` writes some files owner-only; the final output should not be.
    """
    umask = current_umask()
    root = Path(root)
    paths = [root, *root.rglob("*")] if root.is_dir() else [root]
    for path in paths:
        if path.is_symlink():
            continue
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def replace_path(staged: Path, target: Path) -> None:
    """Moves `staged` to `target`; an existing `target` is moved aside first and deleted once the new one is in place."""
    if not target.exists():
        os.rename(staged, target)
        return
    backup = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, backup)
    os.rename(staged, target)
    if backup.is_dir():
        shutil.rmtree(backup, ignore_errors=True)
    else:
        backup.unlink(missing_ok=True)


def staging_dir_for(target: str | os.PathLike) -> Path:
    """A fresh, empty temporary folder next to `target` (same file system, so that the final rename is atomic)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))


def remove_stale_staging(target: str | os.PathLike) -> list[Path]:
    """Deletes the temporary siblings of `target` that a killed run left behind; returns what it removed."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    removed = []
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*"):
        for path in target.parent.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_output_dir(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """
    Yields an empty temporary folder next to `target`; when the block succeeds, the folder gets the usual
    permissions and is renamed to `target`.

    When the block fails (any exception, a full disk included) the temporary folder is removed and `target` is left
    exactly as it was. An existing `target` is replaced only with `overwrite=True`.

    Example:

    ```python
    >>> import tempfile, pathlib
    >>> from m2fnet_training.io_utils import atomic_output_dir
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_output_dir(root / "model") as staging:
    ...     _ = (staging / "config.json").write_text("{}")
    >>> sorted(path.name for path in root.iterdir())
    ['model']

    ```"""
    target = Path(target).expanduser().resolve()
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite (overwrite=True) to replace it.")
    staging = staging_dir_for(target)
    try:
        yield staging
        apply_default_permissions(staging)
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} appeared while it was being written; pass --overwrite to replace it.")
        replace_path(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_output_file(target: str | os.PathLike) -> Iterator[Path]:
    """
    Yields a temporary path next to `target` to write to; renamed to `target` when the block succeeds, deleted when
    it fails, so that readers only ever see the old file or the complete new one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")


@contextlib.contextmanager
def os_errors_named(path: str | os.PathLike) -> Iterator[None]:
    """
    Inside the block, a failed write by a library that reports I/O errors in its own exception type (safetensors'
    Rust writer says "File too large (os error 27)") becomes the `OSError` it stands for, naming `path`; an `OSError`
    without a file name gets `path`. The command-line scripts then print one line naming what could not be written.
    """
    try:
        yield
    except OSError as error:
        if error.filename is None and error.errno is not None:
            raise OSError(error.errno, error.strerror or str(error), str(path)) from error
        raise
    except Exception as error:
        match = _RUST_OS_ERROR.search(str(error))
        if type(error).__name__ != "SafetensorError" or match is None:
            raise
        code = int(match.group(1))
        raise OSError(code, os.strerror(code) if code in errno.errorcode else str(error), str(path)) from error


def write_json(path: str | os.PathLike, payload: Any) -> None:
    """Writes `payload` as indented JSON, atomically (temporary file + rename)."""
    with atomic_output_file(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def move_into(staging: str | os.PathLike, directory: str | os.PathLike) -> None:
    """
    Moves every entry of the finished `staging` folder into `directory` (created if needed), replacing entries of the
    same name one by one, then removes `staging`. For output folders that also hold other files (results, checkpoints).
    """
    staging, directory = Path(staging), Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    apply_default_permissions(staging)
    for path in sorted(staging.iterdir()):
        replace_path(path, directory / path.name)
    staging.rmdir()


__all__ = [
    "apply_default_permissions",
    "atomic_output_dir",
    "atomic_output_file",
    "current_umask",
    "move_into",
    "os_errors_named",
    "replace_path",
    "remove_stale_staging",
    "staging_dir_for",
    "write_json",
]
