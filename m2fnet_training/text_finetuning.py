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
"""Stage 1 for text: the paper's "M-RoBERTa" — a text encoder fine-tuned on utterance labels, with its neighbours.

Each utterance is encoded with its previous and next utterance (speaker names included), exactly as
`M2FNetProcessor` encodes it for the full model; a linear head on the first token's last-layer state is trained with
cross-entropy on the emotion labels; the epoch with the best validation weighted F1 is kept. The output is a
transformers model folder (encoder + tokenizer + `m2fnet_text_encoder.json`) that `examples/build_model.py
--text_encoder` accepts, and that then embeds utterances with first-token pooling and the same context settings.

`num_trainable_layers` fine-tunes only the top layers; the states entering them are computed once and cached
(`text_encoder_cache.py`), which makes the stage affordable on a CPU.
"""

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import datasets
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader
from transformers import AutoConfig, AutoModel
from transformers.modeling_outputs import SequenceClassifierOutput

from datasets_scripts.schema import dialogue_label_names

from .arguments import TrainingLoopArguments, set_up_run
from .checkpointing import (
    BEST_MODEL_DIRNAME,
    load_saved_weights,
    remove_stale_temporaries,
    restore_best_model,
    save_model_atomically,
)
from .collators import dialogue_to_conversation
from .evaluation import evaluate_model, format_metrics_table, load_metric, machine_info, plot_history
from .io_utils import write_json
from .loop import prepare_training, run_training_loop
from .model_building import load_tokenizer
from .optim import inverse_frequency_weights
from .samplers import LengthGroupedBatchSampler
from .text_encoder_cache import (
    LowerLayerCache,
    build_lower_layer_cache,
    first_trained_layer,
    freeze_lower_layers,
    upper_layers_only,
)


logger = logging.getLogger(__name__)

TEXT_ENCODER_INFO_NAME = "m2fnet_text_encoder.json"
CLASSIFIER_HEAD_NAME = "utterance_classifier.safetensors"
RESULTS_NAME = "results.json"
CACHE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


# ----------------------------------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class TextEncoderArguments:
    """The text encoder to fine-tune, how utterances are encoded, and which layers train."""

    text_encoder: str = field(
        default=None,
        metadata={
            "help": "A transformers text-encoder folder or Hub id with its tokenizer (e.g. roberta-large, or "
            "local_models/all-mpnet-base-v2 from examples/prepare_text_encoder.py).",
            "required": True,
        },
    )
    num_trainable_layers: str = field(
        default="all",
        metadata={
            "help": "`all` fine-tunes every layer (the paper). An integer k trains only the top k layers: the states "
            "entering them are computed once and cached, so each epoch runs k layers. On 2 CPU cores, 4 of "
            "all-mpnet-base-v2's 12 layers train about 10x faster than all of them."
        },
    )
    classifier_dropout: float = field(default=0.1, metadata={"help": "Dropout before the linear head."})
    class_weighted_loss: bool = field(
        default=False, metadata={"help": "Weight the cross-entropy by inverse class frequency in the train split."}
    )
    context_window: int = field(default=1, metadata={"help": "Previous and next utterances encoded with each one."})
    include_speaker: bool = field(default=True, metadata={"help": 'Prefix each utterance with "Speaker: ".'})
    max_text_length: int = field(
        default=128,
        metadata={
            "help": "Tokens per encoded utterance, context included. The current utterance is kept whole; the "
            "contexts are trimmed. Capped at the encoder's own maximum (with a warning)."
        },
    )
    lower_layer_cache_dir: str | None = field(
        default=None,
        metadata={"help": "Where the cached lower-layer states go (default: <output_dir>/lower_layer_cache)."},
    )
    cache_dtype: Literal["float32", "float16", "bfloat16"] = field(
        default="float32",
        metadata={"help": "Storage type of the cache; float32 gives exactly the states a full forward pass computes."},
    )

    def __post_init__(self):
        if self.text_encoder is None:
            raise ValueError("--text_encoder is required.")
        if self.num_trainable_layers != "all" and not str(self.num_trainable_layers).isdigit():
            raise ValueError(f"--num_trainable_layers must be `all` or an integer, got {self.num_trainable_layers!r}.")
        if self.context_window < 0:
            raise ValueError(f"--context_window must be >= 0, got {self.context_window}.")
        if not 0 <= self.classifier_dropout < 1:
            raise ValueError(f"--classifier_dropout must be in [0, 1), got {self.classifier_dropout}.")

    @property
    def trainable_layers(self) -> int | None:
        return None if self.num_trainable_layers == "all" else int(self.num_trainable_layers)


