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
"""Command-line plumbing shared by the example scripts: one clean error line instead of a traceback."""

import errno
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


# Errors that come from the user's input or environment (a bad argument, a missing file, a full disk): the message
# names what is wrong and how to fix it, so the traceback only hides it.
USER_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, ValueError, ImportError)
DISK_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES}


def describe_os_error(error: OSError) -> str:
    """`[Errno 27] File too large: 'x'` → a sentence naming the path and what to do."""
    path = error.filename or "the output"
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EFBIG: "the file size limit was reached (see `ulimit -f`)",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
    }
    reason = reasons.get(error.errno, error.strerror or str(error))
    return (
        f"could not write {path}: {reason}. Partial output was removed and earlier outputs are unchanged; free space "
        "or choose another --output_dir, then run the same command again."
    )


def run_cli(main: Callable[..., Any], prog: str | None = None) -> None:
    """
    Runs `main()` and exits: 0 on success (or `main`'s integer return value), otherwise a one-line
    `prog: error: ...` message for user errors (bad input, missing files, a full disk) and exit status 2 for them.
    Programming errors keep their traceback.
    """
    prog = prog or Path(sys.argv[0]).name
    try:
        result = main()
    except KeyboardInterrupt:
        sys.exit(f"{prog}: interrupted")
    except OSError as error:
        if isinstance(error, USER_ERRORS):
            _exit_with(prog, _with_notes(error))
        if error.errno not in DISK_ERRNOS:
            raise
        _exit_with(prog, describe_os_error(error))
    except USER_ERRORS as error:
        _exit_with(prog, _with_notes(error))
    sys.exit(result if isinstance(result, int) else 0)


def _with_notes(error: BaseException) -> str:
    """The error's message followed by its notes (the context that callers added, e.g. which dialogue failed)."""
    return " ".join([str(error), *(f"({note})" for note in getattr(error, "__notes__", []))])


def _exit_with(prog: str, message: str) -> None:
    logging.shutdown()
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)


__all__ = ["describe_os_error", "run_cli"]
