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
"""M2FNet model configurations: the utterance-level extractors and the dialogue-level fusion network."""

from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec


MODALITIES = ("text", "audio", "visual")
# The custom pipeline every checkpoint ships (`pipeline(model=folder_or_repo_id, trust_remote_code=True)`): its code,
# `pipeline_m2fnet.py`, is copied next to the weights with the rest (see `M2FNetConfig.pipeline_class`).
PIPELINE_TASK = "emotion-recognition-in-conversation"
CUSTOM_PIPELINES = {
    PIPELINE_TASK: {"impl": "pipeline_m2fnet.M2FNetEmotionRecognitionPipeline", "pt": ["AutoModel"], "tf": []}
}
VISUAL_BRANCHES = ("scene", "face")
MELD_EMOTIONS = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
DIALOGUE_POSITION_EMBEDDINGS = ("none", "absolute", "relative")
IEMOCAP_EMOTIONS = ("happy", "sad", "neutral", "angry", "excited", "frustrated")

# ResNet-18 (He et al., 2016) as transformers' `ResNetConfig` spells it: the encoder of the paper's triplet network.
RESNET18_KWARGS = {
    "layer_type": "basic",
    "depths": [2, 2, 2, 2],
    "hidden_sizes": [64, 128, 256, 512],
    "embedding_size": 64,
    "num_channels": 3,
}
# RoBERTa-large (Liu et al., 2019), the paper's text encoder ("M-RoBERTa", Sec. 3.2.1).
ROBERTA_LARGE_KWARGS = {
    "vocab_size": 50265,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "layer_norm_eps": 1e-5,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
}


def _check_range(name: str, value, low=None, high=None, *, low_inclusive=True, high_inclusive=True) -> None:
    """Raises a `ValueError` naming `name`, its value and the allowed range when `value` falls outside it."""
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        bounds = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"`{name}` must be in {bounds}, got {value!r}.")


