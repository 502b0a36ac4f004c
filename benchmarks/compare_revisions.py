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
"""Before/after timings, in one process: `modeling_m2fnet` at earlier git revisions vs the working tree.

Each baseline package is exported from git (`git show`, read-only) to a temporary folder and imported under another
name beside the working tree's `modeling_m2fnet`; every side gets the same inputs and weights (configs and weight
names are translated for revisions that predate the `visual_*` names). The sides are timed in rotation, round after
round (so that a change of the machine's load hits all of them), and the table gives the medians, the speed-ups
(baseline / current) and the largest difference between each baseline's outputs and the current ones.

Default baselines: 8692698 (before the performance work) and 9193a40 (before the single attention path). A second
table measures alternatives on the current code (eager vs SDPA attention, a batched log-mel, face detection on a
downscaled frame or with cheaper settings), and a last line the peak memory of the visual extractor in fresh
processes.

    python benchmarks/compare_revisions.py --threads 1    # a few minutes on 2 cores
    python benchmarks/compare_revisions.py --quick        # 2 rounds, smaller inputs: a smoke check
"""

import argparse
import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from functools import cache, partial
from pathlib import Path

from _common import (
    LOCAL_MODELS,
    REPO_ROOT,
    SENTENCES,
    SPEAKERS,
    describe,
    export_package,
    format_table,
    generate_face_video,
    generate_speech,
    import_package,
    machine_description,
    save_benchmark,
    set_threads,
)


BASELINES = ("8692698", "9193a40")  # before the performance work; before one attention path (the previous revision)
CURRENT = "current"


def max_difference(first, second) -> float:
    """Largest absolute difference between two (nested) outputs: tensors, arrays, dicts, lists."""
    import numpy as np
    import torch

    if isinstance(first, Mapping):
        return max((max_difference(first[key], second[key]) for key in first), default=0.0)
    if isinstance(first, (list, tuple)):
        return max((max_difference(a, b) for a, b in zip(first, second)), default=0.0)
    if isinstance(first, torch.Tensor):
        return float((first.double() - second.double()).abs().max()) if first.numel() else 0.0
    if isinstance(first, np.ndarray):
        return float(np.abs(first.astype(np.float64) - second.astype(np.float64)).max()) if first.size else 0.0
    return abs(float(first) - float(second))


def differences(outputs: dict) -> dict:
    """Largest difference of every side's outputs from the last side's (the current code)."""
    reference = outputs[list(outputs)[-1]]
    return {side: max_difference(output, reference) for side, output in list(outputs.items())[:-1]}


def interleaved(functions: dict, rounds: int, warmup: int = 1) -> dict:
    """
    Times each function once per round, rotating the order every round. Returns, per name, the wall-clock and the
    CPU (`time.process_time`, all threads of this process) seconds of every round: on a machine shared with other
    jobs, CPU time barely moves when the process waits for a core, wall time does.
    """
    for function in functions.values():
        for _ in range(warmup):
            function()
    names = list(functions)
    timings = {name: {"wall": [], "cpu": []} for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            wall, cpu = time.perf_counter(), time.process_time()
            functions[name]()
            timings[name]["cpu"].append(time.process_time() - cpu)
            timings[name]["wall"].append(time.perf_counter() - wall)
    return timings


def summarise(name: str, timings: dict, difference: dict | None, details: str, unit: float = 1e3) -> dict:
    """Medians per side (milliseconds by default) and speed-ups of the last side over each other one."""
    wall = {side: statistics.median(clocks["wall"]) * unit for side, clocks in timings.items()}
    cpu = {side: statistics.median(clocks["cpu"]) * unit for side, clocks in timings.items()}
    *others, last = list(timings)
    return {
        "workload": name,
        "details": details,
        "ms": wall,
        "cpu_ms": cpu,
        "speedup": {side: wall[side] / wall[last] for side in others},
        "cpu_speedup": {side: cpu[side] / max(cpu[last], 1e-9) for side in others},
        "max_abs_difference": difference,
        "rounds": len(timings[last]["wall"]),
        "timings_s": timings,
    }


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.1f}"


