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
"""Shared fixtures: real media generated on the fly with espeak-ng and ffmpeg (session-scoped, made once)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


REPO_ROOT = Path(__file__).resolve().parents[1]


def _require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"`{binary}` is not installed (Debian: `apt-get install {binary}`); .ci/run installs it")
    return path


def _ffmpeg(*arguments: str) -> None:
    """Runs Debian's ffmpeg quietly, overwriting its output."""
    _run([_require("ffmpeg"), "-y", "-loglevel", "error", *map(str, arguments)])


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def speech_wav(media_dir) -> Path:
    """About 2 s of real synthetic speech, mono 22.05 kHz 16-bit PCM (espeak-ng's native rate)."""
    path = media_dir / "speech.wav"
    if not path.exists():
        _run([_require("espeak-ng"), "-w", str(path), "We were on a break! I can not believe this."])
    return path


@pytest.fixture(scope="session")
def face_image_png(media_dir) -> Path:
    """A real photograph with one frontal face (NASA astronaut Eileen Collins, shipped by scikit-image)."""
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the face photograph")
    from PIL import Image

    path = media_dir / "astronaut.png"
    if not path.exists():
        Image.fromarray(skimage_data.astronaut()).save(path)
    return path


@pytest.fixture(scope="session")
def face_video_mp4(media_dir, face_image_png, speech_wav) -> Path:
    """A 2 s, 25 fps H.264 mp4 of the astronaut photo (slowly zooming) with the espeak-ng speech as AAC audio."""
    path = media_dir / "face_with_audio.mp4"
    if not path.exists():
        inputs = ["-loop", "1", "-framerate", "25", "-i", face_image_png, "-i", speech_wav]
        zoom = ["-vf", "scale=320:320,zoompan=z='1+0.002*on':d=1:s=320x320:fps=25,format=yuv420p", "-t", "2"]
        _ffmpeg(*inputs, *zoom, "-c:v", "libx264", "-c:a", "aac", "-shortest", path)
    return path


@pytest.fixture(scope="session")
def noface_video_mp4(media_dir) -> Path:
    """A 1 s, 25 fps mp4 of ffmpeg's colour test pattern (no face) without an audio track."""
    path = media_dir / "testsrc_silent.mp4"
    if not path.exists():
        pattern = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "1"]
        _ffmpeg(*pattern, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-an", path)
    return path


@pytest.fixture(scope="session")
def corrupt_mp4(media_dir, face_video_mp4) -> Path:
    """The first 2 KiB of a real mp4: a truncated file that no decoder can read frames from."""
    path = media_dir / "truncated.mp4"
    path.write_bytes(face_video_mp4.read_bytes()[:2048])
    return path


@pytest.fixture
def sine_wave():
    """A 1 s, 16 kHz, 440 Hz sine at amplitude 0.5 (float32)."""
    t = np.arange(16000, dtype=np.float32) / 16000
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def local_hub():
    """
    A local Hugging Face Hub (`tests/hub_server.py`) on 127.0.0.1, one per test module, with the users `alice` and
    `bob` (tokens in `local_hub.users`). A client process gets its environment (`HF_ENDPOINT`, `HF_TOKEN`, plain-LFS
    uploads, an empty `HF_HOME`) from `local_hub.client_env(hf_home, user="alice")`.
    """
    from tests.hub_server import HubServer

    with HubServer(users={"alice": "hf_local_alice_token", "bob": "hf_local_bob_token"}) as hub:
        yield hub


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """
    A complete tiny random M2FNet checkpoint (weights, processor, modeling code with `auto_map`), written by
    `examples.quickstart.save_checkpoint`: what `AutoModel` / `AutoProcessor.from_pretrained(dir,
    trust_remote_code=True)` load.
    """
    from examples.quickstart import save_checkpoint

    return save_checkpoint(tmp_path_factory.mktemp("checkpoints") / "tiny-m2fnet")


@pytest.fixture(scope="session")
def space_app(tiny_checkpoint):
    """
    `space/app.py` imported as a module (model loaded, `demo` built, not launched) with `M2FNET_MODEL` pointing at the
    tiny checkpoint and every other `M2FNET_*` setting at its default.
    """
    import importlib.util

    pytest.importorskip("gradio", reason="the Space needs gradio (`pip install -e .[space]`)")
    monkeypatch = pytest.MonkeyPatch()
    try:
        for name in [name for name in os.environ if name.startswith("M2FNET_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("M2FNET_MODEL", str(tiny_checkpoint))
        monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        if str(REPO_ROOT / "space") not in sys.path:  # app.py imports space_inputs / space_checkpoint from its folder
            sys.path.append(str(REPO_ROOT / "space"))
        spec = importlib.util.spec_from_file_location("m2fnet_space_app", REPO_ROOT / "space" / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        monkeypatch.undo()  # the settings are read at import; later tests see the environment unchanged
    return module


@pytest.fixture(scope="session")
def tone_wavs(media_dir) -> list[Path]:
    """Eight 0.6 s, 16 kHz mono 16-bit PCM sine tones (200 to 620 Hz), written with the standard library only."""
    import wave

    paths = []
    t = np.arange(int(16000 * 0.6), dtype=np.float64) / 16000
    for index in range(8):
        path = media_dir / f"tone_{index}.wav"
        if not path.exists():
            samples = (0.3 * np.sin(2 * np.pi * (200 + 60 * index) * t) * 32767).astype("<i2")
            with wave.open(str(path), "wb") as file:
                file.setnchannels(1)
                file.setsampwidth(2)
                file.setframerate(16000)
                file.writeframes(samples.tobytes())
        paths.append(path)
    return paths