@dataclass
class UtteranceDataArguments:
    """Dialogues in the builders' schema (`examples/build_dataset.py`), read as labelled utterances."""

    dataset_dir: str = field(
        default=None,
        metadata={"help": "A DatasetDict folder written by examples/build_dataset.py.", "required": True},
    )
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    validation_split: str = field(default="validation", metadata={"help": "Split for model selection."})
    test_split: str | None = field(default="test", metadata={"help": "Split scored at the end (when present)."})
    max_train_utterances: int | None = field(default=None, metadata={"help": "Use only the first N train utterances."})
    max_eval_utterances: int | None = field(default=None, metadata={"help": "Use only the first N eval utterances."})

    def __post_init__(self):
        if self.dataset_dir is None:
            raise ValueError("--dataset_dir is required.")


@dataclass
class TextTrainingArguments(TrainingLoopArguments):
    """The loop of stage 1 for text (defaults: fine-tuning a pretrained encoder)."""

    output_dir: str = field(default="outputs/text-encoder", metadata={"help": "Where the fine-tuned encoder goes."})
    num_train_epochs: int = field(default=6, metadata={"help": "Training epochs."})
    per_device_train_batch_size: int = field(default=16, metadata={"help": "Utterances per batch and process."})
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "Utterances per evaluation batch."})
    learning_rate: float = field(default=3e-5, metadata={"help": "AdamW learning rate of the encoder layers."})
    head_learning_rate: float = field(
        default=1e-3, metadata={"help": "Learning rate of the freshly initialised head."}
    )
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (not on biases and norms)."})
    group_by_length: bool = field(
        default=True,
        metadata={"help": "Batch utterances of similar length (random batches, little padding); pads to each batch."},
    )
    checkpointing_steps: str | None = field(
        default="epoch", metadata={"help": "Save the training state every N optimizer steps or at each `epoch` end."}
    )


# ----------------------------------------------------------------------------------------------------------------------
# Encoder, processor, data
# ----------------------------------------------------------------------------------------------------------------------


def load_text_encoder(name_or_path: str) -> tuple[nn.Module, Any]:
    """The encoder (`AutoModel`, no pooler) and its tokenizer, or an error naming the folder and what is missing."""
    folder = Path(name_or_path)
    if folder.exists() and not (folder / "config.json").is_file():
        raise ValueError(f"{name_or_path!r} is not a transformers model folder (no config.json).")
    try:
        config = AutoConfig.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise ValueError(f"{name_or_path!r} is not a transformers model: {error}") from error
    tokenizer = load_tokenizer(name_or_path)
    try:
        encoder = AutoModel.from_pretrained(name_or_path, config=config, add_pooling_layer=False, use_safetensors=True)
    except TypeError:  # encoders without a pooler do not take the argument
        encoder = AutoModel.from_pretrained(name_or_path, config=config, use_safetensors=True)
    except OSError as error:
        raise ValueError(f"Could not load the weights of {name_or_path!r} (safetensors only): {error}") from error
    return encoder, tokenizer


def encoder_max_length(encoder: nn.Module, tokenizer) -> int:
    """The longest input the encoder takes: its position table (minus RoBERTa-style offsets) and the tokenizer limit."""
    limits = [getattr(tokenizer, "model_max_length", None) or 10**9]
    positions = getattr(encoder.config, "max_position_embeddings", None)
    if positions:
        pad_offset = 2 if getattr(encoder.config, "pad_token_id", None) == 1 else 0  # RoBERTa, MPNet: from pad + 1
        limits.append(positions - pad_offset)
    return min(limits)


def make_text_processor(tokenizer, label_names: list[str], args: TextEncoderArguments, max_length: int):
    """An `M2FNetProcessor` for text only, with the context settings the full model's processor will use."""
    from modeling_m2fnet import M2FNetFeatureExtractor, M2FNetImageProcessor, M2FNetProcessor

    max_text_length = args.max_text_length
    if max_text_length > max_length:
        logger.warning(
            f"--max_text_length {max_text_length} exceeds what the encoder takes ({max_length} tokens): using "
            f"{max_length}. The current utterance is kept whole; the context utterances are trimmed."
        )
        max_text_length = max_length
    return M2FNetProcessor(
        tokenizer=tokenizer,
        feature_extractor=M2FNetFeatureExtractor(),
        image_processor=M2FNetImageProcessor(),
        label_names=label_names,
        modalities=["text"],
        context_window=args.context_window,
        include_speaker=args.include_speaker,
        max_text_length=max_text_length,
    )


