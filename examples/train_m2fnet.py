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
"""Fine-tunes M2FNet for emotion recognition in conversation with 🤗 Accelerate (dialogue level or end to end).

Three data sources, one training loop:

```bash
# the main job: a synthetic dataset and a tiny random M2FNet, end to end on raw text (seconds on 2 CPU cores)
python examples/train_m2fnet.py
# the same with 2 CPU processes (gloo); with accelerate 1.x, `--cpu --num_processes 2` starts a single process
ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 examples/train_m2fnet.py \\
    --per_device_train_batch_size 4
# stage 2 of the paper: the dialogue level on cached utterance embeddings (examples/extract_features.py)
accelerate launch examples/train_m2fnet.py --model_name_or_path out/m2fnet-init --features_dir out/meld-features
# end to end from a built dataset (examples/build_dataset.py --output_dir): raw text (and media) through the processor
accelerate launch examples/train_m2fnet.py --model_name_or_path out/m2fnet-init --dataset_dir out/meld \\
    --freeze_text_encoder
# all arguments from one JSON file; resume an interrupted run from its last complete checkpoint
python examples/train_m2fnet.py args.json
python examples/train_m2fnet.py --checkpointing_steps 50 --resume_from_checkpoint latest
```

Outputs in `--output_dir`: the best model (by validation weighted F1) with its processor and code, loadable with
`AutoModel.from_pretrained(output_dir, trust_remote_code=True)`; `results.json` (validation and test metrics,
per-class F1, confusion matrices, history, config, arguments, wall time, machine); `confusion_matrix_*.png`,
`loss_curve.png`, `validation_f1.png`; `checkpoints/checkpoint-<step>/` when `--checkpointing_steps` is set.
"""

import json
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal


EXAMPLES_DIR = Path(__file__).resolve().parent
REPO_ROOT = EXAMPLES_DIR.parent
# `python examples/train_m2fnet.py` puts `examples/` first on `sys.path`, where `examples/evaluate.py` would shadow
# the 🤗 `evaluate` library: make the repository root the import root instead.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != EXAMPLES_DIR]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from accelerate.logging import get_logger  # noqa: E402
from accelerate.utils import set_seed  # noqa: E402
from torch.utils.data import DataLoader, Sampler  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402
from transformers import (  # noqa: E402
    HfArgumentParser,
    SchedulerType,
    get_scheduler,
)

from m2fnet_training.collators import EMBED_COLUMNS, M2FNetEmbeddingCollator  # noqa: E402
from m2fnet_training.tiny_model import tiny_config, tiny_processor  # noqa: E402
from m2fnet_training.toy_data import ToyDataConfig, make_toy_dataset, toy_tokenizer  # noqa: E402
from modeling_m2fnet import (  # noqa: E402
    M2FNetConfig,
    M2FNetForEmotionRecognition,
    M2FNetProcessor,
    register_auto_classes,
)


logger = get_logger(__name__)

from examples.erc_training_utils import (  # noqa: E402
    BEST_MODEL_DIRNAME,
    BEST_MODEL_INFO_NAME,
    CHECKPOINT_MODEL_DIRNAME,
    CHECKPOINTS_DIRNAME,
    TRAINING_STATE_NAME,
    TrainingState,
    evaluate_model,
    format_metrics_table,
    load_metric,
    load_saved_weights,
    machine_info,
    plot_confusion_matrix,
    plot_history,
    remove_stale_temporaries,
    resolve_checkpoint,
    save_checkpoint,
    save_model,
    write_json,
)


METRIC_PATH = REPO_ROOT / "metrics" / "erc_f1"
RESULTS_NAME = "results.json"
FEATURES_REPORT_NAME = "extraction_report.json"  # written by datasets_scripts/features.py next to cached features
# Learning rate of a *pretrained* text encoder when it is fine-tuned with the dialogue level (EmoBERTa-style
# fine-tuning of RoBERTa uses 1e-5 to 3e-5); a randomly initialised encoder (the toy model) uses `learning_rate`.
PRETRAINED_TEXT_ENCODER_LR = 1e-5
# The toy model: a tiny random M2FNet (examples/tiny_model.py) over the only modality the toy data has. A 2-layer
# encoder trained from scratch for seconds learns a bag of emotion words (mean pooling, wider initialisation) much
# faster than a first-token summary; each utterance is encoded alone (processor `context_window=0`: a mean over a
# context window would mix the neighbours' emotion words), so the conversational context ("Me too.") is left to the
# dialogue-level encoder. Pretrained models keep the paper's settings (first token, one utterance of context).
TOY_CONFIG_OVERRIDES = {"modalities": ["text"], "text_pooling": "mean", "initializer_range": 0.1}
TOY_PROCESSOR_SETTINGS = {"context_window": 0}


