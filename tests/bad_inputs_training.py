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
"""Bad inputs of the training scripts: lost random states, a full disk, a launch that starts fewer processes."""

import os
import subprocess
import sys
from pathlib import Path

from tests.bad_input_harness import REPO_ROOT


TRAIN_SCRIPT = REPO_ROOT / "examples" / "train_m2fnet.py"
SMALL_TOY = [
    *("--toy_num_train_dialogues", "8", "--toy_num_eval_dialogues", "4", "--ablations", "none"),
    *("--save_plots", "false", "--per_device_train_batch_size", "4"),
]


def _env(ctx, **extra) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ACCELERATE_", "MASTER_"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(ctx.tmp / "hf"), OMP_NUM_THREADS="1", **extra)
    return env


def _train(ctx, *argv, prefix: tuple = (), env: dict | None = None) -> subprocess.CompletedProcess:
    command = [*prefix, sys.executable, str(TRAIN_SCRIPT), *SMALL_TOY, *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ctx.tmp, env=env or _env(ctx))


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(path) for path in folder.rglob("*") if ".tmp" in path.name or ".old-" in path.name)


def case_resume_with_an_unreadable_random_state(ctx):
    """A checkpoint whose RNG state is unreadable: resuming is refused (the run would not be exact) unless asked."""
    output = ctx.tmp / "run"
    first = _train(ctx, "--output_dir", output, "--num_train_epochs", "1", "--checkpointing_steps", "epoch")
    assert first.returncode == 0, first.stderr[-3000:]
    (checkpoint,) = (output / "checkpoints").iterdir()
    (checkpoint / "random_states_0.pkl").write_bytes(b"not a pickle")
    ctx.watch(checkpoint)
    resume = ["--output_dir", output, "--num_train_epochs", "2", "--resume_from_checkpoint", "latest"]
    refused = _train(ctx, *resume)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "Refusing to resume: cannot read the random-number-generator state" in refused.stderr
    assert str(checkpoint / "random_states_0.pkl") in refused.stderr and "--allow_inexact_resume" in refused.stderr
    accepted = _train(ctx, *resume, "--allow_inexact_resume", "--checkpoints_total_limit", "5")
    assert accepted.returncode == 0, accepted.stderr[-3000:]
    assert "Resuming with fresh random states" in accepted.stderr


def case_disk_full_while_saving_the_model(ctx):
    """A write that fails (`ulimit -f`): one line naming the file, no temporary folders, earlier outputs intact."""
    earlier = ctx.tmp / "earlier"
    done = _train(ctx, "--output_dir", earlier, "--num_train_epochs", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    ctx.watch(earlier)
    limited = ("bash", "-c", 'ulimit -f 200 && exec "$@"', "limited")  # 200 KiB: the weights do not fit
    failed = _train(ctx, "--output_dir", earlier.with_name("new"), "--num_train_epochs", "1", prefix=limited)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr[-3000:]
    assert "the file size limit was reached" in failed.stderr and "could not write" in failed.stderr
    assert _leftovers(ctx.tmp) == []


def case_multi_process_cpu_config_that_starts_one_process(ctx):
    """An accelerate config asking for 2 CPU processes that accelerate starts as one: stop and say how to launch."""
    config = ctx.tmp / "multi_cpu.yaml"
    config.write_text(
        "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_CPU\nnum_machines: 1\nnum_processes: 2\n"
        "machine_rank: 0\nmain_process_ip: 127.0.0.1\nmain_process_port: 29561\nmixed_precision: 'no'\nuse_cpu: true\n"
    )
    ctx.watch(config)
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config))
    command = [*launcher, str(TRAIN_SCRIPT), *SMALL_TOY, "--output_dir", str(ctx.tmp / "out")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ctx.tmp, env=_env(ctx))
    assert result.returncode != 0
    assert "asked for several CPU processes but started one" in result.stderr
    assert "ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N" in result.stderr
    assert not (ctx.tmp / "out" / "results.json").exists()
