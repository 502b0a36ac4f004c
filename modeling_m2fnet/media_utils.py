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
"""Media I/O of the M2FNet processors: audio and video decoding (PyAV), resampling (soxr), face detection (OpenCV).

The media packages are optional and imported inside functions only, so that this file loads with torch +
transformers + numpy (it is copied next to Hub checkpoints and executed through `trust_remote_code`).
"""

import errno
import importlib
import io
import math
import os
import stat
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch


# What a Hub user installs to process conversations that carry media (setup.py's `media` extra without Pillow,
# which only tests and the Space use). OpenCV 5 no longer ships the Haar cascades, hence the `<5`.
MEDIA_INSTALL_COMMAND = 'pip install av soxr "opencv-python-headless<5"'
_PIP_NAMES = {"av": "av", "soxr": "soxr", "cv2": '"opencv-python-headless<5"'}
_HAAR_CASCADE_FILE = "haarcascade_frontalface_default.xml"

# A 2-D waveform is read as (channels, samples) or (samples, channels) when one of its axes is at most this long.
_MAX_CHANNELS = 8

# When cutting `[start_time, end_time)` out of a file, seek (instead of decoding from the start) only when the cut
# begins later than this, and land this many seconds early: codecs with overlapping frames (AAC, MP3) need the frame
# before the cut to decode its first samples exactly.
_SEEK_MIN_START_S = 1.0
_SEEK_PREROLL_S = 0.5


class _MediaErrorContext:
    """Where a media error happened: `source` (the file or blob at fault) and, when the processor raises it,
    `modality` (the utterance key that named the file, `"audio"` or `"video"`), `conversation` and `utterance`."""

    def __init__(self, message: str, *, source=None, modality=None, conversation=None, utterance=None):
        super().__init__(message)
        self.source, self.modality, self.conversation, self.utterance = source, modality, conversation, utterance


class MediaDecodingError(_MediaErrorContext, ValueError):
    """A media file (or in-memory blob) could not be decoded. The message names the source and the fix."""


class EmptyAudioError(MediaDecodingError):
    """The audio holds no samples (in the requested window). The processor treats it as missing audio."""


class NoAudioStreamError(MediaDecodingError):
    """The media has no audio stream (for example a silent mp4, or an image renamed `.wav`)."""


class NoVideoStreamError(MediaDecodingError):
    """The media has no video stream (for example a wav file given as `video`)."""


class MediaFileNotFoundError(_MediaErrorContext, FileNotFoundError):
    """A media path does not exist (or is a broken symbolic link)."""


