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
"""A deterministic synthetic ERC dataset (MELD's 7 emotions, one row per dialogue), generated at run time.

The default data of `examples/train_m2fnet.py`: small enough to train a tiny M2FNet on 2 CPU cores in seconds, and
built so that a model has something real to learn:

- every utterance is a template sentence whose emotion words carry its label ("I am so happy for you!" is `joy`);
- about `echo_probability` of the utterances are replies such as "Me too." that carry no emotion word: their label
  is the previous utterance's, so only the conversational context (the processor's neighbouring utterances, the
  dialogue encoder) can get them right;
- emotions persist within a dialogue (`persistence`), two speakers alternate;
- `label_noise` of the labels are replaced by a uniformly random emotion (the text stays), which caps the reachable
  accuracy at about `1 - label_noise * 6 / 7`;
- with `multimodal` (the default), some emotions need the other modalities: `surprise` and `fear` share their
  sentences, and so do `anger` and `disgust`. Each utterance also has an audio and a visual embedding (Gaussian
  noise around a prototype of its true emotion): the audio prototypes tell `surprise` from `fear` and the visual
  ones tell `anger` from `disgust`; both are uninformative for the other classes. `missing_media` of the utterances
  lack audio, and as many lack the visual embedding. Text alone therefore confuses two pairs of classes, and only a
  model that uses (and fuses) audio and visual features separates them.

The class frequencies are imbalanced like MELD's, less extremely (neutral most frequent, fear and disgust rarest).
The rows follow the builders' schema (`dialogue_id`, `dialogue_name`, `split`, `utterances` = list of
`utterance_id`, `speaker`, `text`, `emotion`), plus `audio_embedding` / `visual_embedding` (empty when missing),
so the toy data goes through the same code as MELD.
"""

import random
from dataclasses import dataclass

import datasets

from datasets_scripts.schema import dialogue_features
from modeling_m2fnet.configuration_m2fnet import MELD_EMOTIONS

from .tiny_model import train_tiny_tokenizer


TOY_SPLITS = ("train", "validation", "test")
# Utterance frequencies: MELD's order of frequency (neutral 47 %, joy 17 %, ..., fear / disgust 3 %), flattened so
# that every class has enough examples in a small dataset.
TOY_CLASS_WEIGHTS = {
    "neutral": 0.30,
    "joy": 0.16,
    "surprise": 0.14,
    "anger": 0.13,
    "sadness": 0.11,
    "fear": 0.08,
    "disgust": 0.08,
}
TOY_PHRASES = {
    "neutral": [
        "I am going to the store later.",
        "The meeting is at noon tomorrow.",
        "Did you check the mail today?",
        "We need more coffee for the office.",
        "Your keys are on the kitchen table.",
        "I think the bus leaves at six.",
        "Can you pass me the remote?",
        "She moved to the apartment across the hall.",
        "Let me look at the schedule first.",
        "He said he would call back on Monday.",
    ],
    "joy": [
        "I am so happy for you!",
        "This is wonderful news!",
        "Yay, we won the game!",
        "I love this, it is great!",
        "That is fantastic, congratulations!",
        "Best day ever, I am thrilled!",
        "Awesome, that makes me so glad!",
        "I could not be happier right now!",
    ],
    "surprise": [
        "Wow, I did not expect that!",
        "No way, really?",
        "What? Since when?",
        "Whoa, that is unbelievable!",
        "Are you serious? I am shocked!",
        "Oh my, you got married?",
        "Wait, you are pregnant?",
        "Seriously? That is so unexpected!",
    ],
    "anger": [
        "I am so angry at you!",
        "Stop lying to me!",
        "This is outrageous and unfair!",
        "Get out of my apartment now!",
        "How dare you say that to me!",
        "I am furious, you ruined everything!",
        "Shut up, I am sick of your excuses!",
        "You make me so mad!",
    ],
    "sadness": [
        "I miss her so much.",
        "This is heartbreaking.",
        "I feel so lonely today.",
        "It makes me really sad.",
        "I cried all night after the funeral.",
        "Nobody cares about me anymore.",
        "I lost my job and I feel miserable.",
        "I am so depressed about the breakup.",
    ],
    "fear": [
        "I am scared of what happens next.",
        "That noise terrifies me.",
        "I am so nervous about the interview.",
        "Please do not leave me alone, I am afraid.",
        "There is someone outside, I am frightened!",
        "I am terrified of flying.",
        "What if he finds us? I am panicking!",
        "My hands are shaking, I am so worried.",
    ],
    "disgust": [
        "Ew, that is gross.",
        "That smells disgusting.",
        "Yuck, get it away from me.",
        "That is revolting.",
        "Eww, there is hair in my soup!",
        "That is nasty, I feel sick.",
        "Ugh, how can you eat that slime?",
        "Gross, the fridge is full of mold.",
    ],
}
TOY_ECHOES = [
    "Me too.",
    "Same here.",
    "I know, right?",
    "Tell me about it.",
    "Yeah, exactly.",
    "I feel the same way.",
]
TOY_OPENERS = ["", "", "", "Well, ", "Okay, ", "Honestly, ", "Listen, ", "Oh, "]
TOY_CLOSERS = ["", "", "", " You know?", " Seriously.", " Anyway.", " I mean it."]
TOY_SPEAKERS = ["Ross", "Rachel", "Monica", "Chandler", "Joey", "Phoebe", "Mike", "Janice"]


