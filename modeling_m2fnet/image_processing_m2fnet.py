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
"""Video decoding, face detection and the M2FNet image processor (frames -> scene tensors + weighted face crops)."""

import io
import math
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from transformers.processing_utils import ImagesKwargs
from transformers.utils import TensorType, logging

from .media_utils import MediaDecodingError, NoVideoStreamError


logger = logging.get_logger(__name__)

_MEDIA_EXTRA_HINT = 'pip install "m2fnet[media]"'
_HAAR_CASCADE_FILE = "haarcascade_frontalface_default.xml"


# Optional dependencies are imported lazily, inside functions, so that this file loads with torch + transformers +
# numpy only (it is copied next to Hub checkpoints and executed through `trust_remote_code`).


def _import_av():
    try:
        import av
    except ImportError as err:
        raise ImportError(
            f"Decoding video files needs PyAV (which bundles FFmpeg): `{_MEDIA_EXTRA_HINT}`. Alternatively pass the "
            "frames yourself as a uint8 array of shape (num_frames, height, width, 3)."
        ) from err
    return av


def _import_cv2():
    try:
        import cv2
    except ImportError as err:
        raise ImportError(
            f"Face detection needs OpenCV 4.x with its bundled Haar cascades: `{_MEDIA_EXTRA_HINT}` (installs "
            "`opencv-python-headless<5`). Pass `do_detect_faces=False` to skip the face branch."
        ) from err
    cascade_dir = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if cascade_dir is None or not os.path.isfile(os.path.join(cascade_dir, _HAAR_CASCADE_FILE)):
        raise ImportError(
            f"This OpenCV ({cv2.__version__}) does not ship the Haar cascade `{_HAAR_CASCADE_FILE}` (OpenCV 5 dropped "
            f"them). Install OpenCV 4.x: `{_MEDIA_EXTRA_HINT}` (installs `opencv-python-headless>=4.10,<5`)."
        )
    return cv2


def uniform_frame_indices(total_frames: int, num_frames: int) -> np.ndarray:
    """
    Segment-centre uniform sampling: the clip's `total_frames` frames are split into `num_frames` equal segments and
    the frame at the centre of each segment is taken, `index_i = floor((i + 0.5) * total_frames / num_frames)`.

    When `total_frames < num_frames`, frames repeat (uniform index sampling with replacement: each frame appears
    about `num_frames / total_frames` times, in order).

    Args:
        total_frames (`int`):
            Number of frames in the clip (at least 1).
        num_frames (`int`):
            Number of frames to sample (at least 1).

    Returns:
        `np.ndarray` of shape `(num_frames,)` and dtype int64: non-decreasing frame indices in `[0, total_frames)`.
    """
    if total_frames < 1 or num_frames < 1:
        raise ValueError(
            f"Both counts must be positive (got `total_frames`: {total_frames}, `num_frames`: {num_frames})."
        )
    steps = np.arange(num_frames, dtype=np.int64)
    # Integer arithmetic: floor((2i + 1) * total / (2 * num)) is exact, with no rounding at segment borders.
    return ((2 * steps + 1) * total_frames) // (2 * num_frames)


def _describe_source(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{os.fspath(source)}'"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes in memory>"
    if isinstance(source, dict):
        if source.get("path"):
            return f"'{source['path']}'"
        if source.get("bytes") is not None:
            return f"<{len(source['bytes'])} bytes in memory>"
    return repr(source)


def _resolve_video_source(source: Any) -> tuple[Callable[[], Any], str, float | None, float | None]:
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
    name = _describe_source(source)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"Video file not found: '{path}'.")
        if not os.path.isfile(path):
            raise MediaDecodingError(f"Cannot decode video from '{path}': it is not a regular file.")
        return (lambda: path), name, start_time, end_time
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise MediaDecodingError("Cannot decode video from an empty bytes object.")
        return (lambda: io.BytesIO(data)), name, start_time, end_time
    raise TypeError(
        "A video source must be a path, raw `bytes` or a dict with `path`/`bytes` entries as `datasets` stores video "
        f"(got {type(source).__name__})."
    )


