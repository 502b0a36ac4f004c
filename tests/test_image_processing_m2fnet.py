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
"""Tests of video decoding, face detection and M2FNetImageProcessor on real media (astronaut photo, ffmpeg clips)."""

import json
import math
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import AutoImageProcessor
from transformers.dynamic_module_utils import get_imports
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from modeling_m2fnet import image_processing_m2fnet, media_utils
from modeling_m2fnet.image_processing_m2fnet import M2FNetImageProcessor
from modeling_m2fnet.media_utils import (
    M2FNetFaceDetector,
    MediaDecodingError,
    MediaFileNotFoundError,
    NoVideoStreamError,
    load_video_frames,
    uniform_frame_indices,
)


av = pytest.importorskip("av", reason="video decoding needs PyAV (the `media` extra)")
pytest.importorskip("cv2", reason="face detection needs OpenCV (the `media` extra)")
Image = pytest.importorskip("PIL.Image", reason="the face photograph is read with Pillow")

# The astronaut's face in skimage.data.astronaut() (512 x 512), read off the photograph: eye centres near (202, 102)
# and (247, 102), mouth near (225, 145); the middle of the eyes-to-chin region is about (225, 118).
FACE_CENTRE = (225.0, 118.0)
LEFT_EYE, RIGHT_EYE, MOUTH = (202, 102), (247, 102), (225, 145)
GREY_STEP = 8  # grey level of frame i in the generated index videos is i * GREY_STEP


def _write_index_video(path, num_frames: int, codec: str = "libx264", fps: int = 25):
    """A clip whose frame i is uniformly grey at level i * GREY_STEP (lossless codecs, so the level survives)."""
    options = {"qp": "0"} if codec == "libx264" else {}
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        for index in range(num_frames):
            image = np.full((48, 64, 3), index * GREY_STEP, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _frame_ids(frames: np.ndarray) -> list[int]:
    return np.round(frames.reshape(len(frames), -1).mean(axis=1) / GREY_STEP).astype(int).tolist()


@pytest.fixture(scope="module")
def index_videos(tmp_path_factory):
    """30-frame index clips: mp4 (frame count in the header, B-frames) and mkv (no frame count), plus a 5-frame one."""
    folder = tmp_path_factory.mktemp("index_videos")
    return {
        "mp4": _write_index_video(folder / "index30.mp4", 30),
        "mkv": _write_index_video(folder / "index30.mkv", 30, codec="ffv1"),
        "short": _write_index_video(folder / "index5.mp4", 5),
    }


@pytest.fixture(scope="module")
def astronaut(face_image_png) -> np.ndarray:
    return np.array(Image.open(face_image_png).convert("RGB"))


@pytest.fixture(scope="module")
def detector() -> M2FNetFaceDetector:
    return M2FNetFaceDetector()


@pytest.fixture(scope="module")
def processor() -> M2FNetImageProcessor:
    return M2FNetImageProcessor()


@pytest.fixture(scope="module")
def face_video_batch(processor, face_video_mp4):
    return processor(face_video_mp4, return_tensors="pt")


# ------------------------------------------------------------------------------------------------- remote-code safety


@pytest.mark.parametrize("module", [image_processing_m2fnet, media_utils])
def test_module_needs_only_core_packages(module):
    # What `trust_remote_code` checks before executing the file: imports outside `try` blocks.
    core = {
        "collections",
        "errno",
        "importlib",
        "io",
        "math",
        "os",
        "stat",
        "typing",
        "numpy",
        "torch",
        "transformers",
    }
    assert set(get_imports(module.__file__)) <= core


def test_missing_media_extra_gives_actionable_errors(monkeypatch, face_video_mp4, astronaut):
    for module in ("av", "cv2", "PIL", "PIL.Image"):
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    install = 'pip install av soxr "opencv-python-headless<5"'
    with pytest.raises(ImportError, match="Decoding video needs the `av` module") as error:
        load_video_frames(face_video_mp4)
    assert install in str(error.value)
    with pytest.raises(ImportError, match=r"Face detection .* needs the `cv2` module") as error:
        M2FNetFaceDetector().detect(astronaut)
    assert install in str(error.value)
    # Frames given as arrays without face detection need torch + numpy only.
    batch = M2FNetImageProcessor(num_frames=2, size=8, do_detect_faces=False)(astronaut[None], return_tensors="pt")
    assert batch["pixel_values"].shape == (1, 2, 3, 8, 8)


# ------------------------------------------------------------------------------------------------------ face detector


def test_detector_finds_the_astronaut_face(detector, astronaut):
    detections = detector.detect(astronaut)
    assert len(detections) == 1
    (x0, y0, x1, y1), confidence = detections[0]
    assert confidence > 1.0
    assert abs((x0 + x1) / 2 - FACE_CENTRE[0]) < 12 and abs((y0 + y1) / 2 - FACE_CENTRE[1]) < 15
    for x, y in (LEFT_EYE, RIGHT_EYE, MOUTH):
        assert x0 < x < x1 and y0 < y < y1
    assert 60 <= x1 - x0 <= 160 and 60 <= y1 - y0 <= 160  # a face, not the whole head-and-shoulders


def test_detector_finds_the_mirrored_face(detector, astronaut):
    detections = detector.detect(astronaut[:, ::-1])
    assert len(detections) == 1
    (x0, y0, x1, y1), _ = detections[0]
    assert abs((x0 + x1) / 2 - (astronaut.shape[1] - FACE_CENTRE[0])) < 12
    assert abs((y0 + y1) / 2 - FACE_CENTRE[1]) < 15


def test_detector_finds_no_face_in_the_test_pattern(detector, noface_video_mp4):
    frames = load_video_frames(noface_video_mp4, num_frames=5)
    assert [detector.detect(frame) for frame in frames] == [[]] * 5
    assert detector.detect(np.zeros((120, 160, 3), dtype=np.uint8)) == []


def test_detector_two_faces_sorted_by_confidence(detector, astronaut):
    detections = detector.detect(np.concatenate([astronaut, astronaut[:, ::-1]], axis=1))
    assert len(detections) == 2
    confidences = [confidence for _, confidence in detections]
    assert confidences == sorted(confidences, reverse=True)
    centres_x = sorted((box[0] + box[2]) / 2 for box, _ in detections)
    assert abs(centres_x[0] - FACE_CENTRE[0]) < 12 and abs(centres_x[1] - (1024 - FACE_CENTRE[0])) < 12


def test_detector_rejects_bad_frames(detector):
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"`scale_factor` must be > 1"):
        M2FNetFaceDetector(scale_factor=1.0)


