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
"""Before/after timings of the performance changes, in one process: `modeling_m2fnet` at a git revision vs now.

The baseline package is exported from git (`git show`, read-only) to a temporary folder and imported under another
name beside the working tree's `modeling_m2fnet`; both get the same inputs and weights. The two sides are timed in
alternation, round after round (so that a change of the machine's load hits both), and the table gives the medians,
the speed-up (baseline / current) and the largest difference between the two sides' outputs.

A second table measures options that were evaluated and not adopted (SDPA attention, a batched log-mel, face
detection on a downscaled frame or with cheaper settings), and a last line the peak memory of the visual extractor
in fresh processes.

    python benchmarks/compare_revisions.py                 # baseline 8692698: 1.5 min on 2 idle cores, 9 on busy ones
    python benchmarks/compare_revisions.py --quick         # 2 rounds, smaller inputs: a smoke check
"""

import argparse
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


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    LOCAL_MODELS,
    MELD_DIR,
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
    set_threads,
    write_results,
)


BASELINE = "8692698"  # the last commit before the performance changes of issue 7


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


def interleaved(functions: dict, rounds: int, warmup: int = 1) -> dict:
    """
    Times each function once per round, alternating the order every round. Returns, per name, the wall-clock and
    the CPU (`time.process_time`, all threads of this process) seconds of every round: on a machine shared with
    other jobs, CPU time barely moves when the process waits for a core, wall time does.
    """
    for function in functions.values():
        for _ in range(warmup):
            function()
    names = list(functions)
    timings = {name: {"wall": [], "cpu": []} for name in names}
    for index in range(rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            wall, cpu = time.perf_counter(), time.process_time()
            functions[name]()
            timings[name]["cpu"].append(time.process_time() - cpu)
            timings[name]["wall"].append(time.perf_counter() - wall)
    return timings


def summarise(name: str, timings: dict, difference: float | None, details: str, unit: float = 1e3) -> dict:
    median = {side: {clock: statistics.median(values) * unit for clock, values in clocks.items()}
              for side, clocks in timings.items()}  # fmt: skip
    return {"workload": name, "details": details,
            "baseline_ms": median["baseline"]["wall"], "current_ms": median["current"]["wall"],
            "speedup": median["baseline"]["wall"] / median["current"]["wall"],
            "baseline_cpu_ms": median["baseline"]["cpu"], "current_cpu_ms": median["current"]["cpu"],
            "cpu_speedup": median["baseline"]["cpu"] / max(median["current"]["cpu"], 1e-9),
            "max_abs_difference": difference, "rounds": len(timings["current"]["wall"]),
            "timings_s": timings}  # fmt: skip


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.1f}"


@cache
def meld_lengths() -> tuple[int, ...]:
    from bench_training import meld_dialogues

    return tuple(len(labels) for labels in meld_dialogues(MELD_DIR)[0])


def meld_batches(batch_size: int, count: int, seed: int = 0) -> list[list[int]]:
    """`count` batches of MELD training-dialogue lengths (random batches, as a shuffled epoch makes them)."""
    lengths = list(meld_lengths())
    rng = random.Random(seed)
    rng.shuffle(lengths)
    return [lengths[i * batch_size : (i + 1) * batch_size] for i in range(count)]


def embed_batch(lengths: list[int], dims: dict, generator):
    import torch

    batch_size, num_utterances = len(lengths), max(lengths)
    utterance_mask = (torch.arange(num_utterances) < torch.tensor(lengths)[:, None]).long()
    batch = {f"{m}_embeds": torch.randn(batch_size, num_utterances, d, generator=generator) * utterance_mask[..., None]
             for m, d in dims.items()}  # fmt: skip
    batch["utterance_mask"] = utterance_mask
    batch["modality_mask"] = utterance_mask[..., None].repeat(1, 1, 3)
    batch["labels"] = torch.randint(0, 7, (batch_size, num_utterances), generator=generator).masked_fill(
        utterance_mask == 0, -100
    )
    return batch


def dialogue_config(package, text_dim: int = 768, **overrides):
    """The paper's MELD dialogue level (1 encoder layer, 5 fusion layers) with tiny, unused extractors."""
    encoder = {"model_type": "resnet", "depths": [1], "hidden_sizes": [8], "embedding_size": 8}
    return package.M2FNetConfig(
        text_config={"model_type": "bert", "hidden_size": text_dim, "num_hidden_layers": 1, "num_attention_heads": 4,
                     "intermediate_size": 16, "vocab_size": 16},
        audio_config={"encoder_config": encoder}, visual_config={"encoder_config": encoder}, **overrides,
    )  # fmt: skip


