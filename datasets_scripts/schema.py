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
"""The one-row-per-dialogue schema shared by every dataset of the project (builders, toy data, feature extraction).

A row is one dialogue:

| column | feature | meaning |
|---|---|---|
| `dialogue_id` | `int32` | the dialogue's number (its index, or the corpus' own id for MELD) |
| `dialogue_name` | `string` | a readable, unique name (`dia12`, `Ses01F_impro01`, your conversation id) |
| `split` | `string` | the split the row belongs to |
| *dialogue fields* | any | per-dataset extras (IEMOCAP's `session`) |
| *dialogue media* | `Audio` / `Video` | a file covering the whole dialogue (IEMOCAP's `video`), `None` when absent |
| `utterances` | `List` | the utterances in order, each a dict: |
| ↳ `utterance_id` | `int32` | the utterance's id (see each builder) |
| ↳ `speaker`, `text` | `string` | |
| ↳ `emotion` | `ClassLabel(names=label_names)` | the class id; `None` for an unlabelled utterance |
| ↳ *utterance fields* | any | per-dataset extras (MELD's `sentiment`, times, ...) |
| ↳ *media*, `has_<media>` | `Audio` / `Video`, `bool` | the utterance's own file (`None` when absent) and whether it exists |
| ↳ `has_<dialogue media>` | `bool` | whether the dialogue-level file of that modality exists |

The label names of a dataset are the names of its `emotion` `ClassLabel` ([`dialogue_label_names`]): that is how
they reach model building, training, evaluation and the model card.

Media are declared undecoded (`Audio(sampling_rate=16000, decode=False)`, `Video(decode=False)`): `datasets` >= 4
decodes through `torchcodec`, which not every torch build can load, and the `M2FNetProcessor` decodes with PyAV.
"""

from collections.abc import Mapping, Sequence

import datasets


MEDIA_COLUMNS = ("audio", "video")
AUDIO_SAMPLING_RATE = 16000


def media_feature(name: str) -> datasets.Audio | datasets.Video:
    """The undecoded feature of a media column (`"audio"` or `"video"`)."""
    if name == "audio":
        return datasets.Audio(sampling_rate=AUDIO_SAMPLING_RATE, decode=False)
    if name == "video":
        return datasets.Video(decode=False)
    raise ValueError(f"Unknown media column {name!r}; expected one of {list(MEDIA_COLUMNS)}.")


def dialogue_features(
    label_names: Sequence[str],
    *,
    utterance_media: Sequence[str] = (),
    dialogue_media: Sequence[str] = (),
    utterance_fields: Mapping[str, datasets.features.features.FeatureType] | None = None,
    dialogue_fields: Mapping[str, datasets.features.features.FeatureType] | None = None,
) -> datasets.Features:
    """
    Builds the `datasets.Features` of a dialogue row (see the module docstring for the layout).

    Args:
        label_names (`Sequence[str]`):
            The emotion classes, in class-id order; they become the names of the `emotion` `ClassLabel`.
        utterance_media (`Sequence[str]`, *optional*, defaults to `()`):
            Media files stored per utterance (`"audio"`, `"video"`): each adds `<media>` and `has_<media>` to the
            utterance.
        dialogue_media (`Sequence[str]`, *optional*, defaults to `()`):
            Media files stored per dialogue: each adds a `<media>` column to the row and `has_<media>` to every
            utterance.
        utterance_fields (`Mapping[str, FeatureType]`, *optional*):
            Extra utterance fields, placed after `emotion`.
        dialogue_fields (`Mapping[str, FeatureType]`, *optional*):
            Extra dialogue columns, placed after `split`.

    Returns:
        `datasets.Features`: the row schema.

    Raises:
        `ValueError`: on empty or repeated label names, an unknown media name, a media given both per utterance and
            per dialogue, or an extra field that reuses a name of the schema.

    Example:

    ```python
    >>> from datasets_scripts.schema import dialogue_features
    >>> features = dialogue_features(["neutral", "joy"], utterance_media=["audio"])
    >>> list(features), list(features["utterances"].feature)
    (['dialogue_id', 'dialogue_name', 'split', 'utterances'], ['utterance_id', 'speaker', 'text', 'emotion', 'audio', 'has_audio'])
    >>> features["utterances"].feature["emotion"].names
    ['neutral', 'joy']

    ```"""
    names = [str(name) for name in label_names]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"`label_names` must be non-empty and unique (got {names}).")
    both = sorted(set(utterance_media) & set(dialogue_media))
    if both:
        raise ValueError(f"Media {both} given both per utterance and per dialogue; choose one place.")
    utterance = {
        "utterance_id": datasets.Value("int32"),
        "speaker": datasets.Value("string"),
        "text": datasets.Value("string"),
        "emotion": datasets.ClassLabel(names=names),
    }
    _add_fields(utterance, utterance_fields or {}, "utterance")
    for media in utterance_media:
        _add_fields(utterance, {media: media_feature(media), f"has_{media}": datasets.Value("bool")}, "utterance")
    for media in dialogue_media:
        _add_fields(utterance, {f"has_{media}": datasets.Value("bool")}, "utterance")

    row = {"dialogue_id": datasets.Value("int32"), "dialogue_name": datasets.Value("string")}
    row["split"] = datasets.Value("string")
    _add_fields(row, dialogue_fields or {}, "dialogue")
    for media in dialogue_media:
        _add_fields(row, {media: media_feature(media)}, "dialogue")
    _add_fields(row, {"utterances": datasets.List(utterance)}, "dialogue")
    return datasets.Features(row)


def _add_fields(target: dict, fields: Mapping, level: str) -> None:
    for name, feature in fields.items():
        if name in target:
            raise ValueError(f"The {level} field {name!r} is already part of the dialogue schema.")
        target[name] = feature


def dialogue_label_names(features: datasets.Features | datasets.Dataset | datasets.DatasetDict) -> list[str]:
    """
    The label names of a row-per-dialogue dataset: the names of its `utterances.emotion` `ClassLabel`.

    Args:
        features (`datasets.Features`, `datasets.Dataset` or `datasets.DatasetDict`):
            The features, or a dataset (for a `DatasetDict`, every split must carry the same names).

    Raises:
        `ValueError`: if there is no `utterances.emotion` `ClassLabel`, or the splits of a `DatasetDict` disagree.
    """
    if isinstance(features, datasets.DatasetDict):
        found = {split: dialogue_label_names(dataset) for split, dataset in features.items()}
        distinct = {tuple(names) for names in found.values()}
        if len(distinct) > 1:
            raise ValueError(f"The splits carry different label names: {found}.")
        return next(iter(found.values())) if found else []
    if isinstance(features, datasets.Dataset):
        features = features.features
    utterances = features.get("utterances")
    emotion = getattr(utterances, "feature", {}).get("emotion") if utterances is not None else None
    if not isinstance(emotion, datasets.ClassLabel):
        raise ValueError(
            "Not a row-per-dialogue dataset: expected `utterances` to be a list of dicts with an `emotion` ClassLabel "
            f"(got columns {list(features)})."
        )
    return list(emotion.names)


__all__ = ["AUDIO_SAMPLING_RATE", "MEDIA_COLUMNS", "dialogue_features", "dialogue_label_names", "media_feature"]