def test_detector_pickles_without_the_opencv_object(detector, astronaut):
    detections = detector.detect(astronaut)  # builds the cv2 classifier
    assert detector._classifier is not None
    clone = pickle.loads(pickle.dumps(detector))
    assert clone._classifier is None
    assert clone.detect(astronaut) == detections
    assert repr(clone) == repr(detector)


# ---------------------------------------------------------------------------------------------------- video decoding


def test_uniform_frame_indices():
    assert uniform_frame_indices(30, 15).tolist() == list(range(1, 30, 2))
    assert uniform_frame_indices(15, 15).tolist() == list(range(15))
    assert uniform_frame_indices(5, 15).tolist() == [i // 3 for i in range(15)]  # each frame three times
    assert uniform_frame_indices(100, 1).tolist() == [50]
    with pytest.raises(ValueError, match="positive"):
        uniform_frame_indices(0, 15)


def test_load_fixture_videos(face_video_mp4, noface_video_mp4):
    frames = load_video_frames(face_video_mp4)
    assert frames.shape == (15, 320, 320, 3) and frames.dtype == np.uint8
    assert frames.std() > 20  # real picture content, not a blank decode
    frames = load_video_frames(noface_video_mp4)
    assert frames.shape == (15, 120, 160, 3) and frames.dtype == np.uint8


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_uniform_sampling_picks_the_right_frames(index_videos, container):
    frames = load_video_frames(index_videos[container])
    assert frames.shape == (15, 48, 64, 3)
    assert _frame_ids(frames) == list(range(1, 30, 2))  # segment centres of 30 frames


def test_short_clip_repeats_frames(index_videos):
    assert _frame_ids(load_video_frames(index_videos["short"])) == [i // 3 for i in range(15)]


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_cut_picks_frames_from_the_time_range(index_videos, container):
    # 25 fps: [0.4 s, 0.8 s) holds frames 10..19; the centres of 5 segments are frames 11, 13, ..., 19.
    assert _frame_ids(load_video_frames(index_videos[container], 5, start_time=0.4, end_time=0.8)) == [
        11,
        13,
        15,
        17,
        19,
    ]
    # 15 samples of 10 frames repeat some: frame 10 + floor((i + 0.5) * 10 / 15).
    frames = load_video_frames(index_videos[container], start_time=0.4, end_time=0.8)
    assert _frame_ids(frames) == [10, 11, 11, 12, 13, 13, 14, 15, 15, 16, 17, 17, 18, 19, 19]
    # Frame-aligned bounds are exact despite float noise (0.28 s is 3584.0000000000005 ticks of the mp4's 1/12800 s).
    assert _frame_ids(load_video_frames(index_videos[container], 2, start_time=0.28, end_time=0.32)) == [7, 7]
    # Open-ended cut: [0.8 s, end) holds frames 20..29.
    assert _frame_ids(load_video_frames(index_videos[container], 3, start_time=0.8)) == [21, 25, 28]


def test_sources_path_bytes_and_dict_agree(index_videos):
    path = index_videos["mp4"]
    expected = load_video_frames(path, 5)
    data = path.read_bytes()
    for source in (str(path), data, {"path": None, "bytes": data}, {"path": str(path), "bytes": None}):
        np.testing.assert_array_equal(load_video_frames(source, 5), expected)
    # A dict may carry the cut (as an IEMOCAP utterance record would); explicit arguments take precedence.
    cut = {"path": str(path), "bytes": None, "start_time": 0.4, "end_time": 0.8}
    assert _frame_ids(load_video_frames(cut, 5)) == [11, 13, 15, 17, 19]
    assert _frame_ids(load_video_frames(cut, 1, start_time=0.0)) == [10]


def test_display_rotation_is_applied(tmp_path, noface_video_mp4):
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("`ffmpeg` is not installed")
    rotated = tmp_path / "rotated.mp4"
    command = [ffmpeg, "-y", "-loglevel", "error", "-i", str(noface_video_mp4), "-c", "copy"]
    subprocess.run([*command, "-metadata:s:v:0", "rotate=90", str(rotated)], check=True)
    upright, turned = load_video_frames(noface_video_mp4, 3), load_video_frames(rotated, 3)
    assert turned.shape == (3, 160, 120, 3)
    # ffmpeg's own autorotation of this file equals np.rot90 (counter-clockwise) of the stored pixels.
    np.testing.assert_array_equal(turned, np.rot90(upright, 1, axes=(1, 2)))


def test_decoding_errors_name_the_source(tmp_path, speech_wav, corrupt_mp4, index_videos):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(MediaFileNotFoundError, match="missing.mp4' does not exist"):
        load_video_frames(missing)
    (tmp_path / "broken.mp4").symlink_to(missing)
    with pytest.raises(MediaFileNotFoundError, match="a broken symbolic link to"):
        load_video_frames(tmp_path / "broken.mp4")
    with pytest.raises(MediaDecodingError, match="is a directory, not a media file"):
        load_video_frames(tmp_path)
    with pytest.raises(NoVideoStreamError, match="speech.wav"):
        load_video_frames(speech_wav)
    with pytest.raises(MediaDecodingError, match="truncated.mp4"):
        load_video_frames(corrupt_mp4)
    with pytest.raises(MediaDecodingError, match="bytes in memory"):
        load_video_frames(b"\x00not a video" * 64)
    with pytest.raises(MediaDecodingError, match="No decodable video frames"):
        load_video_frames(index_videos["mp4"], start_time=5.0, end_time=6.0)  # the clip lasts 1.2 s
    assert issubclass(NoVideoStreamError, MediaDecodingError) and issubclass(MediaDecodingError, ValueError)
    with pytest.raises(ValueError, match="end_time"):
        load_video_frames(index_videos["mp4"], start_time=0.5, end_time=0.5)


# --------------------------------------------------------------------------------------------------- image processor


def test_processor_on_the_face_video(face_video_batch):
    batch = face_video_batch
    assert batch["pixel_values"].shape == (1, 15, 3, 224, 224) and batch["pixel_values"].dtype == torch.float32
    assert batch["face_pixel_values"].shape == (1, 15, 3, 3, 112, 112)
    assert batch["face_weights"].shape == (1, 15, 3) and batch["face_weights"].dtype == torch.float32
    assert batch["face_mask"].shape == (1, 15) and batch["face_mask"].dtype == torch.int64
    assert batch["face_mask"].tolist() == [[1] * 15]
    torch.testing.assert_close(batch["face_weights"].sum(-1), torch.ones(1, 15))
    # Filled slots hold normalised pixels, empty slots exact zeros.
    filled = batch["face_weights"] > 0
    assert (batch["face_pixel_values"][filled].flatten(1).std(-1) > 0.1).all()
    assert (batch["face_pixel_values"][~filled] == 0).all()


def test_processor_on_the_test_pattern(processor, noface_video_mp4):
    batch = processor([noface_video_mp4], return_tensors="np")
    assert batch["pixel_values"].shape == (1, 15, 3, 224, 224)
    assert batch["face_mask"].tolist() == [[0] * 15]
    assert not batch["face_pixel_values"].any() and not batch["face_weights"].any()


def test_array_input_equals_file_input(processor, face_video_mp4, face_video_batch):
    frames = load_video_frames(face_video_mp4)
    from_array = processor(frames, return_tensors="pt")
    from_tensor = processor([torch.from_numpy(frames)], return_tensors="pt")
    from_pil = processor([Image.fromarray(frame) for frame in frames], return_tensors="pt")
    for batch in (from_array, from_tensor, from_pil):
        for key, value in face_video_batch.items():
            torch.testing.assert_close(batch[key], value, rtol=0, atol=0)


def test_array_input_is_resampled_uniformly():
    levels = np.arange(30) * GREY_STEP
    clip = np.broadcast_to(levels[:, None, None, None], (30, 12, 16, 3)).astype(np.uint8)
    batch = M2FNetImageProcessor(size=8, do_detect_faces=False)(clip, return_tensors="pt")
    red = batch["pixel_values"][0, :, 0].mean(dim=(-1, -2)) * IMAGENET_DEFAULT_STD[0] + IMAGENET_DEFAULT_MEAN[0]
    assert torch.round(red * 255 / GREY_STEP).int().tolist() == list(range(1, 30, 2))


def test_normalisation_of_a_constant_grey_frame():
    clip = np.full((4, 30, 40, 3), 128, dtype=np.uint8)
    batch = M2FNetImageProcessor(num_frames=4, size={"height": 16, "width": 20}, face_size=8)(
        clip, return_tensors="pt"
    )
    assert batch["pixel_values"].shape == (1, 4, 3, 16, 20)
    for channel, (mean, std) in enumerate(zip(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)):
        expected = (128 / 255 - mean) / std  # R: 0.0741, G: 0.2052, B: 0.4265
        torch.testing.assert_close(
            batch["pixel_values"][0, :, channel], torch.full((4, 16, 20), expected), rtol=0, atol=1e-6
        )
    assert batch["face_mask"].tolist() == [[0, 0, 0, 0]]


def test_face_crop_location_and_margin(astronaut, detector):
    (x0, y0, x1, y1), _ = detector.detect(astronaut)[0]
    # With no margin and a crop size equal to the box, the crop is exactly the box's pixels.
    exact = M2FNetImageProcessor(num_frames=1, face_size={"height": y1 - y0, "width": x1 - x0}, face_margin=0.0)
    batch = exact(astronaut[None], return_tensors="pt")
    box_pixels = torch.from_numpy(astronaut[y0:y1, x0:x1]).permute(2, 0, 1).float() / 255
    mean, std = torch.tensor(IMAGENET_DEFAULT_MEAN)[:, None, None], torch.tensor(IMAGENET_DEFAULT_STD)[:, None, None]
    torch.testing.assert_close(batch["face_pixel_values"][0, 0, 0], (box_pixels - mean) / std)
    # A margin of 0.2 grows the box by 10 % of its size on each side.
    dx, dy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    ex0, ey0, ex1, ey1 = math.floor(x0 - dx), math.floor(y0 - dy), math.ceil(x1 + dx), math.ceil(y1 + dy)
    wide = M2FNetImageProcessor(num_frames=1, face_size={"height": ey1 - ey0, "width": ex1 - ex0}, face_margin=0.2)
    crop = wide(astronaut[None], return_tensors="pt")["face_pixel_values"][0, 0, 0]
    expected = torch.from_numpy(astronaut[ey0:ey1, ex0:ex1]).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(crop, (expected - mean) / std)


def test_face_box_is_clipped_at_the_frame_border(processor, astronaut):
    corner = np.ascontiguousarray(astronaut[55:, 172:])  # the face now touches the top-left corner
    batch = processor(corner, num_frames=1, return_tensors="pt")
    assert batch["face_mask"].tolist() == [[1]]
    assert batch["face_weights"][0, 0].tolist() == [1.0, 0.0, 0.0]


def test_two_faces_share_the_weight(processor, astronaut):
    two_faces = np.concatenate([astronaut, astronaut], axis=1)
    batch = processor(two_faces[None], num_frames=2, return_tensors="pt")
    weights = batch["face_weights"][0]
    assert batch["face_mask"].tolist() == [[1, 1]]
    torch.testing.assert_close(weights[:, :2], torch.full((2, 2), 0.5), rtol=0, atol=0.05)
    assert (weights[:, 2] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    # Weights are normalised over the kept faces: with one slot, the kept face gets all of it.
    single = processor(two_faces[None], num_frames=1, max_faces=1, return_tensors="pt")
    assert single["face_weights"].tolist() == [[[1.0]]]


def test_without_face_detection_the_face_slots_are_empty(face_image_png, astronaut):
    batch = M2FNetImageProcessor(num_frames=3, do_detect_faces=False)(astronaut[None], return_tensors="pt")
    assert batch["face_pixel_values"].shape == (1, 3, 3, 3, 112, 112)
    assert not batch["face_pixel_values"].any() and not batch["face_weights"].any() and not batch["face_mask"].any()


def test_batches_of_mixed_clips(processor, noface_video_mp4, index_videos, astronaut):
    batch = processor(
        [noface_video_mp4, {"path": str(index_videos["mp4"]), "bytes": None}, [astronaut] * 4],
        num_frames=4,
        size=32,
        max_faces=2,
        return_tensors="pt",
    )
    assert batch["pixel_values"].shape == (3, 4, 3, 32, 32)
    assert batch["face_pixel_values"].shape == (3, 4, 2, 3, 112, 112)
    assert batch["face_mask"].tolist() == [[0] * 4, [0] * 4, [1] * 4]
    assert list(processor.model_input_names) == ["pixel_values", "face_pixel_values", "face_weights", "face_mask"]


def test_invalid_inputs(processor):
    with pytest.raises(TypeError, match="unexpected keyword"):
        processor(np.zeros((1, 8, 8, 3), dtype=np.uint8), not_an_option=True)
    with pytest.raises(ValueError, match="uint8"):
        processor(np.zeros((2, 8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="`max_faces`"):
        M2FNetImageProcessor(max_faces=0)


def test_save_and_load_round_trip(tmp_path, astronaut, face_video_mp4):
    processor = M2FNetImageProcessor(num_frames=3, size=64, face_size=32, max_faces=2, face_detector_kwargs={})
    processor.get_face_detector()  # a built detector must not leak into the config
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert "_face_detector" not in saved and saved["max_faces"] == 2 and saved["num_frames"] == 3
    reloaded = M2FNetImageProcessor.from_pretrained(tmp_path)
    assert reloaded.to_dict() == processor.to_dict()
    clips = [face_video_mp4, astronaut[None]]
    expected = processor(clips, return_tensors="pt")
    for other in (reloaded, pickle.loads(pickle.dumps(processor))):
        for key, value in other(clips, return_tensors="pt").items():
            torch.testing.assert_close(value, expected[key], rtol=0, atol=0)
    assert M2FNetImageProcessor.from_pretrained(tmp_path, max_faces=1).max_faces == 1


def test_auto_class_with_remote_code(tmp_path, astronaut):
    try:
        M2FNetImageProcessor.register_for_auto_class("AutoImageProcessor")
        M2FNetImageProcessor(num_frames=2, size=32).save_pretrained(tmp_path)
    finally:
        M2FNetImageProcessor._auto_class = None
    assert (tmp_path / "image_processing_m2fnet.py").is_file() and (tmp_path / "media_utils.py").is_file()
    loaded = AutoImageProcessor.from_pretrained(tmp_path, trust_remote_code=True)
    assert type(loaded).__name__ == "M2FNetImageProcessor" and loaded.num_frames == 2
    assert loaded(astronaut[None], return_tensors="pt")["face_mask"].tolist() == [[1, 1]]