def twin_models(packages: dict, make_config, model_class: str = "M2FNetForEmotionRecognition"):
    """The same model (same weights) built with each package."""
    import torch

    torch.manual_seed(0)
    current = getattr(packages["current"], model_class)(make_config(packages["current"]))
    baseline = getattr(packages["baseline"], model_class)(make_config(packages["baseline"]))
    baseline.load_state_dict(current.state_dict())
    return {"baseline": baseline, "current": current}


# ----------------------------------------------------------------------------------------------------------------------
# Workloads: the changed code paths
# ----------------------------------------------------------------------------------------------------------------------


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
        stft = torch.stft(torch.from_numpy(signals), extractor.n_fft, extractor.hop_length,
                          window=torch.from_numpy(extractor.window), center=False, return_complex=True)  # fmt: skip
        power = stft.real.square() + stft.imag.square()
        log_mel = torch.clamp(torch.from_numpy(extractor.mel_filters).T @ power, min=_LOG_MEL_EPS).log10()
        real = torch.arange(log_mel.shape[-1]) < torch.tensor(frames)[:, None]
        peak = log_mel.masked_fill(~real[:, None, :], -torch.inf).amax(dim=(1, 2), keepdim=True)
        log_mel = (torch.maximum(log_mel, peak - 8.0) + 4.0) / 4.0
        return [log_mel[i, :, :n].numpy() for i, n in enumerate(frames)]

    timings = interleaved({"baseline": partial(_log_mel_each, extractor, waveforms), "current": batched}, rounds * 2)
    return summarise("log-mel: one clip at a time -> one batched STFT", timings, None,
                     f"{len(waveforms)} clips of 2.8-4.4 s at 16 kHz")  # fmt: skip


def _log_mel_each(extractor, waveforms):
    return [extractor._log_mel(waveform) for waveform in waveforms]


