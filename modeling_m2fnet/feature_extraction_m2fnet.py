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
"""Audio front end of M2FNet: waveform -> log-mel features (`M2FNetFeatureExtractor`); decoding is in `media_utils`."""

import copy
import math
from typing import Any, ClassVar

import numpy as np
import torch
from transformers.audio_utils import mel_filter_bank
from transformers.feature_extraction_sequence_utils import SequenceFeatureExtractor
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import AudioKwargs
from transformers.utils import PaddingStrategy, TensorType, logging

from .media_utils import downmix, pcm_to_float, resample, time_axis, to_numpy


logger = logging.get_logger(__name__)

# Log-mel scaling constants (Whisper's, Radford et al. 2022): power mel energies are clamped at `_LOG_MEL_EPS` before
# `log10`, each utterance keeps `_LOG_MEL_DYNAMIC_RANGE` decades (80 dB) below its own maximum, and the result is
# mapped with `(x + _LOG_MEL_OFFSET) / _LOG_MEL_SCALE` to roughly [-1, 1].
_LOG_MEL_EPS = 1e-10
_LOG_MEL_DYNAMIC_RANGE = 8.0
_LOG_MEL_OFFSET = 4.0
_LOG_MEL_SCALE = 4.0


class M2FNetFeatureExtractorKwargs(AudioKwargs, total=False):
    r"""
    do_augment (`bool`, *optional*, defaults to `False`):
        Apply the paper's training augmentation (time warping + white noise), see [`M2FNetFeatureExtractor`].
    generator (`torch.Generator`, `np.random.Generator` or `int`, *optional*):
        Source of the augmentation's randomness.
    """

    do_augment: bool
    generator: Any