@dataclass
class ToyDataConfig:
    """
    Settings of [`make_toy_dataset`].

    Args:
        num_train_dialogues (`int`, *optional*, defaults to 160):
            Dialogues in the train split.
        num_eval_dialogues (`int`, *optional*, defaults to 40):
            Dialogues in each of the validation and test splits.
        min_utterances (`int`, *optional*, defaults to 4):
            Fewest utterances per dialogue.
        max_utterances (`int`, *optional*, defaults to 10):
            Most utterances per dialogue.
        label_noise (`float`, *optional*, defaults to 0.1):
            Fraction of labels replaced by a uniformly random emotion.
        echo_probability (`float`, *optional*, defaults to 0.1):
            Probability that an utterance (not the first of its dialogue) is a context-dependent reply.
        persistence (`float`, *optional*, defaults to 0.3):
            Probability that an utterance keeps the previous utterance's emotion.
        multimodal (`bool`, *optional*, defaults to `True`):
            Pair up emotions that only audio (surprise / fear) or only the visual embedding (anger / disgust) tell
            apart, and generate the embeddings.
        embedding_dim (`int`, *optional*, defaults to 16):
            Width of the audio and visual embeddings.
        media_signal (`float`, *optional*, defaults to 1.5):
            Distance of the informative prototypes from the origin, in units of the per-dimension noise.
        missing_media (`float`, *optional*, defaults to 0.1):
            Fraction of utterances without audio (and, independently, without the visual embedding).
        seed (`int`, *optional*, defaults to 0):
            Seed of the generator: the same settings give the same dataset, on any machine.
    """

    num_train_dialogues: int = 160
    num_eval_dialogues: int = 40
    min_utterances: int = 4
    max_utterances: int = 10
    label_noise: float = 0.1
    echo_probability: float = 0.1
    persistence: float = 0.3
    multimodal: bool = True
    embedding_dim: int = 16
    media_signal: float = 1.5
    missing_media: float = 0.1
    seed: int = 0

    def __post_init__(self):
        if self.num_train_dialogues < 1 or self.num_eval_dialogues < 1:
            raise ValueError(
                f"Need at least one dialogue per split, got num_train_dialogues={self.num_train_dialogues}, "
                f"num_eval_dialogues={self.num_eval_dialogues}."
            )
        if not 1 <= self.min_utterances <= self.max_utterances:
            raise ValueError(
                f"Need 1 <= min_utterances <= max_utterances, got {self.min_utterances} and {self.max_utterances}."
            )
        if self.embedding_dim < 2:
            raise ValueError(f"`embedding_dim` must be >= 2, got {self.embedding_dim}.")
        for name in ("label_noise", "echo_probability", "persistence", "missing_media"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"`{name}` must be in [0, 1], got {getattr(self, name)}.")


# Emotions that share their sentences, and the modality that tells each pair apart.
TOY_TEXT_TWINS = {"fear": "surprise", "disgust": "anger"}
TOY_MEDIA_CUES = {"audio": ("surprise", "fear"), "visual": ("anger", "disgust")}


def toy_features(multimodal: bool = True) -> datasets.Features:
    """The schema of the toy dataset: the builders' row-per-dialogue layout, MELD's emotions, toy embeddings."""
    embedding = datasets.List(datasets.Value("float32"))
    fields = {"audio_embedding": embedding, "visual_embedding": embedding} if multimodal else None
    return dialogue_features(MELD_EMOTIONS, utterance_fields=fields)


def toy_prototypes(config: "ToyDataConfig") -> dict[str, dict[str, list[float]]]:
    """Per modality, the prototype of each informative emotion: opposite points on one random unit direction."""
    rng = random.Random(config.seed * 1000 + 99)
    prototypes = {}
    for modality, (first, second) in TOY_MEDIA_CUES.items():
        direction = [rng.gauss(0, 1) for _ in range(config.embedding_dim)]
        norm = sum(value * value for value in direction) ** 0.5
        direction = [config.media_signal * value / norm for value in direction]
        prototypes[modality] = {first: direction, second: [-value for value in direction]}
    return prototypes


