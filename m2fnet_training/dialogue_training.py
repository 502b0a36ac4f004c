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
"""Stage 2 of M2FNet: the dialogue level (dialogue encoders, attention fusion, classifier), or the model end to end.

`train_dialogue_level` trains an `M2FNetForEmotionRecognition` on one data source (`sources.py`) with the shared
Accelerate loop, selects the epoch with the best validation weighted F1, scores validation and test, and saves the
model with its processor and code, `results.json` and plots.
"""

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from modeling_m2fnet import M2FNetConfig, M2FNetForEmotionRecognition, M2FNetProcessor, register_auto_classes
from modeling_m2fnet.configuration_m2fnet import MODALITIES

from .arguments import TrainingLoopArguments, parse_config_overrides, set_up_run
from .checkpointing import (
    BEST_MODEL_DIRNAME,
    CHECKPOINT_MODEL_DIRNAME,
    TrainingState,
    load_saved_weights,
    remove_stale_temporaries,
    resolve_checkpoint,
    restore_best_model,
    save_model_atomically,
)
from .evaluation import (
    evaluate_model,
    format_metrics_table,
    load_metric,
    machine_info,
    plot_confusion_matrix,
    plot_history,
)
from .io_utils import write_json
from .loop import PreparedTraining, prepare_training, run_training_loop
from .optim import inverse_frequency_weights
from .samplers import EpochShuffleSampler
from .sources import DataSource, FeatureSource, make_source
from .toy_data import ToyDataConfig


logger = logging.getLogger(__name__)

RESULTS_NAME = "results.json"
# Learning rate of a *pretrained* text encoder fine-tuned with the dialogue level (RoBERTa fine-tuning uses 1e-5 to
# 3e-5); a randomly initialised encoder (the toy model) uses `learning_rate`.
PRETRAINED_TEXT_ENCODER_LR = 1e-5
EXTRACTOR_ATTRIBUTES = {"text": "text_model", "audio": "audio_model", "visual": "visual_model"}


