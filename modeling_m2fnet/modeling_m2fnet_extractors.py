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
"""M2FNet utterance-level extractors: the audio CNN and the visual dual network (paper Sec. 3.2.1 and 3.3)."""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput
from transformers.utils.generic import can_return_tuple

from .configuration_m2fnet import M2FNetAudioConfig, M2FNetExtractorConfig, M2FNetVisualConfig
from .losses import M2FNetTripletLoss


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
@dataclass
class M2FNetExtractorOutput(ModelOutput):
    """
    Output of [`M2FNetAudioExtractor`] and [`M2FNetVisualExtractor`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is provided):
            `triplet_loss_weight * L_AMT + covariance_loss_weight * L_Cov + variance_loss_weight * L_Var` over the
            triplets mined from `labels` in the batch (paper Sec. 3.3).
        embeddings (`torch.FloatTensor` of shape `(batch_size, embed_dim)`):
            One embedding per clip.
        triplet_loss (`torch.FloatTensor` of shape `()`, *optional*):
            The unweighted adaptive-margin triplet loss.
        variance_loss (`torch.FloatTensor` of shape `()`, *optional*):
            The unweighted variance loss.
        covariance_loss (`torch.FloatTensor` of shape `()`, *optional*):
            The unweighted covariance loss.
        num_triplets (`torch.LongTensor` of shape `()`, *optional*):
            How many triplets the batch gave (0 when it holds one class only or one sample per class).
        face_found (`torch.BoolTensor` of shape `(batch_size,)`, *optional*):
            Visual extractor only: whether any sampled frame of the clip had a face.
    """

    loss: torch.FloatTensor | None = None
    embeddings: torch.FloatTensor | None = None
    triplet_loss: torch.FloatTensor | None = None
    variance_loss: torch.FloatTensor | None = None
    covariance_loss: torch.FloatTensor | None = None
    num_triplets: torch.LongTensor | None = None
    face_found: torch.BoolTensor | None = None


def _encoder_output_channels(encoder_config) -> int:
    hidden_sizes = getattr(encoder_config, "hidden_sizes", None)
    return hidden_sizes[-1] if hidden_sizes else encoder_config.hidden_size