def _check_divisible(width_name: str, width: int, heads_name: str, heads: int) -> None:
    if heads < 1 or width % heads != 0:
        raise ValueError(
            f"`{heads_name}` ({heads}) must be a positive divisor of {width_name} ({width}): every attention head "
            f"gets `{width_name} / {heads_name}` channels. Pick e.g. one of "
            f"{[h for h in range(1, min(width, 32) + 1) if width % h == 0]}."
        )


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
@strict
class M2FNetExtractorConfig(PreTrainedConfig):
    r"""
    Configuration of an utterance-level feature extractor of M2FNet (paper Sec. 3.3): a triplet network made of a
    ResNet-18 encoder and one linear projector to `projection_dim`, trained with
    `L_FE = triplet_loss_weight * L_AMT + covariance_loss_weight * L_Cov + variance_loss_weight * L_Var`.

    Args:
        encoder_config (`dict` or `PreTrainedConfig`, *optional*):
            Config of the convolutional encoder (any vision `model_type` whose model returns a `pooler_output` or a
            `(batch, channels, height, width)` `last_hidden_state`). Defaults to ResNet-18 (`ResNetConfig` with
            basic blocks, depths `[2, 2, 2, 2]`).
        projection_dim (`int`, *optional*, defaults to 300):
            Size `d` of the extractor's output embedding (the paper's projector output).
        triplet_loss_weight (`float`, *optional*, defaults to 20.0):
            λ1, weight of the adaptive-margin triplet loss.
        covariance_loss_weight (`float`, *optional*, defaults to 5.0):
            λ2, weight of the covariance loss.
        variance_loss_weight (`float`, *optional*, defaults to 1.0):
            λ3, weight of the variance loss.
        variance_eps (`float`, *optional*, defaults to 1e-4):
            ε inside the square root of the variance loss.
        triplet_mining (`str`, *optional*, defaults to `"all"`):
            How triplets are mined from the labels of a batch: `"all"` valid triplets or one `"random"` per anchor.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialiser of the projector.
        encoder_batch_size (`int`, *optional*, defaults to 64):
            In eval mode, the encoder takes at most this many images (frames, faces or spectrograms) per forward
            pass, which bounds the activation memory: 64 utterances of 15 frames are 960 frames, about 6 GB of
            ResNet-18 activations at once on 224 px frames, about 0.5 GB in chunks of 64. Results do not depend on it
            (batch norm uses its running statistics in eval mode). In training mode every image of the batch is
            encoded at once, so that batch-norm statistics cover the whole batch. `None` disables chunking.
    """

    model_type = "m2fnet_extractor"
    sub_configs_defaults: ClassVar = {
        "encoder_config": SubConfigSpec(config_class=AutoConfig, model_type="resnet", init_kwargs=RESNET18_KWARGS),
    }

    encoder_config: dict | PreTrainedConfig | None = None
    projection_dim: int = 300
    triplet_loss_weight: float = 20.0
    covariance_loss_weight: float = 5.0
    variance_loss_weight: float = 1.0
    variance_eps: float = 1e-4
    triplet_mining: str = "all"
    initializer_range: float = 0.02
    encoder_batch_size: int | None = 64

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        _check_range("projection_dim", self.projection_dim, 1)
        if self.encoder_batch_size is not None:
            _check_range("encoder_batch_size", self.encoder_batch_size, 1)
        for name in ("triplet_loss_weight", "covariance_loss_weight", "variance_loss_weight"):
            _check_range(name, getattr(self, name), 0.0)
        _check_range("variance_eps", self.variance_eps, 0.0, low_inclusive=False)
        if self.triplet_mining not in ("all", "random"):
            raise ValueError(f"`triplet_mining` must be 'all' or 'random', got {self.triplet_mining!r}.")

    @property
    def num_channels(self) -> int:
        """Number of input channels the encoder expects (3: spectrograms are rendered as RGB images)."""
        return getattr(self.encoder_config, "num_channels", 3)


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
class M2FNetAudioConfig(M2FNetExtractorConfig):
    r"""
    Configuration of [`M2FNetAudioExtractor`]: log-mel spectrogram (rendered as a 3-channel image) → ResNet-18 →
    linear projector. The paper trains it for 60 epochs on the dataset's spectrograms. All arguments are those of
    [`M2FNetExtractorConfig`].

    Example:

    ```python
    >>> from modeling_m2fnet import M2FNetAudioConfig
    >>> M2FNetAudioConfig().projection_dim
    300

    ```"""

    model_type = "m2fnet_audio"


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
class M2FNetVisualConfig(M2FNetExtractorConfig):
    r"""
    Configuration of [`M2FNetVisualExtractor`], the paper's dual network: a scene branch over whole frames and a
    weighted-face branch over detected faces, each max-pooled over the sampled frames, concatenated. One extractor
    (ResNet-18 + projector, trained on faces) encodes both frames and faces, as in the paper.

    Args:
        branches (`list[str]`, *optional*, defaults to `["scene", "face"]`):
            Which branches make the visual embedding (the paper's "scene only" / "weighted face only" ablations use
            one). The visual embedding has `len(branches) * projection_dim` channels.
        kwargs:
            The arguments of [`M2FNetExtractorConfig`].

    Example:

    ```python
    >>> from modeling_m2fnet import M2FNetVisualConfig
    >>> M2FNetVisualConfig(branches=["face"]).embed_dim
    300

    ```"""

    model_type = "m2fnet_visual"

    branches: list[str] | None = None

    def __post_init__(self, **kwargs):
        if self.branches is None:
            self.branches = list(VISUAL_BRANCHES)
        self.branches = list(self.branches)
        unknown = [branch for branch in self.branches if branch not in VISUAL_BRANCHES]
        if unknown or not self.branches or len(set(self.branches)) != len(self.branches):
            raise ValueError(
                f"`branches` must be a non-empty list of distinct values from {list(VISUAL_BRANCHES)}, "
                f"got {self.branches!r}."
            )
        super().__post_init__(**kwargs)

    @property
    def embed_dim(self) -> int:
        """Width of the visual utterance embedding: one `projection_dim` block per branch."""
        return self.projection_dim * len(self.branches)


