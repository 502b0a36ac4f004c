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
"""Where the dialogues of a training run come from: one class per data source, all with the same interface.

| source | class | what the collator gives the model |
|---|---|---|
| `toy` | `ToySource` | the synthetic dataset of `toy_data.py`: raw text through the processor, audio / visual embeddings |
| `dialogues` | `DialogueSource` | a built dataset (`--dataset_dir`): raw text and media through the processor |
| `features` | `FeatureSource` | cached utterance embeddings (`--features_dir`, `examples/extract_features.py`) |

A source loads its `DatasetDict`, names its classes, counts its training labels, prepares a split and makes the
collator; it also says which utterance-level extractors actually run on it (the others stay frozen). Adding a source
is one class here, registered with `@register_source`.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import datasets
import numpy as np
import torch

from datasets_scripts.schema import dialogue_label_names
from modeling_m2fnet.configuration_m2fnet import MODALITIES

from .collators import EMBED_COLUMNS, M2FNetDialogueCollator, M2FNetEmbeddingCollator, dialogue_to_conversation


# The toy run feeds audio / visual embeddings, so its extractors never run: the smallest ResNet keeps the files small.
TOY_MEDIA_ENCODER = {
    "model_type": "resnet",
    "layer_type": "basic",
    "depths": [1],
    "hidden_sizes": [4],
    "embedding_size": 4,
}
FEATURES_REPORT_NAME = "extraction_report.json"  # written by features.py next to cached features
DATA_SOURCES: dict[str, type["DataSource"]] = {}


def register_source(cls: type["DataSource"]) -> type["DataSource"]:
    """Class decorator: makes a source selectable by its `kind`."""
    DATA_SOURCES[cls.kind] = cls
    return cls


class DataSource:
    """
    The interface of a data source. `location` is its folder (None for generated data).

    Attributes:
        kind (`str`): the name of the source (`toy`, `dialogues`, `features`).
        synthetic (`bool`): whether the data is generated (said plainly in reports and model cards).
        needs_processor (`bool`): whether batches go through an `M2FNetProcessor` (raw text or media).
    """

    kind: ClassVar[str]
    synthetic: ClassVar[bool] = False
    needs_processor: ClassVar[bool] = True

    def __init__(self, location: str | None = None):
        self.location = location
        self._dataset: datasets.DatasetDict | None = None

    def _load(self) -> datasets.DatasetDict:
        folder = Path(self.location)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{self.location!r} is not a folder: expected a DatasetDict written by `save_to_disk`."
            )
        dataset = datasets.load_from_disk(str(folder))
        if not isinstance(dataset, datasets.DatasetDict):
            raise ValueError(f"{self.location!r} holds a single Dataset; expected a DatasetDict with named splits.")
        return dataset

    def load(self) -> datasets.DatasetDict:
        """The source's splits (loaded once), each checked for the columns the source needs."""
        if self._dataset is None:
            dataset = self._load()
            for split_name, split in dataset.items():
                missing = [column for column in self.required_columns() if column not in split.column_names]
                if missing:
                    raise ValueError(
                        f"Split {split_name!r} of {self.location or self.kind!r} lacks the column(s) {missing} (it has "
                        f"{split.column_names}); expected {self.expected_format()}."
                    )
            self._dataset = dataset
        return self._dataset

    def required_columns(self) -> tuple[str, ...]:
        return ("utterances",)

    def expected_format(self) -> str:
        return "the builders' schema (one row per dialogue with an `utterances` list, examples/build_dataset.py)"

    def label_names(self) -> list[str] | None:
        """The class names the data stores (its `emotion` `ClassLabel`)."""
        return dialogue_label_names(self.load())

    def train_labels(self, split: str) -> np.ndarray:
        """Every utterance label of `split` (-1 / -100 for unlabelled ones), in data class ids."""
        dialogues = self.load()[split]["utterances"]
        return np.asarray([u["emotion"] for d in dialogues for u in d if u.get("emotion") is not None], dtype=np.int64)

    def prepare_split(self, split: datasets.Dataset, label_map: list[int] | None) -> datasets.Dataset:
        """The split as the collator reads it (labels are mapped by the collator for raw dialogues)."""
        return split

    def collator(self, processor, modalities: list[str], max_utterances: int | None, label_map: list[int] | None):
        """Rows of the split → a model batch."""
        if processor is None:
            raise ValueError(f"The {self.kind} source needs a processor: save one with the model.")
        if max_utterances is not None:
            processor.max_utterances = max_utterances
        return M2FNetDialogueCollator(processor, label_map)

    def extractors_in_use(self, modalities: list[str]) -> list[str]:
        """The modalities whose utterance-level extractor runs on this source's batches."""
        return list(modalities)

    def describe(self) -> dict[str, Any]:
        """What results.json and the model card say about the data."""
        return {
            "source": self.kind,
            "synthetic": self.synthetic,
            "location": self.location,
            "dataset": self.dataset_name(),
            "label_names": self.label_names(),
        }

    def dataset_name(self) -> str | None:
        """The builder that made the data (`meld`, `iemocap`, `conversations`), read from its build report."""
        if self.location is None:
            return None
        for candidate in (Path(self.location), *Path(self.location).parents[:1]):
            report = candidate / "build_report.json"
            if report.is_file():
                return json.loads(report.read_text(encoding="utf-8")).get("dataset")
        return None