# ----------------------------------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class ModelArguments:
    """Which model to fine-tune, and which of its parts train."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A saved M2FNet (folder or Hub id), e.g. from examples/build_model.py or an earlier run. Required "
            "with --features_dir and --dataset_dir; with the toy data, a tiny random M2FNet is built when omitted."
        },
    )
    modalities: list[str] | None = field(
        default=None,
        metadata={
            "help": "Modalities to use (a subset of text audio visual), e.g. `--modalities text` for the paper's "
            "text-only ablation. Defaults to the model's (text for the toy model).",
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Overrides of the model config: comma-separated `key=value` items, values parsed as JSON when "
            "they can be (e.g. `hidden_dropout_prob=0.5,num_fusion_layers=3`), or a JSON object. Architecture "
            "changes re-initialise the affected weights of a loaded model."
        },
    )
    freeze_text_encoder: bool = field(
        default=False,
        metadata={"help": "Keep the text encoder's weights fixed in end-to-end training (--dataset_dir, toy)."},
    )
    train_media_extractors: bool = field(
        default=False,
        metadata={
            "help": "Also train the audio and visual extractors end to end. By default they keep their stage-1 "
            "weights (examples/train_extractor.py), as in the paper."
        },
    )
    class_weighted_loss: bool = field(
        default=False,
        metadata={
            "help": "Weight the cross-entropy by inverse class frequency in the train split (set on "
            "`config.class_weights`, saved with the model). The paper trains unweighted."
        },
    )

    def __post_init__(self):
        parse_config_overrides(self.config_overrides)  # fails early, as an argument error
        if self.modalities is not None:
            unknown = [modality for modality in self.modalities if modality not in ("text", "audio", "visual")]
            if unknown or not self.modalities:
                raise ValueError(f"--modalities must be a subset of text audio visual, got {self.modalities}.")


@dataclass
class DataArguments:
    """Where the dialogues come from."""

    dataset: Literal["toy"] | None = field(
        default=None,
        metadata={"help": "`toy`: the synthetic dataset of examples/toy_data.py (the default without a data folder)."},
    )
    dataset_dir: str | None = field(
        default=None,
        metadata={
            "help": "A DatasetDict folder (`save_to_disk`) in the builders' schema (one row per dialogue, "
            "`utterances` list): raw text and media go through the processor, end to end."
        },
    )
    features_dir: str | None = field(
        default=None,
        metadata={
            "help": "A DatasetDict folder of cached utterance embeddings (examples/extract_features.py, the format "
            "of datasets_scripts/collator.py): trains the dialogue level only."
        },
    )
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    validation_split: str = field(default="validation", metadata={"help": "Split for evaluation and model selection."})
    test_split: str | None = field(
        default="test", metadata={"help": "Split scored with the best model at the end (skipped when absent)."}
    )
    max_utterances: int | None = field(
        default=None, metadata={"help": "Keep only the first N utterances of longer dialogues."}
    )
    max_train_dialogues: int | None = field(
        default=None, metadata={"help": "Use only the first N training dialogues (quick runs, debugging)."}
    )
    max_eval_dialogues: int | None = field(
        default=None, metadata={"help": "Use only the first N dialogues of the evaluation splits."}
    )
    toy_num_train_dialogues: int = field(default=160, metadata={"help": "Toy data: training dialogues."})
    toy_num_eval_dialogues: int = field(default=40, metadata={"help": "Toy data: validation and test dialogues."})
    toy_label_noise: float = field(default=0.1, metadata={"help": "Toy data: fraction of randomised labels."})
    toy_seed: int = field(default=0, metadata={"help": "Toy data: generator seed."})
    dataloader_num_workers: int = field(
        default=0, metadata={"help": "DataLoader worker processes (decoding media benefits from a few)."}
    )

    def __post_init__(self):
        given = [name for name in ("dataset_dir", "features_dir") if getattr(self, name)]
        if self.dataset:
            given.insert(0, "dataset")
        if len(given) > 1:
            raise ValueError(f"Choose one data source, got {' and '.join('--' + name for name in given)}.")
        if not given:
            self.dataset = "toy"
        for name in ("max_utterances", "max_train_dialogues", "max_eval_dialogues"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name} must be >= 1, got {value}.")

    @property
    def source(self) -> str:
        """`toy`, `dataset` (raw dialogues from `--dataset_dir`) or `features` (cached embeddings)."""
        if self.features_dir:
            return "features"
        return "dataset" if self.dataset_dir else "toy"

    def toy_config(self) -> ToyDataConfig:
        return ToyDataConfig(
            num_train_dialogues=self.toy_num_train_dialogues,
            num_eval_dialogues=self.toy_num_eval_dialogues,
            label_noise=self.toy_label_noise,
            seed=self.toy_seed,
        )


@dataclass
class TrainingArguments:
    """The training loop (defaults: the paper's AdamW settings for the dialogue level)."""

    output_dir: str = field(
        default="outputs/m2fnet-toy", metadata={"help": "Where the model, results, plots and checkpoints go."}
    )
    seed: int = field(default=42, metadata={"help": "Seed of model initialisation, shuffling and dropout."})
    num_train_epochs: int = field(default=15, metadata={"help": "Training epochs."})
    max_train_steps: int | None = field(
        default=None, metadata={"help": "Total optimizer steps; overrides --num_train_epochs when set."}
    )
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Dialogues per batch and process."})
    per_device_eval_batch_size: int = field(default=16, metadata={"help": "Dialogues per evaluation batch."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Batches per optimizer step."})
    learning_rate: float = field(default=5e-4, metadata={"help": "AdamW learning rate of the dialogue level (paper)."})
    text_encoder_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": f"Learning rate of the text encoder when it trains. Defaults to {PRETRAINED_TEXT_ENCODER_LR} for "
            "a loaded (pretrained) model and to --learning_rate for the randomly initialised toy model."
        },
    )
    weight_decay: float = field(
        default=5e-4, metadata={"help": "AdamW weight decay (paper: 5e-4 to 5e-5); not on biases and norms."}
    )
    lr_scheduler_type: SchedulerType = field(default="linear", metadata={"help": "Learning-rate schedule."})
    warmup_ratio: float = field(default=0.1, metadata={"help": "Fraction of the steps used for linear warm-up."})
    num_warmup_steps: int | None = field(default=None, metadata={"help": "Warm-up steps; overrides --warmup_ratio."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm (0 disables clipping)."})
    mixed_precision: Literal["no", "fp16", "bf16"] | None = field(
        default=None, metadata={"help": "Mixed precision; defaults to the `accelerate launch` / config setting."}
    )
    report_to: str = field(
        default="none",
        metadata={"help": "Experiment trackers for `Accelerator(log_with=...)`: tensorboard, wandb, all or none."},
    )
    logging_steps: int = field(default=10, metadata={"help": "Log the training loss every N optimizer steps."})
    checkpointing_steps: str | None = field(
        default=None,
        metadata={"help": "Save the training state every N optimizer steps (an integer) or at each `epoch` end."},
    )
    checkpoints_total_limit: int | None = field(
        default=None, metadata={"help": "Keep only the N most recent checkpoints."}
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={
            "help": "A checkpoint folder, or `latest`: the newest complete checkpoint of --output_dir (training "
            "starts from scratch when there is none)."
        },
    )
    save_plots: bool = field(default=True, metadata={"help": "Write the PNG plots (matplotlib, Agg backend)."})
    num_threads: int | None = field(
        default=None,
        metadata={
            "help": "CPU threads per process (`torch.set_num_threads`). Defaults to torch's choice, and to 1 for the "
            "toy model on CPU: its tensors are too small to gain from more, and extra threads only contend."
        },
    )

    def __post_init__(self):
        positive = (
            "num_train_epochs",
            "per_device_train_batch_size",
            "per_device_eval_batch_size",
            "gradient_accumulation_steps",
            "logging_steps",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")
        for name in ("max_train_steps", "checkpoints_total_limit", "num_threads"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")
        if self.learning_rate <= 0 or (
            self.text_encoder_learning_rate is not None and self.text_encoder_learning_rate <= 0
        ):
            raise ValueError("Learning rates must be > 0.")
        if self.weight_decay < 0 or self.max_grad_norm < 0:
            raise ValueError("--weight_decay and --max_grad_norm must be >= 0.")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"--warmup_ratio must be in [0, 1), got {self.warmup_ratio}.")
        if self.checkpointing_steps is not None and self.checkpointing_steps != "epoch":
            if not self.checkpointing_steps.isdigit() or int(self.checkpointing_steps) < 1:
                raise ValueError(
                    f"--checkpointing_steps must be a positive integer or 'epoch', got {self.checkpointing_steps!r}."
                )
        self.lr_scheduler_type = SchedulerType(self.lr_scheduler_type)


def parse_args(argv: list[str] | None = None) -> tuple[ModelArguments, DataArguments, TrainingArguments]:
    """Parses the command line, or a single `.json` file holding the same arguments."""
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments), description=__doc__.split("\n")[0])
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) == 1 and argv[0].endswith(".json"):
            return parser.parse_json_file(json_file=os.path.abspath(argv[0]))
        *parsed, unknown = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except ValueError as error:  # raised by the dataclasses' checks: report it like any other argparse error
        parser.error(str(error))
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return tuple(parsed)


# ----------------------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------------------


def load_raw_datasets(data_args: DataArguments) -> datasets.DatasetDict:
    """The DatasetDict of the chosen source (toy, `--dataset_dir` or `--features_dir`), subsampled if asked."""
    if data_args.source == "toy":
        raw = make_toy_dataset(data_args.toy_config())
    else:
        folder = data_args.features_dir or data_args.dataset_dir
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder!r} is not a folder: expected a DatasetDict written by `save_to_disk`.")
        raw = datasets.load_from_disk(folder)
        if not isinstance(raw, datasets.DatasetDict):
            raise ValueError(f"{folder!r} holds a single Dataset; expected a DatasetDict with named splits.")
    required = ("labels", "modality_mask") if data_args.source == "features" else ("utterances",)
    for split_name, split in raw.items():
        missing = [column for column in required if column not in split.column_names]
        if missing:
            raise ValueError(
                f"Split {split_name!r} lacks the column(s) {missing} (has {split.column_names}); "
                + (
                    "expected cached features (datasets_scripts/collator.py)."
                    if data_args.source == "features"
                    else "expected the builders' schema (one row per dialogue with an `utterances` list)."
                )
            )
    if data_args.max_train_dialogues and data_args.train_split in raw:
        train = raw[data_args.train_split]
        raw[data_args.train_split] = train.select(range(min(data_args.max_train_dialogues, train.num_rows)))
    if data_args.max_eval_dialogues:
        for name in (data_args.validation_split, data_args.test_split):
            if name in raw:
                raw[name] = raw[name].select(range(min(data_args.max_eval_dialogues, raw[name].num_rows)))
    return raw