def _first_video_stream(container):
    """The first real video stream, skipping cover art (attached pictures, e.g. in mp3/m4a files)."""
    av = _import_av()
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _time_to_pts(seconds: float, stream) -> int:
    """The smallest pts at or after `seconds` from the stream start (a frame at `pts >= result` is at or after it)."""
    ticks = seconds / stream.time_base
    # Float noise must not push a frame-aligned time past its frame: 32.2 s is 32200.000000000004 ticks of 1/1000 s.
    return (stream.start_time or 0) + math.ceil(ticks - 1e-6)


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
    rotation = getattr(frame, "rotation", 0) or 0
    quarter_turns = round(rotation / 90) % 4
    if quarter_turns:
        array = np.ascontiguousarray(np.rot90(array, quarter_turns))
    return array


def _iter_frames_in_range(container, stream, start_pts: int | None, end_pts: int | None, name: str) -> Iterator:
    """Decoded frames (presentation order) whose pts lies in [start_pts, end_pts); stops at the end of the range."""
    for frame in container.decode(stream):
        if start_pts is None and end_pts is None:
            yield frame
            continue
        if frame.pts is None:
            raise MediaDecodingError(
                f"The frames of {name} carry no timestamps: `start_time`/`end_time` cannot apply."
            )
        if start_pts is not None and frame.pts < start_pts:
            continue
        if end_pts is not None and frame.pts >= end_pts:
            return
        yield frame


def _decode_frames(
    open_file: Callable[[], Any], num_frames: int, start_time: float | None, end_time: float | None, name: str
) -> np.ndarray:
    av = _import_av()
    cut = start_time is not None or end_time is not None

    def open_video():
        container = av.open(open_file(), mode="r")
        stream = _first_video_stream(container)
        if stream is None:
            kinds = ", ".join(s.type for s in container.streams) or "none"
            container.close()
            raise NoVideoStreamError(f"{name} has no video stream (streams found: {kinds}).")
        stream.thread_type = "AUTO"  # frame/slice threading inside FFmpeg
        return container, stream

    def seek(container, stream, start_pts):
        if start_pts is not None and start_pts > (stream.start_time or 0):
            # Jumps to the last keyframe at or before the cut; frames before it are decoded but not converted.
            container.seek(start_pts, stream=stream, backward=True, any_frame=False)

    # 1. How many frames does the clip (or the cut) have?
    container, stream = open_video()
    with container:
        start_pts = _time_to_pts(start_time, stream) if start_time is not None else None
        end_pts = _time_to_pts(end_time, stream) if end_time is not None else None
        total = 0 if cut else int(stream.frames or 0)
        if total <= 0:  # a cut, or a container without a frame count (mkv, webm, some avi): demux and count
            seek(container, stream, start_pts)
            total = _count_frames_in_range(container, stream, start_pts, end_pts)

    # 2. Decode up to the last needed frame, converting only the sampled ones. A second pass only happens when the
    # container announced more frames than could be decoded (wrong metadata, frames dropped by an edit list).
    for _ in range(2):
        if total <= 0:
            where = f" in [{start_time}, {end_time}) s" if cut else ""
            raise MediaDecodingError(f"No decodable video frames{where} in {name}.")
        indices = uniform_frame_indices(total, num_frames)
        wanted = set(indices.tolist())
        last_wanted = int(indices[-1])
        picked: dict[int, np.ndarray] = {}
        out_size = None
        seen = 0
        container, stream = open_video()
        with container:
            seek(container, stream, start_pts)
            for index, frame in enumerate(_iter_frames_in_range(container, stream, start_pts, end_pts, name)):
                seen = index + 1
                if index in wanted:
                    array = _frame_to_rgb(frame, out_size)
                    if out_size is None:  # all frames take the size of the first sampled one
                        out_size = (frame.width, frame.height)
                    picked[index] = array
                if index >= last_wanted:
                    break
        if len(picked) == len(wanted):
            return np.stack([picked[i] for i in indices.tolist()])
        total = seen
    raise MediaDecodingError(f"The number of decodable frames in {name} changed between two decoding passes.")