@register_source
class DialogueSource(DataSource):
    """A dataset in the builders' schema (`--dataset_dir`): raw text and media go through the processor."""

    kind = "dialogues"


@register_source
class FeatureSource(DataSource):
    """Cached utterance embeddings (`--features_dir`): only the dialogue level runs."""

    kind = "features"
    needs_processor = False

    def required_columns(self) -> tuple[str, ...]:
        return ("labels", "modality_mask")

    def expected_format(self) -> str:
        return "cached utterance embeddings (examples/extract_features.py)"

    def _report(self) -> dict:
        path = Path(self.location) / FEATURES_REPORT_NAME
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def label_names(self) -> list[str] | None:
        names = self._report().get("label_names")
        if names:
            return list(names)
        feature = next(iter(self.load().values())).features["labels"]
        feature = getattr(feature, "feature", feature)
        return list(feature.names) if isinstance(feature, datasets.ClassLabel) else None

    def dataset_name(self) -> str | None:
        return self._report().get("dataset_name")

    def train_labels(self, split: str) -> np.ndarray:
        return np.concatenate([np.asarray(labels) for labels in self.load()[split].with_format(None)["labels"]])

    def prepare_split(self, split: datasets.Dataset, label_map: list[int] | None) -> datasets.Dataset:
        """Numpy rows (fast collation) with labels mapped to the model's ids."""
        if label_map is not None:
            mapping = np.asarray(label_map)

            def remap(row):
                labels = np.asarray(row["labels"])
                return {"labels": np.where(labels >= 0, mapping[np.clip(labels, 0, None)], labels).tolist()}

            split = split.map(remap, desc="Mapping labels to the model's ids")
        return split.with_format("numpy")

    def collator(self, processor, modalities, max_utterances, label_map):
        return M2FNetEmbeddingCollator(modalities=list(modalities), max_utterances=max_utterances)

    def extractors_in_use(self, modalities: list[str]) -> list[str]:
        return []

    def check_widths(self, config) -> None:
        """Every active modality has a cached column of the width the model expects."""
        first_row = next(iter(self.load().values()))[0]
        for modality in config.modalities:
            column = EMBED_COLUMNS[modality]
            if first_row.get(column) is None:
                raise ValueError(
                    f"The model uses the {modality} modality but the features have no `{column}` column: extract it, "
                    "or train on the others with --modalities."
                )
            width = len(first_row[column][0])
            if width != config.embed_dim(modality):
                raise ValueError(
                    f"The cached {modality} features have width {width} but the model expects "
                    f"{config.embed_dim(modality)}: extract them with the model's own encoders."
                )


