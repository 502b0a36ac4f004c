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
"""Running a training script to the end, or killing it with SIGKILL once a file appears (kill-and-resume tests)."""

import signal
import subprocess
import time
from pathlib import Path


def run_script(command: list, cwd: Path, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `command` to the end and fails the test, with the end of its stderr, if it does not succeed."""
    result = subprocess.run(list(map(str, command)), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def kill_when(command: list, marker: Path, cwd: Path, env: dict, timeout: int = 300) -> None:
    """Starts `command` and kills it with SIGKILL as soon as `marker` exists; fails if it finished before that."""
    process = subprocess.Popen(
        list(map(str, command)), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + timeout
    while not marker.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
