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
"""Stage 1 for audio and visual: trains the audio or visual feature extractor with the triplet objective (paper Sec. 3.3).

The extractor (ResNet-18 + linear projector) learns from utterance clips labelled with their emotion:
`loss = 20 * L_AMT + 5 * L_Cov + 1 * L_Var` (adaptive-margin triplet, covariance and variance losses over the triplets
of each batch, computed by the model's forward when given `labels`). Every batch is drawn by a label-aware sampler
(`--classes_per_batch` classes x `--samples_per_class` clips), so it always holds positives and negatives.

```bash
# audio: log-mel spectrograms of each utterance (MELD: the clips' audio tracks), 60 epochs as in the paper
accelerate launch examples/train_extractor.py --modality audio --dataset_dir out/meld-raw
# visual: scene frames and faces of each clip (a built dataset with video, or your conversations CSV with paths)
python examples/train_extractor.py --modality visual --data_files train=train.csv validation=dev.csv
```

Inputs: a DatasetDict folder (`save_to_disk`) in the builders' schema with media (`meld` `raw` config, IEMOCAP,
`conversations` with audio/video columns) or conversation CSV/JSONL files (`--data_files split=path`, read with
`datasets_scripts.conversations.ConversationsBuilder`). Outputs in `--output_dir`: the extractor (`save_pretrained`,
loadable with `AutoModel.from_pretrained(dir, trust_remote_code=True)`) with its feature extractor / image processor,
`results.json` (loss history, validation 1-nearest-neighbour accuracy per epoch, arguments, wall time, machine) and
`extractor_loss.png`.
"""

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import datasets
import numpy as np
import torch
import torch.nn.functional as F
import transformers
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from modeling_m2fnet import (
    M2FNetAudioConfig,
    M2FNetAudioExtractor,
    M2FNetFeatureExtractor,
    M2FNetImageProcessor,
    M2FNetVisualConfig,
    M2FNetVisualExtractor,
    MediaDecodingError,
    load_audio,
    register_auto_classes,
)

from .arguments import parse_config_overrides
from .evaluation import machine_info
from .io_utils import write_json


RESULTS_NAME = "results.json"
logger = logging.getLogger(__name__)

# The paper trains the audio extractor for 60 epochs and the visual one for 100 (Sec. 3.3; the visual one on faces).
PAPER_EPOCHS = {"audio": 60, "visual": 100}
EXTRACTOR_CLASSES = {
    "audio": (M2FNetAudioConfig, M2FNetAudioExtractor),
    "visual": (M2FNetVisualConfig, M2FNetVisualExtractor),
}


@dataclass
class ExtractorModelArguments:
    """Which extractor to train."""

    modality: Literal["audio", "visual"] = field(default="audio", metadata={"help": "The extractor to train."})
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "A saved extractor to continue from; a new one (ResNet-18 + 300-d projector) when omitted."},
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Overrides of a new extractor's config: a JSON object, or comma-separated `key=value` items "
            '(e.g. `projection_dim=128`, or \'{"encoder_config": {"model_type": "resnet", "depths": [1, 1], '
            '"hidden_sizes": [8, 16], "embedding_size": 8, "layer_type": "basic"}}\' for a tiny one).'
        },
    )


@dataclass
class ExtractorDataArguments:
    """Where the clips come from, and how they are turned into model inputs."""

    dataset_dir: str | None = field(
        default=None, metadata={"help": "A DatasetDict folder (`save_to_disk`) in the builders' schema, with media."}
    )
    data_files: list[str] | None = field(
        default=None,
        metadata={"help": "Conversation CSV/JSONL files with audio/video paths, as `split=path` items."},
    )
    cache_dir: str | None = field(default=None, metadata={"help": "`datasets` cache for --data_files."})
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    validation_split: str | None = field(
        default="validation", metadata={"help": "Split for the per-epoch 1-NN accuracy (skipped when absent)."}
    )
    max_train_clips: int | None = field(default=None, metadata={"help": "Use only the first N training clips."})
    max_eval_clips: int | None = field(default=None, metadata={"help": "Use only the first N validation clips."})
    feature_size: int = field(default=128, metadata={"help": "Audio: mel filters (paper: 128)."})
    max_duration: float = field(default=10.0, metadata={"help": "Audio: clips are cut to this many seconds."})
    augment: bool = field(
        default=True, metadata={"help": "Audio: time warping + white noise on training clips (paper)."}
    )
    num_frames: int = field(default=15, metadata={"help": "Visual: frames sampled per clip (paper: 15)."})
    image_size: int = field(default=224, metadata={"help": "Visual: side of the scene frames."})
    face_size: int = field(default=112, metadata={"help": "Visual: side of the face crops."})
    max_faces: int = field(default=3, metadata={"help": "Visual: faces kept per frame."})
    dataloader_num_workers: int = field(default=0, metadata={"help": "DataLoader workers (media decoding)."})

    def __post_init__(self):
        if bool(self.dataset_dir) == bool(self.data_files):
            raise ValueError("Pass exactly one of --dataset_dir and --data_files.")
        if self.data_files:
            bad = [item for item in self.data_files if "=" not in item]
            if bad:
                raise ValueError(f"--data_files items must look like split=path, got {bad}.")