@dataclass
class UtteranceSplit:
    """The labelled utterances of one split: token ids with context, labels, and where each came from."""

    token_ids: list[list[int]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    origins: list[tuple[str, int]] = field(default_factory=list)  # (dialogue_id, utterance position)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.token_ids]


def encode_split(split: datasets.Dataset, processor, limit: int | None = None) -> UtteranceSplit:
    """Every labelled utterance of `split`, encoded with its context by `processor` (unlabelled ones are skipped)."""
    encoded = UtteranceSplit()
    for row in split:
        batch = processor(conversations=[dialogue_to_conversation(row)], return_tensors="np")
        if "labels" not in batch:
            continue
        for position, (ids, mask, label) in enumerate(
            zip(batch["input_ids"][0], batch["attention_mask"][0], batch["labels"][0])
        ):
            if label < 0:
                continue
            encoded.token_ids.append(ids[mask.astype(bool)].tolist())
            encoded.labels.append(int(label))
            encoded.origins.append((str(row.get("dialogue_id")), position))
            if limit is not None and len(encoded) >= limit:
                return encoded
    return encoded


class UtteranceDataset(torch.utils.data.Dataset):
    """Indices into an `UtteranceSplit`; `collate` pads a batch of them (token ids, or cached lower-layer states)."""

    def __init__(self, split: UtteranceSplit, pad_token_id: int, cache: LowerLayerCache | None = None):
        self.split = split
        self.pad_token_id = pad_token_id
        self.cache = cache

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> int:
        return index

    def collate(self, indices: list[int]) -> dict[str, torch.Tensor]:
        labels = torch.tensor([self.split.labels[index] for index in indices])
        if self.cache is not None:
            states, mask = self.cache.batch(indices)
            return {"lower_states": states, "attention_mask": mask, "labels": labels}
        length = max(len(self.split.token_ids[index]) for index in indices)
        input_ids = torch.full((len(indices), length), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros(len(indices), length, dtype=torch.long)
        for row, index in enumerate(indices):
            ids = self.split.token_ids[index]
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


# ----------------------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------------------


class UtteranceClassifier(nn.Module):
    """
    A text encoder with a linear emotion head on the first token's last-layer state (the paper's utterance
    embedding). With `first_layer > 0`, `lower_states` `(batch, tokens, hidden)` are the cached inputs of that layer
    and only the layers from `first_layer` up run.
    """

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float, first_layer: int = 0, class_weights=None):
        super().__init__()
        self.encoder = encoder
        self.first_layer = first_layer
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)
        nn.init.normal_(self.classifier.weight, std=getattr(encoder.config, "initializer_range", 0.02))
        nn.init.zeros_(self.classifier.bias)
        self.register_buffer(
            "class_weights", None if class_weights is None else torch.tensor(class_weights), persistent=False
        )

    def forward(self, input_ids=None, attention_mask=None, lower_states=None, labels=None) -> SequenceClassifierOutput:
        """
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*)
            attention_mask (`torch.LongTensor` of shape `(batch_size, sequence_length)`)
            lower_states (`torch.FloatTensor` of shape `(batch_size, sequence_length, hidden_size)`, *optional*):
                Cached inputs of layer `first_layer` (instead of `input_ids`).
            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*)
        """
        if lower_states is not None:
            with upper_layers_only(self.encoder, self.first_layer):
                states = self.encoder(inputs_embeds=lower_states, attention_mask=attention_mask).last_hidden_state
        else:
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        logits = self.classifier(self.dropout(states[:, 0]))
        loss = None
        if labels is not None:
            weight = None if self.class_weights is None else self.class_weights.to(logits.dtype)
            loss = F.cross_entropy(logits, labels, weight=weight, ignore_index=-100)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def save_text_encoder(model: UtteranceClassifier, tokenizer, folder: Path, info: dict) -> None:
    """The encoder and tokenizer (`save_pretrained`), the head, and `m2fnet_text_encoder.json` describing its use."""
    model.encoder.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    head = {name: tensor.detach().cpu().contiguous() for name, tensor in model.classifier.state_dict().items()}
    save_file(head, str(folder / CLASSIFIER_HEAD_NAME))
    write_json(folder / TEXT_ENCODER_INFO_NAME, info)


def load_text_encoder_weights(model: UtteranceClassifier, folder: Path) -> None:
    """Loads the encoder and head weights `save_text_encoder` wrote in `folder` into `model`."""
    load_saved_weights(model.encoder, folder, allow_missing=("pooler",))
    model.classifier.load_state_dict(load_file(str(folder / CLASSIFIER_HEAD_NAME)))