def load_video_frames(
    source: str | os.PathLike | bytes | dict,
    num_frames: int = 15,
    start_time: float | None = None,
    end_time: float | None = None,
) -> np.ndarray:
    r"""
    Decodes `num_frames` frames, sampled uniformly, from a video with PyAV.

    Sampling is segment-centre uniform sampling (see [`uniform_frame_indices`]): the clip's frames are split into
    `num_frames` equal segments and the centre frame of each is taken. A clip with fewer than `num_frames` frames
    repeats frames (uniform index sampling with replacement), so the output always has `num_frames` frames.

    Decoding is streaming: frames are decoded in order, only the sampled ones are converted to RGB, and decoding stops
    at the last sampled frame, so memory holds `num_frames` RGB frames at most. The frame count comes from the
    container header; where the container has none (mkv, webm) or a cut is given, packets are counted by demuxing
    only, which is much cheaper than decoding. With a cut, the decoder first seeks to the keyframe before
    `start_time` instead of decoding the file from its beginning. Display rotation metadata (phone videos) is applied.

    Args:
        source (`str`, `os.PathLike`, `bytes` or `dict`):
            A path to a video file (mp4, avi, mkv, webm, ...), the raw bytes of one, or a dict as `datasets` stores
            video (`{"path": ..., "bytes": ...}`, `bytes` used when not `None`). A dict may also carry `start_time` and
            `end_time` entries, used when the arguments of the same name are not given.
        num_frames (`int`, *optional*, defaults to 15):
            Number of frames to return (the paper uses 15 successive frames per utterance).
        start_time (`float`, *optional*):
            Start of the cut in seconds from the beginning of the video (inclusive). Defaults to the beginning.
        end_time (`float`, *optional*):
            End of the cut in seconds (exclusive). Defaults to the end of the video. A cut selects the frames whose
            presentation time lies in `[start_time, end_time)`, e.g. an IEMOCAP utterance inside a dialogue video.

    Returns:
        `np.ndarray` of shape `(num_frames, height, width, 3)` and dtype uint8: RGB frames, in temporal order.

    Raises:
        `FileNotFoundError`: the path does not exist.
        `NoVideoStreamError`: the media has no video stream (e.g. a wav file).
        `MediaDecodingError`: the media is truncated or corrupt, or has no decodable frame (in the cut).
    """
    if not isinstance(num_frames, (int, np.integer)) or isinstance(num_frames, bool) or num_frames < 1:
        raise ValueError(f"`num_frames` must be a positive integer (got `num_frames`: {num_frames!r}).")
    open_file, name, dict_start, dict_end = _resolve_video_source(source)
    start_time = dict_start if start_time is None else start_time
    end_time = dict_end if end_time is None else end_time
    if start_time is not None and start_time < 0:
        raise ValueError(f"`start_time` must be >= 0 (got `start_time`: {start_time}).")
    if start_time is not None and end_time is not None and end_time <= start_time:
        raise ValueError(
            f"`end_time` must be after `start_time` (got `start_time`: {start_time}, `end_time`: {end_time})."
        )

    av = _import_av()
    try:
        return _decode_frames(open_file, int(num_frames), start_time, end_time, name)
    except MediaDecodingError:
        raise
    except (av.error.FFmpegError, OSError) as err:
        raise MediaDecodingError(f"Cannot decode video from {name} (truncated or corrupt?): {err}") from err