def _toy_embedding(rng: random.Random, config: "ToyDataConfig", prototype: list[float] | None) -> list[float]:
    if rng.random() < config.missing_media:
        return []
    center = prototype or [0.0] * config.embedding_dim
    return [value + rng.gauss(0, 1) / config.embedding_dim**0.5 for value in center]


def _toy_dialogue(rng: random.Random, config: ToyDataConfig, prototypes: dict) -> list[dict]:
    names, weights = list(TOY_CLASS_WEIGHTS), list(TOY_CLASS_WEIGHTS.values())
    speakers = rng.sample(TOY_SPEAKERS, 2)
    utterances, previous = [], None
    for index in range(rng.randint(config.min_utterances, config.max_utterances)):
        if previous is not None and rng.random() < config.echo_probability:
            # A reply without emotion words: its emotion is the previous utterance's (needs the context).
            emotion, text = previous, rng.choice(TOY_ECHOES)
        else:
            keep = previous is not None and rng.random() < config.persistence
            emotion = previous if keep else rng.choices(names, weights)[0]
            pool = TOY_PHRASES[emotion]
            if config.multimodal and (emotion in TOY_TEXT_TWINS or emotion in TOY_TEXT_TWINS.values()):
                twin = TOY_TEXT_TWINS.get(emotion) or next(k for k, v in TOY_TEXT_TWINS.items() if v == emotion)
                pool = TOY_PHRASES[emotion] + TOY_PHRASES[twin]
            opener, phrase = rng.choice(TOY_OPENERS), rng.choice(pool)
            if opener and not phrase.startswith("I "):
                phrase = phrase[0].lower() + phrase[1:]
            text = opener + phrase + rng.choice(TOY_CLOSERS)
        label = rng.choice(MELD_EMOTIONS) if rng.random() < config.label_noise else emotion
        utterance = {"utterance_id": index, "speaker": speakers[index % 2], "text": text, "emotion": label}
        if config.multimodal:
            for modality in TOY_MEDIA_CUES:
                utterance[f"{modality}_embedding"] = _toy_embedding(rng, config, prototypes[modality].get(emotion))
        utterances.append(utterance)
        previous = emotion
    return utterances


def toy_tokenizer():
    """
    The tokenizer of the toy data: `examples/tiny_model.train_tiny_tokenizer` over every word of the toy templates
    (identical in every process and run).
    """
    texts = [*TOY_ECHOES, *TOY_OPENERS, *TOY_CLOSERS, *(f"{name}:" for name in TOY_SPEAKERS)]
    texts += [phrase for phrases in TOY_PHRASES.values() for phrase in phrases]
    return train_tiny_tokenizer(texts)


def make_toy_dataset(config: ToyDataConfig | None = None, **kwargs) -> datasets.DatasetDict:
    """
    Generates the toy ERC dataset.

    Args:
        config ([`ToyDataConfig`], *optional*):
            The settings; keyword arguments override its fields (or build one when `config` is `None`).

    Returns:
        `datasets.DatasetDict` with `train`, `validation` and `test` splits, one row per dialogue (see
        [`toy_features`]). Each split has its own generator seeded by `(seed, split)`, so changing the size of one
        split leaves the others unchanged.

    Example:

    ```python
    >>> from m2fnet_training.toy_data import make_toy_dataset
    >>> dataset = make_toy_dataset(num_train_dialogues=4, num_eval_dialogues=2)
    >>> dataset["train"].num_rows, dataset["train"].features["utterances"].feature["emotion"].names[:2]
    (4, ['neutral', 'surprise'])
    ```"""
    if config is None:
        config = ToyDataConfig(**kwargs)
    elif kwargs:
        config = ToyDataConfig(**{**config.__dict__, **kwargs})
    features = toy_features(config.multimodal)
    prototypes = toy_prototypes(config)
    splits = {}
    for split_index, split in enumerate(TOY_SPLITS):
        rng = random.Random(config.seed * 1000 + split_index)
        count = config.num_train_dialogues if split == "train" else config.num_eval_dialogues
        rows = [
            {
                "dialogue_id": index,
                "dialogue_name": f"toy_{split}_{index:04d}",
                "split": split,
                "utterances": _toy_dialogue(rng, config, prototypes),
            }
            for index in range(count)
        ]
        splits[split] = datasets.Dataset.from_list(rows, features=features)
    return datasets.DatasetDict(splits)
