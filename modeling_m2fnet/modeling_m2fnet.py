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
"""PyTorch M2FNet: dialogue-level transformer encoders, multi-head attention fusion and the emotion classifier."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput
from transformers.utils.generic import can_return_tuple

from .configuration_m2fnet import MODALITIES, M2FNetConfig
from .modeling_m2fnet_extractors import M2FNetAudioExtractor, M2FNetVisualExtractor


@dataclass
class M2FNetModelOutput(ModelOutput):
    """
    Output of [`M2FNetModel`].

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_utterances, classifier_input_dim)`):
            What the classifier reads: the concatenation of the fused text stream (or the text features when fusion
            is off) and the audio and visual dialogue features, for the active modalities. Zero on padding.
        fused_features (`torch.FloatTensor` of shape `(batch_size, num_utterances, text_embed_dim)`, *optional*):
            Output of the last fusion layer (when fusion runs).
        text_features (`torch.FloatTensor` of shape `(batch_size, num_utterances, text_embed_dim)`, *optional*):
            Text utterance embeddings after the dialogue-level encoder.
        audio_features (`torch.FloatTensor` of shape `(batch_size, num_utterances, audio_embed_dim)`, *optional*):
            Audio utterance embeddings after the dialogue-level encoder.
        visual_features (`torch.FloatTensor` of shape `(batch_size, num_utterances, visual_embed_dim)`, *optional*):
            Visual utterance embeddings after the dialogue-level encoder.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned when `output_hidden_states=True`):
            The fusion stream at the input of the first fusion layer and after every fusion layer, each of shape
            `(batch_size, num_utterances, text_embed_dim)`.
        attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
            Fusion attention probabilities, one tensor per fusion layer of shape
            `(batch_size, num_key_modalities, fusion_num_attention_heads, num_utterances, num_utterances)`, key
            modalities in the order audio, visual.
        encoder_attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
            Dialogue-encoder self-attention probabilities of shape
            `(batch_size, num_attention_heads, num_utterances, num_utterances)`, for the active modalities in the
            order text, audio, visual, and layer by layer within each modality.
    """

    last_hidden_state: torch.FloatTensor | None = None
    fused_features: torch.FloatTensor | None = None
    text_features: torch.FloatTensor | None = None
    audio_features: torch.FloatTensor | None = None
    visual_features: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    encoder_attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class M2FNetEmotionRecognitionOutput(ModelOutput):
    """
    Output of [`M2FNetForEmotionRecognition`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is provided):
            Cross-entropy over the real utterances (labels `-100` and padded utterances are ignored), weighted by
            `config.class_weights` when set.
        logits (`torch.FloatTensor` of shape `(batch_size, num_utterances, config.num_labels)`):
            Emotion scores per utterance (before softmax).
        last_hidden_state, fused_features, text_features, audio_features, visual_features, hidden_states,
        attentions, encoder_attentions:
            As in [`M2FNetModelOutput`].
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None
    fused_features: torch.FloatTensor | None = None
    text_features: torch.FloatTensor | None = None
    audio_features: torch.FloatTensor | None = None
    visual_features: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    encoder_attentions: tuple[torch.FloatTensor, ...] | None = None


class _UtterancePacking:
    """
    The real utterances of a batch of dialogues (the True positions of a `(batch_size, num_utterances)` mask) as one
    packed sequence of `num_real` rows, so that the dialogue level spends no work on padding: its position-wise
    layers (projections, feed-forward blocks, layer norms) run on the rows, and attention runs over groups of whole
    dialogues at once with a block-diagonal mask (an utterance attends to the utterances of its own dialogue only).
    Groups hold at most `max_group_rows` rows (or one dialogue), which bounds the `(rows, rows)` attention maps.
    Without padding, packing is a free view and attention keeps the dialogue layout.
    """

    max_group_rows = 256

    def __init__(self, mask: torch.Tensor):
        self.shape = tuple(mask.shape)
        self.is_full = bool(mask.all())
        self.index = None if self.is_full else mask.reshape(-1).nonzero().squeeze(-1)
        self.groups = []  # (first row, end row) of consecutive whole dialogues
        if not self.is_full:
            start = end = 0
            for length in mask.sum(dim=-1).tolist():
                if end > start and end + length - start > self.max_group_rows:
                    self.groups.append((start, end))
                    start = end
                end += length
            self.groups.append((start, end))
        self._attention_masks = {}

    def pack(self, states: torch.Tensor) -> torch.Tensor:
        """`(batch_size, num_utterances, dim)` -> `(num_real, dim)`."""
        flat = states.reshape(-1, states.shape[-1])
        return flat if self.is_full else flat.index_select(0, self.index)

    def unpack(self, rows: torch.Tensor) -> torch.Tensor:
        """`(num_real, dim)` -> `(batch_size, num_utterances, dim)`, zeros at the other positions."""
        if self.is_full:
            return rows.view(*self.shape, rows.shape[-1])
        zeros = rows.new_zeros(self.shape[0] * self.shape[1], rows.shape[-1])
        return zeros.index_copy(0, self.index, rows).view(*self.shape, rows.shape[-1])

    def attention_masks(self, key_mask: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """
        For packed rows (not full), per group: `(allowed, has_key)`, where `allowed` `(rows, rows)` is True where the
        query row may attend to the key row (same dialogue, `key_mask` True) and `has_key` `(rows,)` is True for the
        rows whose dialogue has any valid key. Computed once per key mask and reused by every layer.
        """
        cached = self._attention_masks.get(id(key_mask))
        if cached is None or cached[0] is not key_mask:
            batch_size, num_utterances = self.shape
            dialogue = torch.arange(batch_size, device=key_mask.device).repeat_interleave(num_utterances)[self.index]
            valid = key_mask.reshape(-1)[self.index]
            has_key = key_mask.any(dim=-1)[dialogue]
            masks = []
            for start, end in self.groups:
                group = dialogue[start:end]
                masks.append(((group[:, None] == group[None, :]) & valid[None, start:end], has_key[start:end]))
            cached = (key_mask, masks)
            self._attention_masks[id(key_mask)] = cached
        return cached[1]


class M2FNetAttention(nn.Module):
    """
    Multi-head attention over the utterances of a dialogue. Queries, keys and values may come from streams of
    different widths (fusion uses text as query and value, audio or visual as key); everything is projected to
    `embed_dim`.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float, key_dim: int | None = None):
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scale = self.head_dim**-0.5
        self.dropout = dropout
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(key_dim or embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        # (..., length, embed_dim) -> (..., num_heads, length, head_dim)
        return states.unflatten(-1, (self.num_heads, self.head_dim)).transpose(-3, -2)

    def _attend(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, allowed: torch.Tensor, has_key
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = torch.matmul(queries, keys.transpose(-1, -2)) * self.scale
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        probs = scores.softmax(dim=-1)
        # A query with no valid key (e.g. no utterance of its dialogue has audio) attends to nothing, not to padding.
        probs = probs * has_key
        probs = F.dropout(probs, p=self.dropout, training=self.training)
        return torch.matmul(probs, values).transpose(-3, -2).flatten(-2), probs

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_mask: torch.Tensor,
        packing: _UtterancePacking | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Args:
            query (`torch.FloatTensor` of shape `(batch_size, num_utterances, embed_dim)`)
            key (`torch.FloatTensor` of shape `(batch_size, num_utterances, key_dim)`)
            value (`torch.FloatTensor` of shape `(batch_size, num_utterances, embed_dim)`)
            key_mask (`torch.BoolTensor` of shape `(batch_size, num_utterances)`):
                True for the utterances that may be attended to.
            packing (`_UtterancePacking`, *optional*):
                When given, `query`, `key` and `value` are the packed rows `(num_real, dim)` of these positions, and
                so is the returned output; `key_mask` must be False outside them.

        Returns:
            The attended values `(batch_size, num_utterances, embed_dim)`, or `(num_real, embed_dim)` when packed
            (zero for a query with no valid key), and the attention probabilities
            `(batch_size, num_heads, num_utterances, num_utterances)` (`None` when packed).
        """
        queries, keys, values = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        if packing is None or packing.is_full:
            shape = key_mask.shape + (self.embed_dim,)
            queries, keys, values = (self._split_heads(states.view(shape)) for states in (queries, keys, values))
            has_key = key_mask.any(dim=-1)[:, None, None, None]
            attended, probs = self._attend(queries, keys, values, key_mask[:, None, None, :], has_key)
            if packing is not None:
                return self.out_proj(attended.reshape(-1, self.embed_dim)), None
            return self.out_proj(attended), probs
        queries, keys, values = self._split_heads(queries), self._split_heads(keys), self._split_heads(values)
        attended = [
            self._attend(queries[:, start:end], keys[:, start:end], values[:, start:end], allowed, has_key[:, None])[0]
            for (start, end), (allowed, has_key) in zip(packing.groups, packing.attention_masks(key_mask))
        ]
        return self.out_proj(attended[0] if len(attended) == 1 else torch.cat(attended)), None


class M2FNetMLP(nn.Module):
    # trf-ignore: TRF029 — the width differs per modality (D_T, D_A, D_V), so it cannot be read off the config alone
    def __init__(self, config: M2FNetConfig, hidden_size: int):
        super().__init__()
        self.fc1 = nn.Linear(hidden_size, config.intermediate_size)
        self.activation_fn = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(config.intermediate_size, hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.activation_fn(self.fc1(hidden_states))))


class M2FNetDialogueEncoderLayer(GradientCheckpointingLayer):
    """A post-norm transformer encoder layer over the utterance embeddings of one modality."""

    # trf-ignore: TRF029 — the width differs per modality (D_T, D_A, D_V), so it cannot be read off the config alone
    def __init__(self, config: M2FNetConfig, hidden_size: int):
        super().__init__()
        self.self_attn = M2FNetAttention(hidden_size, config.num_attention_heads, config.attention_dropout)
        self.layer_norm1 = nn.LayerNorm(hidden_size, eps=config.layer_norm_eps)
        self.mlp = M2FNetMLP(config, hidden_size)
        self.layer_norm2 = nn.LayerNorm(hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self, hidden_states: torch.Tensor, utterance_mask: torch.Tensor, packing: _UtterancePacking | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            hidden_states (`torch.FloatTensor` of shape `(batch_size, num_utterances, hidden_size)`, or
                `(num_real, hidden_size)` rows packed by `packing`)
            utterance_mask (`torch.BoolTensor` of shape `(batch_size, num_utterances)`): the utterances to attend to.
            packing (`_UtterancePacking`, *optional*): the positions of packed `hidden_states`.
        """
        attended, probs = self.self_attn(
            hidden_states, hidden_states, hidden_states, key_mask=utterance_mask, packing=packing
        )
        hidden_states = self.layer_norm1(hidden_states + self.dropout(attended))
        hidden_states = self.layer_norm2(hidden_states + self.dropout(self.mlp(hidden_states)))
        return hidden_states, probs


class M2FNetDialogueEncoder(nn.Module):
    """
    The dialogue-level context encoder of one modality (paper Sec. 3.2.2): `config.num_hidden_layers` transformer
    encoder layers, each wrapped in a local skip connection (`x + layer(x)`). Masked utterances stay zero.
    """

    # trf-ignore: TRF029 — the width differs per modality (D_T, D_A, D_V), so it cannot be read off the config alone
    def __init__(self, config: M2FNetConfig, hidden_size: int):
        super().__init__()
        self.layers = nn.ModuleList(
            [M2FNetDialogueEncoderLayer(config, hidden_size) for _ in range(config.num_hidden_layers)]
        )
        self.gradient_checkpointing = False

    def forward(
        self, hidden_states: torch.Tensor, utterance_mask: torch.Tensor, return_attentions: bool = False
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """
        Args:
            hidden_states (`torch.FloatTensor` of shape `(batch_size, num_utterances, hidden_size)`)
            utterance_mask (`torch.BoolTensor` of shape `(batch_size, num_utterances)`):
                True where this modality exists for a real utterance.
            return_attentions (`bool`, *optional*, defaults to `False`):
                Return the attention probabilities of every layer (computed in the padded dialogue layout; without
                them, the real utterances of the batch are packed and padding costs nothing).
        """
        if return_attentions:
            # The dialogue layout, so that every attention map comes out as (batch, heads, N, N).
            keep = utterance_mask[..., None].to(hidden_states.dtype)
            hidden_states = hidden_states * keep
            attentions = ()
            for layer in self.layers:
                layer_output, probs = layer(hidden_states, utterance_mask)
                hidden_states = (hidden_states + layer_output) * keep
                attentions += (probs,)
            return hidden_states, attentions
        # Positions outside the mask are zero on the way in and out: only the real utterances are computed.
        packing = _UtterancePacking(utterance_mask)
        hidden_states = packing.pack(hidden_states)
        for layer in self.layers:
            layer_output, _ = layer(hidden_states, utterance_mask, packing=packing)
            hidden_states = hidden_states + layer_output
        return packing.unpack(hidden_states), ()


class M2FNetFusionLayer(GradientCheckpointingLayer):
    """
    One multi-head attention fusion layer (paper Sec. 3.2.2, Fig. 3). The text stream is query and value; the audio
    features and the visual features are each used as key of their own attention, which maps them into the text
    space. The attended outputs are concatenated, projected back to the text width by a fully connected layer, and
    added to the stream with a layer norm.
    """

    def __init__(self, config: M2FNetConfig):
        super().__init__()
        self.key_modalities = [modality for modality in ("audio", "visual") if modality in config.modalities]
        text_dim = config.text_embed_dim
        self.attentions = nn.ModuleDict(
            {
                modality: M2FNetAttention(
                    text_dim,
                    config.fusion_num_attention_heads,
                    config.attention_dropout,
                    key_dim=config.embed_dim(modality),
                )
                for modality in self.key_modalities
            }
        )
        self.fc = nn.Linear(text_dim * len(self.key_modalities), text_dim)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layer_norm = nn.LayerNorm(text_dim, eps=config.layer_norm_eps)

    def forward(
        self,
        text_stream: torch.Tensor,
        key_features: dict[str, torch.Tensor],
        key_masks: dict[str, torch.Tensor],
        packing: _UtterancePacking | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            text_stream (`torch.FloatTensor` of shape `(batch_size, num_utterances, text_embed_dim)`)
            key_features (`dict[str, torch.FloatTensor]`):
                `"audio"` / `"visual"` dialogue features `(batch_size, num_utterances, embed_dim)`.
            key_masks (`dict[str, torch.BoolTensor]`):
                Per key modality, True for utterances with both that modality and text.
            packing (`_UtterancePacking`, *optional*):
                When given, `text_stream` and `key_features` are `(num_real, dim)` rows of these positions, and so
                is the returned stream.

        Returns:
            The new text stream and the attention probabilities
            `(batch_size, num_key_modalities, fusion_num_attention_heads, num_utterances, num_utterances)` (`None`
            when packed).
        """
        attended, probs = [], []
        for modality in self.key_modalities:
            output, modality_probs = self.attentions[modality](
                text_stream, key_features[modality], text_stream, key_mask=key_masks[modality], packing=packing
            )
            attended.append(output)
            probs.append(modality_probs)
        fused = self.fc(torch.cat(attended, dim=-1))
        probs = torch.stack(probs, dim=1) if packing is None else None
        return self.layer_norm(text_stream + self.dropout(fused)), probs


class M2FNetPreTrainedModel(PreTrainedModel):
    """Weight initialisation and shared settings of the M2FNet dialogue-level models."""

    config: M2FNetConfig
    base_model_prefix = "m2fnet"
    main_input_name = "input_ids"
    input_modalities = ("text", "audio", "video")
    supports_gradient_checkpointing = True
    _no_split_modules = ["M2FNetDialogueEncoderLayer", "M2FNetFusionLayer"]

    def _init_weights(self, module):
        """Normal(0, `initializer_range`) linear layers, unit layer norms; sub-models use their own schemes."""
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        else:
            super()._init_weights(module)


def _scatter_utterances(features: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    """Places `(num_selected, dim)` features at the True positions of `selected` `(batch, num_utterances)`."""
    output = features.new_zeros(*selected.shape, features.shape[-1])
    output[selected] = features
    return output


class M2FNetModel(M2FNetPreTrainedModel):
    r"""
    M2FNet without its classification head: per-utterance multimodal features of a batch of dialogues.

    ```
     utterances ──► text encoder ──► F_T ──► dialogue encoder (N_T) ─┐
                ──► audio CNN    ──► F_A ──► dialogue encoder (N_A) ─┼─► fusion × m (Q,V = text; K = audio | visual)
                ──► visual dual  ──► F_V ──► dialogue encoder (N_V) ─┘             │
                                                  concat(F_fusion, F_A, F_V) ◄───┘ ──► last_hidden_state
    ```

    Each modality takes raw inputs (`input_ids`, `input_features`, `pixel_values` + faces) or precomputed utterance
    embeddings (`text_embeds`, `audio_embeds`, `visual_embeds`), like `inputs_embeds` in transformers. Shapes: B
    dialogues, N utterances (padded), L tokens, M mel bins, T spectrogram frames, F video frames, K faces per frame.

    Example:

    ```python
    >>> import torch
    >>> from modeling_m2fnet import M2FNetConfig, M2FNetModel
    >>> config = M2FNetConfig(modalities=["text", "audio"], text_config={"model_type": "bert", "hidden_size": 32,
    ...     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 100},
    ...     audio_config={"projection_dim": 16}, num_attention_heads=2, fusion_num_attention_heads=2,
    ...     intermediate_size=64, num_fusion_layers=2)
    >>> model = M2FNetModel(config).eval()
    >>> output = model(text_embeds=torch.randn(1, 4, 32), audio_embeds=torch.randn(1, 4, 16))
    >>> output.last_hidden_state.shape
    torch.Size([1, 4, 48])

    ```"""

    def __init__(self, config: M2FNetConfig):
        super().__init__(config)
        self.modalities = list(config.modalities)
        if "text" in self.modalities:
            self.text_model = self._build_text_model(config)
        if "audio" in self.modalities:
            self.audio_model = M2FNetAudioExtractor(config.audio_config)
        if "visual" in self.modalities:
            self.visual_model = M2FNetVisualExtractor(config.visual_config)
        self.dialogue_encoders = nn.ModuleDict(
            {modality: M2FNetDialogueEncoder(config, config.embed_dim(modality)) for modality in self.modalities}
        )
        # CODEPATH: the paper's M2FNet (text + audio and/or visual) fuses; text-only, audio/visual-only and the
        # "concatenation" ablation (num_fusion_layers=0) skip fusion.
        num_fusion_layers = config.num_fusion_layers if config.uses_fusion else 0
        self.fusion_layers = nn.ModuleList([M2FNetFusionLayer(config) for _ in range(num_fusion_layers)])
        # Initialize weights and apply final processing
        self.post_init()

    @staticmethod
    def _build_text_model(config: M2FNetConfig) -> PreTrainedModel:
        try:
            # The utterance embedding is a token state, so a pooler would be parameters without gradients.
            return AutoModel.from_config(config.text_config, add_pooling_layer=False)
        except TypeError:  # text encoders without a pooler do not take the argument
            return AutoModel.from_config(config.text_config)

    @property
    def classifier_input_dim(self) -> int:
        """Width of `last_hidden_state`: the text (or fused) width plus the audio and visual widths, if active."""
        return sum(self.config.embed_dim(modality) for modality in self.modalities)

    def get_text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, selected: torch.Tensor):
        """
        Utterance embeddings from the text encoder: the last-layer state of the first token (`"cls"`, the paper's
        choice) or the masked mean of all tokens (`"mean"`, for sentence-embedding encoders), per
        `config.text_pooling`.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, num_utterances, sequence_length)`)
            attention_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, sequence_length)`)
            selected (`torch.BoolTensor` of shape `(batch_size, num_utterances)`): utterances to encode.

        Returns:
            `torch.FloatTensor` of shape `(batch_size, num_utterances, text_embed_dim)`, zero where not selected.
        """
        input_ids, attention_mask = input_ids[selected], attention_mask[selected]
        real_columns = attention_mask.any(dim=0)
        if real_columns.any() and not real_columns[-1]:
            # Trailing columns that are padding in every utterance (a batch padded to a fixed or global length)
            # change nothing but the cost: the encoder runs up to the last real token only.
            length = int(real_columns.nonzero().max()) + 1
            input_ids, attention_mask = input_ids[:, :length], attention_mask[:, :length]
        token_states = self.text_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # CODEPATH: "cls" is the paper's (RoBERTa) embedding; "mean" suits sentence-transformers encoders (mpnet).
        if self.config.text_pooling == "mean":
            token_mask = attention_mask[..., None].to(token_states.dtype)
            embeddings = (token_states * token_mask).sum(1) / token_mask.sum(1).clamp(min=1)
        else:
            embeddings = token_states[:, 0]
        return _scatter_utterances(embeddings, selected)

    def get_audio_features(
        self, input_features: torch.Tensor, audio_attention_mask: torch.Tensor | None, selected: torch.Tensor
    ):
        """
        Args:
            input_features (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_mel_bins, num_frames)`)
            audio_attention_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, num_frames)`, *optional*)
            selected (`torch.BoolTensor` of shape `(batch_size, num_utterances)`): utterances to encode.

        Returns:
            `torch.FloatTensor` of shape `(batch_size, num_utterances, audio_embed_dim)`, zero where not selected.
        """
        mask = audio_attention_mask[selected] if audio_attention_mask is not None else None
        embeddings = self.audio_model(input_features[selected], attention_mask=mask).embeddings
        return _scatter_utterances(embeddings, selected)

    def get_visual_features(
        self,
        pixel_values: torch.Tensor | None,
        face_pixel_values: torch.Tensor | None,
        face_weights: torch.Tensor | None,
        selected: torch.Tensor,
    ):
        """
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_frames, 3, height, width)`)
            face_pixel_values (`torch.FloatTensor` of shape
                `(batch_size, num_utterances, num_frames, max_faces, 3, face_size, face_size)`)
            face_weights (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_frames, max_faces)`)
            selected (`torch.BoolTensor` of shape `(batch_size, num_utterances)`): utterances to encode.

        Returns:
            `torch.FloatTensor` of shape `(batch_size, num_utterances, visual_embed_dim)`, zero where not selected.
        """

        def pick(tensor):
            return tensor[selected] if tensor is not None else None

        embeddings = self.visual_model(pick(pixel_values), pick(face_pixel_values), pick(face_weights)).embeddings
        return _scatter_utterances(embeddings, selected)

    def _utterance_embeddings(self, modality: str, inputs: dict, selected: torch.Tensor) -> torch.Tensor:
        precomputed = inputs[f"{modality}_embeds"]
        if precomputed is None and not selected.any():
            # Nothing to encode (e.g. no utterance of the batch has video): no inputs needed.
            return torch.zeros(*selected.shape, self.config.embed_dim(modality), device=selected.device, dtype=self.dtype)
        if precomputed is not None:
            if precomputed.shape[-1] != self.config.embed_dim(modality):
                raise ValueError(
                    f"`{modality}_embeds` has width {precomputed.shape[-1]} but this model expects "
                    f"{self.config.embed_dim(modality)} (`config.{modality}_embed_dim`): were the features extracted "
                    "with another encoder?"
                )
            return precomputed
        if modality == "text" and inputs["input_ids"] is not None:
            attention_mask = inputs["attention_mask"]
            if attention_mask is None:
                attention_mask = torch.ones_like(inputs["input_ids"])
            return self.get_text_features(inputs["input_ids"], attention_mask, selected)
        if modality == "audio" and inputs["input_features"] is not None:
            return self.get_audio_features(inputs["input_features"], inputs["audio_attention_mask"], selected)
        if modality == "visual" and (inputs["pixel_values"] is not None or inputs["face_pixel_values"] is not None):
            return self.get_visual_features(
                inputs["pixel_values"], inputs["face_pixel_values"], inputs["face_weights"], selected
            )
        raw_names = {
            "text": "`input_ids`",
            "audio": "`input_features`",
            "visual": "`pixel_values` / `face_pixel_values`",
        }
        raise ValueError(
            f"The model was configured with the {modality!r} modality but got neither {raw_names[modality]} nor "
            f"`{modality}_embeds`. Pass one of them, or build the model with "
            f"`modalities={[m for m in self.modalities if m != modality]}`."
        )

    @staticmethod
    def _batch_shape(inputs: dict) -> tuple[int, int, torch.device]:
        for name in ("text_embeds", "audio_embeds", "visual_embeds", "input_ids", "input_features", "pixel_values",
                     "face_pixel_values"):  # fmt: skip
            if inputs[name] is not None:
                return inputs[name].shape[0], inputs[name].shape[1], inputs[name].device
        raise ValueError("No input given: pass the raw inputs or `*_embeds` of at least one active modality.")

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        audio_attention_mask: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        face_pixel_values: torch.FloatTensor | None = None,
        face_weights: torch.FloatTensor | None = None,
        face_mask: torch.LongTensor | None = None,
        text_embeds: torch.FloatTensor | None = None,
        audio_embeds: torch.FloatTensor | None = None,
        visual_embeds: torch.FloatTensor | None = None,
        utterance_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> M2FNetModelOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, num_utterances, sequence_length)`, *optional*):
                Tokenised utterances (with their context, see [`M2FNetProcessor`]).
            attention_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, sequence_length)`, *optional*):
                Token mask of `input_ids`.
            input_features (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_mel_bins, num_frames)`, *optional*):
                Log-mel spectrograms.
            audio_attention_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, num_frames)`, *optional*):
                1 for real spectrogram frames.
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_frames, 3, height, width)`, *optional*):
                Sampled whole frames.
            face_pixel_values (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_frames, max_faces, 3, face_size, face_size)`, *optional*):
                Face crops.
            face_weights (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_frames, max_faces)`, *optional*):
                Normalised face box areas, 0 for empty slots.
            face_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, num_frames)`, *optional*):
                Whether a frame has a face. Informational (the weights already carry it); accepted so that a
                processor batch can be passed as `**batch`.
            text_embeds / audio_embeds / visual_embeds (`torch.FloatTensor` of shape `(batch_size, num_utterances, embed_dim)`, *optional*):
                Precomputed utterance embeddings; they replace the raw inputs of their modality.
            utterance_mask (`torch.LongTensor` of shape `(batch_size, num_utterances)`, *optional*):
                1 for real utterances, 0 for padding. Defaults to all ones.
            modality_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, 3)`, *optional*):
                1 where the modality (text, audio, visual) exists for the utterance. Defaults to all ones.
            output_attentions (`bool`, *optional*):
                Whether to return attention probabilities. Without them, the dialogue level packs the real
                utterances of the batch into one sequence (block-diagonal attention), so padding costs nothing; with
                them, it runs in the padded `(batch_size, num_utterances)` layout that the maps are returned in. Both
                give the same outputs.
            output_hidden_states (`bool`, *optional*):
                Whether to return the fusion stream after every fusion layer.
        """
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        inputs = {
            "input_ids": input_ids, "attention_mask": attention_mask, "input_features": input_features,
            "audio_attention_mask": audio_attention_mask, "pixel_values": pixel_values,
            "face_pixel_values": face_pixel_values, "face_weights": face_weights, "text_embeds": text_embeds,
            "audio_embeds": audio_embeds, "visual_embeds": visual_embeds,
        }  # fmt: skip
        batch_size, num_utterances, device = self._batch_shape(inputs)
        if utterance_mask is None:
            utterance_mask = torch.ones(batch_size, num_utterances, dtype=torch.bool, device=device)
        if modality_mask is None:
            modality_mask = torch.ones(batch_size, num_utterances, len(MODALITIES), dtype=torch.bool, device=device)
        if modality_mask.shape != (batch_size, num_utterances, len(MODALITIES)):
            raise ValueError(
                f"`modality_mask` must have shape (batch_size, num_utterances, 3) = "
                f"{(batch_size, num_utterances, len(MODALITIES))}, got {tuple(modality_mask.shape)}."
            )
        utterance_mask = utterance_mask.bool()
        masks = {
            modality: utterance_mask & modality_mask[..., MODALITIES.index(modality)].bool()
            for modality in self.modalities
        }

        features, encoder_attentions = {}, ()
        for modality in self.modalities:
            embeddings = self._utterance_embeddings(modality, inputs, masks[modality])
            features[modality], attentions = self.dialogue_encoders[modality](
                embeddings, masks[modality], return_attentions=output_attentions
            )
            encoder_attentions += attentions

        fused, hidden_states, fusion_attentions = None, (), ()
        if self.fusion_layers:
            key_masks = {modality: masks[modality] & masks["text"] for modality in features if modality != "text"}
            keep = utterance_mask[..., None].to(features["text"].dtype)
            # Without attention maps to return, the fusion stream is computed for the real utterances only, packed.
            packing = None if output_attentions else _UtterancePacking(utterance_mask)
            fused = features["text"] if packing is None else packing.pack(features["text"])
            key_features = {m: features[m] if packing is None else packing.pack(features[m]) for m in key_masks}
            for layer in self.fusion_layers:
                if output_hidden_states:
                    hidden_states += (fused if packing is None else packing.unpack(fused),)
                fused, probs = layer(fused, key_features, key_masks, packing=packing)
                if packing is None:
                    fused = fused * keep
                    fusion_attentions += (probs,)
            fused = fused if packing is None else packing.unpack(fused)
            hidden_states += (fused,)

        blocks = [fused if modality == "text" and fused is not None else features[modality] for modality in self.modalities]
        return M2FNetModelOutput(
            last_hidden_state=torch.cat(blocks, dim=-1),
            fused_features=fused,
            text_features=features.get("text"),
            audio_features=features.get("audio"),
            visual_features=features.get("visual"),
            hidden_states=hidden_states if output_hidden_states and hidden_states else None,
            attentions=fusion_attentions if output_attentions and fusion_attentions else None,
            encoder_attentions=encoder_attentions if output_attentions and encoder_attentions else None,
        )


class M2FNetForEmotionRecognition(M2FNetPreTrainedModel):
    r"""
    M2FNet with its utterance classifier: `concat(F_fusion, F_A, F_V) → FC → activation → dropout → FC → logits`,
    one emotion per utterance, trained with cross-entropy over the real utterances.

    Example:

    ```python
    >>> import torch
    >>> from modeling_m2fnet import M2FNetConfig, M2FNetForEmotionRecognition
    >>> config = M2FNetConfig(modalities=["text"], text_config={"model_type": "bert", "hidden_size": 32,
    ...     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 100},
    ...     num_attention_heads=2, intermediate_size=64, classifier_hidden_size=16)
    >>> model = M2FNetForEmotionRecognition(config).eval()
    >>> output = model(text_embeds=torch.randn(2, 5, 32), labels=torch.tensor([[0, 1, 2, 3, -100]] * 2))
    >>> output.logits.shape
    torch.Size([2, 5, 7])

    ```"""

    def __init__(self, config: M2FNetConfig):
        super().__init__(config)
        self.m2fnet = M2FNetModel(config)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.fc1 = nn.Linear(self.m2fnet.classifier_input_dim, config.classifier_hidden_size)
        self.activation_fn = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(classifier_dropout)
        self.classifier = nn.Linear(config.classifier_hidden_size, config.num_labels)
        # Initialize weights and apply final processing
        self.post_init()

    def compute_loss(
        self, logits: torch.Tensor, labels: torch.Tensor, utterance_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Cross-entropy over real, labelled utterances; 0 (with gradient) when the batch has none."""
        labels = labels.to(logits.device)
        if utterance_mask is not None:
            labels = labels.masked_fill(~utterance_mask.bool(), -100)
        weight = None
        # CODEPATH: unweighted as in the paper; class-weighted for imbalanced data (MELD's neutral is ~47 %).
        if self.config.class_weights is not None:
            weight = torch.tensor(self.config.class_weights, dtype=logits.dtype, device=logits.device)
        valid = labels != -100
        if not valid.any():
            return logits.sum() * 0.0
        return F.cross_entropy(logits[valid], labels[valid], weight=weight)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        audio_attention_mask: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        face_pixel_values: torch.FloatTensor | None = None,
        face_weights: torch.FloatTensor | None = None,
        face_mask: torch.LongTensor | None = None,
        text_embeds: torch.FloatTensor | None = None,
        audio_embeds: torch.FloatTensor | None = None,
        visual_embeds: torch.FloatTensor | None = None,
        utterance_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> M2FNetEmotionRecognitionOutput:
        r"""
        Args:
            labels (`torch.LongTensor` of shape `(batch_size, num_utterances)`, *optional*):
                Emotion ids in `[0, config.num_labels)`; `-100` marks utterances to ignore (padding is ignored
                whatever its label).
            other arguments:
                As in [`M2FNetModel.forward`].
        """
        outputs = self.m2fnet(
            input_ids=input_ids,
            attention_mask=attention_mask,
            input_features=input_features,
            audio_attention_mask=audio_attention_mask,
            pixel_values=pixel_values,
            face_pixel_values=face_pixel_values,
            face_weights=face_weights,
            face_mask=face_mask,
            text_embeds=text_embeds,
            audio_embeds=audio_embeds,
            visual_embeds=visual_embeds,
            utterance_mask=utterance_mask,
            modality_mask=modality_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.classifier(self.dropout(self.activation_fn(self.fc1(outputs.last_hidden_state))))
        loss = self.compute_loss(logits, labels, utterance_mask) if labels is not None else None
        return M2FNetEmotionRecognitionOutput(
            loss=loss,
            logits=logits,
            last_hidden_state=outputs.last_hidden_state,
            fused_features=outputs.fused_features,
            text_features=outputs.text_features,
            audio_features=outputs.audio_features,
            visual_features=outputs.visual_features,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            encoder_attentions=outputs.encoder_attentions,
        )


__all__ = ["M2FNetForEmotionRecognition", "M2FNetModel", "M2FNetPreTrainedModel"]