def dataset_label_names(raw: datasets.DatasetDict, source: str, folder: str | None = None) -> list[str] | None:
    """
    The class names the data stores: its `ClassLabel`, or for cached features the `label_names` of the
    `extraction_report.json` next to them; None when only bare ids are known.
    """
    split = next(iter(raw.values()))
    if source == "features":
        report = Path(folder or "") / FEATURES_REPORT_NAME
        if folder and report.is_file():
            names = json.loads(report.read_text(encoding="utf-8")).get("label_names")
            if names:
                return list(names)
        feature = split.features["labels"]
        feature = getattr(feature, "feature", feature)
    else:
        feature = split.features["utterances"].feature.get("emotion")
    return list(feature.names) if isinstance(feature, datasets.ClassLabel) else None


def dialogue_to_conversation(row: dict, label_map: list[int] | None) -> list[dict]:
    """
    One dataset row (a dialogue in the builders' schema) as the list of utterance dicts the processor takes.

    Media values are the builders' undecoded `{"bytes", "path"}` dicts. A dialogue-level `video` (IEMOCAP) is cut per
    utterance with its `start_time` / `end_time`; per-utterance clips (MELD) are used whole, since their times refer
    to the episode. `label_map` maps the data's class ids to the model's.
    """
    conversation = []
    for utterance in row["utterances"]:
        emotion = utterance.get("emotion")
        item = {
            "speaker": utterance.get("speaker"),
            "text": utterance.get("text"),
            "label": None if emotion is None or emotion < 0 else (label_map[emotion] if label_map else emotion),
        }
        for key in ("audio", "video"):
            if utterance.get(key) and utterance.get(f"has_{key}", True):
                item[key] = utterance[key]
        if "video" not in item and row.get("video") and utterance.get("has_video", True):
            item["video"] = row["video"]
            item["start_time"], item["end_time"] = utterance.get("start_time"), utterance.get("end_time")
        conversation.append(item)
    return conversation


