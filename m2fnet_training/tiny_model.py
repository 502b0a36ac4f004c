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
"""Small, fully offline M2FNet building blocks: a WordPiece tokenizer trained on given texts, a tiny config, samples."""

import json
from collections.abc import Iterable
from pathlib import Path

from modeling_m2fnet import MELD_EMOTIONS, M2FNetConfig, M2FNetForEmotionRecognition
from modeling_m2fnet.feature_extraction_m2fnet import M2FNetFeatureExtractor
from modeling_m2fnet.image_processing_m2fnet import M2FNetImageProcessor
from modeling_m2fnet.processing_m2fnet import M2FNetProcessor


TINY_TEXT_CONFIG = {
    "model_type": "bert",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 128,
}
TINY_ENCODER_CONFIG = {
    "model_type": "resnet",
    "layer_type": "basic",
    "depths": [1, 1],
    "hidden_sizes": [8, 16],
    "embedding_size": 8,
}


def load_sample_conversation(path: str | Path) -> list[dict]:
    """The shipped sample conversation, with media paths resolved against the JSON file's folder."""
    path = Path(path)
    conversation = json.loads(path.read_text(encoding="utf-8"))
    for utterance in conversation:
        for key in ("audio", "video"):
            if utterance.get(key):
                utterance[key] = str((path.parent / utterance[key]).resolve())
    return conversation


def train_tiny_tokenizer(texts: Iterable[str]):
    """
    A real lower-cased WordPiece (BERT-style) tokenizer built in-process: its vocabulary is every word of `texts`
    plus single characters and `##` continuations (so unseen words still tokenize), in sorted order. Nothing is
    downloaded, and, unlike a `tokenizers` trainer (which breaks frequency ties differently in every process), the
    result is identical in every process and run, which exact resumption and multi-process training need.
    """
    import string

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = {word for text in texts for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))}
    characters = sorted(set(string.ascii_lowercase + string.digits + string.punctuation))
    special_tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens = special_tokens + sorted(words | set(characters)) + [f"##{character}" for character in characters]
    backend = Tokenizer(models.WordPiece({token: index for index, token in enumerate(tokens)}, unk_token="[UNK]"))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizer
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def tiny_config(vocab_size: int, label_names=MELD_EMOTIONS, **overrides) -> M2FNetConfig:
    """A < 1M-parameter M2FNet with all three modalities (2-layer BERT text encoder, 2-stage ResNet extractors)."""
    kwargs = {
        "text_config": {**TINY_TEXT_CONFIG, "vocab_size": vocab_size},
        "audio_config": {"projection_dim": 16, "encoder_config": TINY_ENCODER_CONFIG},
        "visual_config": {"projection_dim": 8, "encoder_config": TINY_ENCODER_CONFIG},
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "num_fusion_layers": 2,
        "fusion_num_attention_heads": 2,
        "classifier_hidden_size": 32,
        "hidden_dropout_prob": 0.1,
        "id2label": dict(enumerate(label_names)),
    }
    kwargs.update(overrides)
    return M2FNetConfig(**kwargs)


def tiny_processor(tokenizer, label_names=MELD_EMOTIONS, **kwargs) -> M2FNetProcessor:
    """A processor with small frames (64 px, 4 frames) and faces (32 px) so that CPU runs stay fast."""
    image_processor = M2FNetImageProcessor(num_frames=4, size=64, face_size=32, max_faces=2)
    feature_extractor = M2FNetFeatureExtractor(feature_size=32, max_duration=4.0)
    return M2FNetProcessor(tokenizer, feature_extractor, image_processor, label_names=list(label_names), **kwargs)


def build_tiny_m2fnet(texts: Iterable[str], label_names=MELD_EMOTIONS, seed: int = 0, **config_overrides):
    """
    Returns `(model, processor)`: a random tiny M2FNet and its processor, built offline. `texts` train the
    tokenizer: pass the utterances as the processor renders them (`"Speaker: text"`).
    """
    import torch

    tokenizer = train_tiny_tokenizer(texts)
    torch.manual_seed(seed)
    model = M2FNetForEmotionRecognition(tiny_config(len(tokenizer), label_names, **config_overrides))
    return model.eval(), tiny_processor(tokenizer, label_names)