class M2FNetFaceDetector:
    r"""
    Frontal-face detector for the weighted face branch of M2FNet's visual dual network: OpenCV's Viola-Jones Haar
    cascade (`haarcascade_frontalface_default.xml`).

    The paper detects faces with MTCNN. No MTCNN port fits this project: facenet-pytorch 2.6 pins `torch<2.3` and
    `numpy<2`, the `mtcnn` package needs TensorFlow, and mediapipe / uniface / retinaface download their weights at run
    time (there is no network in CI, on offline Hub workers or in `datasets.map` jobs behind a firewall). The Haar
    cascade is a real, well-kept detector whose model file ships inside the `opencv-python(-headless)` 4.x wheels
    (OpenCV 5 dropped them, hence the `<5` pin of the `media` extra), so detection is deterministic and offline.

    The confidence of a box is the cascade's level weight from `detectMultiScale3(..., outputRejectLevels=True)`: the
    summed response of the last stage for the best window of the group. It is unbounded (about -1 to 10 in practice)
    and only meaningful to rank faces. The OpenCV classifier is created lazily, once per process, and is not pickled,
    so a detector can be sent to `datasets.map(num_proc=...)` workers.

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
            Whether to equalise the grey-level histogram before detection (the OpenCV face-detection recipe; it helps
            on dark or low-contrast frames).
        min_confidence (`float`, *optional*, defaults to 1.0):
            Boxes whose level weight is below this are dropped (`None` keeps all). The area weighting of the face
            branch gives a large false positive a large weight, so the weakest boxes are worth removing. Measured with
            the other defaults: the false positives found on scikit-image's photographs and on a zooming astronaut
            video scored 0.4 to 5.6 (half of them below 1.2), the astronaut's face 5 to 8, and the lowest of 100
            (upscaled) LFW faces 1.9; a threshold of 1 removes the weak false positives at almost no cost in recall.

    Example:

    ```python
    >>> import numpy as np
    >>> from modeling_m2fnet.image_processing_m2fnet import M2FNetFaceDetector
    >>> detector = M2FNetFaceDetector()
    >>> detector.detect(np.zeros((120, 160, 3), dtype=np.uint8))
    []

    ```"""

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
                raise OSError(f"OpenCV could not load the Haar cascade '{path}'. Reinstall: `{_MEDIA_EXTRA_HINT}`.")
            self._classifier = classifier
        return self._classifier

    def detect(self, frame: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        """
        Finds the frontal faces of one frame.

        Args:
            frame (`np.ndarray` of shape `(height, width, 3)` and dtype uint8):
                An RGB frame (a `(height, width)` grey frame is accepted too).

        Returns:
            `list[tuple[tuple[int, int, int, int], float]]`: one `((x0, y0, x1, y1), confidence)` per face, in pixels
            (`x1`, `y1` exclusive, so the box is `frame[y0:y1, x0:x1]`), sorted by confidence, most confident first.
        """
        cv2 = _import_cv2()
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[-1] == 3)):
            raise ValueError(
                "`frame` must be a uint8 RGB array of shape (height, width, 3) "
                f"(got shape {frame.shape} and dtype {frame.dtype})."
            )
        if frame.ndim == 3:
            gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        else:
            gray = np.ascontiguousarray(frame)
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
        return {
            "scale_factor": self.scale_factor,
            "min_neighbors": self.min_neighbors,
            "min_face_size": self.min_face_size,
            "equalize_histogram": self.equalize_histogram,
            "min_confidence": self.min_confidence,
        }

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_classifier"] = None  # cv2 objects cannot be pickled; rebuilt lazily in the worker
        return state

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.to_dict().items())
        return f"{self.__class__.__name__}({args})"


class M2FNetImageProcessorKwargs(ImagesKwargs, total=False):
    r"""
    num_frames (`int`, *optional*, defaults to `self.num_frames`):
        Frames sampled per clip.
    face_size (`int` or `dict[str, int]`, *optional*, defaults to `self.face_size`):
        Side (or `{"height": h, "width": w}`) of the face crops.
    max_faces (`int`, *optional*, defaults to `self.max_faces`):
        Most confident faces kept per frame.
    face_margin (`float`, *optional*, defaults to `self.face_margin`):
        Relative enlargement of the face boxes before cropping.
    do_detect_faces (`bool`, *optional*, defaults to `self.do_detect_faces`):
        Whether to run face detection (otherwise all face slots are empty).
    face_detector_kwargs (`dict`, *optional*, defaults to `self.face_detector_kwargs`):
        Keyword arguments of [`M2FNetFaceDetector`].
    """

    num_frames: int
    face_size: int | dict[str, int]
    max_faces: int
    face_margin: float
    do_detect_faces: bool
    face_detector_kwargs: dict[str, Any] | None


_PER_CALL_OPTIONS = (
    "num_frames",
    "size",
    "face_size",
    "max_faces",
    "face_margin",
    "do_detect_faces",
    "image_mean",
    "image_std",
    "face_detector_kwargs",
)


def _size_to_hw(size: Any, name: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        height = width = int(size)
    elif isinstance(size, dict) and set(size) == {"height", "width"}:
        height, width = int(size["height"]), int(size["width"])
    else:
        raise ValueError(f"`{name}` must be an int or a dict with `height` and `width` (got `{name}`: {size!r}).")
    if height < 1 or width < 1:
        raise ValueError(f"`{name}` must be positive (got `{name}`: {size!r}).")
    return height, width


def _channel_stats(values: Any, name: str) -> list[float] | float:
    if isinstance(values, Iterable) and not isinstance(values, str):
        values = [float(v) for v in values]
        if len(values) not in (1, 3):
            raise ValueError(f"`{name}` must have 1 or 3 values (got `{name}`: {values}).")
        return values
    return float(values)


def _is_video_source(obj: Any) -> bool:
    return isinstance(obj, (str, os.PathLike, bytes, bytearray, memoryview, dict))


def _array_ndim(obj: Any) -> int | None:
    return obj.ndim if isinstance(obj, (np.ndarray, torch.Tensor)) else None


def _is_pil_image(obj: Any) -> bool:
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "convert")