# ----------------------------------------------------------------------------------------------------------------------
# The same model in every package (names translated for revisions before 9193a40)
# ----------------------------------------------------------------------------------------------------------------------


def _legacy(package) -> bool:
    """Whether `package` predates the `visual_*` names (9193a40): `vision_config`, `vision_model`."""
    return not hasattr(package, "M2FNetVisualConfig")


def visual_config_class(package):
    return package.M2FNetVisionConfig if _legacy(package) else package.M2FNetVisualConfig


def make_config(package, **kwargs):
    """`package.M2FNetConfig(**kwargs)`, with `visual_config` spelled as that revision spells it."""
    if _legacy(package) and "visual_config" in kwargs:
        kwargs["vision_config"] = kwargs.pop("visual_config")
    return package.M2FNetConfig(**kwargs)


def same_models(packages: dict, config_for, model_class: str = "M2FNetForEmotionRecognition") -> dict:
    """The same model (the current code's random weights) built with each package."""
    import torch

    torch.manual_seed(0)
    current = getattr(packages[CURRENT], model_class)(config_for(packages[CURRENT]))
    models = {}
    for side, package in packages.items():
        if side == CURRENT:
            models[side] = current
            continue
        model = getattr(package, model_class)(config_for(package))
        state = current.state_dict()
        if _legacy(package):
            state = {name.replace(".visual_model.", ".vision_model."): value for name, value in state.items()}
        model.load_state_dict(state)
        models[side] = model
    return models


MELD_DATA_DIR: list[Path] = []  # set from --data_dir


@cache
def meld_lengths() -> tuple[int, ...]:
    """Utterances per MELD train dialogue (the official CSV, from --data_dir), or MELD-like lengths without it."""
    path = MELD_DATA_DIR[0] / "train_sent_emo.csv" if MELD_DATA_DIR else None
    if path is not None and path.exists():
        with path.open(encoding="utf-8", newline="") as file:
            counts = {}
            for row in csv.DictReader(file):
                counts[row["Dialogue_ID"]] = counts.get(row["Dialogue_ID"], 0) + 1
        return tuple(counts.values())
    rng = random.Random(0)
    return tuple(min(24, 1 + int(rng.expovariate(1 / 8.6))) for _ in range(1038))


def meld_batches(batch_size: int, count: int, seed: int = 0) -> list[list[int]]:
    """`count` batches of MELD training-dialogue lengths (random batches, as a shuffled epoch makes them)."""
    lengths = list(meld_lengths())
    random.Random(seed).shuffle(lengths)
    return [lengths[i * batch_size : (i + 1) * batch_size] for i in range(count)]


def embed_batch(lengths: list[int], dims: dict, generator):
    import torch

    batch_size, num_utterances = len(lengths), max(lengths)
    utterance_mask = (torch.arange(num_utterances) < torch.tensor(lengths)[:, None]).long()
    batch = {
        f"{modality}_embeds": torch.randn(batch_size, num_utterances, dim, generator=generator)
        * utterance_mask[..., None]
        for modality, dim in dims.items()
    }
    batch["utterance_mask"] = utterance_mask
    batch["modality_mask"] = utterance_mask[..., None].repeat(1, 1, 3)
    labels = torch.randint(0, 7, (batch_size, num_utterances), generator=generator)
    batch["labels"] = labels.masked_fill(utterance_mask == 0, -100)
    return batch


def dialogue_config(package, text_dim: int = 768, **overrides):
    """The paper's MELD dialogue level (1 encoder layer, 5 fusion layers) with tiny, unused extractors."""
    encoder = {"model_type": "resnet", "depths": [1], "hidden_sizes": [8], "embedding_size": 8}
    text_config = {"model_type": "bert", "hidden_size": text_dim, "num_hidden_layers": 1, "num_attention_heads": 4}
    text_config.update(intermediate_size=16, vocab_size=16)
    return make_config(
        package,
        text_config=text_config,
        audio_config={"encoder_config": encoder},
        visual_config={"encoder_config": encoder},
        **overrides,
    )


# ----------------------------------------------------------------------------------------------------------------------
# Workloads: the changed code paths
# ----------------------------------------------------------------------------------------------------------------------


