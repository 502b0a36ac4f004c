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
"""Tests for `load_audio` and `M2FNetFeatureExtractor` on real media (espeak-ng speech, ffmpeg-made mp4s)."""

import json
import logging
import math
import sys
import time
import wave

import numpy as np
import pytest
import torch

from modeling_m2fnet.feature_extraction_m2fnet import M2FNetFeatureExtractor
from modeling_m2fnet.media_utils import EmptyAudioError, MediaDecodingError, NoAudioStreamError, load_audio


pytest.importorskip("av", reason="load_audio decodes with PyAV (`pip install av`)")
pytest.importorskip("soxr", reason="resampling uses soxr (`pip install soxr`)")

SR = 16000
LOGGER_NAME = "modeling_m2fnet.feature_extraction_m2fnet"


def sine(frequency: float, seconds: float = 1.0, rate: int = SR, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate), dtype=np.float64) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def slaney_hz_to_mel(f: float) -> float:
    """Slaney's mel scale (Auditory Toolbox): linear below 1 kHz (3 mel per 200/3 Hz), logarithmic above."""
    return 3.0 * f / 200.0 if f < 1000.0 else 15.0 + 27.0 * math.log(f / 1000.0) / math.log(6.4)


def slaney_mel_to_hz(m: float) -> float:
    return 200.0 * m / 3.0 if m < 15.0 else 1000.0 * math.exp((m - 15.0) * math.log(6.4) / 27.0)


def expected_mel_bin(frequency: float, num_mels: int = 128, rate: int = SR) -> int:
    """Index of the mel filter whose centre frequency is nearest `frequency` (filters evenly spaced in mel)."""
    top = slaney_hz_to_mel(rate / 2)
    centres = [slaney_mel_to_hz(top * (k + 1) / (num_mels + 1)) for k in range(num_mels)]
    return int(np.argmin([abs(c - frequency) for c in centres]))


def peak_mel_bin(features: np.ndarray) -> int:
    return int(np.argmax(features.mean(axis=-1)))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def wav_duration(path) -> float:
    with wave.open(str(path)) as handle:
        return handle.getnframes() / handle.getframerate()


@pytest.fixture(scope="module")
def feature_extractor():
    return M2FNetFeatureExtractor()


@pytest.fixture(scope="module")
def speech_16k(speech_wav):
    return load_audio(speech_wav, sampling_rate=SR)


# ----------------------------------------------------------------------------------------------------------------
# load_audio


def test_load_audio_resamples_wav_to_16k_with_its_duration(speech_wav, speech_16k):
    soundfile = pytest.importorskip("soundfile")
    info = soundfile.info(str(speech_wav))
    assert info.samplerate == 22050
    assert speech_16k.dtype == np.float32 and speech_16k.ndim == 1
    assert abs(len(speech_16k) - info.duration * SR) <= 1
    assert np.abs(speech_16k).max() > 0.05  # real speech, not silence
    # Same content as the original 22.05 kHz samples, linearly interpolated onto the 16 kHz grid.
    native, _ = soundfile.read(str(speech_wav), dtype="float32")
    reference = np.interp(np.arange(len(speech_16k)) * 22050 / SR, np.arange(len(native)), native)
    assert correlation(speech_16k, reference) > 0.99


def test_load_audio_reads_the_audio_track_of_an_mp4(face_video_mp4, speech_wav, speech_16k):
    from_video = load_audio(face_video_mp4, sampling_rate=SR)
    assert from_video.dtype == np.float32 and from_video.ndim == 1
    # The fixture muxes the speech into a 2 s video with `-shortest`: the track is the wav's first min(2.6, 2) s
    # (+ up to one AAC frame of encoder padding).
    expected = min(wav_duration(speech_wav), 2.0)
    assert abs(len(from_video) / SR - expected) < 0.1
    assert correlation(from_video, speech_16k) > 0.95  # AAC-coded copy of the same speech, time-aligned