# ----------------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------------


def _dataloader(dataset: UtteranceDataset, batch_size: int, seed: int, shuffle: bool, group_by_length: bool):
    lengths = dataset.split.lengths if (group_by_length or not shuffle) else [0] * len(dataset)
    sampler = LengthGroupedBatchSampler(lengths, batch_size, seed=seed, shuffle=shuffle)
    # The generator only seeds worker processes: creating an iterator then draws nothing from the global RNG, whose
    # state (dropout) a resumed run must replay exactly.
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=dataset.collate, generator=generator)


def _encoder_info(model_args: TextEncoderArguments, processor, label_names, base_model, results=None) -> dict:
    return {
        "text_pooling": "cls",
        "context_window": processor.context_window,
        "include_speaker": processor.include_speaker,
        "max_text_length": processor.max_text_length,
        "label_names": label_names,
        "num_trainable_layers": model_args.num_trainable_layers,
        "base_model": base_model,
        "validation": results,
    }


def base_model_id(name_or_path: str) -> str | None:
    """The Hub id a text encoder came from: its own `m2fnet_text_encoder.json` record, or the id it was loaded by."""
    info = Path(name_or_path) / TEXT_ENCODER_INFO_NAME
    if info.is_file():
        return json.loads(info.read_text(encoding="utf-8")).get("base_model")
    return None if Path(name_or_path).exists() else name_or_path


def _encode_splits(raw, processor, data_args: UtteranceDataArguments) -> dict[str, UtteranceSplit]:
    for name in (data_args.train_split, data_args.validation_split):
        if name not in raw:
            raise ValueError(f"{data_args.dataset_dir} has no {name!r} split (it has {list(raw)}).")
    names = [data_args.train_split, data_args.validation_split, data_args.test_split]
    limits = {data_args.train_split: data_args.max_train_utterances}
    splits = {
        name: encode_split(raw[name], processor, limits.get(name, data_args.max_eval_utterances))
        for name in names
        if name is not None and name in raw
    }
    splits = {name: split for name, split in splits.items() if len(split) > 0}
    logger.info(f"Labelled utterances: { ({name: len(split) for name, split in splits.items()}) }")
    return splits


@dataclass
class _TextRun:
    accelerator: Any
    model: UtteranceClassifier
    tokenizer: Any
    processor: Any
    label_names: list[str]
    splits: dict
    frozen: list
    base_model: str | None


def _build_text_run(model_args, data_args, training_args) -> tuple[_TextRun, dict]:
    """The encoder, its processor, the encoded splits, the lower-layer cache, the model and the dataloaders."""
    accelerator = set_up_run(training_args)
    output_dir = Path(training_args.output_dir)
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(output_dir)
    encoder, tokenizer = load_text_encoder(model_args.text_encoder)
    raw = datasets.load_from_disk(data_args.dataset_dir)
    label_names = dialogue_label_names(raw)
    processor = make_text_processor(tokenizer, label_names, model_args, encoder_max_length(encoder, tokenizer))
    splits = _encode_splits(raw, processor, data_args)
    first_layer = first_trained_layer(encoder, model_args.trainable_layers)
    frozen = freeze_lower_layers(encoder, first_layer)
    caches = {}
    if first_layer > 0:
        cache_root = Path(model_args.lower_layer_cache_dir or output_dir / "lower_layer_cache")
        token_ids = {name: split.token_ids for name, split in splits.items()}
        dtype = CACHE_DTYPES[model_args.cache_dtype]
        with accelerator.main_process_first():  # the main process computes, the others read the files
            caches = build_lower_layer_cache(encoder, tokenizer, token_ids, first_layer, cache_root, dtype=dtype)
    class_weights = None
    if model_args.class_weighted_loss:
        class_weights = inverse_frequency_weights(splits[data_args.train_split].labels, len(label_names))
        logger.info(f"Class weights: {dict(zip(label_names, class_weights))}")
    model = UtteranceClassifier(encoder, len(label_names), model_args.classifier_dropout, first_layer, class_weights)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    data = {name: UtteranceDataset(split, pad_id, caches.get(name)) for name, split in splits.items()}
    dataloaders = {
        name: _dataloader(dataset, training_args.per_device_eval_batch_size, 0, False, True)
        for name, dataset in data.items()
        if name != data_args.train_split
    }
    dataloaders[data_args.train_split] = _dataloader(
        data[data_args.train_split],
        training_args.per_device_train_batch_size,
        training_args.seed,
        True,
        training_args.group_by_length,
    )
    run = _TextRun(
        accelerator, model, tokenizer, processor, label_names, splits, frozen, base_model_id(model_args.text_encoder)
    )
    return run, dataloaders