def tokenizer():
    from transformers import AutoTokenizer

    path = LOCAL_MODELS / "all-mpnet-base-v2"
    if (path / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(str(path))
    from m2fnet_training.tiny_model import train_tiny_tokenizer

    return train_tiny_tokenizer([f"{s}: {t}" for s in SPEAKERS for t in SENTENCES])


def conversation(num_utterances, offset=0, audio=None):
    utterances = []
    for i in range(offset, offset + num_utterances):
        utterance = {"speaker": SPEAKERS[i % 6], "text": SENTENCES[i % 10]}
        if audio:
            utterance["audio"] = str(audio[i % len(audio)])
        utterances.append(utterance)
    return utterances


def compare_processor(packages, rounds, quick, modality):
    tok = tokenizer()
    processors = {
        side: package.M2FNetProcessor(
            tok, package.M2FNetFeatureExtractor(), package.M2FNetImageProcessor(), modalities=[modality]
        )
        for side, package in packages.items()
    }
    if modality == "text":
        conversations = [conversation(10, offset=10 * b) for b in range(4 if quick else 16)]
        details = f"{len(conversations)} dialogues x 10 utterances, all-mpnet-base-v2 tokenizer"
    else:
        speech = [generate_speech(i) for i in range(10)]
        conversations = [conversation(4 if quick else 8, audio=speech)]
        details = f"{len(conversations[0])} utterances, espeak-ng wav files (22.05 kHz) -> decode, resample, log-mel"
    outputs = {side: dict(p(conversations=conversations, return_tensors="np")) for side, p in processors.items()}
    outputs = {
        side: {key: output[key] for key in outputs[CURRENT] if key in output} for side, output in outputs.items()
    }
    functions = {side: partial(p, conversations=conversations, return_tensors="pt") for side, p in processors.items()}
    timings = interleaved(functions, rounds)
    name = "processor: text (tokenizer ids looked up once)" if modality == "text" else "control: processor audio"
    return summarise(name, timings, differences(outputs), details)


def dialogue_batches(mode, quick):
    import torch

    dims = {"text": 768, "audio": 300, "visual": 600}
    generator = torch.Generator().manual_seed(0)
    if mode == "one conversation":
        return [embed_batch([16], dims, generator)], "1 conversation of 16 utterances (no padding)"
    batches = [embed_batch(lengths, dims, generator) for lengths in meld_batches(16, 1 if quick else 4)]
    real = sum(int(b["utterance_mask"].sum()) for b in batches)
    padded = sum(b["utterance_mask"].numel() for b in batches)
    return batches, f"batches of 16 MELD train dialogues ({100 * (1 - real / padded):.0f} % padding)"


def compare_dialogue(models, rounds, quick, mode, name_prefix="dialogue level"):
    """Inference (eval) or training steps (dropout, AdamW) of the dialogue level on cached embeddings."""
    import torch

    batches, details = dialogue_batches(mode, quick)
    keys = ("text_embeds", "audio_embeds", "visual_embeds", "utterance_mask", "modality_mask", "labels")
    if mode != "training":
        for model in models.values():
            model.eval()
        with torch.inference_mode():
            outputs = {side: [m(**{k: b[k] for k in keys}).logits for b in batches] for side, m in models.items()}
            functions = {side: partial(_forward_all, m, batches, keys) for side, m in models.items()}
            timings = interleaved(functions, rounds)
        return summarise(f"{name_prefix}, inference: {mode}", timings, differences(outputs), details + ", eval")

    # Training: the same loss and gradients (eval mode: no dropout), then timed steps with dropout and AdamW.
    gradients = {}
    for side, model in models.items():
        model.eval()
        model.zero_grad()
        model(**{k: batches[0][k] for k in keys}).loss.backward()
        grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
        gradients[side] = {name.replace(".vision_model.", ".visual_model."): g for name, g in grads.items()}
        model.zero_grad(set_to_none=True)
        model.train()
    optimizers = {side: torch.optim.AdamW(m.parameters(), lr=5e-4, weight_decay=5e-4) for side, m in models.items()}
    functions = {side: partial(_train_steps, models[side], optimizers[side], batches, keys) for side in models}
    timings = interleaved(functions, rounds)
    details += ", fwd + bwd + AdamW, dropout 0.4; difference: gradients"
    return summarise(f"{name_prefix}, training step", timings, differences(gradients), details)


def _forward_all(model, batches, keys):
    for batch in batches:
        model(**{key: batch[key] for key in keys})


def _train_steps(model, optimizer, batches, keys):
    for batch in batches:
        model(**{key: batch[key] for key in keys}).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def compare_text_padding(packages, rounds, quick):
    import torch
    from transformers import AutoConfig

    path = LOCAL_MODELS / "all-MiniLM-L6-v2"
    if (path / "config.json").exists():
        text_config = AutoConfig.from_pretrained(str(path)).to_dict()
    else:
        text_config = {"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12}
        text_config["intermediate_size"] = 1536
    models = same_models(packages, lambda package: make_config(package, text_config=text_config, modalities=["text"]))
    tok = tokenizer()
    current = packages[CURRENT]
    processor = current.M2FNetProcessor(
        tok, current.M2FNetFeatureExtractor(), current.M2FNetImageProcessor(), modalities=["text"]
    )
    batch = processor(conversations=[conversation(8 if quick else 16)], return_tensors="pt")
    length = batch["input_ids"].shape[-1]
    # As a dataset tokenised with `padding="max_length"` gives it: 128 columns, most of them padding.
    input_ids = torch.nn.functional.pad(batch["input_ids"], (0, 128 - length), value=tok.pad_token_id or 0)
    attention_mask = torch.nn.functional.pad(batch["attention_mask"], (0, 128 - length), value=0)
    input_ids = input_ids.clamp(max=text_config.get("vocab_size", 30522) - 1)
    selected = batch["utterance_mask"].bool()
    with torch.inference_mode():
        for model in models.values():
            model.eval()
        features = {
            side: partial(m.m2fnet.get_text_features, input_ids, attention_mask, selected)
            for side, m in models.items()
        }
        outputs = {side: function() for side, function in features.items()}
        timings = interleaved(features, rounds)
    details = f"{selected.sum()} utterances of <= {length} tokens, all-MiniLM-L6-v2 size, eval"
    return summarise("text features, input padded to 128 tokens", timings, differences(outputs), details)


def compare_audio_extractor(packages, rounds, quick):
    import torch

    models = same_models(packages, lambda package: package.M2FNetAudioConfig(), "M2FNetAudioExtractor")
    clips = 4 if quick else 16
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(clips, 128, 340, generator=generator)  # 3.4 s of log-mel
    mask = (torch.arange(340) < torch.randint(280, 341, (clips, 1), generator=generator)).long()
    with torch.inference_mode():
        for model in models.values():
            model.eval()
        outputs = {side: m(features, mask).embeddings for side, m in models.items()}
        functions = {side: partial(m, features, mask) for side, m in models.items()}
        timings = interleaved(functions, max(2, rounds // 2))
    details = f"{clips} log-mels of 128 x 340 (3.4 s), ResNet-18, eval"
    return summarise("audio extractor (channels-last input)", timings, differences(outputs), details)


def compare_visual(packages, rounds, quick):
    import torch

    # ResNet-18, 300-d, scene + face
    models = same_models(packages, lambda package: visual_config_class(package)(), "M2FNetVisualExtractor")
    utterances = 2 if quick else 6
    generator = torch.Generator().manual_seed(0)
    frames = torch.randn(utterances, 15, 3, 224, 224, generator=generator)
    faces = torch.randn(utterances, 15, 1, 3, 112, 112, generator=generator)
    weights = torch.ones(utterances, 15, 1)
    with torch.inference_mode():
        for model in models.values():
            model.eval()
        outputs = {side: m(frames, faces, weights).embeddings for side, m in models.items()}
        functions = {side: partial(m, frames, faces, weights) for side, m in models.items()}
        timings = interleaved(functions, max(2, rounds // 2))
    details = f"{utterances} utterances x 15 frames (224 px) + 15 faces (112 px), ResNet-18, eval"
    return summarise("visual extractor (channels-last input, chunks of 64)", timings, differences(outputs), details)


# ----------------------------------------------------------------------------------------------------------------------
# Alternatives on the current code ("before" = the default, "after" = the alternative)
# ----------------------------------------------------------------------------------------------------------------------


def explore_attention_implementation(rounds, quick):
    """The current dialogue level with transformers' eager attention vs its default, SDPA."""
    import torch

    import modeling_m2fnet

    torch.manual_seed(0)
    sdpa = modeling_m2fnet.M2FNetForEmotionRecognition(dialogue_config(modeling_m2fnet))
    eager = modeling_m2fnet.M2FNetForEmotionRecognition(dialogue_config(modeling_m2fnet, attn_implementation="eager"))
    eager.load_state_dict(sdpa.state_dict())
    assert (eager.config._attn_implementation, sdpa.config._attn_implementation) == ("eager", "sdpa")
    rows = []
    for mode in ("padded batches", "training"):
        row = compare_dialogue({"eager": eager, "sdpa": sdpa}, rounds, quick, mode, "attention eager -> SDPA")
        rows.append(row)
    return rows


def explore_batched_log_mel(rounds, quick):
    """The log-mel of a batch of clips: one clip at a time (as implemented) vs one STFT for the whole batch."""
    import numpy as np
    import torch

    from modeling_m2fnet import M2FNetFeatureExtractor, load_audio
    from modeling_m2fnet.feature_extraction_m2fnet import _LOG_MEL_EPS

    extractor = M2FNetFeatureExtractor()
    waveforms = [load_audio(str(generate_speech(i)), sampling_rate=16000) for i in range(4 if quick else 10)] * 2

    def batched():
        half = extractor.n_fft // 2
        frames = [extractor.num_frames(w.shape[0]) for w in waveforms]
        padded = [np.pad(w, half, mode="reflect") for w in waveforms]
        signals = np.zeros((len(padded), max(p.shape[0] for p in padded)), dtype=np.float32)
        for row, signal in zip(signals, padded):
            row[: signal.shape[0]] = signal
        window = torch.from_numpy(extractor.window)
        stft = torch.stft(
            torch.from_numpy(signals),
            extractor.n_fft,
            extractor.hop_length,
            window=window,
            center=False,
            return_complex=True,
        )
        power = stft.real.square() + stft.imag.square()
        log_mel = torch.clamp(torch.from_numpy(extractor.mel_filters).T @ power, min=_LOG_MEL_EPS).log10()
        real = torch.arange(log_mel.shape[-1]) < torch.tensor(frames)[:, None]
        peak = log_mel.masked_fill(~real[:, None, :], -torch.inf).amax(dim=(1, 2), keepdim=True)
        log_mel = (torch.maximum(log_mel, peak - 8.0) + 4.0) / 4.0
        return [log_mel[i, :, :n].numpy() for i, n in enumerate(frames)]

    timings = interleaved(
        {"one at a time": partial(_log_mel_each, extractor, waveforms), "batched": batched}, rounds * 2
    )
    details = f"{len(waveforms)} clips of 2.8-4.4 s at 16 kHz"
    return summarise("log-mel: one clip at a time -> one batched STFT", timings, None, details)


def _log_mel_each(extractor, waveforms):
    return [extractor._log_mel(waveform) for waveform in waveforms]


def explore_face_detection(rounds, quick):
    """Face detection per 720p frame: the default vs cheaper settings; boxes compared with the default's."""
    import cv2
    import numpy as np
    from skimage.data import astronaut

    from modeling_m2fnet import M2FNetFaceDetector, load_video_frames

    frames = load_video_frames(str(generate_face_video(1280, 720, generate_speech(0))), num_frames=4 if quick else 15)
    wide = np.full((720, 1280, 3), 128, np.uint8)  # the 512 px portrait in a 720p frame: a face of about 100 px
    wide[104:616, 384:896] = astronaut()
    frames = [*frames, wide]
    default = M2FNetFaceDetector()

    def downscaled(frame):
        # Shrink so that the smallest face searched for (0.1 x 720 = 72 px) is the cascade's 24 px window.
        small = cv2.resize(frame, (427, 240), interpolation=cv2.INTER_AREA)
        boxes = M2FNetFaceDetector(min_face_size=0.1).detect(small)
        return [(tuple(round(v * 3) for v in box), confidence) for box, confidence in boxes]

    variants = {
        "detect on a 427x240 copy (area-resized)": downscaled,
        "min_face_size 0.2 (faces >= 144 px)": M2FNetFaceDetector(min_face_size=0.2).detect,
        "scale_factor 1.2": M2FNetFaceDetector(scale_factor=1.2).detect,
    }
    reference = [default.detect(frame) for frame in frames]
    results = []
    for name, detect in variants.items():
        found = [detect(frame) for frame in frames]
        same_count = sum(len(a) == len(b) for a, b in zip(reference, found))
        functions = {
            "default": partial(_detect_frames, default.detect, frames),
            "variant": partial(_detect_frames, detect, frames),
        }
        timings = interleaved(functions, max(2, rounds // 2))
        details = (
            f"{len(frames)} frames of 1280x720; same number of faces on {same_count}/{len(frames)} "
            "(the last frame holds a ~100 px face)"
        )
        row = summarise(f"face detection: default -> {name}", timings, None, details, unit=1e3 / len(frames))
        row["same_face_count"] = f"{same_count}/{len(frames)}"
        results.append(row)
    return results


def _detect_frames(detect, frames):
    for frame in frames:
        detect(frame)


# ----------------------------------------------------------------------------------------------------------------------
# Memory: peak RSS of the visual extractor in fresh processes
# ----------------------------------------------------------------------------------------------------------------------


def child_visual(side: str, package_dir: str | None, utterances: int) -> None:
    """Run in a subprocess: one eval forward of the paper's visual extractor; prints peak RSS and seconds as JSON."""
    import torch

    package = import_package(package_dir) if package_dir else __import__("modeling_m2fnet")
    torch.manual_seed(0)
    model = package.M2FNetVisualExtractor(visual_config_class(package)()).eval()
    frames = torch.randn(utterances, 15, 3, 224, 224)
    faces, weights = torch.randn(utterances, 15, 1, 3, 112, 112), torch.ones(utterances, 15, 1)
    before = _peak_rss_mib()
    start = time.perf_counter()
    with torch.inference_mode():
        model(frames, faces, weights)
    seconds = time.perf_counter() - start
    report = {"side": side, "peak_rss_mib": _peak_rss_mib(), "rss_before_forward_mib": before, "seconds": seconds}
    print(json.dumps(report))


def _peak_rss_mib() -> float:
    # VmHWM, not `getrusage`: the latter keeps the parent's peak across fork + exec.
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def compare_visual_memory(package_dirs: dict, utterances: int, threads: int | None) -> dict:
    rows = {}
    for side, directory in package_dirs.items():
        command = [sys.executable, __file__, "--child_visual", side, "--child_utterances", str(utterances)]
        command += ["--child_package_dir", str(directory)] if directory else []
        command += ["--threads", str(threads)] if threads else []
        output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO_ROOT).stdout
        rows[side] = json.loads(output.strip().splitlines()[-1])
    workload = f"visual extractor, {utterances} utterances ({utterances * 15} frames + faces), eval"
    return {"workload": workload, "sides": rows}


# ----------------------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------------------


def table(rows: list[dict], difference: bool = True) -> str:
    sides = list(rows[0]["ms"])
    *others, last = sides
    headers = [
        "workload",
        *(f"{side} ms" for side in sides),
        *(f"speed-up {side} -> {last}" for side in others),
        *(f"CPU speed-up {side} -> {last}" for side in others),
        *((f"max abs diff {side} vs {last}" for side in others) if difference else ()),
        "rounds",
        "input",
    ]
    body = []
    for row in rows:
        cells = [row["workload"], *(_ms(row["ms"][side]) for side in sides)]
        cells += [f"x{row['speedup'][side]:.2f}" for side in others]
        cells += [f"x{row['cpu_speedup'][side]:.2f}" for side in others]
        cells += [f"{row['max_abs_difference'][side]:.1e}" for side in others] if difference else []
        body.append([*cells, row["rounds"], row["details"]])
    return format_table(headers, body)


def run_comparisons(packages: dict, rounds: int, quick: bool) -> list[dict]:
    dialogue_models = same_models(packages, dialogue_config)  # the paper's MELD dialogue level, 39M parameters
    steps = [
        partial(compare_processor, packages, rounds, quick, "text"),
        partial(compare_processor, packages, rounds, quick, "audio"),
        *(
            partial(compare_dialogue, dialogue_models, rounds, quick, mode)
            for mode in ("one conversation", "padded batches", "training")
        ),
        partial(compare_text_padding, packages, rounds, quick),
        partial(compare_audio_extractor, packages, rounds, quick),
        *([] if quick else [partial(compare_visual, packages, rounds, quick)]),
    ]
    changes = []
    for step in steps:
        row = step()
        changes.append(row)
        timings = ", ".join(f"{side} {_ms(ms)}" for side, ms in row["ms"].items())
        speedups = ", ".join(f"x{value:.2f} vs {side}" for side, value in row["speedup"].items())
        print(f"  {row['workload']}: {timings} ms wall ({speedups})", flush=True)
    return changes


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baselines", nargs="+", default=list(BASELINES), help=f"Git revisions ({BASELINES}).")
    parser.add_argument("--quick", action="store_true", help="2 rounds, small inputs, no visual extractor or faces.")
    parser.add_argument("--rounds", type=int, default=None, help="Timed rounds per workload (default 7, quick 2).")
    parser.add_argument("--memory_utterances", type=int, default=None, help="Visual memory check (16, quick 1).")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice).")
    parser.add_argument("--data_dir", help="Folder holding MELD's train_sent_emo.csv (else MELD-like lengths).")
    parser.add_argument("--output_dir", default=None, help="Folder of the JSON file (default benchmarks/results).")
    parser.add_argument("--name", default="before_after", help="Name of the JSON file (without .json).")
    parser.add_argument("--child_visual", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child_package_dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child_utterances", type=int, default=16, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.data_dir:
        MELD_DATA_DIR.append(Path(args.data_dir))
    if args.child_visual:
        return child_visual(args.child_visual, args.child_package_dir, args.child_utterances)

    import modeling_m2fnet

    machine = machine_description()
    print(describe(machine), flush=True)
    rounds = args.rounds or (2 if args.quick else 7)
    with tempfile.TemporaryDirectory() as folder:
        package_dirs = {rev: export_package(rev, folder, f"m2fnet_{rev}") for rev in args.baselines}
        packages = {rev: import_package(directory) for rev, directory in package_dirs.items()}
        packages[CURRENT] = modeling_m2fnet
        print(f"baselines: modeling_m2fnet at {', '.join(args.baselines)}; current: the working tree", flush=True)
        changes = run_comparisons(packages, rounds, args.quick)
        memory = compare_visual_memory(
            {**package_dirs, CURRENT: None}, args.memory_utterances or (1 if args.quick else 16), args.threads
        )
    explored = [*explore_attention_implementation(rounds, args.quick), explore_batched_log_mel(rounds, args.quick)]
    if not args.quick:
        explored += explore_face_detection(rounds, args.quick)

    print(
        f"\nBefore ({', '.join(args.baselines)}) / after (working tree), medians of rotated rounds, torch threads {machine['torch_threads']}"
    )
    print(table(changes))
    print("\nAlternatives on the current code ('before' = as implemented or the default, 'after' = the alternative)")
    for rows in _group_by_sides(explored):
        print(table(rows, difference=False))
    peaks = ", ".join(
        f"{side} {row['peak_rss_mib']:.0f} MiB ({row['seconds']:.1f} s)" for side, row in memory["sides"].items()
    )
    print(f"\nPeak RSS, {memory['workload']}: {peaks}")

    command = "python benchmarks/compare_revisions.py" + (" --quick" if args.quick else "")
    command += f" --threads {args.threads}" if args.threads else ""
    sections = {
        "baseline_revisions": list(args.baselines),
        "changes": changes,
        "explored": explored,
        "visual_memory": memory,
    }
    return save_benchmark(args, "before_after", command, machine, sections)


def _group_by_sides(rows: list[dict]) -> list[list[dict]]:
    groups = {}
    for row in rows:
        groups.setdefault(tuple(row["ms"]), []).append(row)
    return list(groups.values())


if __name__ == "__main__":
    main()