@dataclass
class M2FNetDialogueCollator:
    """Turns rows in the builders' schema into a model batch with the processor (text, audio and video decoding)."""

    processor: M2FNetProcessor
    label_map: list[int] | None = None

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        conversations = [dialogue_to_conversation(row, self.label_map) for row in rows]
        batch = dict(self.processor(conversations=conversations, return_tensors="pt"))
        if "labels" not in batch:  # an unlabelled batch still needs the key, for gathering during evaluation
            batch["labels"] = torch.full_like(batch["utterance_mask"], -100)
        return batch


class EpochShuffleSampler(Sampler[int]):
    """
    Shuffles the dialogues with a permutation drawn from `seed + epoch` by its own generator.

    Every process draws the same permutation (Accelerate then gives each process its share of the batches), a resumed
    run replays the interrupted epoch's order exactly, and the global RNG (dropout) is left alone.
    """

    def __init__(self, num_samples: int, seed: int):
        self.num_samples = num_samples
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        yield from torch.randperm(self.num_samples, generator=generator).tolist()

    def __len__(self) -> int:
        return self.num_samples


def build_dataloader(
    dataset: datasets.Dataset, collate_fn, batch_size: int, num_workers: int, seed: int, shuffle: bool
) -> DataLoader:
    """A DataLoader over dialogues. Its `generator` only seeds worker processes, so the global RNG is not consumed."""
    sampler = EpochShuffleSampler(len(dataset), seed) if shuffle else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate_fn,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )


def make_collator(source: str, processor, modalities: list[str], max_utterances: int | None, label_map):
    """The collator of a source: the processor for raw dialogues, `M2FNetEmbeddingCollator` for cached features."""
    if source == "features":
        return M2FNetEmbeddingCollator(modalities=list(modalities), max_utterances=max_utterances)
    if processor is None:
        raise ValueError("Raw dialogues need a processor: the model folder has none (save one with the model).")
    if max_utterances is not None:
        processor.max_utterances = max_utterances
    return M2FNetDialogueCollator(processor, label_map)


def prepare_split(split: datasets.Dataset, source: str, label_map: list[int] | None) -> datasets.Dataset:
    """Features: numpy rows (fast collation) with labels mapped to the model's ids. Raw dialogues: unchanged."""
    if source != "features":
        return split
    if label_map is not None:
        mapping = np.asarray(label_map)

        def remap(row):
            labels = np.asarray(row["labels"])
            return {"labels": np.where(labels >= 0, mapping[np.clip(labels, 0, None)], labels).tolist()}

        split = split.map(remap, desc="Mapping labels to the model's ids")
    return split.with_format("numpy")


# ----------------------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------------------


def parse_config_overrides(overrides: str | None) -> dict[str, Any]:
    """
    `"a=1,b=cls"` -> `{"a": 1, "b": "cls"}` (values parsed as JSON when they can be); a JSON object is taken as is
    (for nested values, e.g. `'{"encoder_config": {...}}'`).
    """
    if overrides and overrides.strip().startswith("{"):
        try:
            parsed = json.loads(overrides)
        except json.JSONDecodeError as error:
            raise ValueError(f"--config_overrides is not valid JSON ({error}).") from None
        if not isinstance(parsed, dict):
            raise ValueError("--config_overrides must be a JSON object or key=value items.")
        return parsed
    parsed = {}
    for item in filter(None, (overrides or "").split(",")):
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"--config_overrides items must look like key=value, got {item!r}.")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value.strip()
    return parsed


