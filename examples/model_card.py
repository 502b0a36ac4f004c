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
"""Model card (the Hub `README.md`) of a saved M2FNet checkpoint, built from its `config.json` and `results.json`.

    python examples/model_card.py MODEL_DIR [--repo_id org/m2fnet-meld] [--output README.md]

prints (or writes) the card that `examples/push_to_hub.py` uploads. `build_model_card(model_dir)` returns it as a
`huggingface_hub.ModelCard`. It reads only JSON and the safetensors headers: neither torch nor transformers is
imported.

`results.json` (written by the training script next to the model; every key is optional):

```json
{
  "dataset": "meld",                  # a Hub dataset id ("my-org/meld") or "meld" / "iemocap" / any name
  "dataset_name": "MELD",             # pretty name (default: known names, else `dataset`)
  "dataset_config": "text",
  "dataset_revision": "<sha>",
  "test": {"weighted_f1": 0.6671, "accuracy": 0.6785, "macro_f1": 0.49, "num_examples": 2610},
  "validation": {"weighted_f1": 0.61, "accuracy": 0.63},
  "training": {"num_train_epochs": 20, "learning_rate": 0.0005, "seed": 42}
}
```

Metrics are fractions in [0, 1] as the `erc_f1` metric returns them (values above 1 are read as percentages). Flat
keys (`"test_weighted_f1"`, `"eval_accuracy"`, ...) and a split-keyed dict under `"metrics"` or `"results"` are read
too.
"""

import argparse
import json
import math
import struct
import sys
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData


RESULTS_FILE = "results.json"
TASK_NAME = "Emotion Recognition in Conversation"
PAPER_URL = "https://arxiv.org/abs/2206.02187"
PAPER_BIBTEX = """@inproceedings{chudasama2022m2fnet,
  title     = {M2FNet: Multi-modal Fusion Network for Emotion Recognition in Conversation},
  author    = {Chudasama, Vishal and Kar, Purbayan and Gudmalwar, Ashish and Shah, Nirmesh and Wasnik, Pankaj and Onoe, Naoyuki},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR) Workshops},
  pages     = {4652--4661},
  year      = {2022}
}"""
# What the card says about the datasets the paper uses, and its tri-modal test results (accuracy, weighted F1).
KNOWN_DATASETS = {
    "meld": {
        "name": "MELD",
        "description": "MELD (Poria et al., 2019): multi-party English conversations from the TV series *Friends*, "
        "with text, audio and video for every utterance (licence GPL-3.0)",
        "paper": (67.85, 66.71),
    },
    "iemocap": {
        "name": "IEMOCAP",
        "description": "IEMOCAP (Busso et al., 2008): dyadic English conversations acted by 10 actors in 5 sessions, "
        "with text, audio and video (licence from USC SAIL required)",
        "paper": (69.69, 69.86),
    },
}
SPLIT_ALIASES = {"test": "test", "validation": "validation", "eval": "validation", "val": "validation",
                 "dev": "validation", "train": "train"}  # fmt: skip
# metric key in results.json -> (model-index `type`, `config`, pretty name)
METRICS = {
    "weighted_f1": ("f1", "weighted", "Weighted F1"),
    "f1_weighted": ("f1", "weighted", "Weighted F1"),
    "accuracy": ("accuracy", None, "Accuracy"),
    "macro_f1": ("f1", "macro", "Macro F1"),
    "f1_macro": ("f1", "macro", "Macro F1"),
}
MODALITY_INPUTS = {"text": "transcript", "audio": "speech audio", "visual": "video frames (whole scene and faces)"}


class ModelCardError(ValueError):
    """The checkpoint folder cannot be described (unreadable `config.json` or `results.json`)."""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelCardError(f"{path} is not a readable JSON file: {error}") from error
    if not isinstance(data, dict):
        raise ModelCardError(f"{path} must hold a JSON object, got {type(data).__name__}")
    return data