def _import_media_package(module: str, purpose: str):
    """Imports an optional media package, or raises an `ImportError` naming the pip packages to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{purpose} needs the `{module}` module (`pip install {_PIP_NAMES[module]}`), which is not installed. "
            f"To process conversations with media, install the media packages: `{MEDIA_INSTALL_COMMAND}`. "
            "Conversations with text only need none of them."
        ) from err


def _import_cv2():
    cv2 = _import_media_package("cv2", "Face detection (pass `do_detect_faces=False` to skip it)")
    cascade_dir = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if cascade_dir is None or not os.path.isfile(os.path.join(cascade_dir, _HAAR_CASCADE_FILE)):
        raise ImportError(
            f"This OpenCV ({cv2.__version__}) does not ship the Haar cascade `{_HAAR_CASCADE_FILE}` (OpenCV 5 dropped "
            f"them). Install OpenCV 4.x: `pip install {_PIP_NAMES['cv2']}`."
        )
    return cv2


def check_media_path(path: str | os.PathLike) -> str:
    """`path` as a `str`, after checking that it is an existing regular file: raises [`MediaFileNotFoundError`] when it
    does not exist (or is a broken symbolic link), [`MediaDecodingError`] when it is a directory, a link loop, etc."""
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        broken = f" (a broken symbolic link to {os.readlink(path)!r})" if os.path.islink(path) else ""
        raise MediaFileNotFoundError(f"{path!r} does not exist{broken}.", source=path) from None
    except OSError as err:
        what = "a symbolic link loop" if err.errno == errno.ELOOP else f"not accessible ({err.strerror})"
        raise MediaDecodingError(f"{path!r} is {what}, not a media file.", source=path) from err
    if stat.S_ISDIR(mode):
        raise MediaDecodingError(f"{path!r} is a directory, not a media file.", source=path)
    if not stat.S_ISREG(mode):
        raise MediaDecodingError(f"{path!r} is not a regular file (a pipe, socket or device?).", source=path)
    return path


def check_cut(start_time: Any, end_time: Any, where: str = "", names=("start_time", "end_time")):
    """
    Validates a cut `[start_time, end_time)` in seconds (`None`: from the start / to the end) and returns it as a
    `(float | None, float | None)` pair. Raises a `ValueError` starting with `where` and naming the key (`names`) for
    a non-numeric, non-finite or negative time, or an end that is not after the start.
    """
    prefix = f"{where}: " if where else ""
    times = []
    for name, value in zip(names, (start_time, end_time)):
        if value is None:
            times.append(None)
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{prefix}`{name}` must be a number of seconds, got {value!r} ({type(value).__name__}).")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{prefix}`{name}` must be a finite number of seconds >= 0, got {value!r}.")
        times.append(float(value))
    start, end = times
    if end is not None and end <= (start or 0.0):
        raise ValueError(
            f"{prefix}`{names[1]}` must be after `{names[0]}`, got {names[0]}={start_time!r}, {names[1]}={end_time!r}."
        )
    return start, end


def to_numpy(array: Any) -> np.ndarray:
    """A `torch.Tensor` (any device) or array-like as a NumPy array."""
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def pcm_to_float(array: np.ndarray) -> np.ndarray:
    """Float arrays pass through (as float32); integer PCM is scaled to [-1, 1) by its dtype's full scale."""
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32, copy=False)
    if np.issubdtype(array.dtype, np.unsignedinteger):
        half_scale = float(2 ** (8 * array.dtype.itemsize - 1))
        return ((array.astype(np.float64) - half_scale) / half_scale).astype(np.float32)
    if np.issubdtype(array.dtype, np.signedinteger):
        return (array / float(2 ** (8 * array.dtype.itemsize - 1))).astype(np.float32)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    raise ValueError(f"audio samples must be real numbers, got an array of dtype {array.dtype}.")


def time_axis(shape: tuple[int, ...], name: str) -> int:
    """The time axis of a 1-D or 2-D waveform: 2-D arrays have at most 8 channels on one axis."""
    if len(shape) == 1:
        return 0
    if len(shape) == 2:
        if shape[0] <= _MAX_CHANNELS and shape[0] <= shape[1]:
            return 1
        if shape[1] <= _MAX_CHANNELS:
            return 0
        raise ValueError(
            f"{name} is a 2-D array of shape {shape}: a 2-D waveform must be (channels, samples) or (samples, "
            f"channels) with at most {_MAX_CHANNELS} channels. To pass a batch of clips, pass a list of 1-D arrays."
        )
    raise ValueError(f"{name} must be a 1-D (mono) or 2-D (multi-channel) waveform, got an array of shape {shape}.")


def downmix(waveform: np.ndarray, axis: int) -> np.ndarray:
    """Averages the channels of a 1-D/2-D waveform whose time axis is `axis` (equal weights: stays in [-1, 1])."""
    if waveform.ndim == 1:
        return np.ascontiguousarray(waveform, dtype=np.float32)
    return np.ascontiguousarray(waveform.mean(axis=1 - axis, dtype=np.float32), dtype=np.float32)


def resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resamples a mono float32 waveform with soxr (band-limited, "HQ" quality); a no-op when the rates match."""
    if orig_sr == target_sr or waveform.shape[0] == 0:
        return waveform
    soxr = _import_media_package("soxr", f"Resampling audio from {orig_sr} Hz to {target_sr} Hz")
    return np.ascontiguousarray(soxr.resample(waveform, orig_sr, target_sr, quality="HQ"), dtype=np.float32)


def _cut_samples(waveform: np.ndarray, rate: int, start: float, end: float | None, offset_s: float = 0.0):
    """Keeps `[start, end)` seconds of a mono waveform whose first sample is at `offset_s` seconds."""
    first = max(0, round((start - offset_s) * rate))
    last = None if end is None else max(first, round((end - offset_s) * rate))
    return waveform[first:last]


def _frame_to_mono(frame) -> np.ndarray:
    """Converts a decoded PyAV `AudioFrame` (any sample format, planar or packed) to a mono float32 array."""
    array = frame.to_ndarray()
    if not frame.format.is_planar:  # packed formats come as (1, samples * channels), interleaved
        array = array.reshape(-1, frame.layout.nb_channels).T
    return pcm_to_float(array).mean(axis=0, dtype=np.float32)


def _decode_stream(container, stream, name: str, start: float, end: float | None, seek_to: float | None):
    """Decodes the audio frames overlapping `[start, end)`: `(chunks, time of the first chunk, rate)`, or `None`s
    when frames carry no timestamps after a seek."""
    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    if seek_to is not None:
        container.seek(round((origin + seek_to) / stream.time_base), stream=stream, backward=True)
    chunks, first_time, rate, position = [], None, None, 0.0
    for frame in container.decode(stream):
        if rate is None:
            rate = frame.sample_rate
        elif frame.sample_rate != rate:
            raise MediaDecodingError(
                f"The audio of {name} changes sampling rate mid-stream ({rate} Hz -> {frame.sample_rate} Hz); "
                "re-encode it first, e.g. `ffmpeg -i in -ar 16000 -ac 1 out.wav`.",
                source=name,
            )
        if frame.pts is not None and frame.time_base is not None:
            position = float(frame.pts * frame.time_base) - origin
        elif seek_to is not None:
            return None, None, None  # no timestamps: placing frames after a seek is guesswork
        duration = frame.samples / rate
        frame_start, position = position, position + duration
        if end is not None and frame_start >= end:
            break
        if frame_start + duration <= start:
            continue
        if first_time is None:
            first_time = frame_start
        chunks.append(_frame_to_mono(frame))
    return chunks, first_time, rate


def _decode_audio(source, name: str, start: float, end: float | None) -> tuple[np.ndarray, int]:
    """Decodes the audio stream of a file or in-memory container with PyAV and returns (mono samples, native rate)."""
    av = _import_media_package("av", "Decoding audio")
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.audio:
                kinds = [stream.type for stream in container.streams] or "none"
                raise NoAudioStreamError(f"{name} has no audio stream (streams found: {kinds}).", source=name)
            stream = container.streams.best("audio") or container.streams.audio[0]
            chunks = None
            if start > _SEEK_MIN_START_S:
                chunks, first_time, rate = _decode_stream(container, stream, name, start, end, start - _SEEK_PREROLL_S)
                if chunks is not None and (first_time is None or first_time > start):
                    chunks = None  # the seek overshot (or found nothing): decode from the beginning instead
                if chunks is None:
                    container.seek(0, stream=stream, backward=True)
            if chunks is None:
                chunks, first_time, rate = _decode_stream(container, stream, name, start, end, None)
    except (av.error.FFmpegError, OSError) as err:
        raise MediaDecodingError(
            f"Could not decode the audio of {name} (truncated or corrupt?): {err}", source=name
        ) from err
    waveform = _cut_samples(np.concatenate(chunks), rate, start, end, offset_s=first_time) if chunks else chunks
    if len(waveform) == 0:
        window = "" if start == 0 and end is None else f" in the window [{start}, {end}) s"
        raise EmptyAudioError(f"The audio stream of {name} holds 0 samples{window}.", source=name)
    return waveform, rate


def load_audio(
    source: str | os.PathLike | bytes | dict | np.ndarray,
    sampling_rate: int = 16000,
    start_time: float | None = None,
    end_time: float | None = None,
) -> np.ndarray:
    r"""
    Loads the audio of a file, an in-memory blob or a `datasets` audio dict as a mono float32 waveform: PyAV (FFmpeg)
    decodes wav, flac, mp3, ogg and the audio track of mp4, avi, mkv, ... files; channels are averaged to mono and the
    result is resampled to `sampling_rate` with soxr.

    Args:
        source (`str`, `os.PathLike`, `bytes` or `dict`):
            A path, the raw bytes of a file, or a dict as `datasets` stores audio: `{"path": ..., "bytes": ...}`
            (bytes used when present) or `{"array": ..., "sampling_rate": ...}` (1-D, or 2-D `(channels, samples)` /
            `(samples, channels)` with at most 8 channels). A bare array (no sampling rate) is refused.
        sampling_rate (`int`, *optional*, defaults to 16000):
            The sampling rate of the returned waveform, in Hz.
        start_time (`float`, *optional*):
            Start of the segment to keep, in seconds. A cut starting after 1 s seeks instead of decoding from the
            start; with codecs that synthesise noise (AAC) its samples may differ very slightly from a whole decode.
        end_time (`float`, *optional*):
            End (exclusive) of the segment to keep, in seconds. Defaults to the end of the audio.

    Returns:
        `np.ndarray` of shape `(num_samples,)`, float32: the mono waveform at `sampling_rate`.

    Raises:
        [`MediaFileNotFoundError`] (missing path), [`NoAudioStreamError`] (no audio stream), [`EmptyAudioError`] (no
        samples in the window), [`MediaDecodingError`] (corrupt, truncated or empty data, a directory, a link loop),
        `ValueError` (bad times or rate), `TypeError` (bare array), `ImportError` (PyAV or soxr missing: the message
        gives the `pip install` line).
    """
    # Note: resampling uses soxr rather than PyAV's `AudioResampler` (libswresample): soxr resamples the whole
    # (already cut) signal in one band-limited pass, with no per-frame buffering, delay or flush to handle, and it is
    # the resampler `M2FNetFeatureExtractor` uses, so a file, its bytes and its decoded array give the same samples.
    if not isinstance(sampling_rate, (int, np.integer)) or isinstance(sampling_rate, bool) or sampling_rate <= 0:
        raise ValueError(f"`sampling_rate` must be a positive integer (Hz), got {sampling_rate!r}.")
    start, end = check_cut(start_time, end_time)
    start = start or 0.0

    if isinstance(source, dict):
        if source.get("array") is not None:
            rate = source.get("sampling_rate")
            if rate is None:
                raise ValueError("An audio dict with an `array` must also give its `sampling_rate` (Hz).")
            array = pcm_to_float(to_numpy(source["array"]))
            axis = time_axis(array.shape, "The audio dict's `array`")
            waveform = _cut_samples(downmix(array, axis), int(rate), start, end)
            if waveform.shape[0] == 0:
                raise EmptyAudioError(
                    f"The audio dict's `array` holds 0 samples in the window [{start}, {end}) s "
                    f"(it has {array.shape[axis]} samples at {rate} Hz)."
                )
            return resample(waveform, int(rate), int(sampling_rate))
        if source.get("bytes") is not None:
            data = bytes(source["bytes"])
            name = f"the audio bytes of {source['path']!r}" if source.get("path") else f"<{len(data)} bytes of audio>"
            return _decode_blob(data, name, start, end, sampling_rate)
        if source.get("path") is not None:
            return load_audio(source["path"], sampling_rate, start_time, end_time)
        raise ValueError(
            "An audio dict must hold `array` and `sampling_rate`, or `bytes` and/or `path` (as `datasets` stores "
            f"audio), got keys {sorted(source)}."
        )
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode_blob(bytes(source), f"<{len(source)} bytes of audio>", start, end, sampling_rate)
    if isinstance(source, (str, os.PathLike)):
        path = check_media_path(source)
        waveform, rate = _decode_audio(path, repr(path), start, end)
        return resample(waveform, rate, int(sampling_rate))
    if isinstance(source, (np.ndarray, torch.Tensor)):
        raise TypeError(
            "`load_audio` got a bare array, which does not say its sampling rate: pass "
            "`{'array': array, 'sampling_rate': rate}` instead."
        )
    raise TypeError(
        f"`source` must be a path, bytes, a `datasets` audio dict or such a dict holding an array, got {type(source)}."
    )


def _decode_blob(data: bytes, name: str, start: float, end: float | None, sampling_rate: int) -> np.ndarray:
    if len(data) == 0:
        raise MediaDecodingError(f"Could not decode the audio of {name}: the data is empty (0 bytes).", source=name)
    waveform, rate = _decode_audio(io.BytesIO(data), name, start, end)
    return resample(waveform, rate, int(sampling_rate))


def uniform_frame_indices(total_frames: int, num_frames: int) -> np.ndarray:
    """
    Segment-centre uniform sampling of `num_frames` (>= 1) of a clip's `total_frames` (>= 1) frames:
    `index_i = floor((i + 0.5) * total_frames / num_frames)`; frames repeat when `total_frames < num_frames`.
    Returns an int64 array of shape `(num_frames,)` of non-decreasing indices in `[0, total_frames)`.
    """
    if total_frames < 1 or num_frames < 1:
        raise ValueError(
            f"Both counts must be positive (got `total_frames`: {total_frames}, `num_frames`: {num_frames})."
        )
    steps = np.arange(num_frames, dtype=np.int64)
    # Integer arithmetic: floor((2i + 1) * total / (2 * num)) is exact, with no rounding at segment borders.
    return ((2 * steps + 1) * total_frames) // (2 * num_frames)


def _resolve_video_source(source: Any) -> tuple[Callable[[], Any], str, Any, Any]:
    """Returns an opener (a fresh path or file object per call), a name for messages and a cut from a dict source."""
    start_time = end_time = None
    if isinstance(source, dict):
        start_time, end_time = source.get("start_time"), source.get("end_time")
        if source.get("bytes") is not None:
            source = source["bytes"]
        elif source.get("path"):
            source = source["path"]
        else:
            raise ValueError(
                "A video given as a dict (the `datasets` storage format) needs a non-empty `bytes` or `path` entry "
                f"(got keys: {sorted(source)})."
            )
    if isinstance(source, (str, os.PathLike)):
        path = check_media_path(source)
        return (lambda: path), repr(path), start_time, end_time
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), f"<{len(source)} bytes in memory>"
        if not data:
            raise MediaDecodingError("Cannot decode video from an empty bytes object.", source=name)
        return (lambda: io.BytesIO(data)), name, start_time, end_time
    raise TypeError(
        "A video source must be a path, raw `bytes` or a dict with `path`/`bytes` entries as `datasets` stores video "
        f"(got {type(source).__name__})."
    )


def _open_video(av, open_file: Callable[[], Any], name: str):
    """Opens the container and its first real video stream, skipping cover art (attached pictures)."""
    container = av.open(open_file(), mode="r")
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            stream.thread_type = "AUTO"  # frame/slice threading inside FFmpeg
            return container, stream
    kinds = ", ".join(s.type for s in container.streams) or "none"
    container.close()
    raise NoVideoStreamError(f"{name} has no video stream (streams found: {kinds}).", source=name)


def _time_to_pts(seconds: float, stream) -> int:
    """The smallest pts at or after `seconds` from the stream start (a frame at `pts >= result` is at or after it)."""
    # Float noise must not push a frame-aligned time past its frame: 32.2 s is 32200.000000000004 ticks of 1/1000 s.
    return (stream.start_time or 0) + math.ceil(seconds / stream.time_base - 1e-6)


def _seek(container, stream, start_pts: int | None) -> None:
    if start_pts is not None and start_pts > (stream.start_time or 0):
        # Jumps to the last keyframe at or before the cut; frames before it are decoded but not converted.
        container.seek(start_pts, stream=stream, backward=True, any_frame=False)


def _count_frames_in_range(container, stream, start_pts: int | None, end_pts: int | None) -> int:
    """Counts the video packets whose pts lies in [start_pts, end_pts) by demuxing only (no decoding)."""
    count = 0
    for packet in container.demux(stream):
        if packet.size == 0:  # the flush packet at the end of the stream
            continue
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is None:
            count += 1
            continue
        if end_pts is not None and packet.dts is not None and packet.dts >= end_pts:
            break  # dts is monotonic and dts <= pts: every later packet lies after the range
        if (start_pts is None or pts >= start_pts) and (end_pts is None or pts < end_pts):
            count += 1
    return count


def _frame_to_rgb(frame, size: tuple[int, int] | None) -> np.ndarray:
    """A decoded frame -> (H, W, 3) uint8 RGB, scaled to `size` (width, height) if given, display rotation applied."""
    if size is None:
        array = frame.to_ndarray(format="rgb24")
    else:
        array = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
    # Phone videos store a display matrix instead of rotated pixels; PyAV reports it in degrees counter-clockwise.
    quarter_turns = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(array, quarter_turns)) if quarter_turns else array


def _iter_frames_in_range(container, stream, start_pts: int | None, end_pts: int | None, name: str) -> Iterator:
    """Decoded frames (presentation order) whose pts lies in [start_pts, end_pts); stops at the end of the range."""
    for frame in container.decode(stream):
        if start_pts is None and end_pts is None:
            yield frame
            continue
        if frame.pts is None:
            raise MediaDecodingError(
                f"The frames of {name} carry no timestamps: `start_time`/`end_time` cannot apply.", source=name
            )
        if start_pts is not None and frame.pts < start_pts:
            continue
        if end_pts is not None and frame.pts >= end_pts:
            return
        yield frame


def _decode_frames(av, open_file, num_frames: int, start_time: float | None, end_time: float | None, name: str):
    cut = start_time is not None or end_time is not None
    # 1. How many frames does the clip (or the cut) have?
    container, stream = _open_video(av, open_file, name)
    with container:
        start_pts = _time_to_pts(start_time, stream) if start_time is not None else None
        end_pts = _time_to_pts(end_time, stream) if end_time is not None else None
        total = 0 if cut else int(stream.frames or 0)
        if total <= 0:  # a cut, or a container without a frame count (mkv, webm, some avi): demux and count
            _seek(container, stream, start_pts)
            total = _count_frames_in_range(container, stream, start_pts, end_pts)

    # 2. Decode up to the last needed frame, converting only the sampled ones. A second pass only happens when the
    # container announced more frames than could be decoded (wrong metadata, frames dropped by an edit list).
    for _ in range(2):
        if total <= 0:
            where = f" in [{start_time}, {end_time}) s" if cut else ""
            raise MediaDecodingError(f"No decodable video frames{where} in {name}.", source=name)
        indices = uniform_frame_indices(total, num_frames)
        wanted, last_wanted = set(indices.tolist()), int(indices[-1])
        picked: dict[int, np.ndarray] = {}
        out_size, seen = None, 0
        container, stream = _open_video(av, open_file, name)
        with container:
            _seek(container, stream, start_pts)
            for index, frame in enumerate(_iter_frames_in_range(container, stream, start_pts, end_pts, name)):
                seen = index + 1
                if index in wanted:
                    picked[index] = _frame_to_rgb(frame, out_size)
                    if out_size is None:  # all frames take the size of the first sampled one
                        out_size = (frame.width, frame.height)
                if index >= last_wanted:
                    break
        if len(picked) == len(wanted):
            return np.stack([picked[i] for i in indices.tolist()])
        total = seen
    raise MediaDecodingError(f"The number of decodable frames in {name} changed between two passes.", source=name)


def load_video_frames(
    source: str | os.PathLike | bytes | dict,
    num_frames: int = 15,
    start_time: float | None = None,
    end_time: float | None = None,
) -> np.ndarray:
    r"""
    Decodes `num_frames` frames from a video with PyAV, sampled uniformly (segment centres, see
    [`uniform_frame_indices`]; short clips repeat frames). Decoding streams: only the sampled frames are converted to
    RGB and decoding stops at the last one. Without a frame count in the header (mkv, webm) or with a cut, packets
    are counted by demuxing only; a cut first seeks to the keyframe before `start_time`. Display rotation is applied.

    Args:
        source (`str`, `os.PathLike`, `bytes` or `dict`):
            A path to a video file, its raw bytes, or a dict as `datasets` stores video (`{"path": ..., "bytes":
            ...}`, bytes used when not `None`), which may also carry `start_time` and `end_time` entries.
        num_frames (`int`, *optional*, defaults to 15):
            Number of frames to return (the paper uses 15 successive frames per utterance).
        start_time (`float`, *optional*):
            Start of the cut in seconds (inclusive). Defaults to the beginning.
        end_time (`float`, *optional*):
            End of the cut in seconds (exclusive): the frames whose presentation time lies in `[start_time,
            end_time)` are sampled, e.g. an IEMOCAP utterance inside a dialogue video. Defaults to the end.

    Returns:
        `np.ndarray` of shape `(num_frames, height, width, 3)` and dtype uint8: RGB frames, in temporal order.

    Raises:
        [`MediaFileNotFoundError`] (missing path), [`NoVideoStreamError`] (no video stream, e.g. a wav file),
        [`MediaDecodingError`] (truncated or corrupt, no decodable frame in the cut, a directory, a link loop),
        `ImportError` (PyAV missing: the message gives the `pip install` line).
    """
    if not isinstance(num_frames, (int, np.integer)) or isinstance(num_frames, bool) or num_frames < 1:
        raise ValueError(f"`num_frames` must be a positive integer (got `num_frames`: {num_frames!r}).")
    open_file, name, dict_start, dict_end = _resolve_video_source(source)
    start_time, end_time = check_cut(
        dict_start if start_time is None else start_time, dict_end if end_time is None else end_time
    )
    av = _import_media_package("av", "Decoding video")
    try:
        return _decode_frames(av, open_file, int(num_frames), start_time, end_time, name)
    except (av.error.FFmpegError, OSError) as err:
        raise MediaDecodingError(
            f"Cannot decode video from {name} (truncated or corrupt?): {err}", source=name
        ) from err


class M2FNetFaceDetector:
    r"""
    Frontal-face detector for the weighted face branch of M2FNet's visual dual network: OpenCV's Viola-Jones Haar
    cascade (`haarcascade_frontalface_default.xml`). The confidence of a box is the cascade's level weight
    (`detectMultiScale3(..., outputRejectLevels=True)`), unbounded and only meaningful to rank faces. The OpenCV
    classifier is created lazily and is not pickled, so a detector can be sent to `datasets.map(num_proc=...)` workers.

    Args:
        scale_factor (`float`, *optional*, defaults to 1.1):
            Step between two scales of the detection pyramid (`detectMultiScale`'s `scaleFactor`); closer to 1 finds
            more faces, more slowly.
        min_neighbors (`int`, *optional*, defaults to 5):
            How many overlapping raw detections a box needs to be kept (`minNeighbors`); higher gives fewer false
            positives.
        min_face_size (`float`, *optional*, defaults to 0.1):
            Smallest face searched for, as a fraction of the image's shorter side. Besides removing tiny false
            positives, this skips the finest pyramid levels and makes detection on large frames fast.
        equalize_histogram (`bool`, *optional*, defaults to `True`):
            Whether to equalise the grey-level histogram before detection (it helps on dark or low-contrast frames).
        min_confidence (`float`, *optional*, defaults to 1.0):
            Boxes whose level weight is below this are dropped (`None` keeps all). The area weighting of the face
            branch gives a large false positive a large weight, so the weakest boxes are removed.

    Example:

    ```python
    >>> import numpy as np
    >>> from modeling_m2fnet.media_utils import M2FNetFaceDetector
    >>> detector = M2FNetFaceDetector()
    >>> detector.detect(np.zeros((120, 160, 3), dtype=np.uint8))
    []

    ```"""

    # Note: the paper detects faces with MTCNN. The Haar cascade stands in for it because its model file ships inside
    # the `opencv-python(-headless)` 4.x wheels: detection needs no weights download and is deterministic offline.

    def __init__(
        self,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_face_size: float = 0.1,
        equalize_histogram: bool = True,
        min_confidence: float | None = 1.0,
    ):
        if scale_factor <= 1.0:
            raise ValueError(f"`scale_factor` must be > 1 (got `scale_factor`: {scale_factor}).")
        if min_neighbors < 0:
            raise ValueError(f"`min_neighbors` must be >= 0 (got `min_neighbors`: {min_neighbors}).")
        if not 0.0 <= min_face_size <= 1.0:
            raise ValueError(f"`min_face_size` must be in [0, 1] (got `min_face_size`: {min_face_size}).")
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_face_size = float(min_face_size)
        self.equalize_histogram = bool(equalize_histogram)
        self.min_confidence = None if min_confidence is None else float(min_confidence)
        self._classifier = None

    @property
    def classifier(self):
        """The `cv2.CascadeClassifier`, loaded on first use."""
        if self._classifier is None:
            cv2 = _import_cv2()
            path = os.path.join(cv2.data.haarcascades, _HAAR_CASCADE_FILE)
            classifier = cv2.CascadeClassifier(path)
            if classifier.empty():
                raise OSError(
                    f"OpenCV could not load the Haar cascade '{path}'. Reinstall: `{MEDIA_INSTALL_COMMAND}`."
                )
            self._classifier = classifier
        return self._classifier

    def detect(self, frame: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        """
        Finds the frontal faces of one uint8 RGB frame of shape `(height, width, 3)` (or a grey `(height, width)` one).
        Returns one `((x0, y0, x1, y1), confidence)` per face, in pixels (`x1`, `y1` exclusive: the box is
        `frame[y0:y1, x0:x1]`), most confident first.
        """
        cv2 = _import_cv2()
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[-1] == 3)):
            raise ValueError(
                "`frame` must be a uint8 RGB array of shape (height, width, 3) "
                f"(got shape {frame.shape} and dtype {frame.dtype})."
            )
        gray = np.ascontiguousarray(frame)
        if frame.ndim == 3:
            gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
        if self.equalize_histogram:
            gray = cv2.equalizeHist(gray)
        min_side = round(self.min_face_size * min(gray.shape))
        rects, _, level_weights = self.classifier.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
            outputRejectLevels=True,
        )
        rects = np.asarray(rects, dtype=np.int64).reshape(-1, 4)
        level_weights = np.asarray(level_weights, dtype=np.float64).reshape(-1)
        detections = [
            ((int(x), int(y), int(x + w), int(y + h)), float(score))
            for (x, y, w, h), score in zip(rects, level_weights)
            if self.min_confidence is None or score >= self.min_confidence
        ]
        # Most confident first; ties broken by the larger box.
        detections.sort(key=lambda det: (-det[1], -(det[0][2] - det[0][0]) * (det[0][3] - det[0][1])))
        return detections

    __call__ = detect

    def to_dict(self) -> dict[str, Any]:
        """The constructor arguments (what `M2FNetImageProcessor.face_detector_kwargs` stores)."""
        names = ("scale_factor", "min_neighbors", "min_face_size", "equalize_histogram", "min_confidence")
        return {name: getattr(self, name) for name in names}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_classifier"] = None  # cv2 objects cannot be pickled; rebuilt lazily in the worker
        return state

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.to_dict().items())
        return f"{self.__class__.__name__}({args})"


__all__ = [
    "MEDIA_INSTALL_COMMAND",
    "EmptyAudioError",
    "M2FNetFaceDetector",
    "MediaDecodingError",
    "MediaFileNotFoundError",
    "NoAudioStreamError",
    "NoVideoStreamError",
    "check_cut",
    "check_media_path",
    "load_audio",
    "load_video_frames",
    "uniform_frame_indices",
]