def label_mapping(data_names: list[str] | None, model_names: list[str]) -> list[int] | None:
    """Data class id -> model class id (by name), or None when the ids already agree."""
    if data_names is None or data_names == model_names:
        return None
    missing = [name for name in data_names if name not in model_names]
    if missing:
        raise ValueError(
            f"The data has the classes {missing}, which the model does not know (model classes: {model_names})."
        )
    return [model_names.index(name) for name in data_names]


def build_toy_model(label_names: list[str], seed: int, overrides: dict):
    """
    The tiny random M2FNet of the toy run (`examples/tiny_model.py` config and processor) with the toy data's fixed
    vocabulary (`examples/toy_data.toy_tokenizer`): every process of every run builds exactly the same model.
    """
    tokenizer = toy_tokenizer()
    torch.manual_seed(seed)
    model = M2FNetForEmotionRecognition(
        tiny_config(len(tokenizer), label_names, **{**TOY_CONFIG_OVERRIDES, **overrides})
    )
    return model, tiny_processor(tokenizer, label_names, **TOY_PROCESSOR_SETTINGS)


def model_from_files(directory: Path, seed: int):
    """A randomly initialised model from the `config.json` in `directory`, and the processor saved there (if any)."""
    torch.manual_seed(seed)
    model = M2FNetForEmotionRecognition(M2FNetConfig.from_pretrained(directory))
    processor = M2FNetProcessor.from_pretrained(directory) if (directory / "processor_config.json").is_file() else None
    return model, processor


def load_model_and_processor(
    model_args: ModelArguments, raw: datasets.DatasetDict, data_args: DataArguments, seed: int, checkpoint=None
):
    """
    Builds the tiny toy model, or loads a saved M2FNet (with its processor when it has one). When resuming, the model
    is rebuilt from the config and processor saved in the checkpoint (`load_state` then restores the weights).

    When the data's classes differ from a loaded model's, the classifier is re-initialised for the data's classes.

    Returns:
        `(model, processor, label_names)`; `processor` is None for a features-only model folder.
    """
    overrides = parse_config_overrides(model_args.config_overrides)
    if model_args.modalities is not None:
        overrides["modalities"] = list(model_args.modalities)
    data_names = dataset_label_names(raw, data_args.source, data_args.features_dir)
    if checkpoint is not None:
        model, processor = model_from_files(checkpoint / CHECKPOINT_MODEL_DIRNAME, seed)
    elif model_args.model_name_or_path is None:
        if data_args.source != "toy":
            raise ValueError("--model_name_or_path is required with --features_dir and --dataset_dir.")
        model, processor = build_toy_model(data_names, seed, overrides)
    else:
        config = M2FNetConfig.from_pretrained(model_args.model_name_or_path)
        model_names = [config.id2label[index] for index in range(config.num_labels)]
        if data_names is not None and sorted(data_names) != sorted(model_names):
            logger.warning(
                f"The model's classes {model_names} differ from the data's {data_names}: the classifier is "
                "re-initialised for the data's classes."
            )
            overrides.update(
                id2label=dict(enumerate(data_names)),
                label2id={name: index for index, name in enumerate(data_names)},
                ignore_mismatched_sizes=True,
            )
        model = M2FNetForEmotionRecognition.from_pretrained(model_args.model_name_or_path, **overrides)
        try:
            processor = M2FNetProcessor.from_pretrained(model_args.model_name_or_path)
        except (OSError, ValueError, TypeError) as error:
            if data_args.source != "features":
                raise ValueError(
                    f"Could not load a processor from {model_args.model_name_or_path!r} ({error}); raw dialogues "
                    "need one. Save the processor next to the model."
                ) from error
            processor = None
    label_names = [model.config.id2label[index] for index in range(model.config.num_labels)]
    if processor is not None:
        processor.label_names = list(label_names)
        processor.modalities = list(model.config.modalities)
    return model, processor, label_names


def frozen_modules(model: M2FNetForEmotionRecognition, source: str, model_args: ModelArguments) -> dict[str, Any]:
    """
    The utterance-level extractors that do not train: all of them on cached features (they are not even run), the
    audio and visual ones in end-to-end training unless `--train_media_extractors`, the text encoder with
    `--freeze_text_encoder`. They get `requires_grad=False` and stay in eval mode (no dropout, frozen BatchNorm).
    """
    names = []
    if source == "features":
        names = ["text_model", "audio_model", "visual_model"]
    else:
        if model_args.freeze_text_encoder:
            names.append("text_model")
        if not model_args.train_media_extractors:
            names += ["audio_model", "visual_model"]
    modules = {name: getattr(model.m2fnet, name) for name in names if hasattr(model.m2fnet, name)}
    for module in modules.values():
        module.requires_grad_(False)
    return modules


