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
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import ModelOutput
from transformers.utils.generic import can_return_tuple

from .configuration_m2fnet import MODALITIES, M2FNetConfig
from .modeling_m2fnet_extractors import M2FNetAudioExtractor, M2FNetVisualExtractor


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
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
            modalities in the order audio, visual. Rows of padded utterances, and of utterances whose dialogue has
            no valid key, are zero.
        encoder_attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
            Dialogue-encoder self-attention probabilities of shape
            `(batch_size, num_attention_heads, num_utterances, num_utterances)`, for the active modalities in the
            order text, audio, visual, and layer by layer within each modality. Rows of utterances without the
            modality (or padded) are zero.
    """

    last_hidden_state: torch.FloatTensor | None = None
    fused_features: torch.FloatTensor | None = None
    text_features: torch.FloatTensor | None = None
    audio_features: torch.FloatTensor | None = None
    visual_features: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    encoder_attentions: tuple[torch.FloatTensor, ...] | None = None


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
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


def eager_attention_forward(
    module: nn.Module, query, key, value, attention_mask, scaling: float, dropout=0.0, **kwargs
):
    """
    Scaled dot-product attention in torch ops (`"eager"`): `query`, `key`, `value` `(batch, heads, N, head_dim)` and an
    additive `attention_mask` broadcastable to `(batch, heads, N, N)` give the attended values `(batch, N, heads,
    head_dim)` and the attention probabilities `(batch, heads, N, N)`.
    """
    attn_weights = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


def _additive_attention_mask(key_mask: torch.Tensor, dtype: torch.dtype, position_bias=None) -> torch.Tensor:
    """
    The additive attention mask of a `(batch_size, num_utterances)` key mask: `(batch_size, 1, 1, num_utterances)`,
    0 where the key may be attended to and the dtype's minimum elsewhere; with a `(1, num_heads, num_utterances,
    num_utterances)` `position_bias`, that bias at the allowed keys, `(batch_size, num_heads, N, N)`.
    """
    allowed = key_mask[:, None, None, :]
    if position_bias is None:
        position_bias = torch.zeros((), dtype=dtype, device=key_mask.device)
    return torch.where(allowed, position_bias.to(dtype), torch.finfo(dtype).min)


class _UtterancePacking:
    """
    The real utterances of a batch of dialogues (the True positions of a `(batch_size, num_utterances)` mask) as
    `num_real` packed rows, so that the position-wise layers of the dialogue level (projections, feed-forward blocks,
    layer norms) spend no work on padding; attention scatters its projected rows back into the `(batch_size,
    num_utterances)` layout and masks the keys. Building it is the dialogue level's one host synchronisation (the
    number of rows depends on the mask's values).
    """

    def __init__(self, utterance_mask: torch.Tensor):
        self.shape = tuple(utterance_mask.shape)
        self.index = utterance_mask.reshape(-1).nonzero().squeeze(-1)
        self.positions = self.index % self.shape[1]  # utterance index within its dialogue

    def pack(self, states: torch.Tensor) -> torch.Tensor:
        """`(batch_size, num_utterances, ...)` -> `(num_real, ...)`."""
        return states.flatten(0, 1).index_select(0, self.index)

    def unpack(self, rows: torch.Tensor) -> torch.Tensor:
        """`(num_real, ...)` -> `(batch_size, num_utterances, ...)`, zeros at the other positions."""
        zeros = rows.new_zeros(self.shape[0] * self.shape[1], *rows.shape[1:])
        return zeros.index_copy_(0, self.index, rows).view(*self.shape, *rows.shape[1:])


class M2FNetAttention(nn.Module):
    """
    Multi-head attention over the utterances of a dialogue, through transformers' attention interface
    (`config._attn_implementation`: `"eager"` or `"sdpa"`). Self-attention of a dialogue encoder when `key_modality`
    is `None`; otherwise a fusion attention whose queries and values come from the `modality` (text) stream and whose
    keys come from `key_modality` (audio or visual), projected into the text space.
    """

    def __init__(self, config: M2FNetConfig, modality: str, key_modality: str | None = None):
        super().__init__()
        self.config = config
        self.embed_dim = config.embed_dim(modality)
        self.num_heads = config.num_attention_heads if key_modality is None else config.fusion_num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = False
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.k_proj = nn.Linear(config.embed_dim(key_modality or modality), self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def forward(
        self,
        hidden_states: torch.Tensor,
        packing: _UtterancePacking,
        attention_mask: torch.Tensor,
        output_mask: torch.Tensor,
        key_states: torch.Tensor | None = None,
        return_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Args:
            hidden_states (`torch.FloatTensor` of shape `(num_real, embed_dim)`): packed query (and value) rows.
            packing (`_UtterancePacking`): where the rows sit in the `(batch_size, num_utterances)` layout.
            attention_mask (`torch.FloatTensor` of shape `(batch_size, 1 or num_heads, num_utterances, num_utterances)`):
                Additive mask (see `_additive_attention_mask`).
            output_mask (`torch.FloatTensor` of shape `(batch_size, num_utterances)`): 0 for the queries whose
                output is zero (padding, and queries without any valid key, which attend to nothing), else 1.
            key_states (`torch.FloatTensor` of shape `(num_real, key_dim)`, *optional*): packed key rows.
            return_attentions (`bool`, *optional*, defaults to `False`): return the attention probabilities.

        Returns:
            The attended rows `(num_real, embed_dim)` and, with `return_attentions`, the probabilities
            `(batch_size, num_heads, num_utterances, num_utterances)` (zero rows where `output_mask` is 0).
        """
        key_states = hidden_states if key_states is None else key_states
        batch_size, num_utterances = packing.shape
        hidden_shape = (batch_size, num_utterances, self.num_heads, self.head_dim)
        queries = packing.unpack(self.q_proj(hidden_states)).view(hidden_shape).transpose(1, 2)
        keys = packing.unpack(self.k_proj(key_states)).view(hidden_shape).transpose(1, 2)
        values = packing.unpack(self.v_proj(hidden_states)).view(hidden_shape).transpose(1, 2)

        attention_interface = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        dropout = self.dropout if self.training else 0.0
        attn_output, attn_weights = attention_interface(
            self, queries, keys, values, attention_mask, scaling=self.scale, dropout=dropout
        )
        attn_output = packing.pack(attn_output.reshape(batch_size, num_utterances, self.embed_dim))
        attn_output = self.out_proj(attn_output * packing.pack(output_mask)[:, None])
        if not return_attentions:
            return attn_output, None
        if attn_weights is None:
            raise ValueError(
                f"The {self.config._attn_implementation!r} attention returns no probabilities: for attention maps, "
                'load the model with `attn_implementation="eager"` or call `model.set_attn_implementation("eager")` '
                "(the outputs do not change)."
            )
        return attn_output, attn_weights * output_mask[:, None, :, None]


class M2FNetMLP(nn.Module):
    def __init__(self, config: M2FNetConfig, modality: str):
        super().__init__()
        embed_dim = config.embed_dim(modality)
        self.fc1 = nn.Linear(embed_dim, config.intermediate_size)
        self.activation_fn = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(config.intermediate_size, embed_dim)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.activation_fn(self.fc1(hidden_states))))


class M2FNetDialogueEncoderLayer(GradientCheckpointingLayer):
    """A post-norm transformer encoder layer over the utterance embeddings of one modality."""

    def __init__(self, config: M2FNetConfig, modality: str):
        super().__init__()
        embed_dim = config.embed_dim(modality)
        self.self_attn = M2FNetAttention(config, modality)
        self.layer_norm1 = nn.LayerNorm(embed_dim, eps=config.layer_norm_eps)
        self.mlp = M2FNetMLP(config, modality)
        self.layer_norm2 = nn.LayerNorm(embed_dim, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        hidden_states: torch.Tensor,
        packing: _UtterancePacking,
        attention_mask: torch.Tensor,
        output_mask: torch.Tensor,
        return_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Args:
            hidden_states (`torch.FloatTensor` of shape `(num_real, embed_dim)`): packed rows (see `packing`).
            packing, attention_mask, output_mask, return_attentions: as in [`M2FNetAttention.forward`].
        """
        attended, attn_weights = self.self_attn(
            hidden_states, packing, attention_mask, output_mask, return_attentions=return_attentions
        )
        hidden_states = self.layer_norm1(hidden_states + self.dropout(attended))
        hidden_states = self.layer_norm2(hidden_states + self.dropout(self.mlp(hidden_states)))
        return hidden_states, attn_weights


class M2FNetDialogueEncoder(nn.Module):
    """
    The dialogue-level context encoder of one modality (paper Sec. 3.2.2): `config.num_hidden_layers` transformer
    encoder layers, each wrapped in a local skip connection (`x + layer(x)`). Utterances without the modality stay
    zero. Optional order information (`config.dialogue_position_embedding`, `config.use_speaker_embeddings`): learned
    utterance-index and speaker embeddings added to the input, or a learned per-head relative-distance bias added to
    the attention scores of every layer.
    """

    def __init__(self, config: M2FNetConfig, modality: str):
        super().__init__()
        self.config = config
        embed_dim = config.embed_dim(modality)
        self.position_embedding = self.relative_attention_bias = self.speaker_embedding = None
        # CODEPATH: the paper's checkpoints have no positions ("none", default); "absolute" and "relative" are opt-in
        # for models trained here (order at the dialogue level).
        if config.dialogue_position_embedding == "absolute":
            self.position_embedding = nn.Embedding(config.max_dialogue_utterances, embed_dim)
        # CODEPATH: opt-in, see above; the paper's checkpoints take neither branch.
        elif config.dialogue_position_embedding == "relative":
            num_buckets = 2 * config.relative_attention_max_distance + 1
            self.relative_attention_bias = nn.Embedding(num_buckets, config.num_attention_heads)
        # CODEPATH: the paper's checkpoints have no speaker embeddings (default); opt-in for models trained here.
        if config.use_speaker_embeddings:
            self.speaker_embedding = nn.Embedding(config.max_speakers, embed_dim)
        self.layers = nn.ModuleList(
            [M2FNetDialogueEncoderLayer(config, modality) for _ in range(config.num_hidden_layers)]
        )

    def relative_position_bias(self, num_utterances: int, device: torch.device) -> torch.Tensor:
        """`(1, num_attention_heads, num_utterances, num_utterances)`: the bias of key `j` for query `i`."""
        positions = torch.arange(num_utterances, device=device)
        max_distance = self.config.relative_attention_max_distance
        buckets = (positions[None, :] - positions[:, None]).clamp(-max_distance, max_distance) + max_distance
        return self.relative_attention_bias(buckets).permute(2, 0, 1)[None]

    def forward(
        self,
        embeddings: torch.Tensor,
        packing: _UtterancePacking,
        modality_mask: torch.Tensor,
        speaker_ids: torch.Tensor | None = None,
        return_attentions: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """
        Args:
            embeddings (`torch.FloatTensor` of shape `(batch_size, num_utterances, embed_dim)`):
                Utterance embeddings of this modality.
            packing (`_UtterancePacking`): the real utterances of the batch.
            modality_mask (`torch.BoolTensor` of shape `(batch_size, num_utterances)`):
                True where this modality exists for a real utterance.
            speaker_ids (`torch.LongTensor` of shape `(batch_size, num_utterances)`, *optional*):
                Speaker index per utterance (needed with `config.use_speaker_embeddings`).
            return_attentions (`bool`, *optional*, defaults to `False`):
                Return the attention probabilities of every layer.

        Returns:
            The packed rows `(num_real, embed_dim)` (zero where the modality is missing) and the attention
            probabilities of every layer (empty without `return_attentions`).
        """
        hidden_states = packing.pack(embeddings)
        if self.position_embedding is not None:
            hidden_states = hidden_states + self.position_embedding(packing.positions)
        if self.speaker_embedding is not None:
            speakers = packing.pack(speaker_ids).clamp(0, self.config.max_speakers - 1)
            hidden_states = hidden_states + self.speaker_embedding(speakers)
        keep = packing.pack(modality_mask)[:, None].to(hidden_states.dtype)
        hidden_states = hidden_states * keep
        position_bias = None
        if self.relative_attention_bias is not None:
            position_bias = self.relative_position_bias(packing.shape[1], modality_mask.device)
        attention_mask = _additive_attention_mask(modality_mask, hidden_states.dtype, position_bias)
        output_mask = modality_mask.to(hidden_states.dtype)
        attentions = ()
        for layer in self.layers:
            layer_output, attn_weights = layer(
                hidden_states, packing, attention_mask, output_mask, return_attentions=return_attentions
            )
            hidden_states = (hidden_states + layer_output) * keep
            if return_attentions:
                attentions += (attn_weights,)
        return hidden_states, attentions


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
            {modality: M2FNetAttention(config, "text", key_modality=modality) for modality in self.key_modalities}
        )
        self.fc = nn.Linear(text_dim * len(self.key_modalities), text_dim)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layer_norm = nn.LayerNorm(text_dim, eps=config.layer_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        packing: _UtterancePacking,
        key_states: dict[str, torch.Tensor],
        attention_masks: dict[str, torch.Tensor],
        output_masks: dict[str, torch.Tensor],
        return_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Args:
            hidden_states (`torch.FloatTensor` of shape `(num_real, text_embed_dim)`): packed rows of the text stream.
            packing (`_UtterancePacking`): the real utterances of the batch.
            key_states (`dict[str, torch.FloatTensor]`):
                `"audio"` / `"visual"` dialogue features, packed rows `(num_real, embed_dim)`.
            attention_masks, output_masks (`dict[str, torch.FloatTensor]`):
                Per key modality, the additive mask and the kept queries (see [`M2FNetAttention.forward`]).
            return_attentions (`bool`, *optional*, defaults to `False`): return the attention probabilities.

        Returns:
            The new text stream `(num_real, text_embed_dim)` and, with `return_attentions`, the probabilities
            `(batch_size, num_key_modalities, fusion_num_attention_heads, num_utterances, num_utterances)`.
        """
        attended, attn_weights = [], []
        for modality in self.key_modalities:
            masks = (attention_masks[modality], output_masks[modality])
            output, weights = self.attentions[modality](
                hidden_states, packing, *masks, key_states=key_states[modality], return_attentions=return_attentions
            )
            attended.append(output)
            attn_weights.append(weights)
        fused = self.fc(torch.cat(attended, dim=-1))
        attn_weights = torch.stack(attn_weights, dim=1) if return_attentions else None
        return self.layer_norm(hidden_states + self.dropout(fused)), attn_weights


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
class M2FNetPreTrainedModel(PreTrainedModel):
    """Weight initialisation and shared settings of the M2FNet dialogue-level models."""

    config: M2FNetConfig
    base_model_prefix = "m2fnet"
    main_input_name = "input_ids"
    input_modalities = ("text", "audio", "video")
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["M2FNetDialogueEncoderLayer", "M2FNetFusionLayer"]

    def _init_weights(self, module):
        """
        Normal(0, `initializer_range`) linear layers and embedding tables, unit layer norms; sub-models use their own
        schemes.
        """
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
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


_RAW_INPUT_NAMES = {"text": "`input_ids`", "audio": "`input_features`", "visual": "`pixel_values` or faces"}


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
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
    The dialogue level runs its position-wise layers on the real utterances only (packed rows) and its attention in
    the `(B, N)` layout with masks, the same computation whether or not attention maps are returned.

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
            {modality: M2FNetDialogueEncoder(config, modality) for modality in self.modalities}
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

    # trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
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

    # trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
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

    # trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
    def get_visual_features(self, pixel_values, face_pixel_values, face_weights, selected: torch.Tensor):
        """
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_frames, 3, height, width)`,
                *optional*)
            face_pixel_values (`torch.FloatTensor` of shape
                `(batch_size, num_utterances, num_frames, max_faces, 3, face_size, face_size)`, *optional*)
            face_weights (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_frames, max_faces)`, *optional*)
            selected (`torch.BoolTensor` of shape `(batch_size, num_utterances)`): utterances to encode.

        Returns:
            `torch.FloatTensor` of shape `(batch_size, num_utterances, visual_embed_dim)`, zero where not selected.
        """

        def pick(tensor):
            return tensor[selected] if tensor is not None else None

        embeddings = self.visual_model(pick(pixel_values), pick(face_pixel_values), pick(face_weights)).embeddings
        return _scatter_utterances(embeddings, selected)

    def _utterance_embeddings(
        self, modality: str, precomputed: torch.Tensor | None, raw: tuple, selected: torch.Tensor
    ) -> torch.Tensor:
        if precomputed is not None:
            if precomputed.shape[-1] != self.config.embed_dim(modality):
                raise ValueError(
                    f"`{modality}_embeds` has width {precomputed.shape[-1]} but this model expects "
                    f"{self.config.embed_dim(modality)} (`config.{modality}_embed_dim`): were the features extracted "
                    "with another encoder?"
                )
            return precomputed
        # The extractors encode the selected utterances only (a data-dependent shape, hence a host sync here).
        if not selected.any():
            # Nothing to encode (e.g. no utterance of the batch has video): no inputs needed.
            shape = (*selected.shape, self.config.embed_dim(modality))
            return torch.zeros(shape, device=selected.device, dtype=self.dtype)
        if modality == "text" and raw[0] is not None:
            attention_mask = raw[1] if raw[1] is not None else torch.ones_like(raw[0])
            return self.get_text_features(raw[0], attention_mask, selected)
        if modality == "audio" and raw[0] is not None:
            return self.get_audio_features(*raw, selected)
        if modality == "visual" and (raw[0] is not None or raw[1] is not None):
            return self.get_visual_features(*raw, selected)
        raise ValueError(
            f"The model was configured with the {modality!r} modality but got neither {_RAW_INPUT_NAMES[modality]} "
            f"nor `{modality}_embeds`. Pass one of them, or build the model with "
            f"`modalities={[m for m in self.modalities if m != modality]}`."
        )

    def _check_inputs(self, inputs: list, utterance_mask, modality_mask, speaker_ids, output_attentions) -> tuple:
        """
        Checks shapes and switches (reads no tensor values); returns the boolean utterance mask, the per-modality
        masks and the `output_attentions` flag.
        """
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        present = [tensor for tensor in inputs if tensor is not None]
        if not present:
            raise ValueError("No input given: pass the raw inputs or `*_embeds` of at least one active modality.")
        batch_size, num_utterances = present[0].shape[:2]
        device = present[0].device
        if utterance_mask is None:
            utterance_mask = torch.ones(batch_size, num_utterances, dtype=torch.bool, device=device)
        if modality_mask is None:
            modality_mask = torch.ones(batch_size, num_utterances, len(MODALITIES), dtype=torch.bool, device=device)
        if modality_mask.shape != (batch_size, num_utterances, len(MODALITIES)):
            raise ValueError(
                f"`modality_mask` must have shape (batch_size, num_utterances, 3) = "
                f"{(batch_size, num_utterances, len(MODALITIES))}, got {tuple(modality_mask.shape)}."
            )
        if self.config.use_speaker_embeddings and (speaker_ids is None or speaker_ids.shape != utterance_mask.shape):
            got = "none" if speaker_ids is None else f"shape {tuple(speaker_ids.shape)}"
            raise ValueError(
                "This model uses speaker embeddings (`config.use_speaker_embeddings=True`) and needs `speaker_ids` of "
                f"shape (batch_size, num_utterances) = {(batch_size, num_utterances)}, got {got}: per dialogue, "
                "speakers numbered by first appearance (M2FNetProcessor returns them)."
            )
        limit = self.config.max_dialogue_utterances
        if self.config.dialogue_position_embedding == "absolute" and num_utterances > limit:
            raise ValueError(
                f"The batch has {num_utterances} utterances per dialogue but the position table holds "
                f"`max_dialogue_utterances` = {limit}: truncate the conversations (processor `max_utterances`)."
            )
        utterance_mask = utterance_mask.bool()
        masks = {
            modality: utterance_mask & modality_mask[..., MODALITIES.index(modality)].bool()
            for modality in self.modalities
        }
        return utterance_mask, masks, output_attentions

    def _fuse(self, rows: dict, packing, masks: dict, utterance_mask, output_attentions, output_hidden_states):
        """The fusion layers over the packed text stream; returns it with the hidden states and attention maps."""
        dtype = rows["text"].dtype
        key_masks = {modality: masks[modality] & masks["text"] for modality in rows if modality != "text"}
        attention_masks = {modality: _additive_attention_mask(mask, dtype) for modality, mask in key_masks.items()}
        # A query whose dialogue has no valid key (e.g. no utterance of it has audio) attends to nothing.
        output_masks = {
            modality: (utterance_mask & mask.any(dim=-1, keepdim=True)).to(dtype)
            for modality, mask in key_masks.items()
        }
        key_states = {modality: rows[modality] for modality in key_masks}
        fused, hidden_states, attentions = rows["text"], (), ()
        for layer in self.fusion_layers:
            if output_hidden_states:
                hidden_states += (packing.unpack(fused),)
            fused, attn_weights = layer(
                fused, packing, key_states, attention_masks, output_masks, return_attentions=output_attentions
            )
            if output_attentions:
                attentions += (attn_weights,)
        if output_hidden_states:
            hidden_states += (packing.unpack(fused),)
        return fused, hidden_states, attentions

    # trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
    @can_return_tuple
    def forward(  # trf-ignore: TRF045 (maps and fusion stream are unpacked here; hooks would see packed rows)
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
        speaker_ids: torch.LongTensor | None = None,
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
                Whether a frame has a face. Unused (the weights carry it); accepted so that `**batch` works.
            text_embeds / audio_embeds / visual_embeds (`torch.FloatTensor` of shape `(batch_size, num_utterances, embed_dim)`, *optional*):
                Precomputed utterance embeddings (`embed_dim` of the modality); they replace its raw inputs.
            utterance_mask (`torch.LongTensor` of shape `(batch_size, num_utterances)`, *optional*):
                1 for real utterances, 0 for padding. Defaults to all ones.
            modality_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, 3)`, *optional*):
                1 where the modality (text, audio, visual) exists for the utterance. Defaults to all ones.
            speaker_ids (`torch.LongTensor` of shape `(batch_size, num_utterances)`, *optional*):
                Per dialogue, the speaker of each utterance numbered by first appearance (0 = first speaker), 0 on
                padding. Required when `config.use_speaker_embeddings` is set, ignored otherwise. Ids
                `>= config.max_speakers` share the last embedding; negative ids are read as 0.
            output_attentions (`bool`, *optional*):
                Whether to return the attention probabilities (needs the `"eager"` attention implementation).
                Returning them changes no output.
            output_hidden_states (`bool`, *optional*):
                Whether to return the fusion stream after every fusion layer.
        """
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        embeds = {"text": text_embeds, "audio": audio_embeds, "visual": visual_embeds}
        raw = {
            "text": (input_ids, attention_mask),
            "audio": (input_features, audio_attention_mask),
            "visual": (pixel_values, face_pixel_values, face_weights),
        }
        present = [*embeds.values(), input_ids, input_features, pixel_values, face_pixel_values]
        utterance_mask, masks, output_attentions = self._check_inputs(
            present, utterance_mask, modality_mask, speaker_ids, output_attentions
        )
        # CODEPATH: only models trained with `use_speaker_embeddings` read `speaker_ids`; the others ignore them.
        speaker_ids = speaker_ids if self.config.use_speaker_embeddings else None
        packing = _UtterancePacking(utterance_mask)

        rows, encoder_attentions = {}, ()
        for modality in self.modalities:
            embeddings = self._utterance_embeddings(modality, embeds[modality], raw[modality], masks[modality])
            rows[modality], attentions = self.dialogue_encoders[modality](
                embeddings, packing, masks[modality], speaker_ids, return_attentions=output_attentions
            )
            encoder_attentions += attentions

        fused, hidden_states, fusion_attentions = None, (), ()
        if self.fusion_layers:
            fused, hidden_states, fusion_attentions = self._fuse(
                rows, packing, masks, utterance_mask, output_attentions, output_hidden_states
            )
        blocks = [rows[modality] for modality in self.modalities]  # text first, and fusion needs text
        if fused is not None:
            blocks[0] = fused
        return M2FNetModelOutput(
            last_hidden_state=packing.unpack(torch.cat(blocks, dim=-1)),
            fused_features=packing.unpack(fused) if fused is not None else None,
            **{f"{modality}_features": packing.unpack(modality_rows) for modality, modality_rows in rows.items()},
            hidden_states=hidden_states if output_hidden_states and hidden_states else None,
            attentions=fusion_attentions if output_attentions and fusion_attentions else None,
            encoder_attentions=encoder_attentions if output_attentions and encoder_attentions else None,
        )


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
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
        """
        Cross-entropy over real, labelled utterances (weighted mean with `config.class_weights`); 0, with gradient,
        when the batch has none.
        """
        labels = labels.to(logits.device)
        if utterance_mask is not None:
            labels = labels.masked_fill(~utterance_mask.bool(), -100)
        valid = labels != -100
        weight = None
        # CODEPATH: unweighted as in the paper; class-weighted for imbalanced data (MELD's neutral is ~47 %).
        if self.config.class_weights is not None:
            weight = torch.tensor(self.config.class_weights, dtype=logits.dtype, device=logits.device)
        total = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), weight=weight, reduction="sum")
        count = valid.to(logits.dtype) if weight is None else weight[labels.clamp(min=0)] * valid
        return total / count.sum().clamp(min=torch.finfo(logits.dtype).tiny)

    # trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
    @can_return_tuple
    def forward(  # trf-ignore: TRF045 (passed on to M2FNetModel.forward, which owns the flags)
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
        speaker_ids: torch.LongTensor | None = None,
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
            speaker_ids=speaker_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.classifier(self.dropout(self.activation_fn(self.fc1(outputs.last_hidden_state))))
        loss = self.compute_loss(logits, labels, utterance_mask) if labels is not None else None
        return M2FNetEmotionRecognitionOutput(loss=loss, logits=logits, **outputs)


__all__ = ["M2FNetForEmotionRecognition", "M2FNetModel", "M2FNetPreTrainedModel"]