def test_load_audio_bytes_and_dicts_match_the_path(speech_wav, speech_16k):
    data = speech_wav.read_bytes()
    np.testing.assert_array_equal(load_audio(data, sampling_rate=SR), speech_16k)
    np.testing.assert_array_equal(load_audio({"path": "utt.wav", "bytes": data}, sampling_rate=SR), speech_16k)
    np.testing.assert_array_equal(load_audio({"path": str(speech_wav), "bytes": None}, sampling_rate=SR), speech_16k)
    with wave.open(str(speech_wav)) as handle:
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
        rate = handle.getframerate()
    from_int16 = load_audio({"array": pcm, "sampling_rate": rate}, sampling_rate=SR)
    np.testing.assert_allclose(from_int16, speech_16k, atol=1e-6)
    from_float = load_audio({"array": pcm / 32768.0, "sampling_rate": rate}, sampling_rate=SR)
    np.testing.assert_allclose(from_float, speech_16k, atol=1e-6)


@pytest.mark.parametrize("start, end", [(0.3, 1.0), (1.5, 2.2), (1.6, None)])
def test_load_audio_cut(speech_wav, speech_16k, start, end):
    cut = load_audio(speech_wav, sampling_rate=SR, start_time=start, end_time=end)
    stop = len(speech_16k) if end is None else round(end * SR)
    assert abs(len(cut) - (stop - round(start * SR))) <= 1
    # The same samples as the slice of the whole decode (only the resampler's edges differ slightly).
    assert correlation(cut, speech_16k[round(start * SR) :]) > 0.999


def test_load_audio_cut_of_an_mp4(face_video_mp4):
    whole = load_audio(face_video_mp4, sampling_rate=SR)
    cut = load_audio(face_video_mp4, sampling_rate=SR, start_time=1.25, end_time=1.75)
    assert abs(len(cut) - 8000) <= 1
    # Time-aligned with the whole decode (no lag); not bit-exact, because decoding after a seek restarts AAC's
    # perceptual-noise-substitution generator, so the noise-filled bands differ.
    lags = range(-200, 201)
    best_lag = max(lags, key=lambda lag: float(np.dot(cut, whole[20000 + lag : 20000 + lag + len(cut)])))
    assert best_lag == 0
    assert correlation(cut, whole[20000:]) > 0.98


def test_load_audio_downmixes_stereo(tmp_path):
    left, right = sine(440, rate=22050, amplitude=0.5), sine(1000, rate=22050, amplitude=0.25)
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(22050)
        handle.writeframes((np.stack([left, right], axis=1) * 32767).astype("<i2").tobytes())
    mono = load_audio(path, sampling_rate=22050)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-4)
    from_array = load_audio({"array": np.stack([left, right]), "sampling_rate": 22050}, sampling_rate=22050)
    np.testing.assert_allclose(from_array, (left + right) / 2, atol=1e-6)


def test_load_audio_missing_file(tmp_path):
    missing = tmp_path / "does_not_exist.wav"
    with pytest.raises(FileNotFoundError, match="does_not_exist.wav"):
        load_audio(missing)


def test_load_audio_video_without_audio_track(noface_video_mp4):
    with pytest.raises(NoAudioStreamError, match=noface_video_mp4.name) as error:
        load_audio(noface_video_mp4)
    assert "streams found: ['video']" in str(error.value)
    assert "missing" not in str(error.value)  # whether that is a fallback is the caller's decision, not the loader's


def test_load_audio_truncated_mp4(corrupt_mp4):
    with pytest.raises(MediaDecodingError, match=corrupt_mp4.name) as error:
        load_audio(corrupt_mp4)
    assert "Invalid data" in str(error.value)  # FFmpeg's own message is passed on


def test_load_audio_bad_requests(speech_wav):
    with pytest.raises(TypeError, match="sampling_rate"):
        load_audio(np.zeros(16000, dtype=np.float32))
    with pytest.raises(ValueError, match="end_time"):
        load_audio(speech_wav, start_time=1.0, end_time=0.5)
    with pytest.raises(EmptyAudioError, match="0 samples"):
        load_audio(speech_wav, start_time=30.0, end_time=31.0)
    with pytest.raises(EmptyAudioError, match="0 samples"):
        load_audio({"array": np.zeros(0, np.float32), "sampling_rate": SR})
    with pytest.raises(MediaDecodingError, match="empty") as error:  # no data at all: unreadable, not an empty clip
        load_audio(b"")
    assert type(error.value) is MediaDecodingError
    with pytest.raises(MediaDecodingError, match="is a directory"):
        load_audio(speech_wav.parent)