def tokenizer():
    from transformers import AutoTokenizer

    path = LOCAL_MODELS / "all-mpnet-base-v2"
    if (path / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(str(path))
    from m2fnet_training.tiny_model import train_tiny_tokenizer

    return train_tiny_tokenizer([f"{s}: {t}" for s in SPEAKERS for t in SENTENCES])


def conversation(num_utterances, offset=0, audio=None):
    return [{"speaker": SPEAKERS[(offset + i) % 6], "text": SENTENCES[(offset + i) % 10],
             **({"audio": str(audio[(offset + i) % len(audio)])} if audio else {})}
            for i in range(num_utterances)]  # fmt: skip


def compare_processor(packages, rounds, quick, modality):
    tok = tokenizer()
    processors = {side: package.M2FNetProcessor(tok, package.M2FNetFeatureExtractor(), package.M2FNetImageProcessor(),
                                                modalities=[modality]) for side, package in packages.items()}  # fmt: skip
    if modality == "text":
        conversations = [conversation(10, offset=10 * b) for b in range(4 if quick else 16)]
        details = f"{len(conversations)} dialogues x 10 utterances, all-mpnet-base-v2 tokenizer"
    else:
        speech = [generate_speech(i) for i in range(10)]
        conversations = [conversation(4 if quick else 8, audio=speech)]
        details = f"{len(conversations[0])} utterances, espeak-ng wav files (22.05 kHz) -> decode, resample, log-mel"
    outputs = {side: dict(p(conversations=conversations, return_tensors="np")) for side, p in processors.items()}
    functions = {side: partial(p, conversations=conversations, return_tensors="pt") for side, p in processors.items()}
    timings = interleaved(functions, rounds)
    name = "processor: text (tokenizer ids looked up once)" if modality == "text" else "control: processor audio"
    return summarise(name, timings, max_difference(*outputs.values()), details)


def compare_dialogue(packages, rounds, quick, mode, models):
    import torch

    dims = {"text": 768, "audio": 300, "visual": 600}
    generator = torch.Generator().manual_seed(0)
    if mode == "one conversation":
        batches = [embed_batch([16], dims, generator)]
        details = "1 conversation of 16 utterances (no padding)"
    else:
        batches = [embed_batch(lengths, dims, generator) for lengths in meld_batches(16, 1 if quick else 4)]
        real = sum(int(b["utterance_mask"].sum()) for b in batches)
        padded = sum(b["utterance_mask"].numel() for b in batches)
        details = f"batches of 16 MELD train dialogues ({100 * (1 - real / padded):.0f} % padding)"
    keys = ("text_embeds", "audio_embeds", "visual_embeds", "utterance_mask", "modality_mask", "labels")

    if mode != "training":
        for model in models.values():
            model.eval()
        with torch.inference_mode():
            outputs = {side: [m(**{k: b[k] for k in keys}).logits for b in batches] for side, m in models.items()}
            functions = {side: partial(_forward_all, m, batches, keys) for side, m in models.items()}
            timings = interleaved(functions, rounds)
        return summarise(f"dialogue level, inference: {mode}", timings, max_difference(*outputs.values()),
                         details + ", eval")  # fmt: skip

    # Training: the same loss and gradients (eval mode: no dropout), then timed steps with dropout and AdamW.
    gradients = {}
    for side, model in models.items():
        model.eval()
        model.zero_grad()
        model(**{k: batches[0][k] for k in keys}).loss.backward()
        gradients[side] = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
        model.zero_grad(set_to_none=True)
        model.train()
    optimizers = {side: torch.optim.AdamW(m.parameters(), lr=5e-4, weight_decay=5e-4) for side, m in models.items()}
    functions = {side: partial(_train_steps, models[side], optimizers[side], batches, keys) for side in models}
    timings = interleaved(functions, rounds)
    return summarise("dialogue level, training step", timings, max_difference(*gradients.values()),
                     details + ", fwd + bwd + AdamW, dropout 0.4; difference: gradients")  # fmt: skip


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
    text_config = (AutoConfig.from_pretrained(str(path)).to_dict() if (path / "config.json").exists() else
                   {"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
                    "intermediate_size": 1536})  # fmt: skip
    models = twin_models(packages, lambda p: p.M2FNetConfig(text_config=text_config, modalities=["text"]))
    tok = tokenizer()
    processor = packages["current"].M2FNetProcessor(
        tok, packages["current"].M2FNetFeatureExtractor(), packages["current"].M2FNetImageProcessor(),
        modalities=["text"],
    )  # fmt: skip
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
        outputs = {side: m.m2fnet.get_text_features(input_ids, attention_mask, selected) for side, m in models.items()}
        functions = {side: partial(m.m2fnet.get_text_features, input_ids, attention_mask, selected)
                     for side, m in models.items()}  # fmt: skip
        timings = interleaved(functions, rounds)
    return summarise("text features, input padded to 128 tokens", timings, max_difference(*outputs.values()),
                     f"{selected.sum()} utterances of <= {length} tokens, all-MiniLM-L6-v2 size, eval")  # fmt: skip


def compare_audio_extractor(packages, rounds, quick):
    import torch

    models = twin_models(packages, lambda package: package.M2FNetAudioConfig(), "M2FNetAudioExtractor")
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
    return summarise("audio extractor (channels-last input)", timings, max_difference(*outputs.values()),
                     f"{clips} log-mels of 128 x 340 (3.4 s), ResNet-18, eval")  # fmt: skip


def compare_visual(packages, rounds, quick):
    import torch

    def config(package):
        return package.M2FNetVisualConfig()  # ResNet-18, 300-d, scene + face

    models = twin_models(packages, config, "M2FNetVisualExtractor")
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
    return summarise("visual extractor (channels-last input, chunks of 64)", timings, max_difference(*outputs.values()),
                     f"{utterances} utterances x 15 frames (224 px) + 15 faces (112 px), ResNet-18, eval")  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------------
# Evaluated, not adopted
# ----------------------------------------------------------------------------------------------------------------------


def explore_sdpa(rounds, quick):
    """The dialogue-level attention core, eager (as implemented) vs `F.scaled_dot_product_attention`."""
    import torch
    import torch.nn.functional as F

    results = []
    for mode, (batch_size, length) in (("inference, 1 conversation of 16", (1, 16)), ("training, 16 x 24", (16, 24))):
        generator = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(batch_size, 8, length, 96, generator=generator, requires_grad=mode.startswith("train"))
                   for _ in range(3))  # fmt: skip
        mask = torch.rand(batch_size, length, generator=generator) > 0.3
        training = mode.startswith("train")

        def eager(q=q, k=k, v=v, mask=mask, training=training):
            scores = torch.matmul(q, k.transpose(-1, -2)) * 96**-0.5
            scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
            probs = F.dropout(scores.softmax(-1) * mask.any(-1)[:, None, None, None], 0.1, training=training)
            out = torch.matmul(probs, v)
            if training:
                out.sum().backward()
            return out

        additive = torch.zeros(batch_size, 1, 1, length).masked_fill(~mask[:, None, None, :], torch.finfo().min)

        def sdpa(q=q, k=k, v=v, mask=mask, additive=additive, training=training):
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=additive, dropout_p=0.1 if training else 0.0)
            out = out * mask.any(-1)[:, None, None, None]
            if training:
                out.sum().backward()
            return out

        timings = interleaved({"baseline": eager, "current": sdpa}, rounds * 4)
        row = summarise(f"attention core: eager -> SDPA, {mode}", timings, None, "8 heads of 96 (D_T 768)")
        results.append(row)
    return results