@dataclass
class ToyCollator:
    """Raw text through the processor; the toy audio / visual embeddings as `audio_embeds` / `visual_embeds`."""

    processor: Any
    modalities: list[str]
    label_map: list[int] | None = None

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        batch = dict(
            self.processor(
                conversations=[dialogue_to_conversation(row, self.label_map) for row in rows], return_tensors="pt"
            )
        )
        batch.setdefault("labels", torch.full_like(batch["utterance_mask"], -100))
        batch_size, num_utterances = batch["utterance_mask"].shape
        for modality in self.modalities:
            if modality == "text":
                continue
            column = f"{modality}_embedding"
            width = next(len(u[column]) for row in rows for u in row["utterances"] if u[column])
            embeds = torch.zeros(batch_size, num_utterances, width)
            present = torch.zeros(batch_size, num_utterances, dtype=batch["modality_mask"].dtype)
            for b, row in enumerate(rows):
                for n, utterance in enumerate(row["utterances"][:num_utterances]):
                    if utterance[column]:
                        embeds[b, n] = torch.tensor(utterance[column])
                        present[b, n] = 1
            batch[EMBED_COLUMNS[modality]] = embeds
            batch["modality_mask"][..., MODALITIES.index(modality)] = present
        return batch


@register_source
class ToySource(DataSource):
    """The synthetic dataset of `toy_data.py`, generated at run time; the default source of the main job."""

    kind = "toy"
    synthetic = True

    def __init__(self, location: str | None = None, toy_config=None):
        super().__init__(None)
        self.toy_config = toy_config

    def _load(self) -> datasets.DatasetDict:
        from .toy_data import make_toy_dataset

        return make_toy_dataset(self.toy_config)

    def collator(self, processor, modalities, max_utterances, label_map):
        if max_utterances is not None:
            processor.max_utterances = max_utterances
        return ToyCollator(processor, list(modalities), label_map)

    def extractors_in_use(self, modalities: list[str]) -> list[str]:
        return [modality for modality in modalities if modality == "text"]  # audio / visual come as embeddings

    def dataset_name(self) -> str | None:
        return "toy"

    def build_model(self, label_names: list[str], seed: int, modalities: list[str] | None = None, **overrides):
        """
        The tiny random M2FNet of the main job and its processor: a 2-layer text encoder over the toy vocabulary
        (mean pooling, each utterance alone: the dialogue level adds the context), dialogue encoders and attention
        fusion over the toy audio and visual embeddings. Every process of every run builds exactly the same model.
        """
        from modeling_m2fnet import M2FNetForEmotionRecognition

        from .tiny_model import tiny_config, tiny_processor
        from .toy_data import ToyDataConfig, toy_tokenizer

        embedding_dim = (self.toy_config or ToyDataConfig()).embedding_dim
        tokenizer = toy_tokenizer()
        settings = {
            "modalities": list(modalities or MODALITIES),
            "text_pooling": "mean",
            "initializer_range": 0.1,
            "audio_config": {"projection_dim": embedding_dim, "encoder_config": TOY_MEDIA_ENCODER},
            "visual_config": {"projection_dim": embedding_dim // 2, "encoder_config": TOY_MEDIA_ENCODER},
            **overrides,
        }
        torch.manual_seed(seed)
        model = M2FNetForEmotionRecognition(tiny_config(len(tokenizer), label_names, **settings))
        processor = tiny_processor(tokenizer, label_names, context_window=0, modalities=["text"])
        return model, processor


def make_source(kind: str, location: str | None = None, **kwargs) -> DataSource:
    """The registered source `kind` over `location`."""
    if kind not in DATA_SOURCES:
        raise ValueError(f"Unknown data source {kind!r}; choose one of {sorted(DATA_SOURCES)}.")
    return DATA_SOURCES[kind](location, **kwargs)


__all__ = [
    "DATA_SOURCES",
    "DataSource",
    "DialogueSource",
    "FeatureSource",
    "ToyCollator",
    "ToySource",
    "make_source",
    "register_source",
]