class M2FNetFeatureExtractor(SequenceFeatureExtractor):
    r"""
    Constructs an M2FNet feature extractor: the audio front end of M2FNet (Chudasama et al., CVPRW 2022, Sec. 3.2.1),
    which turns each utterance's waveform into a log-mel spectrogram (STFT window 400 samples = 25 ms, hop 160 samples
    = 10 ms, 128 mel filters at 16 kHz), optionally after training augmentation (time warping + additive white
    Gaussian noise).

    This feature extractor inherits from [`~feature_extraction_sequence_utils.SequenceFeatureExtractor`] which contains
    most of the main methods. Users should refer to this superclass for more information regarding those methods.

    Each clip is featurised on its own, at its own length (a clip's features do not depend on the rest of the batch):

    1. 2-D clips are averaged to mono; clips longer than `max_duration` are cut (before any other work) when
       `truncation=True`; clips at another `sampling_rate` are resampled with soxr.
    2. With `do_augment=True`: time warping (speed change by a random factor) and additive white Gaussian noise.
    3. `torch.stft` (periodic Hann window of `n_fft` samples, hop `hop_length`, `center=True` with reflect padding)
       gives `1 + num_samples // hop_length` frames; power spectrum -> mel filter bank (slaney mel scale and
       normalisation, 0 Hz to `sampling_rate / 2`, [`~audio_utils.mel_filter_bank`]).
    4. Log scaling, per utterance (Whisper's): `x = log10(max(mel, 1e-10))`, `x = max(x, x.max() - 8)`,
       `x = (x + 4) / 4`.
    5. Batches are padded in the *feature* domain, with the constant [`~M2FNetFeatureExtractor.log_mel_floor`]
       `= (log10(1e-10) + 4) / 4 = -1.5`, which is also exactly what a silent (all-zero) clip gives.

    Args:
        feature_size (`int`, *optional*, defaults to 128):
            Number of mel filters, i.e. the feature dimension of `input_features`.
        sampling_rate (`int`, *optional*, defaults to 16000):
            The sampling rate (Hz) the features are computed at; other rates are resampled to it.
        n_fft (`int`, *optional*, defaults to 400):
            STFT window (and FFT) size in samples: 25 ms at 16 kHz.
        hop_length (`int`, *optional*, defaults to 160):
            STFT hop in samples: 10 ms at 16 kHz.
        padding_value (`float`, *optional*, defaults to 0.0):
            Waveform value of silence, used to lengthen clips shorter than `min_duration` (and by the inherited
            [`~SequenceFeatureExtractor.pad`]). Padded *feature frames* hold `log_mel_floor` instead.
        max_duration (`float`, *optional*, defaults to 10.0):
            Clips longer than this many seconds are truncated (with a warning) when `truncation=True`, and
            `padding="max_length"` pads to it.
        min_duration (`float`, *optional*, defaults to 0.0):
            Clips shorter than this many seconds are lengthened with `padding_value` (silence) at the end; those frames
            count as real (attention mask 1), so a downstream CNN always sees at least this much.
        return_attention_mask (`bool`, *optional*, defaults to `True`):
            Whether `__call__` returns the frame-level `attention_mask` by default.
        augment_snr_db_min (`float`, *optional*, defaults to 10.0):
            Lowest signal-to-noise ratio (dB) of the Gaussian noise added when `do_augment=True`.
        augment_snr_db_max (`float`, *optional*, defaults to 30.0):
            Highest signal-to-noise ratio (dB) of that noise. Set both SNR bounds to `None` to disable the noise.
        augment_time_warp_ratio (`float`, *optional*, defaults to 0.1):
            `r` such that time warping changes a clip's speed by a random factor in `[1 - r, 1 + r]`; 0 disables it.

    Example:

    ```python
    >>> import numpy as np
    >>> from modeling_m2fnet.feature_extraction_m2fnet import M2FNetFeatureExtractor
    >>> feature_extractor = M2FNetFeatureExtractor()
    >>> clips = [np.zeros(16000, dtype=np.float32), np.zeros(8000, dtype=np.float32)]
    >>> batch = feature_extractor(clips, sampling_rate=16000, return_tensors="pt")
    >>> batch["input_features"].shape, batch["attention_mask"].sum(-1).tolist()
    (torch.Size([2, 128, 101]), [101, 51])

    ```
    """

    model_input_names: ClassVar[list[str]] = ["input_features", "attention_mask"]
    valid_kwargs = M2FNetFeatureExtractorKwargs  # the per-call options a processor routes here

    def __init__(
        self,
        feature_size: int = 128,
        sampling_rate: int = 16000,
        n_fft: int = 400,
        hop_length: int = 160,
        padding_value: float = 0.0,
        max_duration: float = 10.0,
        min_duration: float = 0.0,
        return_attention_mask: bool = True,
        augment_snr_db_min: float | None = 10.0,
        augment_snr_db_max: float | None = 30.0,
        augment_time_warp_ratio: float = 0.1,
        **kwargs,
    ):
        super().__init__(
            feature_size=feature_size,
            sampling_rate=sampling_rate,
            padding_value=padding_value,
            return_attention_mask=return_attention_mask,
            **kwargs,
        )
        for name, value in (("feature_size", feature_size), ("sampling_rate", sampling_rate), ("n_fft", n_fft)):
            if int(value) != value or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if int(hop_length) != hop_length or not 0 < hop_length <= n_fft:
            raise ValueError(f"`hop_length` must be an integer in [1, n_fft={n_fft}], got {hop_length!r}.")
        if not (math.isfinite(max_duration) and max_duration > 0 and 0 <= min_duration <= max_duration):
            raise ValueError(
                f"Need 0 <= `min_duration` <= `max_duration` (seconds, finite), got {min_duration=}, {max_duration=}."
            )
        if (augment_snr_db_min is None) != (augment_snr_db_max is None) or (
            augment_snr_db_min is not None and augment_snr_db_min > augment_snr_db_max
        ):
            raise ValueError(
                "`augment_snr_db_min` <= `augment_snr_db_max` (or both `None` for no noise), got "
                f"{augment_snr_db_min=}, {augment_snr_db_max=}."
            )
        if not 0 <= augment_time_warp_ratio < 1:
            raise ValueError(f"`augment_time_warp_ratio` must be in [0, 1), got {augment_time_warp_ratio!r}.")

        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.max_duration = float(max_duration)
        self.min_duration = float(min_duration)
        self.augment_snr_db_min = augment_snr_db_min
        self.augment_snr_db_max = augment_snr_db_max
        self.augment_time_warp_ratio = float(augment_time_warp_ratio)
        # Deterministic parts of the transform, computed once; `to_dict` leaves them out of preprocessor_config.json.
        self.mel_filters = mel_filter_bank(
            num_frequency_bins=1 + self.n_fft // 2,
            num_mel_filters=self.feature_size,
            min_frequency=0.0,
            max_frequency=self.sampling_rate / 2,
            sampling_rate=self.sampling_rate,
            norm="slaney",
            mel_scale="slaney",
            dtype=np.float32,
        )  # (num_frequency_bins, feature_size)
        self.window = torch.hann_window(self.n_fft, periodic=True, dtype=torch.float32).numpy()

    _non_serialized_attributes: ClassVar[tuple[str, ...]] = ("mel_filters", "window")

    @property
    def log_mel_floor(self) -> float:
        """The feature value of silence, and the constant padded frames hold: `(log10(1e-10) + 4) / 4 = -1.5`."""
        return (math.log10(_LOG_MEL_EPS) + _LOG_MEL_OFFSET) / _LOG_MEL_SCALE

    @property
    def max_num_frames(self) -> int:
        """Number of frames of a `max_duration`-long clip (what `padding="max_length"` pads to)."""
        return self.num_frames(round(self.max_duration * self.sampling_rate))

    def num_frames(self, num_samples: int) -> int:
        """Number of feature frames of a clip of `num_samples` samples at `sampling_rate`: `1 + num_samples // hop`."""
        return 1 + int(num_samples) // self.hop_length

    def to_dict(self) -> dict[str, Any]:
        """Serializes this instance to a Python dictionary, without the precomputed mel filters and window."""
        output = {
            key: copy.deepcopy(value)
            for key, value in self.__dict__.items()
            if key not in self._non_serialized_attributes
        }
        output["feature_extractor_type"] = self.__class__.__name__
        return output

    def _log_mel(self, waveform: np.ndarray) -> np.ndarray:
        """Log-mel spectrogram `(feature_size, 1 + len(waveform) // hop_length)` of one mono float32 waveform."""
        signal = torch.from_numpy(waveform)
        # Reflect padding needs more than `n_fft // 2` samples; shorter clips (< 12.5 ms at 16 kHz) are zero-padded.
        pad_mode = "reflect" if signal.shape[0] > self.n_fft // 2 else "constant"
        stft = torch.stft(
            signal,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=torch.from_numpy(self.window),
            center=True,
            pad_mode=pad_mode,
            return_complex=True,
        )
        power = stft.real.square() + stft.imag.square()  # (num_frequency_bins, num_frames)
        mel = torch.from_numpy(self.mel_filters).T @ power
        log_mel = torch.clamp(mel, min=_LOG_MEL_EPS).log10()
        log_mel = torch.maximum(log_mel, log_mel.max() - _LOG_MEL_DYNAMIC_RANGE)
        log_mel = (log_mel + _LOG_MEL_OFFSET) / _LOG_MEL_SCALE
        return log_mel.numpy().astype(np.float32, copy=False)

    def _augment(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Paper Sec. 3.2.1 training augmentation: time warping, then additive white Gaussian noise."""
        if self.augment_time_warp_ratio > 0 and waveform.shape[0] > 1:
            # Note: time warping is a speed change of the waveform by linear interpolation (as in Kaldi-style speed
            # perturbation, Ko et al., Interspeech 2015): tempo and pitch change together by at most +-r (10 %, i.e.
            # under two semitones). Warping the waveform, not the spectrogram, keeps `1 + n // hop` frames exact.
            speed = rng.uniform(1.0 - self.augment_time_warp_ratio, 1.0 + self.augment_time_warp_ratio)
            num_samples = waveform.shape[0]
            positions = np.arange(max(1, round(num_samples / speed)), dtype=np.float64) * speed
            waveform = np.interp(positions, np.arange(num_samples, dtype=np.float64), waveform).astype(np.float32)
        if self.augment_snr_db_min is not None:
            snr_db = rng.uniform(self.augment_snr_db_min, self.augment_snr_db_max)
            signal_power = float(np.mean(np.square(waveform, dtype=np.float64)))  # silence gets no noise
            noise_std = math.sqrt(signal_power / 10.0 ** (snr_db / 10.0))
            waveform = waveform + (noise_std * rng.standard_normal(waveform.shape[0])).astype(np.float32)
        return waveform

    def __call__(
        self,
        raw_speech: np.ndarray | list[float] | list[np.ndarray],
        sampling_rate: int | None = None,
        return_tensors: str | TensorType | None = None,
        padding: bool | str | PaddingStrategy = "longest",
        max_length: int | None = None,
        truncation: bool = True,
        return_attention_mask: bool | None = None,
        do_augment: bool = False,
        generator: torch.Generator | np.random.Generator | int | None = None,
        **kwargs,
    ) -> BatchFeature:
        r"""
        Featurises one clip or a batch of clips into log-mel spectrograms.

        Args:
            raw_speech (`np.ndarray`, `list[float]` or `list[np.ndarray]`):
                One clip, or a list of clips (a batch). A clip is a 1-D waveform of shape `(num_samples,)` (float in
                [-1, 1]; integer PCM is scaled by its dtype's full scale), or a 2-D one of shape
                `(num_channels, num_samples)` or `(num_samples, num_channels)` with at most 8 channels, which is
                averaged to mono. A 2-D array is always one multi-channel clip, never a batch. Torch tensors are
                accepted too. A silent (all-zero) clip is valid and gives `log_mel_floor` everywhere; an empty clip or
                one with NaN/inf samples raises a `ValueError`.
            sampling_rate (`int`, *optional*):
                The sampling rate (Hz) of `raw_speech`. If it differs from `self.sampling_rate`, the clips are
                resampled with soxr (`pip install soxr`). If not given, `self.sampling_rate` is assumed, with a
                warning: always pass it, to avoid silently wrong features.
            return_tensors (`str` or [`~utils.TensorType`], *optional*):
                `"pt"` for `torch.Tensor`s, `"np"` or `None` for `np.ndarray`s.
            padding (`bool`, `str` or [`~utils.PaddingStrategy`], *optional*, defaults to `"longest"`):
                `"longest"` (or `True`): pad the frames to the longest clip of the batch; `"max_length"`: pad to
                `max_length` samples' worth of frames (`max_duration` by default); `"do_not_pad"` (or `False`):
                return lists of per-clip arrays. Padded frames hold `log_mel_floor` (`-1.5`).
            max_length (`int`, *optional*):
                Maximum clip length in samples at `self.sampling_rate`, for truncation and `padding="max_length"`.
                Defaults to `max_duration * sampling_rate` (160000 samples, 1001 frames).
            truncation (`bool`, *optional*, defaults to `True`):
                Cut clips longer than `max_length` samples to their first `max_length` samples, before any other
                work (so an hour-long clip costs no more than a 10 s one), logging a warning naming the clip's index
                and duration. With `False`, long clips are featurised whole.
            return_attention_mask (`bool`, *optional*):
                Whether to return `attention_mask`. Defaults to `self.return_attention_mask` (`True`).
            do_augment (`bool`, *optional*, defaults to `False`):
                Apply the training augmentation of the paper (Sec. 3.2.1) to each clip: time warping by a random speed
                factor in `[1 - augment_time_warp_ratio, 1 + augment_time_warp_ratio]`, then white Gaussian noise at a
                random SNR in `[augment_snr_db_min, augment_snr_db_max]` dB. Use it for training only.
            generator (`torch.Generator`, `np.random.Generator` or `int`, *optional*):
                Source of the augmentation's randomness (an `int` is a seed); the same generator state gives the same
                features. Defaults to fresh OS entropy.

        Returns:
            [`BatchFeature`] with:

            - **input_features** (`np.ndarray` or `torch.Tensor` of shape `(batch_size, feature_size, num_frames)`,
              float32): the log-mel spectrograms; `num_frames = 1 + num_samples // hop_length` for each clip, padded.
            - **attention_mask** (`np.ndarray` or `torch.Tensor` of shape `(batch_size, num_frames)`, int64): 1 for
              real frames, 0 for padding (returned if `return_attention_mask`).

            With `padding="do_not_pad"` both are lists of per-clip arrays, `(feature_size, num_frames_i)` and
            `(num_frames_i,)`.
        """
        if kwargs:
            logger.warning(f"{self.__class__.__name__}.__call__ ignores the unexpected arguments {sorted(kwargs)}.")
        sampling_rate = self._check_sampling_rate(sampling_rate)
        if padding is True:
            padding = PaddingStrategy.LONGEST
        elif padding is False:
            padding = PaddingStrategy.DO_NOT_PAD
        padding = PaddingStrategy(padding)
        if max_length is None:
            max_length = round(self.max_duration * self.sampling_rate)
        elif int(max_length) != max_length or max_length <= 0:
            raise ValueError(f"`max_length` must be a positive number of samples, got {max_length!r}.")
        max_length = int(max_length)
        if return_attention_mask is None:
            return_attention_mask = self.return_attention_mask
        rng = None
        if do_augment:
            if isinstance(generator, torch.Generator):
                generator = int(torch.randint(0, 2**62, (1,), generator=generator))
            rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
        clips = self._as_clip_list(raw_speech)
        min_length = math.ceil(self.min_duration * self.sampling_rate)
        features = []
        for index, clip in enumerate(clips):
            waveform = self._prepare_clip(clip, index, sampling_rate, max_length if truncation else None)
            if rng is not None:
                waveform = self._augment(waveform, rng)
                if truncation:
                    waveform = waveform[:max_length]  # slowing down may have lengthened it
            if waveform.shape[0] < min_length:
                waveform = np.pad(waveform, (0, min_length - waveform.shape[0]), constant_values=self.padding_value)
            features.append(self._log_mel(np.ascontiguousarray(waveform, dtype=np.float32)))
        return self._pad_features(features, padding, max_length, return_attention_mask, return_tensors)

    def _check_sampling_rate(self, sampling_rate) -> int:
        if sampling_rate is None:
            logger.warning(
                f"It is strongly recommended to pass the `sampling_rate` argument to `{self.__class__.__name__}()` "
                f"(assuming {self.sampling_rate} Hz). Failing to do so can result in silent errors that might be hard "
                "to debug."
            )
            sampling_rate = self.sampling_rate
        if isinstance(sampling_rate, bool) or int(sampling_rate) != sampling_rate or sampling_rate <= 0:
            raise ValueError(f"`sampling_rate` must be a positive integer (Hz), got {sampling_rate!r}.")
        return int(sampling_rate)

    def _pad_features(self, features, padding, max_length, return_attention_mask, return_tensors) -> BatchFeature:
        """Per-clip log-mels `(feature_size, num_frames_i)` -> a padded batch (or lists, with `do_not_pad`)."""
        lengths = [feature.shape[1] for feature in features]
        if padding == PaddingStrategy.DO_NOT_PAD:
            data = {"input_features": features}
            if return_attention_mask:
                data["attention_mask"] = [np.ones(length, dtype=np.int64) for length in lengths]
            if return_tensors is not None and len(set(lengths)) > 1:
                raise ValueError(
                    f"Clips of different lengths ({lengths} frames) cannot be stacked into tensors with "
                    "`padding='do_not_pad'`: use `padding='longest'` or `return_tensors=None`."
                )
            return BatchFeature(data, tensor_type=return_tensors)

        target = max(lengths)
        if padding == PaddingStrategy.MAX_LENGTH:
            target = self.num_frames(max_length)
            too_long = [index for index, length in enumerate(lengths) if length > target]
            if too_long:
                raise ValueError(
                    f"Clips {too_long} have more than the {target} frames of `max_length`={max_length} samples and "
                    "`truncation=False`: pass `truncation=True` or `padding='longest'`."
                )
        input_features = np.full((len(features), self.feature_size, target), self.log_mel_floor, dtype=np.float32)
        attention_mask = np.zeros((len(features), target), dtype=np.int64)
        for index, feature in enumerate(features):
            input_features[index, :, : feature.shape[1]] = feature
            attention_mask[index, : feature.shape[1]] = 1
        data = {"input_features": input_features}
        if return_attention_mask:
            data["attention_mask"] = attention_mask
        return BatchFeature(data, tensor_type=return_tensors)

    @staticmethod
    def _as_clip_list(raw_speech) -> list:
        """Splits `raw_speech` into a list of clips: one array (1-D or 2-D) or list of floats is a single clip."""
        if isinstance(raw_speech, (np.ndarray, torch.Tensor)):
            return [raw_speech]
        if isinstance(raw_speech, (list, tuple)):
            if len(raw_speech) == 0:
                raise ValueError("`raw_speech` is an empty list: pass at least one clip.")
            if all(np.isscalar(sample) for sample in raw_speech):
                return [np.asarray(raw_speech, dtype=np.float32)]
            return list(raw_speech)
        raise TypeError(
            f"`raw_speech` must be a waveform (`np.ndarray`, `torch.Tensor`, list of floats) or a list of waveforms, "
            f"got {type(raw_speech)}."
        )

    def _prepare_clip(self, clip, index: int, sampling_rate: int, max_length: int | None) -> np.ndarray:
        """Validates one clip and returns it mono, at `self.sampling_rate`, cut to `max_length` samples if given."""
        name = f"Clip {index} of `raw_speech`"
        if clip is None:
            raise ValueError(
                f"{name} is None. To mark an utterance's audio as missing, leave it out of the feature extractor's "
                "batch (the processor then sets `modality_mask` to 0 for it) instead of passing a clip."
            )
        array = to_numpy(clip)
        axis = time_axis(array.shape, name)
        num_samples = array.shape[axis]
        if num_samples == 0:
            raise ValueError(
                f"{name} has 0 samples. Audio clips cannot be empty: to mark an utterance's audio as missing, leave "
                "it out of the feature extractor's batch (the processor then sets `modality_mask` to 0 for it); "
                "for silence, pass zeros."
            )
        if max_length is not None:
            # Cut at the input rate, before downmixing, checking and resampling, keeping just enough samples.
            keep = -(-max_length * sampling_rate // self.sampling_rate)
            if num_samples > keep:
                logger.warning(
                    f"{name} lasts {num_samples / sampling_rate:.2f} s, longer than the maximum of "
                    f"{max_length / self.sampling_rate:.2f} s (`max_duration`/`max_length`): keeping its first "
                    f"{max_length / self.sampling_rate:.2f} s. Pass `truncation=False` to keep it whole."
                )
                array = array[:keep] if axis == 0 else array[:, :keep]
        try:
            array = pcm_to_float(array)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        waveform = downmix(array, axis)
        finite = np.isfinite(waveform)
        if not finite.all():
            raise ValueError(
                f"{name} has {int((~finite).sum())} NaN or infinite samples (first at sample "
                f"{int(np.argmin(finite))}); check how it was decoded or generated."
            )
        waveform = resample(waveform, sampling_rate, self.sampling_rate)
        if max_length is not None:
            waveform = waveform[:max_length]
        return waveform


__all__ = ["M2FNetFeatureExtractor"]
