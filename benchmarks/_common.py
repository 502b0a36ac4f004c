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
"""Shared helpers of the benchmark scripts: machine description, timing, tables, JSON results, generated media."""

import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from modeling_m2fnet.configuration_m2fnet import ROBERTA_LARGE_KWARGS


REPO_ROOT = Path(__file__).resolve().parents[1]

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
MEDIA_DIR = REPO_ROOT / "outputs" / "benchmark_media"  # `outputs/` is git-ignored
LOCAL_MODELS = REPO_ROOT / "local_models"

# Ten MELD-like lines (Friends-style, 7 to 14 words): espeak-ng speaks each in about 2.5 to 3.5 s, MELD's average.
SENTENCES = (
    "We were on a break, and you know that as well as I do.",
    "Oh my God, I can not believe you just said that to me.",
    "Fine, you know what, fine, I am going to the coffee house.",
    "Could this day possibly be any longer than it already is?",
    "How you doing? I brought pizza and a little bit of beer.",
    "She said she would call me back in an hour, but she never did.",
    "Pivot! Pivot! Turn it a little more to the left.",
    "I got a job at the museum and they gave me my own office.",
    "Nobody told me life was going to be this way, okay?",
    "Joey does not share food, and you should know that by now.",
)
SPEAKERS = ("Ross", "Rachel", "Monica", "Chandler", "Joey", "Phoebe")


# ---------------------------------------------------------------------------------------------------------------------
# Machine description
# ---------------------------------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other jobs share this machine: the numbers say how busy it was)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine_description() -> dict:
    """CPU model, cores, torch threads, accelerator and the versions of the libraries the numbers depend on."""
    import torch

    try:
        usable_cores = len(os.sched_getaffinity(0))
    except AttributeError:
        usable_cores = os.cpu_count()
    packages = ("torch", "transformers", "numpy", "av", "soxr", "opencv-python-headless", "tokenizers", "datasets")
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {package: _version(package) for package in packages},
        "load_average_at_start": load_average(),
    }


def describe(machine: dict) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items() if version)
    return (
        f"CPU: {machine['cpu_model']}, {machine['usable_cores']} usable cores ({machine['logical_cores']} logical), "
        f"torch threads {machine['torch_threads']}, GPU: {machine['cuda'] or 'none'}\n"
        f"Python {machine['python']}, {versions}\nload average at start: {machine['load_average_at_start']}"
    )


# ---------------------------------------------------------------------------------------------------------------------
# Timing and output
# ---------------------------------------------------------------------------------------------------------------------


def time_call(
    function: Callable[[], object], repeats: int, warmup: int = 1, min_repeats: int = 1, budget_s: float | None = None
) -> dict:
    """
    Runs `function` `warmup` times untimed, then up to `repeats` times timed (stopping early, after `min_repeats`,
    once `budget_s` seconds are spent). Returns the median, min, max and all timings in seconds.
    """
    for _ in range(warmup):
        function()
    timings = []
    start_all = time.perf_counter()
    for index in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
        if budget_s is not None and index + 1 >= min_repeats and time.perf_counter() - start_all > budget_s:
            break
    return {
        "median_s": statistics.median(timings),
        "min_s": min(timings),
        "max_s": max(timings),
        "repeats": len(timings),
        "timings_s": [round(value, 6) for value in timings],
    }


