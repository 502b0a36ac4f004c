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
"""The checkpoint behind the M2FNet Space: loading it (safetensors only) and saying what it is (the status banner)."""

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import pipeline


logger = logging.getLogger(__name__)

# Training/evaluation metrics looked up next to the weights (first found wins); none means random weights.
RESULTS_FILES = ("all_results.json", "results.json", "eval_results.json")
# The modality names and order of the model, a deliberate copy of `modeling_m2fnet.configuration_m2fnet.MODALITIES`:
# the Space runs from the Hub without the m2fnet repository, so it cannot import them (tests check the copy matches).
MODALITY_NAMES = ("text", "audio", "visual")


# ---------------------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointInfo:
    """What the app knows about the checkpoint that answers: where it came from and whether it was trained."""

    model_id: str
    revision: str | None
    commit: str | None
    modalities: tuple[str, ...]
    labels: tuple[str, ...]
    results: dict | None = None
    results_source: str | None = None

    @property
    def trained(self) -> bool:
        return self.results is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "revision": self.revision,
            "commit": self.commit,
            "trained": self.trained,
            "modalities": list(self.modalities),
        }


def _hub_file(model_id: str, filename: str, revision: str | None) -> Path | None:
    """A file of the Hub repo `model_id` (downloaded to the HF cache), or None when it has no such file."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    try:
        return Path(hf_hub_download(model_id, filename, revision=revision))
    except (EntryNotFoundError, HfHubHTTPError, OSError, ValueError):
        return None


def read_training_results(model_id: str, revision: str | None = None, config=None) -> tuple[dict | None, str | None]:
    """
    The training/evaluation metrics saved with a checkpoint: the first of `RESULTS_FILES` next to the weights (local
    folder or Hub repo), else a `m2fnet_training` dict in the config. Returns `(results, source)`, `(None, None)` when
    the checkpoint carries none (then it is treated as untrained).
    """
    folder = Path(model_id)
    for filename in RESULTS_FILES:
        path = folder / filename if folder.is_dir() else _hub_file(model_id, filename, revision)
        if path is None or not path.is_file():
            continue
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            logger.warning("Ignoring unreadable %s of %s: %s", filename, model_id, err)
            continue
        if isinstance(results, dict):
            return results, filename
    training = getattr(config, "m2fnet_training", None)
    if isinstance(training, dict) and training:
        return training, "config.m2fnet_training"
    return None, None


def _commit_of(model_id: str, revision: str | None) -> str | None:
    """The commit sha a Hub checkpoint was loaded from (read from the HF cache layout `snapshots/<sha>/`)."""
    if Path(model_id).is_dir():
        return None
    path = _hub_file(model_id, "config.json", revision)
    if path is not None and path.parent.parent.name == "snapshots":
        return path.parent.name
    return None


def load_checkpoint(model_id: str, revision: str | None = None, device: str | None = None):
    """
    Loads `(pipeline, info)` from a Hub id or local folder: the checkpoint's custom emotion-recognition pipeline, with
    `trust_remote_code=True`; weights are read from safetensors only (`use_safetensors=True`: no pickle code path).
    Raises a `RuntimeError` that says what to set when the checkpoint cannot be loaded, and one naming the files when
    a local folder holds only pickle weights.
    """
    folder = Path(model_id)
    pickles = sorted(path.name for path in folder.glob("pytorch_model*.bin")) if folder.is_dir() else []
    if pickles and not any(folder.glob("*.safetensors")):
        raise RuntimeError(
            f"The checkpoint folder {model_id!r} holds only pickle weights ({', '.join(pickles)}) and no .safetensors "
            "file. This Space loads safetensors weights only: load the model once in a trusted environment and save "
            "it again with `model.save_pretrained(folder)` (which writes model.safetensors), then point "
            "M2FNET_MODEL at that folder."
        )
    try:
        # The checkpoint's own emotion-recognition pipeline (`custom_pipelines` in its config.json): it loads the model
        # and processor with the checkpoint's code and returns one dict per utterance.
        classifier = pipeline(
            model=model_id,
            revision=revision,
            trust_remote_code=True,
            model_kwargs={"use_safetensors": True},
            device=device,
        )
    except Exception as err:  # noqa: BLE001 - any failure here means the Space cannot start; say why and how to fix
        raise RuntimeError(
            f"Could not load the M2FNet checkpoint {model_id!r}"
            f"{f' at revision {revision!r}' if revision else ''}: {type(err).__name__}: {err}\n"
            "Set M2FNET_MODEL to a Hub model id or a local folder written by `save_pretrained` (weights, processor "
            "and modeling code, e.g. `python examples/quickstart.py` writes outputs/quickstart-m2fnet), and "
            "M2FNET_REVISION to a branch, tag or commit of that repo if needed. Private repos need HF_TOKEN."
        ) from err
    model = classifier.model.eval()
    results, source = read_training_results(model_id, revision, model.config)
    id2label = model.config.id2label
    info = CheckpointInfo(
        model_id=model_id,
        revision=revision,
        commit=_commit_of(model_id, revision),
        modalities=tuple(model.config.modalities),
        labels=tuple(id2label[index] for index in sorted(id2label)),
        results=results,
        results_source=source,
    )
    logger.info("Loaded %s (revision %s, commit %s)", model_id, revision, info.commit)
    return classifier, info


def _flatten(results: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        flat.update(_flatten(value, f"{name}.") if isinstance(value, dict) else {name: value})
    return flat


def _metric_lines(results: dict, limit: int = 4) -> list[str]:
    """The headline metrics of a results dict (nested dicts flattened as `split.metric`), F1 and accuracy first."""
    numbers = [
        (key, value)
        for key, value in _flatten(results).items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not key.startswith("training.")
    ]
    preferred = [item for item in numbers if re.search(r"f1|acc", item[0], re.IGNORECASE)] or numbers
    return [f"`{key}` = {value:.4g}" for key, value in preferred[:limit]]


def trained_modalities(info: CheckpointInfo) -> list[str] | None:
    """
    The modalities the checkpoint was trained on, when its results say so: a `modalities` list, or `["text"]` for a
    transcripts-only dataset config (`dataset_config: "text"`, as `datasets_scripts/meld.py` names it).
    """
    if not info.trained:
        return None
    if isinstance(info.results.get("modalities"), list):
        return [str(modality) for modality in info.results["modalities"]]
    if info.results.get("dataset_config") == "text":
        return ["text"]
    return None


def banner_markdown(info: CheckpointInfo) -> str:
    """The status banner shown above the app: checkpoint, revision, modalities, and a warning if untrained."""
    revision = f" @ `{info.commit or info.revision}`" if (info.commit or info.revision) else ""
    lines = [
        f"**Model:** `{info.model_id}`{revision} · **modalities:** {', '.join(info.modalities)} · "
        f"**emotions:** {', '.join(info.labels)}"
    ]
    if not info.trained:
        lines.append(
            "⚠ **Random weights — predictions are meaningless.** This checkpoint has no training results "
            f"({' / '.join(f'`{name}`' for name in RESULTS_FILES)} next to the weights, or `m2fnet_training` in its "
            "config): it demonstrates the pipeline, not emotion recognition."
        )
    else:
        metrics = _metric_lines(info.results)
        dataset = " ".join(str(info.results[key]) for key in ("dataset", "dataset_config") if info.results.get(key))
        lines.append(
            f"✔ **Trained checkpoint**{f' on {dataset}' if dataset else ''} (`{info.results_source}`)"
            + (f": {', '.join(metrics)}." if metrics else ".")
        )
    untrained = [name for name in info.modalities if name not in (trained_modalities(info) or info.modalities)]
    if info.modalities == ("text",):
        lines.append("ℹ **Text-only model:** audio and video uploads are ignored.")
    elif untrained:
        lines.append(
            f"⚠ **Trained on {', '.join(trained_modalities(info))} only:** the {' and '.join(untrained)} parts of "
            "this model are untrained, so media uploads change its predictions arbitrarily."
        )
    missing = [name for name in MODALITY_NAMES if name not in info.modalities]
    if missing and info.modalities != ("text",):
        lines.append(f"ℹ This model does not use {' or '.join(missing)}: those uploads are ignored.")
    return "\n\n".join(lines)