def _is_frame(obj: Any) -> bool:
    return _array_ndim(obj) == 3 or _is_pil_image(obj)


def _to_uint8_frames(clip: Any) -> np.ndarray:
    """An array, tensor or list of frames -> contiguous (F, H, W, 3) uint8 numpy array."""
    if isinstance(clip, (list, tuple)):
        frames = [np.asarray(f.convert("RGB")) if _is_pil_image(f) else _to_numpy(f) for f in clip]
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise ValueError(f"All frames of a clip must have the same shape (got {sorted(shapes)}).")
        array = np.stack(frames) if frames else np.zeros((0, 0, 0, 3), dtype=np.uint8)
    else:
        array = _to_numpy(clip)
    if array.ndim != 4:
        raise ValueError(
            f"A clip must be an array of frames of shape (num_frames, height, width, 3) (got {array.shape})."
        )
    if array.shape[-1] != 3 and array.shape[1] == 3:  # channels first
        array = array.transpose(0, 2, 3, 1)
    if array.shape[-1] != 3:
        raise ValueError(f"Frames must be RGB with 3 channels (got a clip of shape {array.shape}).")
    if array.dtype != np.uint8:
        raise ValueError(f"Frames must be uint8 RGB in [0, 255] (got dtype {array.dtype}).")
    if array.shape[0] == 0:
        raise ValueError("A clip must have at least one frame (got 0).")
    return array


def _to_numpy(obj: Any) -> np.ndarray:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    return np.asarray(obj)


def _resize_uint8(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, h, w) uint8, bilinear with antialiasing (like PIL when downscaling)."""
    if tuple(images.shape[-2:]) == size:
        return images
    try:
        return F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)
    except (RuntimeError, NotImplementedError):  # a torch build without the uint8 kernel
        resized = F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        return resized.round_().clamp_(0, 255).to(torch.uint8)


def _expand_box(box: tuple[int, int, int, int], margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Grows a box by `margin` times its width/height (half on each side), clipped to the frame."""
    x0, y0, x1, y1 = box
    dx, dy = margin * (x1 - x0) / 2, margin * (y1 - y0) / 2
    x0, x1 = max(0, math.floor(x0 - dx)), min(width, math.ceil(x1 + dx))
    y0, y1 = max(0, math.floor(y0 - dy)), min(height, math.ceil(y1 + dy))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