def format_table(headers: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured Markdown table (what RESULTS.md holds), columns padded for the terminal."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(headers[i]), *(len(row[i]) for row in cells)) for i in range(len(headers))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    return "\n".join(lines)


def write_results(name: str, payload: dict, output_dir: str | os.PathLike | None = None) -> Path:
    """Writes `payload` (plus the load average at the end) to `<output_dir>/<name>.json` and returns the path."""
    output_dir = Path(output_dir) if output_dir is not None else RESULTS_DIR
    output_dir.mkdir(parents=True, exist_ok=True)
    payload = {**payload, "load_average_at_end": load_average()}
    path = output_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def save_benchmark(args, benchmark: str, command: str, machine: dict, sections: dict) -> dict:
    """
    The results file of a benchmark (what ran, when, where, and its `sections`), written to
    `<args.output_dir>/<args.name>.json` and announced.
    """
    payload = {
        "benchmark": benchmark,
        "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine,
        **sections,
    }
    print(f"\nwrote {write_results(args.name, payload, args.output_dir)}")
    return payload


# The text encoders of the paper's two widths, as transformers configs (their weights are random in benchmarks).
TEXT_ENCODER_CONFIGS = {
    768: {**ROBERTA_LARGE_KWARGS, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
          "intermediate_size": 3072, "model_type": "roberta"},
    1024: {**ROBERTA_LARGE_KWARGS, "model_type": "roberta"},
}  # fmt: skip


def set_threads(num_threads: int | None) -> None:
    import torch

    if num_threads:
        torch.set_num_threads(num_threads)


# ---------------------------------------------------------------------------------------------------------------------
# Generated media
# ---------------------------------------------------------------------------------------------------------------------


def _require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise SystemExit(f"`{binary}` is needed to generate the benchmark media (Debian: `apt-get install {binary}`).")
    return path


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def media_duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return float(container.duration) / 1e6


def generate_speech(index: int, media_dir: Path = MEDIA_DIR) -> Path:
    """espeak-ng speech of `SENTENCES[index]` (mono, 22.05 kHz, about 3 s), cached in `media_dir`."""
    media_dir.mkdir(parents=True, exist_ok=True)
    path = media_dir / f"speech_{index}.wav"
    if not path.exists():
        _run([_require("espeak-ng"), "-w", str(path), SENTENCES[index % len(SENTENCES)]])
    return path


def generate_face_video(
    width: int, height: int, speech: Path, duration_s: float = 3.0, media_dir: Path = MEDIA_DIR
) -> Path:
    """
    A `duration_s`-long, 25 fps H.264 mp4 of `width` x `height` with `speech` as its AAC audio track: scikit-image's
    astronaut portrait (one frontal face), slowly zooming, centred on a grey 16:9 background, as a MELD clip frames a
    speaker. Cached in `media_dir`.
    """
    media_dir.mkdir(parents=True, exist_ok=True)
    path = media_dir / f"face_{width}x{height}_{speech.stem}.mp4"
    if path.exists():
        return path
    image = media_dir / "astronaut.png"
    if not image.exists():
        from PIL import Image
        from skimage.data import astronaut

        Image.fromarray(astronaut()).save(image)
    side = height  # the 512 x 512 portrait fills the frame's height
    video_filter = (
        f"scale={side}:{side},zoompan=z='1+0.002*on':d=1:s={side}x{side}:fps=25,"
        f"pad={width}:{height}:(ow-iw)/2:0:color=gray,format=yuv420p"
    )
    inputs = ["-loop", "1", "-framerate", "25", "-i", str(image), "-i", str(speech)]
    encoding = ["-t", f"{duration_s}", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-af", "apad"]
    _run([_require("ffmpeg"), "-y", "-loglevel", "error", *inputs, "-vf", video_filter, *encoding, str(path)])
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Earlier revisions of the package, for before/after comparisons in one process
# ---------------------------------------------------------------------------------------------------------------------


def export_package(revision: str, target_dir: str | os.PathLike, package_name: str = "m2fnet_baseline") -> Path:
    """
    Writes `modeling_m2fnet/` as it is at git `revision` to `<target_dir>/<package_name>/` (read-only git commands:
    `git ls-tree` and `git show`) and returns that folder. The package uses relative imports only (it is the
    `trust_remote_code` payload), so it imports under another name beside the working tree's `modeling_m2fnet`.
    """
    command = ["git", "ls-tree", "--name-only", f"{revision}:modeling_m2fnet"]
    names = subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout.split()
    package = Path(target_dir) / package_name
    package.mkdir(parents=True, exist_ok=True)
    for name in names:
        if not name.endswith(".py"):
            continue
        source = subprocess.run(
            ["git", "show", f"{revision}:modeling_m2fnet/{name}"], cwd=REPO_ROOT, check=True, capture_output=True
        ).stdout
        (package / name).write_bytes(source)
    return package


def import_package(package_dir: str | os.PathLike):
    """Imports the package folder `package_dir` (made by `export_package`) under its folder name."""
    import importlib.util

    package_dir = Path(package_dir)
    if package_dir.name in sys.modules:
        return sys.modules[package_dir.name]
    spec = importlib.util.spec_from_file_location(
        package_dir.name, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[package_dir.name] = package  # its relative imports resolve through this entry
    spec.loader.exec_module(package)
    return package