def set_train_mode(model: torch.nn.Module, frozen: dict[str, torch.nn.Module]) -> None:
    model.train()
    for module in frozen.values():
        module.eval()


def inverse_frequency_weights(split: datasets.Dataset, source: str, label_map, num_labels: int) -> list[float]:
    """`n / (num_labels * n_c)` per class c over the training utterances (1.0 for a class absent from them)."""
    if source == "features":
        labels = np.concatenate([np.asarray(labels) for labels in split.with_format(None)["labels"]])
    else:
        labels = np.asarray([u["emotion"] for d in split["utterances"] for u in d if u.get("emotion") is not None])
    labels = labels[labels >= 0]
    if label_map is not None:
        labels = np.asarray(label_map)[labels]
    counts = np.bincount(labels, minlength=num_labels).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (num_labels * np.maximum(counts, 1)), 1.0)
    return [round(float(weight), 6) for weight in weights]


def build_optimizer(model, learning_rate: float, text_encoder_learning_rate: float, weight_decay: float):
    """AdamW with the text encoder in its own parameter groups (its own learning rate); no decay on biases/norms."""
    groups = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        is_text_encoder = name.startswith("m2fnet.text_model.")
        decays = not (name.endswith(".bias") or "norm" in name.lower())
        groups.setdefault((is_text_encoder, decays), []).append(parameter)
    parameter_groups = [
        {
            "params": parameters,
            "lr": text_encoder_learning_rate if is_text_encoder else learning_rate,
            "weight_decay": weight_decay if decays else 0.0,
        }
        for (is_text_encoder, decays), parameters in sorted(groups.items())
    ]
    return torch.optim.AdamW(parameter_groups, lr=learning_rate)