class M2FNetImageProcessor(BaseImageProcessor):
    r"""
    Image processor for the visual dual network of M2FNet (Chudasama et al., CVPRW 2022, Sec. 3.2.1): turns each
    utterance clip into `num_frames` scene frames for the scene branch and up to `max_faces` face crops per frame, with
    their area weights, for the weighted face branch.

    Per clip:
    1. `num_frames` frames are sampled uniformly (segment centres, see [`load_video_frames`]; short clips repeat
       frames), either while decoding a video source or from the given frames.
    2. Scene branch: every whole frame is resized to `size` x `size` by **squashing** (bilinear with antialiasing,
       aspect ratio not kept). Squashing rather than centre-cropping keeps the whole scene, including speakers at the
       edges of wide 16:9 sitcom frames. Values are rescaled to [0, 1] and normalised with `image_mean` / `image_std`.
    3. Face branch: [`M2FNetFaceDetector`] (OpenCV Haar cascade, standing in for the paper's MTCNN; see its docstring
       for why) finds the faces of every frame at full resolution. The `max_faces` most confident are kept; each box
       is enlarged by `face_margin` (its width and height grow by that fraction, half on each side), clipped to the
       frame, squashed to `face_size` x `face_size` and normalised like the scene frames. Empty slots are zeros.
    4. Face weights: the paper weights each face feature by its box area, "normalised to [0, 1]". Here each kept face
       gets `area_j / sum_k area_k`, the sum running over the kept faces of that frame (areas of the detector's boxes,
       before the margin). A frame's weights therefore sum to 1 when it has a face, and are all 0 when it has none, so
       the model's weighted sum of face features is a convex combination and a face-less frame contributes zeros.

    Args:
        num_frames (`int`, *optional*, defaults to 15):
            Frames sampled per clip (the paper uses 15 successive frames).
        size (`int` or `dict[str, int]`, *optional*, defaults to 224):
            Side of the square scene frames (or `{"height": h, "width": w}`).
        face_size (`int` or `dict[str, int]`, *optional*, defaults to 112):
            Side of the square face crops (or `{"height": h, "width": w}`).
        max_faces (`int`, *optional*, defaults to 3):
            Faces kept per frame, the most confident first.
        face_margin (`float`, *optional*, defaults to 0.2):
            Relative enlargement of each face box before cropping (0.2: the crop is 1.2 times the box's width and
            height), so that the crop holds the whole head and not only the eyes-to-mouth region the detector boxes.
        do_detect_faces (`bool`, *optional*, defaults to `True`):
            Whether to run face detection. With `False` every face slot is empty (zero crops, weights and mask).
        image_mean (`float` or `list[float]`, *optional*, defaults to `IMAGENET_DEFAULT_MEAN`):
            Per-channel mean subtracted after rescaling to [0, 1] (ImageNet's, as the ResNet-18 extractor expects).
        image_std (`float` or `list[float]`, *optional*, defaults to `IMAGENET_DEFAULT_STD`):
            Per-channel standard deviation divided by after subtracting the mean.
        face_detector_kwargs (`dict`, *optional*):
            Keyword arguments of [`M2FNetFaceDetector`] (`scale_factor`, `min_neighbors`, `min_face_size`,
            `equalize_histogram`, `min_confidence`). The detector itself is built lazily and never serialised.

    Example:

    ```python
    >>> import numpy as np
    >>> from modeling_m2fnet.image_processing_m2fnet import M2FNetImageProcessor
    >>> processor = M2FNetImageProcessor(num_frames=4, size=32, face_size=16)
    >>> clip = np.full((10, 48, 64, 3), 128, dtype=np.uint8)  # 10 grey frames, no face
    >>> batch = processor(clip, return_tensors="pt")
    >>> tuple(batch["pixel_values"].shape), tuple(batch["face_pixel_values"].shape), batch["face_mask"].tolist()
    ((1, 4, 3, 32, 32), (1, 4, 3, 3, 16, 16), [[0, 0, 0, 0]])

    ```"""

    model_input_names: ClassVar[list[str]] = ["pixel_values", "face_pixel_values", "face_weights"]
    valid_kwargs = M2FNetImageProcessorKwargs

    def __init__(
        self,
        num_frames: int = 15,
        size: int | dict[str, int] = 224,
        face_size: int | dict[str, int] = 112,
        max_faces: int = 3,
        face_margin: float = 0.2,
        do_detect_faces: bool = True,
        image_mean: float | list[float] = IMAGENET_DEFAULT_MEAN,
        image_std: float | list[float] = IMAGENET_DEFAULT_STD,
        face_detector_kwargs: dict[str, Any] | None = None,
        **kwargs,
    ):
        kwargs.pop("image_processor_type", None)  # written by `to_dict`, not a setting
        super().__init__(**kwargs)
        self.num_frames = num_frames
        self.size = size
        self.face_size = face_size
        self.max_faces = max_faces
        self.face_margin = face_margin
        self.do_detect_faces = do_detect_faces
        self.image_mean = _channel_stats(image_mean, "image_mean")
        self.image_std = _channel_stats(image_std, "image_std")
        self.face_detector_kwargs = dict(face_detector_kwargs) if face_detector_kwargs else None
        self._face_detector = None  # (kwargs it was built with, M2FNetFaceDetector), built on first use
        self._resolve_options({})  # validates the settings now rather than at the first call

    def get_face_detector(self, face_detector_kwargs: dict[str, Any] | None = None) -> M2FNetFaceDetector:
        """The [`M2FNetFaceDetector`] built from `face_detector_kwargs` (defaults to the processor's), cached."""
        kwargs = dict(self.face_detector_kwargs or {}) if face_detector_kwargs is None else dict(face_detector_kwargs)
        if self._face_detector is None or self._face_detector[0] != kwargs:
            self._face_detector = (kwargs, M2FNetFaceDetector(**kwargs))
        return self._face_detector[1]

    def _resolve_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(kwargs) - set(_PER_CALL_OPTIONS)
        ignored = unknown & set(ImagesKwargs.__annotations__)
        if unknown - ignored:
            raise TypeError(
                f"{self.__class__.__name__} got unexpected keyword arguments {sorted(unknown - ignored)}; "
                f"it accepts {list(_PER_CALL_OPTIONS)} and `return_tensors`."
            )
        if ignored:
            logger.warning_once(f"{self.__class__.__name__} ignores the generic image options {sorted(ignored)}.")
        options = {
            name: kwargs[name] if kwargs.get(name) is not None else getattr(self, name) for name in _PER_CALL_OPTIONS
        }
        num_frames, max_faces = options["num_frames"], options["max_faces"]
        if not isinstance(num_frames, (int, np.integer)) or isinstance(num_frames, bool) or num_frames < 1:
            raise ValueError(f"`num_frames` must be a positive integer (got `num_frames`: {num_frames!r}).")
        if not isinstance(max_faces, (int, np.integer)) or isinstance(max_faces, bool) or max_faces < 1:
            raise ValueError(f"`max_faces` must be a positive integer (got `max_faces`: {max_faces!r}).")
        if not options["face_margin"] >= 0:
            raise ValueError(f"`face_margin` must be >= 0 (got `face_margin`: {options['face_margin']!r}).")
        options["size"] = _size_to_hw(options["size"], "size")
        options["face_size"] = _size_to_hw(options["face_size"], "face_size")
        mean = torch.tensor(_channel_stats(options["image_mean"], "image_mean"), dtype=torch.float32)
        std = torch.tensor(_channel_stats(options["image_std"], "image_std"), dtype=torch.float32)
        if (std == 0).any():
            raise ValueError(f"`image_std` must not contain zeros (got `image_std`: {options['image_std']!r}).")
        options["image_mean"], options["image_std"] = mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1)
        return options

    def _normalize(self, images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """uint8 (..., 3, h, w) -> float32, rescaled to [0, 1] then `(x - mean) / std` per channel."""
        return (images.to(torch.float32) * self.rescale_factor - mean) / std

    def _process_clip(self, frames: np.ndarray, options: dict[str, Any]) -> tuple[torch.Tensor, ...]:
        num_frames, height, width, _ = frames.shape
        max_faces, face_size = options["max_faces"], options["face_size"]
        mean, std = options["image_mean"], options["image_std"]
        # (F, 3, H, W) view of the (F, H, W, 3) buffer: channels-last memory, what the fast uint8 resize kernel wants.
        video = torch.from_numpy(frames).permute(0, 3, 1, 2)
        pixel_values = self._normalize(_resize_uint8(video, options["size"]), mean, std)

        faces = torch.zeros((num_frames, max_faces, 3, *face_size), dtype=torch.uint8)
        face_weights = torch.zeros((num_frames, max_faces), dtype=torch.float32)
        if options["do_detect_faces"]:
            detector = self.get_face_detector(options["face_detector_kwargs"])
            detections = []
            for index in range(num_frames):
                # Short clips repeat frames: reuse the previous detections instead of running the cascade again.
                if index == 0 or not np.array_equal(frames[index], frames[index - 1]):
                    detections = detector.detect(frames[index])[:max_faces]
                if not detections:
                    continue
                areas = torch.tensor(
                    [(x1 - x0) * (y1 - y0) for (x0, y0, x1, y1), _ in detections], dtype=torch.float64
                )
                face_weights[index, : len(detections)] = (areas / areas.sum()).to(torch.float32)
                for slot, (box, _) in enumerate(detections):
                    x0, y0, x1, y1 = _expand_box(box, options["face_margin"], width, height)
                    crop = video[index : index + 1, :, y0:y1, x0:x1]
                    faces[index, slot] = _resize_uint8(crop, face_size)[0]
        has_face = face_weights > 0
        face_pixel_values = torch.zeros(faces.shape, dtype=torch.float32)
        face_pixel_values[has_face] = self._normalize(faces[has_face], mean, std)
        face_mask = has_face.any(dim=-1).to(torch.int64)
        return pixel_values, face_pixel_values, face_weights, face_mask

    @staticmethod
    def _make_batched_clips(videos: Any) -> list[Any]:
        if _is_video_source(videos) or _array_ndim(videos) == 4:
            return [videos]
        if _is_frame(videos):
            return [[videos]]  # a still image: a clip of one frame
        if _array_ndim(videos) == 5:
            return list(videos)
        if isinstance(videos, (list, tuple)):
            if len(videos) == 0:
                raise ValueError("`videos` is empty.")
            if all(_is_frame(frame) for frame in videos):
                return [videos]  # one clip given as a list of frames
            return list(videos)
        raise TypeError(
            "`videos` must be a video source (path, bytes or `{'path', 'bytes'}` dict), a uint8 array of frames "
            "(num_frames, height, width, 3), or a list of those (with `datasets`, cast the column to "
            f"`Video(decode=False)` to get `{{'path', 'bytes'}}` dicts); got {type(videos).__name__}."
        )

    def __call__(self, videos: Any = None, return_tensors: str | TensorType | None = None, **kwargs) -> BatchFeature:
        """Same as [`~M2FNetImageProcessor.preprocess`]."""
        return self.preprocess(videos, return_tensors=return_tensors, **kwargs)

    def preprocess(self, videos: Any = None, return_tensors: str | TensorType | None = None, **kwargs) -> BatchFeature:
        r"""
        Samples, resizes and normalises the frames of a batch of clips and crops their faces.

        Args:
            videos (`str`, `bytes`, `dict`, `np.ndarray`, `torch.Tensor`, or a list of those):
                The clips. Each is a source for [`load_video_frames`] (path, raw bytes or a `datasets` video dict,
                optionally with `start_time`/`end_time` entries) or its frames, as a uint8 RGB array or tensor of
                shape `(num_frames_in_clip, height, width, 3)` or a list of `(height, width, 3)` arrays / PIL images.
                A single clip may be passed without the batch list, and a single `(height, width, 3)` image is a
                one-frame clip. Clips may differ in length and resolution; frames are resampled uniformly to
                `num_frames` (repeating frames of shorter clips). `images` is accepted as an alias.
            return_tensors (`str` or [`~utils.TensorType`], *optional*):
                `"pt"` for PyTorch tensors, `"np"` or `None` for NumPy arrays.
            kwargs:
                Per-call overrides of the constructor settings: `num_frames`, `size`, `face_size`, `max_faces`,
                `face_margin`, `do_detect_faces`, `image_mean`, `image_std`, `face_detector_kwargs`.

        Returns:
            [`BatchFeature`] with:

            - **pixel_values** of shape `(batch_size, num_frames, 3, size, size)`, float32: normalised whole frames.
            - **face_pixel_values** of shape `(batch_size, num_frames, max_faces, 3, face_size, face_size)`, float32:
              normalised face crops, most confident first, zeros in empty slots.
            - **face_weights** of shape `(batch_size, num_frames, max_faces)`, float32: each face's box area over the
              summed areas of the frame's kept faces (a frame's weights sum to 1, or are all 0 without faces).
            - **face_mask** of shape `(batch_size, num_frames)`, int64: 1 where the frame has at least one face.
        """
        if videos is None:
            videos = kwargs.pop("images", None)
        if videos is None:
            raise ValueError("`videos` is required: a clip or a list of clips.")
        options = self._resolve_options(kwargs)
        outputs = []
        for clip in self._make_batched_clips(videos):
            if _is_video_source(clip):
                frames = load_video_frames(clip, num_frames=int(options["num_frames"]))
            else:
                frames = _to_uint8_frames(clip)
                indices = uniform_frame_indices(frames.shape[0], int(options["num_frames"]))
                frames = np.ascontiguousarray(frames[indices])
            outputs.append(self._process_clip(frames, options))
        names = ("pixel_values", "face_pixel_values", "face_weights", "face_mask")
        data = {name: torch.stack([out[i] for out in outputs]).numpy() for i, name in enumerate(names)}
        return BatchFeature(data=data, tensor_type=return_tensors)

    def to_dict(self) -> dict[str, Any]:
        """Serialisable settings (what `preprocessor_config.json` holds); the face detector object is left out."""
        output = super().to_dict()
        output.pop("_face_detector", None)
        return output


__all__ = ["M2FNetFaceDetector", "M2FNetImageProcessor", "load_video_frames", "uniform_frame_indices"]