def explore_face_detection(rounds, quick):
    """Face detection per 720p frame: the default vs cheaper settings; boxes compared with the default's."""
    import cv2
    import numpy as np

    from modeling_m2fnet import M2FNetFaceDetector, load_video_frames

    frames = load_video_frames(str(generate_face_video(1280, 720, generate_speech(0))), num_frames=4 if quick else 15)
    wide = np.full((720, 1280, 3), 128, np.uint8)  # the 512 px portrait in a 720p frame: a face of about 100 px
    from skimage.data import astronaut

    wide[104:616, 384:896] = astronaut()
    frames = [*frames, wide]
    default = M2FNetFaceDetector()

    def downscaled(frame):
        # Shrink so that the smallest face searched for (0.1 x 720 = 72 px) is the cascade's 24 px window.
        small = cv2.resize(frame, (427, 240), interpolation=cv2.INTER_AREA)
        return [((round(x0 * 3), round(y0 * 3), round(x1 * 3), round(y1 * 3)), c)
                for (x0, y0, x1, y1), c in M2FNetFaceDetector(min_face_size=0.1).detect(small)]  # fmt: skip

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
        timings = interleaved({"baseline": partial(_detect_frames, default.detect, frames),
                               "current": partial(_detect_frames, detect, frames)}, max(2, rounds // 2))  # fmt: skip
        row = summarise(f"face detection: default -> {name}", timings, None,
                        f"{len(frames)} frames of 1280x720; same number of faces on {same_count}/{len(frames)} "
                        f"(the last frame holds a ~100 px face)", unit=1e3 / len(frames))  # fmt: skip
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
    model = package.M2FNetVisualExtractor(package.M2FNetVisualConfig()).eval()
    frames = torch.randn(utterances, 15, 3, 224, 224)
    faces, weights = torch.randn(utterances, 15, 1, 3, 112, 112), torch.ones(utterances, 15, 1)
    before = _peak_rss_mib()
    start = time.perf_counter()
    with torch.inference_mode():
        model(frames, faces, weights)
    seconds = time.perf_counter() - start
    print(json.dumps({"side": side, "peak_rss_mib": _peak_rss_mib(), "rss_before_forward_mib": before,
                      "seconds": seconds}))  # fmt: skip


def _peak_rss_mib() -> float:
    # VmHWM, not `getrusage`: the latter keeps the parent's peak across fork + exec.
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def compare_visual_memory(package_dir: Path, utterances: int) -> dict:
    rows = {}
    for side, directory in (("baseline", str(package_dir)), ("current", None)):
        command = [sys.executable, __file__, "--child_visual", side, "--child_utterances", str(utterances)]
        if directory:
            command += ["--child_package_dir", directory]
        output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO_ROOT).stdout
        rows[side] = json.loads(output.strip().splitlines()[-1])
    return {"workload": f"visual extractor, {utterances} utterances ({utterances * 15} frames + faces), eval",
            "baseline": rows["baseline"], "current": rows["current"]}  # fmt: skip


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"Git revision of the 'before' code ({BASELINE}).")
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds, small inputs, no visual extractor or face detection: a smoke check.")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=None, help="Timed rounds per workload (default 7, quick 2).")
    parser.add_argument("--memory_utterances", type=int, default=None,
                        help="Utterances of the visual-extractor memory check (default 16, quick 1).")  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice).")
    parser.add_argument("--output_dir", default=None, help="Folder of the JSON file (default benchmarks/results).")
    parser.add_argument("--name", default="before_after", help="Name of the JSON file (without .json).")
    parser.add_argument("--child_visual", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child_package_dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child_utterances", type=int, default=16, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.child_visual:
        return child_visual(args.child_visual, args.child_package_dir, args.child_utterances)

    import modeling_m2fnet

    machine = machine_description()
    print(describe(machine), flush=True)
    rounds = args.rounds or (2 if args.quick else 7)
    with tempfile.TemporaryDirectory() as folder:
        package_dir = export_package(args.baseline, folder)
        packages = {"baseline": import_package(package_dir), "current": modeling_m2fnet}
        print(f"baseline: modeling_m2fnet at {args.baseline}; current: {Path(modeling_m2fnet.__file__).parent}")
        dialogue_models = twin_models(packages, dialogue_config)  # the paper's MELD dialogue level, 39M parameters
        steps = [
            partial(compare_processor, packages, rounds, args.quick, "text"),
            partial(compare_processor, packages, rounds, args.quick, "audio"),
            partial(compare_dialogue, packages, rounds, args.quick, "one conversation", dialogue_models),
            partial(compare_dialogue, packages, rounds, args.quick, "padded batches", dialogue_models),
            partial(compare_dialogue, packages, rounds, args.quick, "training", dialogue_models),
            partial(compare_text_padding, packages, rounds, args.quick),
        ]
        steps.append(partial(compare_audio_extractor, packages, rounds, args.quick))
        if not args.quick:
            steps.append(partial(compare_visual, packages, rounds, args.quick))
        changes = []
        for step in steps:
            changes.append(step())
            row = changes[-1]
            print(f"  {row['workload']}: {row['baseline_ms']:.1f} -> {row['current_ms']:.1f} ms wall "
                  f"(x{row['speedup']:.2f}), CPU x{row['cpu_speedup']:.2f}, max |diff| "
                  f"{row['max_abs_difference']:.2e}", flush=True)  # fmt: skip
        memory = compare_visual_memory(package_dir, args.memory_utterances or (1 if args.quick else 16))
    explored = [*explore_sdpa(rounds, args.quick), explore_batched_log_mel(rounds, args.quick)]
    if not args.quick:
        explored += explore_face_detection(rounds, args.quick)

    def table(rows, difference=True):
        headers = ["workload", "before ms", "after ms", "speed-up", "before CPU ms", "after CPU ms", "CPU speed-up",
                   *(["max abs diff"] if difference else []), "rounds", "input"]  # fmt: skip
        body = [[r["workload"], _ms(r["baseline_ms"]), _ms(r["current_ms"]), f"x{r['speedup']:.2f}",
                 _ms(r["baseline_cpu_ms"]), _ms(r["current_cpu_ms"]), f"x{r['cpu_speedup']:.2f}",
                 *([f"{r['max_abs_difference']:.1e}"] if difference else []), r["rounds"], r["details"]]
                for r in rows]  # fmt: skip
        return format_table(headers, body)

    print(f"\nBefore ({args.baseline}) / after (working tree), medians of interleaved rounds, torch threads "
          f"{machine['torch_threads']}")  # fmt: skip
    print(table(changes))
    print("\nEvaluated, not adopted ('before' = as implemented, 'after' = the alternative)")
    print(table(explored, difference=False))
    b, c = memory["baseline"], memory["current"]
    print(f"\nPeak RSS, {memory['workload']}: before {b['peak_rss_mib']:.0f} MiB ({b['seconds']:.1f} s), "
          f"after {c['peak_rss_mib']:.0f} MiB ({c['seconds']:.1f} s); model + inputs alone: "
          f"{c['rss_before_forward_mib']:.0f} MiB")  # fmt: skip

    payload = {
        "benchmark": "before_after",
        "command": "python benchmarks/compare_revisions.py" + (" --quick" if args.quick else ""),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "baseline_revision": args.baseline,
        "machine": machine,
        "changes": changes,
        "explored": explored,
        "visual_memory": memory,
    }
    path = write_results(args.name, payload, args.output_dir)
    print(f"\nwrote {path}")
    return payload


if __name__ == "__main__":
    main()