# ----------------------------------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class ModelArguments:
    """Which model to train, and which of its parts train."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "A saved M2FNet (folder or Hub id), e.g. from examples/build_model.py or an earlier run. Required "
            "with --features_dir and --dataset_dir; with the toy data, a tiny random M2FNet is built when omitted."
        },
    )
    modalities: list[str] | None = field(
        default=None,
        metadata={"help": "Modalities to use (a subset of text audio visual), e.g. `--modalities text`."},
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Overrides of the model config: comma-separated `key=value` items, values parsed as JSON when "
            "they can be (e.g. `hidden_dropout_prob=0.5,num_fusion_layers=3`), or a JSON object. Architecture "
            "changes re-initialise the affected weights of a loaded model."
        },
    )
    new_head: bool = field(
        default=False,
        metadata={
            "help": "Re-initialise the classifier for the data's classes when they differ from the model's "
            "(otherwise a mismatch is an error naming both lists)."
        },
    )
    freeze_text_encoder: bool = field(
        default=False, metadata={"help": "Keep the text encoder's weights fixed in end-to-end training."}
    )
    train_media_extractors: bool = field(
        default=False,
        metadata={
            "help": "Also train the audio and visual extractors end to end (default: keep their stage-1 weights)."
        },
    )
    class_weighted_loss: bool = field(
        default=False,
        metadata={
            "help": "Weight the cross-entropy by inverse class frequency in the train split (saved in the config)."
        },
    )

    def __post_init__(self):
        parse_config_overrides(self.config_overrides)  # fails early, as an argument error
        if self.modalities is not None:
            unknown = [modality for modality in self.modalities if modality not in MODALITIES]
            if unknown or not self.modalities:
                raise ValueError(f"--modalities must be a subset of {' '.join(MODALITIES)}, got {self.modalities}.")


@dataclass
class DataArguments:
    """Where the dialogues come from: the toy data (default), a built dataset, or cached features."""

    dataset: Literal["toy"] | None = field(
        default=None, metadata={"help": "`toy`: the synthetic dataset of m2fnet_training/toy_data.py (the default)."}
    )
    dataset_dir: str | None = field(
        default=None,
        metadata={"help": "A DatasetDict folder in the builders' schema: raw text and media through the processor."},
    )
    features_dir: str | None = field(
        default=None,
        metadata={"help": "Cached utterance embeddings (examples/extract_features.py): trains the dialogue level."},
    )
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    validation_split: str = field(default="validation", metadata={"help": "Split for evaluation and model selection."})
    test_split: str | None = field(default="test", metadata={"help": "Split scored at the end (when present)."})
    max_utterances: int | None = field(
        default=None, metadata={"help": "Keep only the first N utterances of dialogues."}
    )
    max_train_dialogues: int | None = field(default=None, metadata={"help": "Use only the first N train dialogues."})
    max_eval_dialogues: int | None = field(default=None, metadata={"help": "Use only the first N eval dialogues."})
    toy_num_train_dialogues: int = field(default=160, metadata={"help": "Toy data: training dialogues."})
    toy_num_eval_dialogues: int = field(default=40, metadata={"help": "Toy data: validation and test dialogues."})
    toy_label_noise: float = field(default=0.1, metadata={"help": "Toy data: fraction of randomised labels."})
    toy_seed: int = field(default=0, metadata={"help": "Toy data: generator seed."})
    dataloader_num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes (media decoding)."})

    def __post_init__(self):
        given = [name for name in ("dataset", "dataset_dir", "features_dir") if getattr(self, name)]
        if len(given) > 1:
            raise ValueError(f"Choose one data source, got {' and '.join('--' + name for name in given)}.")
        for name in ("max_utterances", "max_train_dialogues", "max_eval_dialogues"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")

    def make_source(self) -> DataSource:
        if self.features_dir:
            return make_source("features", self.features_dir)
        if self.dataset_dir:
            return make_source("dialogues", self.dataset_dir)
        toy = ToyDataConfig(
            num_train_dialogues=self.toy_num_train_dialogues,
            num_eval_dialogues=self.toy_num_eval_dialogues,
            label_noise=self.toy_label_noise,
            seed=self.toy_seed,
        )
        return make_source("toy", toy_config=toy)


@dataclass
class DialogueTrainingArguments(TrainingLoopArguments):
    """The loop of stage 2 (defaults: the paper's AdamW settings for the dialogue level)."""

    output_dir: str = field(default="outputs/m2fnet-toy", metadata={"help": "Where the model, results and plots go."})
    num_train_epochs: int = field(default=15, metadata={"help": "Training epochs."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Dialogues per batch and process."})
    per_device_eval_batch_size: int = field(default=16, metadata={"help": "Dialogues per evaluation batch."})
    text_encoder_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": f"Learning rate of the text encoder when it trains; defaults to {PRETRAINED_TEXT_ENCODER_LR} for a "
            "loaded (pretrained) model and to --learning_rate for the randomly initialised toy model."
        },
    )
    language: str | None = field(
        default=None, metadata={"help": "Language of the data (for the model card), e.g. en."}
    )


# ----------------------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------------------


def label_mapping(data_names: list[str] | None, model_names: list[str]) -> list[int] | None:
    """Data class id → model class id (by name), or None when the ids already agree."""
    if data_names is None or list(data_names) == list(model_names):
        return None
    missing = [name for name in data_names if name not in model_names]
    if missing:
        raise ValueError(
            f"The data has the classes {missing}, which the model does not know (model classes: {model_names})."
        )
    return [model_names.index(name) for name in data_names]


def _check_labels(model_names: list[str], data_names: list[str] | None, model_path: str, new_head: bool) -> dict:
    """Config overrides for a new head when the data's classes differ from the model's and `new_head` allows it."""
    if data_names is None or sorted(data_names) == sorted(model_names):
        return {}
    if not new_head:
        raise ValueError(
            f"The model {model_path!r} predicts {model_names} but the data's labels are {data_names}. Build the model "
            "for this data (examples/build_model.py --dataset_dir <the dataset>), or pass --new_head to re-initialise "
            "the classifier for the data's classes."
        )
    logger.warning(f"--new_head: the classifier is re-initialised for the data's classes {data_names}.")
    return {
        "id2label": dict(enumerate(data_names)),
        "label2id": {name: index for index, name in enumerate(data_names)},
        "ignore_mismatched_sizes": True,
    }


def load_model_and_processor(model_args: ModelArguments, source: DataSource, seed: int, checkpoint: Path | None):
    """
    The model and processor of a run: the toy source's tiny model when no model is named, a saved M2FNet otherwise,
    or (when resuming) the model rebuilt from the config and processor saved in the checkpoint.
    """
    overrides = parse_config_overrides(model_args.config_overrides)
    data_names = source.label_names()
    if checkpoint is not None:
        files = checkpoint / CHECKPOINT_MODEL_DIRNAME
        torch.manual_seed(seed)
        model = M2FNetForEmotionRecognition(M2FNetConfig.from_pretrained(files))
        processor = M2FNetProcessor.from_pretrained(files) if (files / "processor_config.json").is_file() else None
    elif model_args.model_name_or_path is None:
        if not hasattr(source, "build_model"):
            raise ValueError("--model_name_or_path is required with --features_dir and --dataset_dir.")
        model, processor = source.build_model(data_names, seed, model_args.modalities, **overrides)
    else:
        path = model_args.model_name_or_path
        if model_args.modalities is not None:
            overrides["modalities"] = list(model_args.modalities)
        config = M2FNetConfig.from_pretrained(path)
        model_names = [config.id2label[index] for index in range(config.num_labels)]
        overrides.update(_check_labels(model_names, data_names, path, model_args.new_head))
        model = M2FNetForEmotionRecognition.from_pretrained(path, use_safetensors=True, **overrides)
        processor = None
        try:
            processor = M2FNetProcessor.from_pretrained(path)
        except (OSError, ValueError, TypeError) as error:
            if source.needs_processor:
                raise ValueError(
                    f"Could not load a processor from {path!r} ({error}); save it next to the model."
                ) from error
    label_names = [model.config.id2label[index] for index in range(model.config.num_labels)]
    if processor is not None:
        processor.label_names = list(label_names)
    return model, processor, label_names


def frozen_extractors(model, source: DataSource, model_args: ModelArguments) -> list[torch.nn.Module]:
    """
    The utterance-level extractors that do not train: those the source does not run (all of them on cached
    features), the audio and visual ones unless `--train_media_extractors`, the text encoder with
    `--freeze_text_encoder`. They get `requires_grad=False` and stay in eval mode (no dropout, frozen BatchNorm).
    """
    in_use = set(source.extractors_in_use(model.config.modalities))
    if model_args.freeze_text_encoder:
        in_use.discard("text")
    if not model_args.train_media_extractors:
        in_use -= {"audio", "visual"}
    frozen = []
    for modality, attribute in EXTRACTOR_ATTRIBUTES.items():
        module = getattr(model.m2fnet, attribute, None)
        if module is not None and modality not in in_use:
            module.requires_grad_(False)
            frozen.append(module)
    return frozen


# ----------------------------------------------------------------------------------------------------------------------
# Run
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class _Run:
    accelerator: Accelerator
    source: DataSource
    processor: Any
    label_names: list[str]
    frozen: list
    prepared: PreparedTraining
    text_encoder_lr: float

    @property
    def model(self):
        return self.prepared.model


def _dataloader(split, collate_fn, batch_size: int, num_workers: int, seed: int, shuffle: bool) -> DataLoader:
    """A DataLoader over dialogues; its `generator` only seeds worker processes, so the global RNG is not consumed."""
    return DataLoader(
        split,
        batch_size=batch_size,
        sampler=EpochShuffleSampler(len(split), seed) if shuffle else None,
        collate_fn=collate_fn,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )


def _select_splits(source: DataSource, data_args: DataArguments) -> dict:
    raw = source.load()
    for name in (data_args.train_split, data_args.validation_split):
        if name not in raw:
            raise ValueError(f"The data has no {name!r} split (splits: {list(raw)}).")
    names = [data_args.train_split, data_args.validation_split, data_args.test_split]
    splits = {name: raw[name] for name in names if name is not None and name in raw}
    limits = {data_args.train_split: data_args.max_train_dialogues}
    for name, split in splits.items():
        limit = limits.get(name, data_args.max_eval_dialogues)
        if limit is not None:
            splits[name] = split.select(range(min(limit, split.num_rows)))
    return splits


def _set_class_weights(model, source: DataSource, split: str, label_map, label_names: list[str]) -> None:
    labels = source.train_labels(split)
    labels = labels[labels >= 0]
    if label_map is not None:
        labels = [label_map[label] for label in labels]
    model.config.class_weights = inverse_frequency_weights(labels, model.config.num_labels)
    logger.info(f"Class weights (inverse frequency): {dict(zip(label_names, model.config.class_weights))}")


def _prepare_run(model_args, data_args, training_args) -> _Run:
    source = data_args.make_source()
    accelerator = set_up_run(training_args, default_num_threads=1 if source.synthetic else None)
    output_dir = Path(training_args.output_dir)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(output_dir)
    with accelerator.main_process_first():  # the main process fills the datasets cache, the others read it
        splits = _select_splits(source, data_args)
    checkpoint = resolve_checkpoint(training_args.resume_from_checkpoint, output_dir)
    register_auto_classes()
    model, processor, label_names = load_model_and_processor(model_args, source, training_args.seed, checkpoint)
    label_map = label_mapping(source.label_names(), label_names)
    if isinstance(source, FeatureSource):
        source.check_widths(model.config)
    if model_args.class_weighted_loss:
        _set_class_weights(model, source, data_args.train_split, label_map, label_names)
    frozen = frozen_extractors(model, source, model_args)
    collate_fn = source.collator(processor, model.config.modalities, data_args.max_utterances, label_map)
    dataloaders = {
        name: _dataloader(
            source.prepare_split(split, label_map),
            collate_fn,
            training_args.per_device_train_batch_size
            if name == data_args.train_split
            else training_args.per_device_eval_batch_size,
            data_args.dataloader_num_workers,
            training_args.seed,
            shuffle=name == data_args.train_split,
        )
        for name, split in splits.items()
    }
    text_encoder_lr = training_args.text_encoder_learning_rate
    if text_encoder_lr is None:
        pretrained = model_args.model_name_or_path is not None
        text_encoder_lr = PRETRAINED_TEXT_ENCODER_LR if pretrained else training_args.learning_rate
    train_dataloader = dataloaders.pop(data_args.train_split)
    prepared = prepare_training(
        accelerator,
        model,
        train_dataloader,
        dataloaders,
        training_args,
        training_args.learning_rate,
        {"m2fnet.text_model.": text_encoder_lr},
    )
    return _Run(accelerator, source, processor, label_names, frozen, prepared, text_encoder_lr)


def _save_files(run: _Run, folder: Path) -> None:
    run.accelerator.unwrap_model(run.model).save_pretrained(folder)
    if run.processor is not None:
        run.processor.save_pretrained(folder)


def _save_config_and_processor(run: _Run, folder: Path) -> None:
    run.accelerator.unwrap_model(run.model).config.save_pretrained(folder)
    if run.processor is not None:
        run.processor.save_pretrained(folder)


def train_dialogue_level(
    model_args: ModelArguments, data_args: DataArguments, training_args: DialogueTrainingArguments
) -> dict[str, Any]:
    """Runs stage 2 end to end; returns the report also written to `<output_dir>/results.json`."""
    start_time = time.time()
    run = _prepare_run(model_args, data_args, training_args)
    accelerator, model, output_dir = run.accelerator, run.model, Path(training_args.output_dir)
    metric = load_metric(accelerator)
    best_dir = output_dir / BEST_MODEL_DIRNAME
    unwrapped = accelerator.unwrap_model(model)
    num_parameters = sum(p.numel() for p in unwrapped.parameters())
    num_trainable = sum(p.numel() for p in unwrapped.parameters() if p.requires_grad)
    per_step = training_args.per_device_train_batch_size * accelerator.num_processes
    per_step *= training_args.gradient_accumulation_steps
    logger.info(
        f"Source {run.source.kind}; modalities {unwrapped.config.modalities}; {num_parameters:,} parameters "
        f"({num_trainable:,} trainable); {run.prepared.settings.num_train_epochs} epochs, "
        f"{run.prepared.settings.max_train_steps} optimizer steps of {per_step} dialogues"
    )

    def set_train_mode():
        model.train()
        for module in run.frozen:
            module.eval()

    def evaluate():
        dataloader = run.prepared.eval_dataloaders[data_args.validation_split]
        return evaluate_model(model, dataloader, accelerator, metric, run.label_names)

    def save_best(info):
        save_model_atomically(accelerator, lambda folder: _save_files(run, folder), best_dir, info)

    loop_start = time.time()
    prepared = run.prepared

    def save_files(folder):
        _save_config_and_processor(run, folder)

    state = run_training_loop(accelerator, prepared, evaluate, save_best, set_train_mode, save_model_files=save_files)
    loop_seconds = time.time() - loop_start
    best = restore_best_model(lambda folder: load_saved_weights(unwrapped, folder), best_dir, state)
    final_results = {
        name: evaluate_model(model, dataloader, accelerator, metric, run.label_names)
        for name, dataloader in prepared.eval_dataloaders.items()
    }
    save_model_atomically(accelerator, lambda folder: _save_files(run, folder), output_dir, into_existing=True)
    report = _report(run, model_args, data_args, training_args, state, final_results)
    report["best"] = best
    report.update(
        num_parameters={"total": num_parameters, "trainable": num_trainable},
        wall_time_seconds=round(time.time() - start_time, 2),
        training_loop_seconds=round(loop_seconds, 2),
    )
    if accelerator.is_main_process:
        import shutil

        shutil.rmtree(best_dir, ignore_errors=True)
        write_json(output_dir / RESULTS_NAME, report)
        if training_args.save_plots:
            for name, results in final_results.items():
                plot_confusion_matrix(results, f"M2FNet, {name} split", output_dir / f"confusion_matrix_{name}.png")
            plot_history(state.history, output_dir, best_epoch=(state.best or {}).get("epoch"))
        logger.info(
            f"Best model (epoch {best['epoch']}) saved to {output_dir}; results in {output_dir / RESULTS_NAME} "
            f"({report['wall_time_seconds']:.1f} s)\n\n" + format_metrics_table(final_results)
        )
    accelerator.wait_for_everyone()
    return report


def _report(run: _Run, model_args, data_args, training_args, state: TrainingState, final_results: dict) -> dict:
    config = run.accelerator.unwrap_model(run.model).config
    base_model = getattr(config.text_config, "_name_or_path", None) if "text" in config.modalities else None
    return {
        "data": run.source.describe(),
        "model_name_or_path": model_args.model_name_or_path,
        "base_model": base_model or None,
        "language": training_args.language
        or ("en" if run.source.dataset_name() in ("meld", "iemocap", "toy") else None),
        "best": state.best,
        **final_results,
        "history": state.history,
        "config": config.to_dict(),
        "args": {
            "model": asdict(model_args),
            "data": asdict(data_args),
            "training": {**asdict(training_args), "text_encoder_learning_rate": run.text_encoder_lr},
        },
        "machine": machine_info(run.accelerator),
    }


__all__ = [
    "DataArguments",
    "DialogueTrainingArguments",
    "ModelArguments",
    "label_mapping",
    "load_model_and_processor",
    "train_dialogue_level",
]