@dataclass
class ExtractorTrainingArguments:
    """The training loop (defaults: the paper's, Sec. 3.3)."""

    output_dir: str = field(default="outputs/m2fnet-extractor", metadata={"help": "Where the extractor is saved."})
    seed: int = field(default=42, metadata={"help": "Seed of initialisation, batch sampling and augmentation."})
    num_train_epochs: int | None = field(
        default=None, metadata={"help": "Epochs; defaults to the paper's 60 (audio) or 100 (visual)."}
    )
    max_train_steps: int | None = field(default=None, metadata={"help": "Total steps; overrides the epochs."})
    classes_per_batch: int = field(default=4, metadata={"help": "Emotion classes in every batch (>= 2)."})
    samples_per_class: int = field(default=4, metadata={"help": "Clips per class in every batch (>= 2)."})
    per_device_eval_batch_size: int = field(default=16, metadata={"help": "Clips per evaluation batch."})
    learning_rate: float = field(default=1e-4, metadata={"help": "Adam learning rate (paper)."})
    weight_decay: float = field(
        default=1e-6, metadata={"help": "Adam weight decay (the paper's decay 1e-6, read as weight decay)."}
    )
    max_grad_norm: float = field(default=0.0, metadata={"help": "Gradient clipping norm (0: no clipping)."})
    mixed_precision: Literal["no", "fp16", "bf16"] | None = field(
        default=None, metadata={"help": "Mixed precision; defaults to the `accelerate launch` / config setting."}
    )
    logging_steps: int = field(default=10, metadata={"help": "Log the loss every N steps."})
    save_plots: bool = field(default=True, metadata={"help": "Write the loss plot."})

    def __post_init__(self):
        if self.classes_per_batch < 2 or self.samples_per_class < 2:
            raise ValueError(
                "--classes_per_batch and --samples_per_class must be >= 2 (a triplet needs a positive and a "
                f"negative), got {self.classes_per_batch} and {self.samples_per_class}."
            )
        for name in ("num_train_epochs", "max_train_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")


# ----------------------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------------------


def load_dialogues(data_args: ExtractorDataArguments) -> datasets.DatasetDict:
    if data_args.dataset_dir:
        return datasets.load_from_disk(data_args.dataset_dir)
    from datasets_scripts.conversations import ConversationsBuilder

    data_files = dict(item.split("=", 1) for item in data_args.data_files)
    builder = ConversationsBuilder(data_files=data_files, cache_dir=data_args.cache_dir)
    builder.download_and_prepare()
    return builder.as_dataset()


def collect_clips(split: datasets.Dataset, modality: str, limit: int | None) -> list[dict]:
    """
    The labelled utterances of `split` that have media for `modality`, as `{"source", "start_time", "end_time",
    "label"}`. Audio comes from the utterance's `audio`, else from its video's audio track (MELD); video from the
    utterance's `video`, else from the dialogue's `video` cut at the utterance's times (IEMOCAP).
    """
    clips = []
    for row in split:
        for utterance in row["utterances"]:
            label = utterance.get("emotion")
            if label is None or label < 0:
                continue
            own_video = utterance.get("video") if utterance.get("has_video", True) else None
            source, start, end = None, None, None
            if modality == "audio" and utterance.get("audio") and utterance.get("has_audio", True):
                source = utterance["audio"]
            elif own_video:
                source = own_video
            elif row.get("video") and utterance.get("has_video", True):
                source, start, end = row["video"], utterance.get("start_time"), utterance.get("end_time")
            if source:
                clips.append({"source": source, "start_time": start, "end_time": end, "label": int(label)})
            if limit is not None and len(clips) >= limit:
                return clips
    return clips