# trf-ignore: TRF057 (out-of-tree model: auto_docstring names it "None"; the docstring is written by hand)
@strict
class M2FNetConfig(PreTrainedConfig):
    r"""
    This is the configuration class to store the configuration of a [`M2FNetModel`] or
    [`M2FNetForEmotionRecognition`]. It holds the three utterance-level extractors (a nested text-encoder config of
    any `model_type`, and the audio and visual extractor configs) and the dialogue level (per-modality transformer
    encoders, multi-head attention fusion, classifier). Defaults reproduce the MELD setting of M2FNet (Chudasama et
    al., CVPRW 2022, arXiv 2206.02187); every number is the paper's where the paper gives one.

    Args:
        text_config (`dict` or `PreTrainedConfig`, *optional*):
            Config of the utterance-level text encoder (any `model_type`; its model must return a
            `last_hidden_state` whose first token is the utterance embedding). Defaults to RoBERTa-large.
        audio_config (`dict` or [`M2FNetAudioConfig`], *optional*):
            Config of the audio extractor. Defaults to ResNet-18 + 300-d projector.
        visual_config (`dict` or [`M2FNetVisualConfig`], *optional*):
            Config of the visual dual network. Defaults to ResNet-18 + 300-d projector, scene and face branches.
        modalities (`list[str]`, *optional*, defaults to `["text", "audio", "visual"]`):
            Active modalities; the others get no parameters. Fusion needs `"text"` (it is the query) and at least
            one of `"audio"`, `"visual"`; otherwise the classifier reads the concatenated dialogue features.
        num_hidden_layers (`int`, *optional*, defaults to 1):
            Transformer encoder layers per modality at the dialogue level (N_T = N_A = N_V: 1 for MELD, 5 for
            IEMOCAP), each wrapped in a local skip connection.
        num_attention_heads (`int`, *optional*, defaults to 4):
            Attention heads of the dialogue encoders; must divide every active modality's embedding width.
        intermediate_size (`int`, *optional*, defaults to 2048):
            Width of the feed-forward block inside the dialogue encoders.
        hidden_act (`str`, *optional*, defaults to `"gelu"`):
            Activation of the feed-forward blocks and of the classifier.
        hidden_dropout_prob (`float`, *optional*, defaults to 0.4):
            Dropout on the dialogue encoders' and fusion layers' outputs (paper: 0.4-0.5).
        attention_dropout (`float`, *optional*, defaults to 0.1):
            Dropout on attention probabilities.
        layer_norm_eps (`float`, *optional*, defaults to 1e-5):
            Epsilon of the layer normalisations.
        num_fusion_layers (`int`, *optional*, defaults to 5):
            Multi-head attention fusion layers (m = 5 in the paper). 0 gives the paper's "concatenation" ablation.
        fusion_num_attention_heads (`int`, *optional*, defaults to 8):
            Attention heads of each fusion attention; must divide the text embedding width.
        classifier_hidden_size (`int`, *optional*, defaults to 512):
            Width of the first of the two fully connected classifier layers.
        classifier_dropout (`float`, *optional*):
            Dropout between the classifier layers; defaults to `hidden_dropout_prob`.
        class_weights (`list[float]`, *optional*):
            Per-class weights of the cross-entropy loss (length `num_labels`), e.g. inverse class frequencies.
        text_pooling (`str`, *optional*, defaults to `"cls"`):
            How the text encoder's token states become the utterance embedding: `"cls"` (first token, the paper's
            choice) or `"mean"` (masked mean, for sentence-embedding encoders such as all-mpnet-base-v2).
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialiser of the dialogue-level linear layers and embedding tables.
        dialogue_position_embedding (`str`, *optional*, defaults to `"none"`):
            Order information at the dialogue level (the paper uses none: order reaches the model only through the
            text context). `"none"`: the dialogue encoders see the utterances as a set. `"absolute"`: a learned
            embedding of the utterance index (0 to `max_dialogue_utterances - 1`), one table per modality width,
            added to that modality's utterance embeddings before its dialogue encoder. `"relative"`: a learned bias
            per attention head on the clipped distance `j - i` between utterances `i` (query) and `j` (key), one table
            per modality, added to the attention scores of every layer of that modality's dialogue encoder.
        max_dialogue_utterances (`int`, *optional*, defaults to 256):
            Size of the `"absolute"` position table: the longest conversation the model accepts with it (the
            processor's `max_utterances` truncates to 256 by default).
        relative_attention_max_distance (`int`, *optional*, defaults to 8):
            With `"relative"`, distances beyond `±relative_attention_max_distance` utterances share one bias.
        use_speaker_embeddings (`bool`, *optional*, defaults to `False`):
            Add a learned embedding of the speaker (`speaker_ids`, numbered per dialogue by first appearance) to
            every modality's utterance embeddings before its dialogue encoder, one table per modality width.
        max_speakers (`int`, *optional*, defaults to 16):
            Size of the speaker table; speaker ids `>= max_speakers` share its last entry.
        id2label (`dict[int, str]`, *optional*):
            Emotion names; defaults to MELD's 7 classes (neutral, surprise, fear, sadness, joy, disgust, anger).

    Example:

    ```python
    >>> from modeling_m2fnet import M2FNetConfig
    >>> config = M2FNetConfig()
    >>> config.text_embed_dim, config.audio_embed_dim, config.visual_embed_dim
    (1024, 300, 600)
    >>> config.num_labels
    7

    ```"""

    model_type = "m2fnet"
    sub_configs_defaults: ClassVar = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="roberta", init_kwargs=ROBERTA_LARGE_KWARGS),
        "audio_config": SubConfigSpec(config_class=M2FNetAudioConfig),
        "visual_config": SubConfigSpec(config_class=M2FNetVisualConfig),
    }

    text_config: dict | PreTrainedConfig | None = None
    audio_config: dict | PreTrainedConfig | None = None
    visual_config: dict | PreTrainedConfig | None = None
    modalities: list[str] | None = None
    num_hidden_layers: int = 1
    num_attention_heads: int = 4
    intermediate_size: int = 2048
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.4
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    num_fusion_layers: int = 5
    fusion_num_attention_heads: int = 8
    classifier_hidden_size: int = 512
    classifier_dropout: float | None = None
    class_weights: list[float] | None = None
    text_pooling: str = "cls"
    initializer_range: float = 0.02
    dialogue_position_embedding: str = "none"
    max_dialogue_utterances: int = 256
    relative_attention_max_distance: int = 8
    use_speaker_embeddings: bool = False
    max_speakers: int = 16

    def __post_init__(self, **kwargs):
        if self.id2label is None and kwargs.get("num_labels") is None:
            self.id2label = dict(enumerate(MELD_EMOTIONS))
        if self.id2label is not None and kwargs.get("label2id") is None and self.label2id is None:
            self.label2id = {label: int(index) for index, label in self.id2label.items()}
        self.modalities = list(MODALITIES) if self.modalities is None else list(self.modalities)
        if getattr(self, "custom_pipelines", None) is None and kwargs.get("custom_pipelines") is None:
            kwargs["custom_pipelines"] = CUSTOM_PIPELINES
        super().__post_init__(**kwargs)
        self._validate()

    @property
    def modality_mask_order(self) -> tuple[str, ...]:
        """The modalities behind the three columns of `modality_mask`, in order (whatever `modalities` is)."""
        return MODALITIES

    @staticmethod
    def pipeline_class():
        """The class of the checkpoint's custom pipeline (imported on demand: it needs transformers' pipelines)."""
        from .pipeline_m2fnet import M2FNetEmotionRecognitionPipeline

        return M2FNetEmotionRecognitionPipeline

    def _validate(self) -> None:
        unknown = [modality for modality in self.modalities if modality not in MODALITIES]
        if unknown or not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(
                f"`modalities` must be a non-empty list of distinct values from {list(MODALITIES)}, "
                f"got {self.modalities!r}."
            )
        self.modalities = [modality for modality in MODALITIES if modality in self.modalities]  # canonical order
        _check_range("num_hidden_layers", self.num_hidden_layers, 0)
        _check_range("num_fusion_layers", self.num_fusion_layers, 0)
        _check_range("intermediate_size", self.intermediate_size, 1)
        _check_range("classifier_hidden_size", self.classifier_hidden_size, 1)
        for name in ("hidden_dropout_prob", "attention_dropout", "classifier_dropout"):
            if getattr(self, name) is not None:
                _check_range(name, getattr(self, name), 0.0, 1.0, high_inclusive=False)
        _check_range("layer_norm_eps", self.layer_norm_eps, 0.0, low_inclusive=False)
        _check_range("num_labels", self.num_labels, 2)
        if self.text_pooling not in ("cls", "mean"):
            raise ValueError(f"`text_pooling` must be 'cls' or 'mean', got {self.text_pooling!r}.")
        if self.dialogue_position_embedding not in DIALOGUE_POSITION_EMBEDDINGS:
            raise ValueError(
                f"`dialogue_position_embedding` must be one of {list(DIALOGUE_POSITION_EMBEDDINGS)}, "
                f"got {self.dialogue_position_embedding!r}."
            )
        _check_range("max_dialogue_utterances", self.max_dialogue_utterances, 1)
        _check_range("relative_attention_max_distance", self.relative_attention_max_distance, 1)
        _check_range("max_speakers", self.max_speakers, 1)
        for modality in self.modalities:
            width = self.embed_dim(modality)
            _check_divisible(f"{modality}_embed_dim", width, "num_attention_heads", self.num_attention_heads)
        if self.uses_fusion:
            heads = self.fusion_num_attention_heads
            _check_divisible("text_embed_dim", self.text_embed_dim, "fusion_num_attention_heads", heads)
        if self.class_weights is not None:
            if len(self.class_weights) != self.num_labels or any(weight < 0 for weight in self.class_weights):
                raise ValueError(
                    f"`class_weights` must hold {self.num_labels} non-negative numbers (one per label), "
                    f"got {self.class_weights!r}."
                )

    @property
    def text_embed_dim(self) -> int:
        """Width D_T of the text utterance embeddings (the text encoder's hidden size)."""
        return self.text_config.hidden_size

    @property
    def audio_embed_dim(self) -> int:
        """Width D_A of the audio utterance embeddings (the audio projector's output)."""
        return self.audio_config.projection_dim

    @property
    def visual_embed_dim(self) -> int:
        """Width D_V of the visual utterance embeddings (one projector output per visual branch)."""
        return self.visual_config.embed_dim

    def embed_dim(self, modality: str) -> int:
        """Width of `modality`'s utterance embeddings."""
        return getattr(self, f"{modality}_embed_dim")

    @property
    def uses_fusion(self) -> bool:
        """Whether the multi-head attention fusion runs: text (query) plus audio or visual (keys), 1+ layers."""
        has_key_modality = "audio" in self.modalities or "visual" in self.modalities
        return "text" in self.modalities and has_key_modality and self.num_fusion_layers > 0


__all__ = ["M2FNetAudioConfig", "M2FNetConfig", "M2FNetExtractorConfig", "M2FNetVisualConfig"]