def test_missing_media_packages_name_the_pip_packages(speech_wav, feature_extractor, sine_wave, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now raises ImportError
    monkeypatch.setitem(sys.modules, "soxr", None)
    install = 'pip install av soxr "opencv-python-headless<5"'
    with pytest.raises(ImportError, match="`pip install av`") as error:
        load_audio(speech_wav)
    assert install in str(error.value) and "m2fnet[media]" not in str(error.value)
    with pytest.raises(ImportError, match="`pip install soxr`") as error:
        feature_extractor(sine_wave, sampling_rate=8000)
    assert install in str(error.value)
    feature_extractor(sine_wave, sampling_rate=SR)  # no resampling needed: works without the extra


# ----------------------------------------------------------------------------------------------------------------
# M2FNetFeatureExtractor: the transform


@pytest.mark.parametrize("num_samples", [1, 159, 160, 161, 16000, 23456])
def test_frame_count(feature_extractor, num_samples):
    clip = np.random.default_rng(num_samples).uniform(-0.5, 0.5, num_samples).astype(np.float32)
    batch = feature_extractor(clip, sampling_rate=SR)
    assert batch["input_features"].shape == (1, 128, 1 + num_samples // 160)
    assert batch["input_features"].dtype == np.float32
    assert batch["attention_mask"].dtype == np.int64
    assert batch["attention_mask"].sum() == 1 + num_samples // 160 == feature_extractor.num_frames(num_samples)


def test_sine_peaks_in_the_mel_bin_nearest_its_frequency(feature_extractor, sine_wave):
    features = feature_extractor(sine_wave, sampling_rate=SR)["input_features"][0]
    assert peak_mel_bin(features) == expected_mel_bin(440.0)


def test_higher_tone_peaks_in_a_higher_mel_bin(feature_extractor):
    low, high = feature_extractor([sine(1000.0), sine(4000.0)], sampling_rate=SR)["input_features"]
    assert peak_mel_bin(low) == expected_mel_bin(1000.0)
    assert peak_mel_bin(high) == expected_mel_bin(4000.0)
    assert peak_mel_bin(low) < peak_mel_bin(high)


def test_log_scaling_range(feature_extractor, speech_16k):
    features = feature_extractor(speech_16k, sampling_rate=SR)["input_features"][0]
    # Per utterance: values span at most 8 decades / 4 = 2.0 below the maximum.
    assert features.max() - features.min() <= 2.0 + 1e-6
    assert np.all(np.isfinite(features))


def test_resamples_other_rates(feature_extractor, caplog):
    at_44k = sine(440.0, rate=44100)
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        features = feature_extractor(at_44k, sampling_rate=44100)["input_features"][0]
    assert not caplog.records
    assert features.shape[-1] == 1 + SR // 160
    assert peak_mel_bin(features) == expected_mel_bin(440.0)


def test_missing_sampling_rate_warns(feature_extractor, sine_wave, caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        feature_extractor(sine_wave)
    assert "sampling_rate" in caplog.text


def test_stereo_is_downmixed(feature_extractor):
    left, right = sine(440.0), sine(2000.0, amplitude=0.3)
    expected = feature_extractor((left + right) / 2, sampling_rate=SR)["input_features"]
    for stereo in (
        np.stack([left, right]),
        np.stack([left, right], axis=1),
        torch.from_numpy(np.stack([left, right])),
    ):
        np.testing.assert_allclose(feature_extractor(stereo, sampling_rate=SR)["input_features"], expected, atol=1e-5)
    with pytest.raises(ValueError, match="list of 1-D arrays"):
        feature_extractor(np.zeros((16, 16000), dtype=np.float32), sampling_rate=SR)


def test_silent_clip_gives_the_constant_floor(feature_extractor):
    assert feature_extractor.log_mel_floor == (math.log10(1e-10) + 4) / 4 == -1.5
    features = feature_extractor(np.zeros(8000, dtype=np.float32), sampling_rate=SR)["input_features"]
    assert np.all(features == feature_extractor.log_mel_floor)


# ----------------------------------------------------------------------------------------------------------------
# M2FNetFeatureExtractor: batching, padding, truncation


def test_padding_longest_and_attention_mask(feature_extractor, speech_16k, sine_wave):
    clips = [speech_16k, sine_wave, sine_wave[:800]]
    batch = feature_extractor(clips, sampling_rate=SR, return_tensors="pt")
    lengths = [1 + len(clip) // 160 for clip in clips]
    assert batch["input_features"].shape == (3, 128, max(lengths))
    assert batch["input_features"].dtype == torch.float32 and batch["attention_mask"].dtype == torch.int64
    assert batch["attention_mask"].sum(-1).tolist() == lengths
    for index, length in enumerate(lengths):
        assert torch.all(batch["attention_mask"][index, :length] == 1)
        assert torch.all(batch["input_features"][index, :, length:] == feature_extractor.log_mel_floor)
        # A clip's features do not depend on the rest of the batch.
        alone = feature_extractor(clips[index], sampling_rate=SR, return_tensors="pt")["input_features"][0]
        torch.testing.assert_close(batch["input_features"][index, :, :length], alone, rtol=0, atol=0)


def test_padding_max_length(feature_extractor, sine_wave):
    batch = feature_extractor([sine_wave, sine_wave[:4000]], sampling_rate=SR, padding="max_length")
    assert batch["input_features"].shape == (2, 128, 1001) == (2, 128, feature_extractor.max_num_frames)
    assert batch["attention_mask"].sum(-1).tolist() == [101, 26]
    batch = feature_extractor(sine_wave, sampling_rate=SR, padding="max_length", max_length=32000)
    assert batch["input_features"].shape == (1, 128, 201)
    with pytest.raises(ValueError, match="truncation"):
        feature_extractor(sine_wave, sampling_rate=SR, padding="max_length", max_length=8000, truncation=False)


def test_do_not_pad_returns_lists(feature_extractor, sine_wave):
    batch = feature_extractor([sine_wave, sine_wave[:1600]], sampling_rate=SR, padding="do_not_pad")
    assert [f.shape for f in batch["input_features"]] == [(128, 101), (128, 11)]
    assert [m.sum() for m in batch["attention_mask"]] == [101, 11]


def test_truncation_to_max_duration_warns(feature_extractor, caplog):
    clips = [sine(440.0, seconds=1.0), sine(440.0, seconds=12.5)]
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        batch = feature_extractor(clips, sampling_rate=SR)
    assert batch["input_features"].shape == (2, 128, 1001)
    assert batch["attention_mask"].sum(-1).tolist() == [101, 1001]
    assert "Clip 1" in caplog.text and "12.50 s" in caplog.text and "Clip 0" not in caplog.text
    whole = feature_extractor(clips, sampling_rate=SR, truncation=False)
    assert whole["input_features"].shape == (2, 128, 1 + 200000 // 160)


def test_hour_long_clip_is_truncated_before_the_stft(feature_extractor):
    hour_at_48k = np.zeros(3600 * 48000, dtype=np.float32)  # calloc'ed: pages never touched cost no memory
    hour_at_48k[:48000] = sine(440.0, rate=48000)
    start = time.perf_counter()
    batch = feature_extractor(hour_at_48k, sampling_rate=48000)
    assert time.perf_counter() - start < 5.0
    assert batch["input_features"].shape == (1, 128, 1001)


def test_min_duration_pads_with_silence(sine_wave):
    feature_extractor = M2FNetFeatureExtractor(min_duration=0.5)
    batch = feature_extractor(sine_wave[:1600], sampling_rate=SR)
    assert batch["attention_mask"].sum() == 1 + 8000 // 160


# ----------------------------------------------------------------------------------------------------------------
# M2FNetFeatureExtractor: bad input


def test_zero_length_clip_names_its_index(feature_extractor, sine_wave):
    with pytest.raises(ValueError, match="Clip 1 .* 0 samples") as error:
        feature_extractor([sine_wave, np.zeros(0, dtype=np.float32)], sampling_rate=SR)
    assert "missing" in str(error.value)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_non_finite_samples_name_the_clip(feature_extractor, sine_wave, bad_value):
    broken = sine_wave.copy()
    broken[123] = bad_value
    with pytest.raises(ValueError, match="Clip 2 .*NaN or infinite.*sample 123"):
        feature_extractor([sine_wave, sine_wave, broken], sampling_rate=SR)


def test_bad_arguments(feature_extractor, sine_wave):
    with pytest.raises(ValueError, match="empty list"):
        feature_extractor([], sampling_rate=SR)
    with pytest.raises(ValueError, match="sampling_rate"):
        feature_extractor(sine_wave, sampling_rate=0)
    with pytest.raises(ValueError, match="Clip 0 .* None"):
        feature_extractor([None], sampling_rate=SR)
    with pytest.raises(ValueError, match="min_duration"):
        M2FNetFeatureExtractor(min_duration=20.0)


# ----------------------------------------------------------------------------------------------------------------
# M2FNetFeatureExtractor: augmentation


def test_augmentation_changes_features_and_is_reproducible(feature_extractor, speech_16k):
    clean = feature_extractor(speech_16k, sampling_rate=SR)["input_features"]

    def augmented(generator):
        return feature_extractor(speech_16k, sampling_rate=SR, do_augment=True, generator=generator)["input_features"]

    first = augmented(np.random.default_rng(0))
    assert first.shape != clean.shape or not np.allclose(first, clean, atol=1e-3)
    np.testing.assert_array_equal(first, augmented(np.random.default_rng(0)))
    np.testing.assert_array_equal(augmented(7), augmented(7))
    np.testing.assert_array_equal(
        augmented(torch.Generator().manual_seed(3)), augmented(torch.Generator().manual_seed(3))
    )
    assert not np.array_equal(augmented(1), augmented(2))
    # Time warping by a speed factor in [0.9, 1.1] changes the length by at most 10 %.
    for seed in range(5):
        num_frames = augmented(seed).shape[-1]
        assert abs(num_frames - clean.shape[-1]) <= 0.12 * clean.shape[-1]


def test_augmentation_noise_level_follows_the_snr():
    feature_extractor = M2FNetFeatureExtractor(
        augment_time_warp_ratio=0.0, augment_snr_db_min=20.0, augment_snr_db_max=20.0
    )
    rng = np.random.default_rng(0)
    tone = sine(440.0, seconds=2.0)
    noisy = feature_extractor._augment(tone, rng)
    noise_power, signal_power = np.mean((noisy - tone) ** 2), np.mean(tone**2)
    assert abs(10 * np.log10(signal_power / noise_power) - 20.0) < 0.2


# ----------------------------------------------------------------------------------------------------------------
# M2FNetFeatureExtractor: serialisation


def test_save_and_load_round_trip(tmp_path, speech_16k):
    feature_extractor = M2FNetFeatureExtractor(max_duration=5.0, augment_snr_db_min=5.0)
    feature_extractor.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert config["max_duration"] == 5.0 and config["feature_size"] == 128 and "mel_filters" not in config
    reloaded = M2FNetFeatureExtractor.from_pretrained(tmp_path)
    assert reloaded.to_dict() == feature_extractor.to_dict()
    np.testing.assert_array_equal(
        reloaded(speech_16k, sampling_rate=SR)["input_features"],
        feature_extractor(speech_16k, sampling_rate=SR)["input_features"],
    )


def test_to_dict_holds_no_arrays(feature_extractor):
    serialised = feature_extractor.to_dict()
    assert not any(isinstance(value, (np.ndarray, torch.Tensor)) for value in serialised.values())
    assert {"mel_filters", "window"}.isdisjoint(serialised)
    json.dumps(serialised)


def test_register_for_auto_class(tmp_path):
    try:
        M2FNetFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
        M2FNetFeatureExtractor().save_pretrained(tmp_path)
    finally:
        M2FNetFeatureExtractor._auto_class = None
    config = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert config["auto_map"] == {"AutoFeatureExtractor": "feature_extraction_m2fnet.M2FNetFeatureExtractor"}
    assert (tmp_path / "feature_extraction_m2fnet.py").is_file() and (tmp_path / "media_utils.py").is_file()