class M2FNetFeatureEncoder(nn.Module):
    """
    The paper's triplet network body: a convolutional encoder (ResNet-18 by default) and one linear projector.
    Spatial features are average-pooled, optionally under a mask over the width (time) axis.
    """

    def __init__(self, config: M2FNetExtractorConfig):
        super().__init__()
        self.config = config
        self.encoder = AutoModel.from_config(config.encoder_config)
        self.projector = nn.Linear(_encoder_output_channels(config.encoder_config), config.projection_dim)

    def forward(self, pixel_values: torch.Tensor, width_mask: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_channels, height, width)`):
                Images (frames, faces) or spectrograms rendered as images.
            width_mask (`torch.Tensor` of shape `(batch_size, width)`, *optional*):
                1 for real columns (spectrogram frames), 0 for padding; padded columns are left out of the pooling.

        Returns:
            `torch.FloatTensor` of shape `(batch_size, projection_dim)`.
        """
        chunk = self.config.encoder_batch_size
        if self.training or chunk is None or pixel_values.shape[0] <= chunk:
            return self._encode(pixel_values, width_mask)
        # Eval mode: images are independent (batch norm uses running statistics), so chunks bound the memory.
        starts = range(0, pixel_values.shape[0], chunk)
        masks = [None] * len(starts) if width_mask is None else [width_mask[start : start + chunk] for start in starts]
        return torch.cat(
            [self._encode(pixel_values[start : start + chunk], mask) for start, mask in zip(starts, masks)]
        )

    def _encode(self, pixel_values: torch.Tensor, width_mask: torch.Tensor | None) -> torch.Tensor:
        if pixel_values.device.type == "cpu":
            # oneDNN's convolutions run about 1.3x faster on channels-last input (same numbers up to rounding).
            pixel_values = pixel_values.contiguous(memory_format=torch.channels_last)
        feature_map = self.encoder(pixel_values).last_hidden_state  # (batch, channels, h, w)
        if width_mask is None:
            pooled = feature_map.mean(dim=(2, 3))
        else:
            # Column j of the feature map covers input columns [j * stride, (j + 1) * stride) with stride =
            # width / num_columns (32 for ResNet): a column is real if it starts inside the clip. Counting by the
            # stride (not by re-binning the mask to the batch's width) keeps a clip's embedding independent of how
            # long the other clips of its batch are.
            num_columns = feature_map.shape[-1]
            lengths = width_mask.to(feature_map.dtype).sum(-1)
            valid_columns = torch.ceil(lengths * num_columns / width_mask.shape[-1]).clamp(min=1)
            column_mask = torch.arange(num_columns, device=feature_map.device) < valid_columns[:, None]
            column_mask = column_mask[:, None, None, :].to(feature_map.dtype)  # (batch, 1, 1, w)
            total = (feature_map * column_mask).sum(dim=(2, 3))
            count = column_mask.sum(dim=(2, 3)) * feature_map.shape[2]
            pooled = total / count.clamp(min=1)
        return self.projector(pooled)


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
class M2FNetExtractorPreTrainedModel(PreTrainedModel):
    """Shared weight initialisation and triplet objective of the utterance-level extractors."""

    config: M2FNetExtractorConfig
    base_model_prefix = "extractor"
    supports_gradient_checkpointing = False

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        else:
            super()._init_weights(module)

    def _triplet_objective(self, embeddings: torch.Tensor, labels: torch.Tensor) -> dict:
        criterion = M2FNetTripletLoss(
            triplet_weight=self.config.triplet_loss_weight,
            covariance_weight=self.config.covariance_loss_weight,
            variance_weight=self.config.variance_loss_weight,
            variance_eps=self.config.variance_eps,
            mining_strategy=self.config.triplet_mining,
        )
        output = criterion(embeddings, labels)
        return {
            key: getattr(output, key)
            for key in ("loss", "triplet_loss", "variance_loss", "covariance_loss", "num_triplets")
        }


class M2FNetAudioExtractor(M2FNetExtractorPreTrainedModel):
    r"""
    The audio feature extractor of M2FNet: a log-mel spectrogram, replicated to the encoder's channels (the paper
    renders it as an RGB image), goes through ResNet-18 and a linear projector to `projection_dim`. Padded
    spectrogram frames are left out of the pooling.

    Example:

    ```python
    >>> import torch
    >>> from modeling_m2fnet import M2FNetAudioConfig, M2FNetAudioExtractor
    >>> config = M2FNetAudioConfig(projection_dim=8, encoder_config={"model_type": "resnet", "layer_type": "basic",
    ...     "depths": [1, 1], "hidden_sizes": [8, 16], "embedding_size": 8})
    >>> extractor = M2FNetAudioExtractor(config).eval()
    >>> extractor(torch.randn(2, 32, 50)).embeddings.shape
    torch.Size([2, 8])

    ```"""

    config: M2FNetAudioConfig
    main_input_name = "input_features"

    def __init__(self, config: M2FNetAudioConfig):
        super().__init__(config)
        self.feature_encoder = M2FNetFeatureEncoder(config)
        # Initialize weights and apply final processing
        self.post_init()

    # trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
    @can_return_tuple
    def forward(
        self,
        input_features: torch.FloatTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
    ) -> M2FNetExtractorOutput:
        r"""
        Args:
            input_features (`torch.FloatTensor` of shape `(batch_size, num_mel_bins, num_frames)`):
                Log-mel spectrograms from [`M2FNetFeatureExtractor`].
            attention_mask (`torch.LongTensor` of shape `(batch_size, num_frames)`, *optional*):
                1 for real frames, 0 for padding.
            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Class of each clip; triplets are mined from them and the loss returned (-100 entries are ignored).
        """
        if input_features.dim() != 3:
            raise ValueError(
                "`input_features` must have shape (batch_size, num_mel_bins, num_frames), "
                f"got {tuple(input_features.shape)}."
            )
        images = input_features[:, None].expand(-1, self.config.num_channels, -1, -1)
        embeddings = self.feature_encoder(images, width_mask=attention_mask)
        losses = self._triplet_objective(embeddings, labels) if labels is not None else {}
        return M2FNetExtractorOutput(embeddings=embeddings, **losses)


class M2FNetVisualExtractor(M2FNetExtractorPreTrainedModel):
    r"""
    The visual dual network of M2FNet (paper Sec. 3.2.1), over `num_frames` sampled frames of an utterance clip:

    - scene branch: every whole frame through the feature encoder, max-pooled over frames;
    - weighted face branch: every detected face through the same encoder; a frame's face feature is the sum of its
      faces' features weighted by their normalised box areas (`face_weights`); max-pooled over the frames that have
      a face (zeros when no frame has one);
    - visual embedding = concat of the branches listed in `config.branches`.

    Example:

    ```python
    >>> import torch
    >>> from modeling_m2fnet import M2FNetVisualConfig, M2FNetVisualExtractor
    >>> config = M2FNetVisualConfig(projection_dim=8, encoder_config={"model_type": "resnet", "layer_type": "basic",
    ...     "depths": [1, 1], "hidden_sizes": [8, 16], "embedding_size": 8})
    >>> extractor = M2FNetVisualExtractor(config).eval()
    >>> frames, faces = torch.randn(2, 3, 3, 32, 32), torch.randn(2, 3, 1, 3, 16, 16)
    >>> extractor(frames, faces, face_weights=torch.ones(2, 3, 1)).embeddings.shape
    torch.Size([2, 16])

    ```"""

    config: M2FNetVisualConfig
    main_input_name = "pixel_values"

    def __init__(self, config: M2FNetVisualConfig):
        super().__init__(config)
        self.feature_encoder = M2FNetFeatureEncoder(config)
        # Initialize weights and apply final processing
        self.post_init()

    def get_scene_features(self, pixel_values: torch.FloatTensor) -> torch.FloatTensor:
        """
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, 3, height, width)`)

        Returns:
            `torch.FloatTensor` of shape `(batch_size, projection_dim)`: frame features max-pooled over frames.
        """
        batch_size, num_frames = pixel_values.shape[:2]
        frame_features = self.feature_encoder(pixel_values.flatten(0, 1))
        return frame_features.view(batch_size, num_frames, -1).amax(dim=1)

    def get_face_features(
        self, face_pixel_values: torch.FloatTensor, face_weights: torch.FloatTensor
    ) -> tuple[torch.FloatTensor, torch.BoolTensor]:
        """
        Args:
            face_pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, max_faces, 3, face_size, face_size)`)
            face_weights (`torch.FloatTensor` of shape `(batch_size, num_frames, max_faces)`):
                Normalised box area of each face; 0 for empty slots.

        Returns:
            `(face_features, face_found)`: `(batch_size, projection_dim)` features and a `(batch_size,)` mask.
        """
        batch_size, num_frames, max_faces = face_weights.shape
        present = face_weights > 0
        # Only real faces go through the encoder: most slots are empty in real footage.
        face_features = face_pixel_values.new_zeros(batch_size, num_frames, max_faces, self.config.projection_dim)
        if present.any():
            face_features[present] = self.feature_encoder(face_pixel_values[present])
        frame_features = (face_features * face_weights[..., None]).sum(dim=2)  # (batch, frames, dim)
        frame_has_face = present.any(dim=2)
        masked = frame_features.masked_fill(~frame_has_face[..., None], torch.finfo(frame_features.dtype).min)
        face_found = frame_has_face.any(dim=1)
        pooled = masked.amax(dim=1) * face_found[:, None]
        return pooled, face_found

    # trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
    @can_return_tuple
    def forward(
        self,
        pixel_values: torch.FloatTensor | None = None,
        face_pixel_values: torch.FloatTensor | None = None,
        face_weights: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
    ) -> M2FNetExtractorOutput:
        r"""
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, 3, height, width)`):
                Sampled whole frames (scene branch).
            face_pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, max_faces, 3, face_size, face_size)`):
                Face crops (face branch).
            face_weights (`torch.FloatTensor` of shape `(batch_size, num_frames, max_faces)`):
                Normalised face box areas, 0 where a slot holds no face.
            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Class of each clip; triplets are mined from them and the loss returned (-100 entries are ignored).
        """
        features, face_found = [], None
        for branch in self.config.branches:
            if branch == "scene":
                if pixel_values is None:
                    raise ValueError("The scene branch needs `pixel_values` (batch, frames, 3, height, width).")
                features.append(self.get_scene_features(pixel_values))
            else:
                if face_pixel_values is None or face_weights is None:
                    raise ValueError("The face branch needs `face_pixel_values` and `face_weights`.")
                face_features, face_found = self.get_face_features(face_pixel_values, face_weights)
                features.append(face_features)
        embeddings = torch.cat(features, dim=-1)
        losses = self._triplet_objective(embeddings, labels) if labels is not None else {}
        return M2FNetExtractorOutput(embeddings=embeddings, face_found=face_found, **losses)


__all__ = [
    "M2FNetAudioExtractor",
    "M2FNetExtractorOutput",
    "M2FNetExtractorPreTrainedModel",
    "M2FNetFeatureEncoder",
    "M2FNetVisualExtractor",
]