def train_text_encoder(
    model_args: TextEncoderArguments, data_args: UtteranceDataArguments, training_args: TextTrainingArguments
) -> dict[str, Any]:
    """Runs stage 1 for text end to end; returns the report also written to `<output_dir>/results.json`."""
    start_time = time.time()
    run, dataloaders = _build_text_run(model_args, data_args, training_args)
    accelerator, output_dir = run.accelerator, Path(training_args.output_dir)
    train_dataloader = dataloaders.pop(data_args.train_split)
    prepared = prepare_training(
        accelerator,
        run.model,
        train_dataloader,
        dataloaders,
        training_args,
        training_args.head_learning_rate,
        {"encoder.": training_args.learning_rate},
    )
    model, metric, best_dir = prepared.model, load_metric(accelerator), output_dir / BEST_MODEL_DIRNAME
    unwrapped = accelerator.unwrap_model(model)

    def set_train_mode():
        model.train()
        for module in run.frozen:  # the frozen layers computed the cache in eval mode: keep them that way
            module.eval()

    def evaluate():
        dataloader = prepared.eval_dataloaders[data_args.validation_split]
        return evaluate_model(model, dataloader, accelerator, metric, run.label_names)

    def save(folder: Path, results: dict | None = None) -> None:
        info = _encoder_info(model_args, run.processor, run.label_names, run.base_model, results)
        save_text_encoder(unwrapped, run.tokenizer, folder, info)

    num_trainable = sum(parameter.numel() for parameter in unwrapped.parameters() if parameter.requires_grad)
    logger.info(
        f"Fine-tuning {model_args.text_encoder}: layers {run.model.first_layer} and up, {num_trainable:,} trainable "
        f"parameters; {prepared.settings.num_train_epochs} epochs, {prepared.settings.max_train_steps} steps"
    )
    loop_start, steps_before = time.time(), prepared.state.completed_steps

    def save_best(info):
        save_model_atomically(accelerator, save, best_dir, info)

    state = run_training_loop(accelerator, prepared, evaluate, save_best, set_train_mode)
    loop_seconds = time.time() - loop_start
    best = restore_best_model(lambda folder: load_text_encoder_weights(unwrapped, folder), best_dir, state)
    final = {
        name: evaluate_model(model, dataloader, accelerator, metric, run.label_names)
        for name, dataloader in prepared.eval_dataloaders.items()
    }
    validation = final.get(data_args.validation_split)
    save_model_atomically(accelerator, lambda folder: save(folder, validation), output_dir, into_existing=True)
    trained = (state.completed_steps - steps_before) * training_args.per_device_train_batch_size
    trained *= accelerator.num_processes * training_args.gradient_accumulation_steps
    report = {
        "stage": "text",
        "text_encoder": model_args.text_encoder,
        "base_model": run.base_model,
        "data": {
            "source": "dialogues",
            "dataset": data_args.dataset_dir,
            "synthetic": False,
            "label_names": run.label_names,
        },
        "num_utterances": {name: len(split) for name, split in run.splits.items()},
        "best": best,
        **final,
        "history": state.history,
        "num_parameters": {"trainable": num_trainable, "total": sum(p.numel() for p in unwrapped.parameters())},
        "args": {"model": asdict(model_args), "data": asdict(data_args), "training": asdict(training_args)},
        "wall_time_seconds": round(time.time() - start_time, 2),
        "training_loop_seconds": round(loop_seconds, 2),
        "train_utterances_per_second": round(trained / max(loop_seconds, 1e-9), 2),
        "machine": machine_info(accelerator),
    }
    if accelerator.is_main_process:
        shutil.rmtree(best_dir, ignore_errors=True)
        write_json(output_dir / RESULTS_NAME, report)
        if training_args.save_plots:
            plot_history(state.history, output_dir, best_epoch=(state.best or {}).get("epoch"))
        logger.info(f"Fine-tuned text encoder saved to {output_dir}\n\n" + format_metrics_table(final))
    accelerator.wait_for_everyone()
    return report


__all__ = [
    "TextEncoderArguments",
    "TextTrainingArguments",
    "UtteranceClassifier",
    "UtteranceDataArguments",
    "encode_split",
    "load_text_encoder",
    "train_text_encoder",
]