class LabelAwareBatchSampler(Sampler[list[int]]):
    """
    Yields batches of `classes_per_batch` classes x `samples_per_class` clips, so that every batch has positives
    (same class) and negatives (other classes) for the triplet loss. Classes are drawn uniformly (rare emotions are
    seen as often as frequent ones); each class's clips are used in a shuffled cycle. Only classes with 2 or more
    clips take part. Deterministic given `seed` and the epoch.

    Args:
        labels (`list[int]`): the class of every clip.
        classes_per_batch (`int`): classes per batch (capped at the number of eligible classes).
        samples_per_class (`int`): clips per class and batch (capped at the class's size).
        seed (`int`): seed of the draws.
        num_batches (`int`, *optional*): batches per epoch; defaults to the eligible clips divided by the batch size.
    """

    def __init__(self, labels, classes_per_batch: int, samples_per_class: int, seed: int, num_batches=None):
        self.by_class = {}
        for index, label in enumerate(labels):
            self.by_class.setdefault(int(label), []).append(index)
        self.by_class = {label: indices for label, indices in sorted(self.by_class.items()) if len(indices) >= 2}
        if len(self.by_class) < 2:
            raise ValueError(
                "The triplet objective needs at least 2 classes with 2 or more clips each; got class sizes "
                f"{ {label: labels.count(label) for label in set(labels)} }."
            )
        self.classes_per_batch = min(classes_per_batch, len(self.by_class))
        self.samples_per_class = samples_per_class
        self.batch_size = self.classes_per_batch * samples_per_class  # what Accelerate's sharding reads
        self.drop_last = False
        eligible = sum(len(indices) for indices in self.by_class.values())
        self.num_batches = num_batches or max(1, eligible // self.batch_size)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        classes = list(self.by_class)
        queues = {label: [] for label in classes}
        for _ in range(self.num_batches):
            batch = []
            for label in rng.choice(classes, size=self.classes_per_batch, replace=False):
                pool = self.by_class[label]
                take = min(self.samples_per_class, len(pool))
                if len(queues[label]) < take:  # start a new shuffled cycle through the class's clips
                    queues[label] = queues[label] + [
                        i for i in rng.permutation(pool).tolist() if i not in queues[label]
                    ]
                batch += queues[label][:take]
                queues[label] = queues[label][take:]
            yield batch

    def __len__(self) -> int:
        return self.num_batches


@dataclass
class ClipCollator:
    """Decodes the clips of a batch and turns them into extractor inputs (clips that fail to decode are dropped)."""

    modality: str
    preprocessor: object
    augment: bool = False

    def _load(self, clip: dict):
        if self.modality == "audio":
            return load_audio(
                clip["source"],
                self.preprocessor.sampling_rate,
                start_time=clip["start_time"],
                end_time=clip["end_time"],
            )
        source = clip["source"]
        source = dict(source) if isinstance(source, dict) else {"path": str(source), "bytes": None}
        if clip["start_time"] is not None:
            source.update(start_time=clip["start_time"], end_time=clip["end_time"])
        return source

    def __call__(self, clips: list[dict]) -> dict[str, torch.Tensor]:
        inputs, labels = [], []
        for clip in clips:
            try:
                inputs.append(self._load(clip))
            except (MediaDecodingError, FileNotFoundError) as error:
                logger.warning(f"Skipping a clip that cannot be read ({error}).", main_process_only=False)
                continue
            labels.append(clip["label"])
        if not inputs:
            raise ValueError("No clip of this batch could be decoded; check the media paths.")
        if self.modality == "audio":
            features = self.preprocessor(
                inputs,
                sampling_rate=self.preprocessor.sampling_rate,
                return_tensors="pt",
                return_attention_mask=True,
                do_augment=self.augment,
                # Augmentation draws from torch's seeded RNG (per worker), so runs are reproducible.
                generator=int(torch.randint(0, 2**31 - 1, ()).item()) if self.augment else None,
            )
            batch = {"input_features": features["input_features"], "attention_mask": features["attention_mask"]}
        else:
            processed = self.preprocessor(inputs, return_tensors="pt")
            batch = {key: processed[key] for key in ("pixel_values", "face_pixel_values", "face_weights")}
        batch["labels"] = torch.tensor(labels, dtype=torch.long)
        return batch


# ----------------------------------------------------------------------------------------------------------------------
# Model and evaluation
# ----------------------------------------------------------------------------------------------------------------------


def build_extractor(model_args: ExtractorModelArguments):
    config_class, model_class = EXTRACTOR_CLASSES[model_args.modality]
    overrides = parse_config_overrides(model_args.config_overrides)
    if model_args.model_name_or_path is not None:
        return model_class.from_pretrained(model_args.model_name_or_path, use_safetensors=True, **overrides)
    return model_class(config_class(**overrides))


def build_preprocessor(model_args, data_args: ExtractorDataArguments):
    if model_args.model_name_or_path is not None:
        preprocessor_class = M2FNetFeatureExtractor if model_args.modality == "audio" else M2FNetImageProcessor
        try:
            return preprocessor_class.from_pretrained(model_args.model_name_or_path)
        except OSError:
            pass
    if model_args.modality == "audio":
        return M2FNetFeatureExtractor(feature_size=data_args.feature_size, max_duration=data_args.max_duration)
    return M2FNetImageProcessor(
        num_frames=data_args.num_frames,
        size=data_args.image_size,
        face_size=data_args.face_size,
        max_faces=data_args.max_faces,
    )


@torch.no_grad()
def nearest_neighbour_accuracy(model, dataloader, accelerator: Accelerator) -> float | None:
    """Leave-one-out 1-nearest-neighbour accuracy (cosine) of the embeddings: how well classes cluster."""
    model.eval()
    embeddings, labels = [], []
    for batch in dataloader:
        batch_labels = batch.pop("labels")
        outputs = model(**batch)
        gathered_embeddings, gathered_labels = accelerator.gather_for_metrics((outputs.embeddings, batch_labels))
        embeddings.append(gathered_embeddings.float().cpu())
        labels.append(gathered_labels.cpu())
    embeddings, labels = F.normalize(torch.cat(embeddings), dim=-1), torch.cat(labels)
    if len(labels) < 2:
        return None
    similarity = embeddings @ embeddings.T
    similarity.fill_diagonal_(-float("inf"))
    return float((labels[similarity.argmax(dim=1)] == labels).float().mean())


def plot_losses(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    steps = [entry["step"] for entry in history]
    for key in ("loss", "triplet_loss", "covariance_loss", "variance_loss"):
        axes.plot(steps, [entry[key] for entry in history], label=key)
    axes.set_xlabel("step")
    axes.set_yscale("log")
    axes.set_title("Extractor training (20 L_AMT + 5 L_Cov + 1 L_Var)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# ----------------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------------


def _accelerator(training_args) -> Accelerator:
    """The run's Accelerator, with INFO logs on the main process only, quiet progress bars and the seed set."""
    accelerator_kwargs = {}
    if training_args.mixed_precision is not None:
        accelerator_kwargs["mixed_precision"] = training_args.mixed_precision
    accelerator = Accelerator(**accelerator_kwargs)
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    if not accelerator.is_local_main_process:
        datasets.utils.logging.set_verbosity_error()
        transformers.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    set_seed(training_args.seed)
    return accelerator


def _clip_dataloaders(accelerator, model_args, data_args, training_args):
    """Dataloaders over the labelled utterances that have the modality's media: label-aware batches for training."""
    with accelerator.main_process_first():
        dialogues = load_dialogues(data_args)
    if data_args.train_split not in dialogues:
        raise ValueError(f"The data has no {data_args.train_split!r} split (splits: {list(dialogues)}).")
    train_clips = collect_clips(dialogues[data_args.train_split], model_args.modality, data_args.max_train_clips)
    eval_clips = []
    if data_args.validation_split in dialogues:
        eval_clips = collect_clips(
            dialogues[data_args.validation_split], model_args.modality, data_args.max_eval_clips
        )
    if not train_clips:
        raise ValueError(f"The {data_args.train_split!r} split has no labelled utterance with {model_args.modality}.")
    label_names = dialogues[data_args.train_split].features["utterances"].feature["emotion"].names
    logger.info(f"{len(train_clips)} training and {len(eval_clips)} validation clips ({model_args.modality})")
    preprocessor = build_preprocessor(model_args, data_args)
    batch_sampler = LabelAwareBatchSampler(
        [clip["label"] for clip in train_clips],
        training_args.classes_per_batch,
        training_args.samples_per_class,
        seed=training_args.seed,
    )
    train_dataloader = DataLoader(
        train_clips,
        batch_sampler=batch_sampler,
        collate_fn=ClipCollator(model_args.modality, preprocessor, augment=data_args.augment),
        num_workers=data_args.dataloader_num_workers,
    )
    eval_dataloader = None
    if eval_clips:
        eval_dataloader = DataLoader(
            eval_clips,
            batch_size=training_args.per_device_eval_batch_size,
            collate_fn=ClipCollator(model_args.modality, preprocessor),
            num_workers=data_args.dataloader_num_workers,
        )
    return train_dataloader, eval_dataloader, label_names, {"train": len(train_clips), "validation": len(eval_clips)}


def train_extractor(
    model_args: ExtractorModelArguments, data_args: ExtractorDataArguments, training_args: ExtractorTrainingArguments
) -> dict:
    """Trains the audio or visual extractor with the triplet objective; returns the report written to results.json."""
    start_time = time.time()
    output_dir = Path(training_args.output_dir)
    accelerator = _accelerator(training_args)
    train_dataloader, eval_dataloader, label_names, counts = _clip_dataloaders(
        accelerator, model_args, data_args, training_args
    )
    model = build_extractor(model_args)
    preprocessor = train_dataloader.collate_fn.preprocessor
    batch_sampler = train_dataloader.batch_sampler

    # Adam with the paper's learning rate and weight decay.
    optimizer = torch.optim.Adam(
        model.parameters(), lr=training_args.learning_rate, weight_decay=training_args.weight_decay
    )
    model, optimizer, train_dataloader = accelerator.prepare(model, optimizer, train_dataloader)
    if eval_dataloader is not None:
        eval_dataloader = accelerator.prepare(eval_dataloader)
    num_epochs = training_args.num_train_epochs or PAPER_EPOCHS[model_args.modality]
    max_train_steps = training_args.max_train_steps or num_epochs * len(train_dataloader)
    num_epochs = math.ceil(max_train_steps / len(train_dataloader))
    logger.info(
        f"***** Training the {model_args.modality} extractor: {num_epochs} epochs, {max_train_steps} steps, "
        f"{batch_sampler.classes_per_batch} classes x {batch_sampler.samples_per_class} clips per batch *****"
    )

    history, validation, step = [], [], 0
    progress_bar = tqdm(range(max_train_steps), disable=not accelerator.is_local_main_process)
    for epoch in range(num_epochs):
        model.train()
        train_dataloader.set_epoch(epoch)
        batch_sampler.set_epoch(epoch)  # the sampler is reached through Accelerate's sharding wrapper too
        for batch in train_dataloader:
            outputs = model(**batch)
            accelerator.backward(outputs.loss)
            if training_args.max_grad_norm > 0:
                accelerator.clip_grad_norm_(model.parameters(), training_args.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            losses = torch.stack([outputs.loss, outputs.triplet_loss, outputs.covariance_loss, outputs.variance_loss])
            losses = accelerator.reduce(losses.detach().float(), reduction="mean").tolist()
            entry = dict(zip(("loss", "triplet_loss", "covariance_loss", "variance_loss"), losses))
            entry.update(step=step, epoch=epoch, num_triplets=int(outputs.num_triplets))
            history.append(entry)
            progress_bar.update(1)
            progress_bar.set_postfix(loss=f"{entry['loss']:.4f}", triplets=entry["num_triplets"])
            if step % training_args.logging_steps == 0:
                logger.info(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in entry.items() if "loss" in k))
            if step >= max_train_steps:
                break
        if eval_dataloader is not None:
            accuracy = nearest_neighbour_accuracy(model, eval_dataloader, accelerator)
            validation.append({"epoch": epoch + 1, "step": step, "nearest_neighbour_accuracy": accuracy})
            logger.info(f"epoch {epoch + 1}: validation 1-NN accuracy {accuracy}")
        if step >= max_train_steps:
            break
    progress_bar.close()

    # Save: the extractor (with an `auto_map` and its code) and the preprocessor that makes its inputs.
    register_auto_classes()
    accelerator.wait_for_everyone()
    accelerator.unwrap_model(model).save_pretrained(
        output_dir, is_main_process=accelerator.is_main_process, save_function=accelerator.save
    )
    report = {
        "modality": model_args.modality,
        "label_names": list(label_names),
        "num_clips": counts,
        "final_loss": history[-1] if history else None,
        "validation": validation,
        "history": history,
        "config": accelerator.unwrap_model(model).config.to_dict(),
        "args": {"model": asdict(model_args), "data": asdict(data_args), "training": asdict(training_args)},
        "wall_time_seconds": round(time.time() - start_time, 2),
        "machine": machine_info(accelerator),
    }
    if accelerator.is_main_process:
        preprocessor.save_pretrained(output_dir)
        write_json(output_dir / RESULTS_NAME, report)
        if training_args.save_plots and history:
            plot_losses(history, output_dir / "extractor_loss.png")
        logger.info(f"Saved the {model_args.modality} extractor to {output_dir} ({report['wall_time_seconds']:.1f} s)")
    accelerator.wait_for_everyone()
    return report