def _as_fraction(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return round(value / 100 if value > 1 else float(value), 4)


def read_eval_results(results: dict) -> dict[str, dict[str, float]]:
    """
    The metrics of `results.json`, normalised to `{split: {metric: fraction}}` with splits `test` / `validation` /
    `train` and metrics `weighted_f1` / `accuracy` / `macro_f1`.
    """
    found: dict[str, dict[str, float]] = {}

    def add(split: str, metric: str, value) -> None:
        split, metric = SPLIT_ALIASES.get(split.lower()), metric.lower()
        fraction = _as_fraction(value)
        if split is not None and metric in METRICS and fraction is not None:
            canonical = {"f1_weighted": "weighted_f1", "f1_macro": "macro_f1"}.get(metric, metric)
            found.setdefault(split, {})[canonical] = fraction

    containers = [results] + [results[key] for key in ("metrics", "results") if isinstance(results.get(key), dict)]
    for container in containers:
        for key, value in container.items():
            if isinstance(value, dict) and key.lower() in SPLIT_ALIASES:
                for metric, metric_value in value.items():
                    add(key, metric, metric_value)
            elif "_" in key:
                split, _, metric = key.partition("_")
                add(split, metric, value)
        if isinstance(container.get("split"), str):
            for metric, value in container.items():
                add(container["split"], metric, value)
    return {split: found[split] for split in ("test", "validation", "train") if split in found}


def count_parameters(model_dir: Path) -> int | None:
    """Number of parameters in the folder's safetensors files, read from their headers (no tensor is loaded)."""
    total, files = 0, sorted(Path(model_dir).glob("*.safetensors"))
    for path in files:
        try:
            with open(path, "rb") as file:
                (header_size,) = struct.unpack("<Q", file.read(8))
                header = json.loads(file.read(header_size))
        except (OSError, struct.error, ValueError):
            return None
        for name, info in header.items():
            if name != "__metadata__":
                total += math.prod(info.get("shape", []))
    return total if files else None


def _pipeline_tag(modalities: list[str]) -> str:
    # The Hub has no task for utterance-level multimodal ERC: name the richest input the checkpoint reads.
    if "visual" in modalities:
        return "video-classification"
    if "audio" in modalities and "text" not in modalities:
        return "audio-classification"
    return "text-classification"


def _usage_snippet(repo_id: str, revision: str, modalities: list[str]) -> str:
    def utterance(speaker: str, text: str, audio: str | None, video: str | None, comment: str = "") -> str:
        fields = [f'"speaker": "{speaker}"', f'"text": "{text}"']
        if "audio" in modalities and audio:
            fields.append(f'"audio": "{audio}"')
        if "visual" in modalities and video:
            fields.append(f'"video": "{video}"')
        return "    {" + ", ".join(fields) + "}," + comment

    audio_note = "  # audio taken from the mp4" if "audio" in modalities and "visual" in modalities else ""
    lines = [
        "from transformers import AutoModel, AutoProcessor",
        "",
        f'repo_id, revision = "{repo_id}", "{revision}"  # pin a commit sha to fix the code you execute',
        "model = AutoModel.from_pretrained(repo_id, trust_remote_code=True, revision=revision)",
        "processor = AutoProcessor.from_pretrained(repo_id, trust_remote_code=True, revision=revision)",
        "",
        "conversation = [  # one dict per utterance, in order",
        utterance("Ross", "We were on a break!", "u0.wav", "u0.mp4"),
        utterance("Rachel", "Oh my God.", None, "u1.mp4", audio_note),
        "]",
        'batch = processor(conversations=[conversation], return_tensors="pt")',
        "out = model(**batch)             # out.logits: (batch, n_utterances, n_labels)",
        "model.config.id2label[out.logits.argmax(-1)[0, 0].item()]",
    ]
    return "\n".join(lines)


def _format_value(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def build_model_card(
    model_dir: str | Path,
    repo_id: str | None = None,
    revision: str = "main",
    license: str = "apache-2.0",
    dataset: str | None = None,
) -> ModelCard:
    """
    Builds the model card of a checkpoint folder written by `save_pretrained` (with `register_auto_classes()`).

    Args:
        model_dir (`str` or `Path`):
            The checkpoint folder: `config.json` is required, `results.json`, `*.safetensors` and `*.png` plots are
            used when present.
        repo_id (`str`, *optional*):
            The Hub repository the card is for (used in the usage snippet). Defaults to `<your-org>/<folder name>`.
        revision (`str`, *optional*, defaults to `"main"`):
            The branch the usage snippet loads.
        license (`str`, *optional*, defaults to `"apache-2.0"`):
            Licence id of the weights (https://huggingface.co/docs/hub/repositories-licenses).
        dataset (`str`, *optional*):
            Training dataset (Hub id or name), when `results.json` does not give one.

    Returns:
        `huggingface_hub.ModelCard`: metadata (`library_name`, `pipeline_tag`, `tags`, `datasets`, `license`,
        `model-index` with the evaluation results) and a markdown body.
    """
    model_dir = Path(model_dir)
    config = _read_json(model_dir / "config.json")
    results_path = model_dir / RESULTS_FILE
    results = _read_json(results_path) if results_path.is_file() else {}
    repo_id = repo_id or f"<your-org>/{model_dir.resolve().name}"
    model_name = repo_id.split("/")[-1]

    modalities = list(config.get("modalities") or ["text", "audio", "visual"])
    id2label = config.get("id2label") or {}
    labels = [id2label[key] for key in sorted(id2label, key=lambda key: int(key))]
    dataset_id = results.get("dataset") or dataset
    known = KNOWN_DATASETS.get(str(dataset_id).split("/")[-1].lower(), {}) if dataset_id else {}
    dataset_name = results.get("dataset_name") or known.get("name") or dataset_id
    evaluations = read_eval_results(results)
    pipeline_tag = _pipeline_tag(modalities)

    eval_results = []
    if dataset_id:
        for split, metrics in evaluations.items():
            for key, value in metrics.items():
                metric_type, metric_config, metric_name = METRICS[key]
                eval_results.append(
                    EvalResult(
                        task_type=pipeline_tag, task_name=TASK_NAME, dataset_type=str(dataset_id),
                        dataset_name=str(dataset_name), dataset_config=results.get("dataset_config"),
                        dataset_revision=results.get("dataset_revision"), dataset_split=split,
                        metric_type=metric_type, metric_config=metric_config,
                        metric_name=f"{metric_name} ({split})", metric_value=value,
                    )
                )  # fmt: skip
    tags = ["emotion-recognition", "emotion-recognition-in-conversation", "multimodal", "m2fnet", "custom_code"]
    if known:
        tags.append(known["name"].lower())
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        license=license,
        datasets=[str(dataset_id)] if dataset_id else None,
        language=["en"] if known else None,
        metrics=sorted({METRICS[key][0] for metrics in evaluations.values() for key in metrics}) or None,
        tags=tags,
        model_name=model_name if eval_results else None,
        eval_results=eval_results or None,
    )

    used = ", ".join(MODALITY_INPUTS[modality] for modality in modalities if modality in MODALITY_INPUTS)
    trained_on = f"**{dataset_name}**" if dataset_name else "a dataset that `results.json` does not name"
    sections = [
        f"# {model_name}",
        f"An [M2FNet]({PAPER_URL}) (Chudasama et al., CVPR Workshops 2022) model for **emotion recognition in "
        f"conversation**: it predicts one of {len(labels)} emotions ({', '.join(labels)}) for every utterance of a "
        f"conversation from its {used}, trained on {trained_on}. The modeling code ships with the weights and runs "
        "with `trust_remote_code=True`.",
    ]

    # --- results ---
    lines = ["## Evaluation", ""]
    if evaluations:
        columns = [
            key for key in ("weighted_f1", "accuracy", "macro_f1") if any(key in m for m in evaluations.values())
        ]
        lines.append(f"On {dataset_name or 'the evaluation data'} (metrics in %):")
        lines.append("")
        lines.append("| split | " + " | ".join(METRICS[key][2] for key in columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        for split, metrics in evaluations.items():
            cells = [f"{100 * metrics[key]:.2f}" if key in metrics else "–" for key in columns]
            lines.append(f"| {split} | " + " | ".join(cells) + " |")
        if known and modalities == ["text", "audio", "visual"]:
            accuracy, weighted_f1 = known["paper"]
            lines.append("")
            lines.append(
                f"The paper reports weighted F1 {weighted_f1:.2f} and accuracy {accuracy:.2f} on the "
                f"{known['name']} test set with all three modalities."
            )
    else:
        lines.append(
            f"No evaluation results: this folder had no `{RESULTS_FILE}`. Treat the predictions as untested (a "
            "checkpoint with random weights predicts arbitrary emotions)."
        )
    plots = sorted(path.name for path in model_dir.glob("*.png"))
    for plot in plots:
        lines.append("")
        lines.append(f"![{Path(plot).stem.replace('_', ' ')}]({plot})")
    sections.append("\n".join(lines))

    # --- usage ---
    requirements = "The code that `trust_remote_code=True` runs needs only `torch` and `transformers` (5.x)"
    install = 'pip install torch "transformers>=5,<6"'
    if {"audio", "visual"} & set(modalities):
        requirements += (
            "; reading audio and video files needs PyAV, soxr and OpenCV (4.x: OpenCV 5 dropped the face detector "
            "it uses)"
        )
        install += '\npip install av soxr "opencv-python-headless<5"   # audio / video decoding, resampling, faces'
    sections.append(
        f"## How to use\n\n{requirements}:\n\n```bash\n{install}\n```\n\n"
        f"```python\n{_usage_snippet(repo_id, revision, modalities)}\n```\n\n"
        "Pin `revision` to a commit sha (see the repository's history) so that a later push cannot change the code "
        "you execute. `model.m2fnet` is the bare `M2FNetModel` (fused per-utterance features)."
    )

    # --- model details ---
    text_config = config.get("text_config") or {}
    parameters = count_parameters(model_dir)
    details = [
        ("architecture", ", ".join(config.get("architectures") or ["M2FNetForEmotionRecognition"])),
        ("modalities", ", ".join(modalities)),
        ("text encoder", f"{text_config.get('model_type', '?')}, hidden size {text_config.get('hidden_size', '?')}, "
                         f"{text_config.get('num_hidden_layers', '?')} layers" if "text" in modalities else None),
        ("dialogue encoder layers per modality", config.get("num_hidden_layers")),
        ("fusion layers", config.get("num_fusion_layers")),
        ("hidden size", config.get("hidden_size")),
        ("labels", ", ".join(labels)),
        ("parameters", f"{parameters:,}" if parameters is not None else None),
        ("transformers version", config.get("transformers_version")),
    ]  # fmt: skip
    sections.append(
        "## Model details\n\n| | |\n|---|---|\n"
        + "\n".join(f"| {name} | {value} |" for name, value in details if value not in (None, ""))
        + "\n\nUtterance-level extractors embed each modality; per-modality transformer encoders add the dialogue "
        "context; multi-head attention fusion layers (text as query and value, audio and visual as keys) combine "
        "them; two fully connected layers classify each utterance (paper, Sec. 3)."
    )

    # --- intended use and limitations ---
    unused = [modality for modality in ("text", "audio", "visual") if modality not in modalities]
    if unused:
        modality_note = (
            f"- Trained with {' + '.join(modalities)} only: the model has no {' or '.join(unused)} "
            "branch and ignores such inputs."
        )
    else:
        modality_note = (
            "- Trained with text + audio + visual. An utterance that lacks a modality is masked "
            "(`modality_mask`), which the model handles but with less evidence."
        )
    limitations = [
        "- Training data: " + (f"{known['description']}." if known else f"{trained_on}.")
        + " Expect lower accuracy on other domains, languages, recording conditions or label sets.",
        modality_note,
        f"- Predicts exactly these {len(labels)} labels: {', '.join(labels)}; it cannot say \"none of these\".",
        *(["- Faces are found with OpenCV's Haar cascade (the paper used MTCNN); profile or small faces are often "
            "missed, and the visual branch then relies on whole frames."] if "visual" in modalities else []),
        "- Emotion labels of acted or scripted dialogue are a coarse proxy for what people feel. Do not use the "
        "predictions for decisions about individuals (hiring, health, policing, surveillance).",
    ]  # fmt: skip
    sections.append(
        "## Intended use\n\nResearch on emotion recognition in conversation and reproduction of the M2FNet paper: "
        "per-utterance emotion labels for English dialogue with its transcripts"
        + (" and media." if modalities != ["text"] else ".")
        + "\n\n## Limitations\n\n"
        + "\n".join(limitations)
    )

    training = results.get("training") if isinstance(results.get("training"), dict) else {}
    if training:
        rows = "\n".join(f"| {key} | {_format_value(value)} |" for key, value in training.items()
                         if isinstance(value, (str, int, float, bool)))  # fmt: skip
        sections.append(f"## Training details\n\n| hyperparameter | value |\n|---|---|\n{rows}")

    sections.append(f"## Citation\n\n```bibtex\n{PAPER_BIBTEX}\n```")
    content = f"---\n{card_data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n"
    return ModelCard(content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="checkpoint folder (config.json, optional results.json)")
    parser.add_argument("--repo_id", default=None, help="Hub repository the card is for")
    parser.add_argument("--revision", default="main", help="branch used in the usage snippet")
    parser.add_argument("--license", default="apache-2.0", help="licence id of the weights")
    parser.add_argument("--dataset", default=None, help="training dataset, when results.json does not name it")
    parser.add_argument("--output", type=Path, default=None, help="write the card here instead of printing it")
    args = parser.parse_args(argv)
    try:
        card = build_model_card(args.model_dir, args.repo_id, args.revision, args.license, args.dataset)
    except ModelCardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.output is None:
        print(str(card))
    else:
        card.save(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
