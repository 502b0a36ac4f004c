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
"""The M2FNet frame processor: video frames -> scene tensors + weighted face crops (decoding is in `media_utils`)."""

import math
import os
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from transformers.processing_utils import ImagesKwargs
from transformers.utils import TensorType, logging

from .media_utils import M2FNetFaceDetector, load_video_frames, to_numpy, uniform_frame_indices


logger = logging.get_logger(__name__)


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
    face_margin: int | float
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
        frames = [np.asarray(f.convert("RGB")) if _is_pil_image(f) else to_numpy(f) for f in clip]
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise ValueError(f"All frames of a clip must have the same shape (got {sorted(shapes)}).")
        array = np.stack(frames) if frames else np.zeros((0, 0, 0, 3), dtype=np.uint8)
    else:
        array = to_numpy(clip)
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


# Note: transformers 5 has a base class for video processors (`BaseVideoProcessor`), but it requires torchvision and
# Pillow: a Hub user's torch + transformers install has neither, and torchvision must match the exact torch build. The
# frame processor is therefore an image processor (which needs neither) that takes `videos=`. `auto_docstring` takes
# its texts from transformers' own `models/` tree; remote code documents itself by hand. trf-ignore: TRF057
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
    3. Face branch: [`M2FNetFaceDetector`] (OpenCV Haar cascade, standing in for the paper's MTCNN) finds the faces of every frame at full resolution. The `max_faces` most confident are kept; each box
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

    model_input_names: ClassVar[list[str]] = ["pixel_values", "face_pixel_values", "face_weights", "face_mask"]
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

    # trf-ignore: TRF057 — documented by hand, as the class.
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


__all__ = ["M2FNetImageProcessor"]