# ----------------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    model_args, data_args, training_args = parse_args(argv)
    start_time = time.time()
    output_dir = Path(training_args.output_dir)

    # The Accelerator handles device placement, distributed training (`accelerate launch`: several GPUs, or several
    # CPU processes talking over gloo), mixed precision and gradient accumulation: the loop below is the same for all.
    accelerator_kwargs = {"gradient_accumulation_steps": training_args.gradient_accumulation_steps}
    if training_args.mixed_precision is not None:
        accelerator_kwargs["mixed_precision"] = training_args.mixed_precision
    if training_args.report_to != "none":
        accelerator_kwargs.update(log_with=training_args.report_to, project_dir=str(output_dir))
    accelerator = Accelerator(**accelerator_kwargs)

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    logger.info(accelerator.state, main_process_only=False)
    if accelerator.is_local_main_process:
        datasets.utils.logging.set_verbosity_warning()
        transformers.utils.logging.set_verbosity_warning()
    else:
        datasets.utils.logging.set_verbosity_error()
        transformers.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()

    if training_args.num_threads is not None:
        torch.set_num_threads(training_args.num_threads)
    elif data_args.source == "toy" and model_args.model_name_or_path is None and accelerator.device.type == "cpu":
        torch.set_num_threads(1)

    # Same seed on every process: identical model initialisation everywhere (DDP also broadcasts rank 0's weights).
    set_seed(training_args.seed)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()

    # ---------------------------------------------------------------------------------------------------------------
    # Data and model
    # ---------------------------------------------------------------------------------------------------------------
    source = data_args.source
    with accelerator.main_process_first():  # the main process fills the datasets cache, the others read it
        raw = load_raw_datasets(data_args)
    for name in (data_args.train_split, data_args.validation_split):
        if name not in raw:
            raise ValueError(f"The data has no {name!r} split (splits: {list(raw)}).")
    checkpoint = resolve_checkpoint(training_args.resume_from_checkpoint, output_dir)
    register_auto_classes()
    model, processor, label_names = load_model_and_processor(
        model_args, raw, data_args, training_args.seed, checkpoint
    )
    label_map = label_mapping(dataset_label_names(raw, source, data_args.features_dir), label_names)
    if source == "features":
        first_row = raw[data_args.train_split][0]
        for modality in model.config.modalities:
            if first_row.get(EMBED_COLUMNS[modality]) is None:
                raise ValueError(
                    f"The model uses the {modality} modality but the features have no `{EMBED_COLUMNS[modality]}` "
                    f"column: extract it, or train on the others with --modalities."
                )
            width = len(first_row[EMBED_COLUMNS[modality]][0])
            if width != model.config.embed_dim(modality):
                raise ValueError(
                    f"The cached {modality} features have width {width} but the model expects "
                    f"{model.config.embed_dim(modality)}: extract them with the model's own encoders."
                )
    if model_args.class_weighted_loss:
        model.config.class_weights = inverse_frequency_weights(
            raw[data_args.train_split], source, label_map, model.config.num_labels
        )
        logger.info(f"Class weights (inverse frequency): {dict(zip(label_names, model.config.class_weights))}")
    frozen = frozen_modules(model, source, model_args)
    num_parameters = sum(p.numel() for p in model.parameters())
    num_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info(
        f"Source {source}; model {type(model).__name__} with modalities {model.config.modalities}, "
        f"{num_parameters:,} parameters ({num_trainable:,} trainable; frozen: {sorted(frozen) or 'none'})"
    )

    collate_fn = make_collator(source, processor, model.config.modalities, data_args.max_utterances, label_map)
    splits = {name: prepare_split(raw[name], source, label_map) for name in raw}
    train_dataloader = build_dataloader(
        splits[data_args.train_split],
        collate_fn,
        training_args.per_device_train_batch_size,
        data_args.dataloader_num_workers,
        training_args.seed,
        shuffle=True,
    )
    eval_dataloaders = {
        name: build_dataloader(
            splits[name],
            collate_fn,
            training_args.per_device_eval_batch_size,
            data_args.dataloader_num_workers,
            training_args.seed,
            shuffle=False,
        )
        for name in (data_args.validation_split, data_args.test_split)
        if name is not None and name in splits
    }

    # Prepare the dataloaders first: with N processes each one gets 1/N of the batches, which sets the number of
    # optimizer steps per epoch the schedule is built on.
    train_dataloader, *prepared = accelerator.prepare(train_dataloader, *eval_dataloaders.values())
    eval_dataloaders = dict(zip(eval_dataloaders, prepared))
    num_update_steps_per_epoch = math.ceil(len(train_dataloader) / training_args.gradient_accumulation_steps)
    max_train_steps = training_args.max_train_steps or training_args.num_train_epochs * num_update_steps_per_epoch
    num_train_epochs = math.ceil(max_train_steps / num_update_steps_per_epoch)

    # Optimizer: AdamW (paper) with a separate, smaller learning rate for a pretrained text encoder.
    text_encoder_lr = training_args.text_encoder_learning_rate
    if text_encoder_lr is None:
        text_encoder_lr = (
            training_args.learning_rate if model_args.model_name_or_path is None else PRETRAINED_TEXT_ENCODER_LR
        )
    optimizer = build_optimizer(model, training_args.learning_rate, text_encoder_lr, training_args.weight_decay)
    num_warmup_steps = training_args.num_warmup_steps
    if num_warmup_steps is None:
        num_warmup_steps = math.ceil(training_args.warmup_ratio * max_train_steps)
    # The prepared scheduler steps once per process at every optimizer step, hence the `num_processes` factors.
    lr_scheduler = get_scheduler(
        training_args.lr_scheduler_type,
        optimizer=optimizer,
        num_warmup_steps=num_warmup_steps * accelerator.num_processes,
        num_training_steps=max_train_steps * accelerator.num_processes,
    )
    model, optimizer, lr_scheduler = accelerator.prepare(model, optimizer, lr_scheduler)
    metric = load_metric(accelerator)

    if training_args.report_to != "none":
        tracked = {**asdict(model_args), **asdict(data_args), **asdict(training_args)}
        tracked = {key: v if isinstance(v, (int, float, str, bool)) else str(v) for key, v in tracked.items()}
        accelerator.init_trackers("m2fnet", tracked)

    # ---------------------------------------------------------------------------------------------------------------
    # Resume: `load_state` restores model, optimizer, scheduler, RNG states and the gradient-accumulation counter;
    # training_state.json says where in which epoch the run stopped, and the loop skips the batches already seen.
    # ---------------------------------------------------------------------------------------------------------------
    state = TrainingState()
    if checkpoint is None and training_args.resume_from_checkpoint == "latest":
        logger.info(f"No complete checkpoint in {output_dir / CHECKPOINTS_DIRNAME}: training from scratch.")
    if accelerator.is_main_process:
        remove_stale_temporaries(output_dir)
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        state = TrainingState(**json.loads((checkpoint / TRAINING_STATE_NAME).read_text(encoding="utf-8")))
        logger.info(f"Resumed from {checkpoint}: epoch {state.epoch}, {state.completed_steps} steps done")
    checkpoint_every = training_args.checkpointing_steps
    best_dir = output_dir / BEST_MODEL_DIRNAME

    total_batch_size = (
        training_args.per_device_train_batch_size
        * accelerator.num_processes
        * training_args.gradient_accumulation_steps
    )
    logger.info("***** Running training *****")
    logger.info(
        f"  Dialogues: train {len(splits[data_args.train_split])}, evaluation {[len(splits[n]) for n in eval_dataloaders]}"
    )
    logger.info(
        f"  Epochs {num_train_epochs}, optimizer steps {max_train_steps}, dialogues per step {total_batch_size}"
    )
    logger.info(f"  Learning rates: dialogue level {training_args.learning_rate}, text encoder {text_encoder_lr}")

    loop_start = time.time()
    progress_bar = tqdm(
        range(max_train_steps), initial=state.completed_steps, disable=not accelerator.is_local_main_process
    )
    step_losses = []
    for epoch in range(state.epoch, num_train_epochs):
        if state.completed_steps >= max_train_steps:
            break
        set_train_mode(model, frozen)
        # The epoch's shuffling order (the same on every process, and the same again after a resume).
        train_dataloader.set_epoch(epoch)
        active_dataloader = train_dataloader
        if state.batches_in_epoch > 0:
            # Resuming mid-epoch: skip the batches the interrupted run already trained on.
            active_dataloader = accelerator.skip_first_batches(train_dataloader, state.batches_in_epoch)
        for batch in active_dataloader:
            # `accumulate` sums gradients over `gradient_accumulation_steps` batches and skips the DDP gradient
            # synchronisation in between; the optimizer and scheduler only act when gradients are synchronised.
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and training_args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), training_args.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            state.batches_in_epoch += 1
            step_losses.append(loss.detach())
            if not accelerator.sync_gradients:
                continue
            # One optimizer step done. Its loss: the mean over its batches and over the processes.
            step_loss = accelerator.reduce(torch.stack(step_losses).mean(), reduction="mean").item()
            step_losses = []
            state.completed_steps += 1
            state.history["train_loss"].append([state.completed_steps, round(step_loss, 6)])
            progress_bar.update(1)
            progress_bar.set_postfix(loss=f"{step_loss:.4f}", epoch=epoch)
            if state.completed_steps % training_args.logging_steps == 0:
                learning_rate = lr_scheduler.get_last_lr()[-1]
                if training_args.report_to != "none":
                    accelerator.log(
                        {"train_loss": step_loss, "learning_rate": learning_rate}, step=state.completed_steps
                    )
            if checkpoint_every not in (None, "epoch") and state.completed_steps % int(checkpoint_every) == 0:
                save_checkpoint(
                    accelerator, model, processor, state, output_dir, training_args.checkpoints_total_limit
                )
            if state.completed_steps >= max_train_steps:
                break

        # End of the epoch: score the validation split, keep the best model.
        results = evaluate_model(model, eval_dataloaders[data_args.validation_split], accelerator, metric, label_names)
        entry = {"epoch": epoch + 1, "step": state.completed_steps}
        entry.update({key: results[key] for key in ("weighted_f1", "macro_f1", "accuracy", "loss")})
        state.history["validation"].append(entry)
        logger.info(
            f"epoch {epoch + 1}: validation weighted F1 {results['weighted_f1']:.4f}, macro F1 "
            f"{results['macro_f1']:.4f}, accuracy {results['accuracy']:.4f}, loss {results['loss']:.4f}"
        )
        if training_args.report_to != "none":
            accelerator.log(
                {f"validation_{k}": v for k, v in entry.items() if k != "step"}, step=state.completed_steps
            )
        if state.best is None or results["weighted_f1"] > state.best["weighted_f1"]:
            state.best = {"epoch": epoch + 1, "step": state.completed_steps, "weighted_f1": results["weighted_f1"]}
            save_model(accelerator, model, processor, best_dir, info=state.best)
        state.epoch, state.batches_in_epoch = epoch + 1, 0
        if checkpoint_every == "epoch":
            save_checkpoint(accelerator, model, processor, state, output_dir, training_args.checkpoints_total_limit)
    progress_bar.close()
    loop_seconds = time.time() - loop_start

    # ---------------------------------------------------------------------------------------------------------------
    # Final: the best model on validation (and test), saved with its processor and code in `output_dir`.
    # ---------------------------------------------------------------------------------------------------------------
    unwrapped = accelerator.unwrap_model(model)
    best_info = None
    if (best_dir / BEST_MODEL_INFO_NAME).is_file():
        best_info = json.loads((best_dir / BEST_MODEL_INFO_NAME).read_text(encoding="utf-8"))
    if best_info is not None and best_info == state.best:
        load_saved_weights(unwrapped, best_dir)
        best = state.best
    else:
        # E.g. a resumed run whose best epoch came before the checkpoint, in another output folder.
        logger.warning(f"{best_dir} does not hold the best model {state.best}: the final model is the last one.")
        best = {"epoch": state.epoch, "step": state.completed_steps, "weighted_f1": None, "note": "last model"}
    final_results = {
        name: evaluate_model(model, dataloader, accelerator, metric, label_names)
        for name, dataloader in eval_dataloaders.items()
    }
    save_model(accelerator, model, processor, output_dir, into_existing=True)
    if accelerator.is_main_process:
        shutil.rmtree(best_dir, ignore_errors=True)

    report = {
        "source": source,
        "model_name_or_path": model_args.model_name_or_path,
        "best": best,
        **final_results,
        "history": state.history,
        "num_parameters": {"total": num_parameters, "trainable": num_trainable},
        "config": unwrapped.config.to_dict(),
        "args": {"model": asdict(model_args), "data": asdict(data_args), "training": asdict(training_args)},
        "wall_time_seconds": round(time.time() - start_time, 2),
        "training_loop_seconds": round(loop_seconds, 2),
        "machine": machine_info(accelerator),
    }
    if accelerator.is_main_process:
        write_json(output_dir / RESULTS_NAME, report)
        if training_args.save_plots:
            for name, results in final_results.items():
                plot_confusion_matrix(results, f"M2FNet, {name} split", output_dir / f"confusion_matrix_{name}.png")
            plot_history(state.history, output_dir, best_epoch=(state.best or {}).get("epoch"))
        logger.info(
            f"Best model (epoch {best['epoch'] if best else '?'}) saved to {output_dir}; results in "
            f"{output_dir / RESULTS_NAME} ({report['wall_time_seconds']:.1f} s)\n\n"
            + format_metrics_table(final_results)
        )
    accelerator.wait_for_everyone()
    if training_args.report_to != "none":
        accelerator.end_training()
    return report


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as error:  # bad input or data: a message naming it, not a traceback
        sys.exit(f"train_m2fnet.py: error: {error}")
