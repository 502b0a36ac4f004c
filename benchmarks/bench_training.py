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
"""Stage-2 training throughput on cached embeddings: seconds per MELD-sized epoch and peak RSS, on CPU.

The dialogues have the real lengths and labels of MELD's training split (9,989 utterances in 1,038 dialogues, read
from `--data_dir`/train_sent_emo.csv with `datasets_scripts.meld.MeldBuilder`, config "text"; MELD-like random
lengths without it); their
embeddings are random, stored as a `datasets.Dataset` in the cached-feature format that
`m2fnet_training.collators.M2FNetEmbeddingCollator` reads (`text_embeds` 768, `audio_embeds` 300, `visual_embeds`
600 wide). The model is the paper's MELD setting (1 dialogue-encoder layer per modality, 5 fusion layers, dropout
0.4), built around an all-mpnet-base-v2-sized text encoder (D_T = 768) whose utterance-level extractors are frozen
and unused; AdamW (lr 5e-4, weight decay 5e-4) over the dialogue level; batches of 16 dialogues. One epoch is
collation (from the Arrow rows) + forward + backward + optimizer step for every batch.

    python benchmarks/bench_training.py --data_dir data/MELD   # 2 + 2 extra epochs: about 1.5 minutes, 2 idle cores
    python benchmarks/bench_training.py --revision 8692698 --no_extra --name training_before   # the code before
    python benchmarks/bench_training.py --quick    # 6 steps, epoch time extrapolated: a smoke check (< 1 min)
"""

import argparse
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from _common import (
    TEXT_ENCODER_CONFIGS,
    describe,
    export_package,
    format_table,
    import_package,
    machine_description,
    save_benchmark,
    set_threads,
)


MELD_TRAIN = {"utterances": 9989, "dialogues": 1038}
TEXT_CONFIGS = TEXT_ENCODER_CONFIGS


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def meld_dialogues(data_dir: Path | None) -> tuple[list[list[int]], str]:
    """The emotion ids of every MELD train dialogue (one list per dialogue), and where they came from."""
    if data_dir is not None and (data_dir / "train_sent_emo.csv").exists():
        from datasets.utils.logging import disable_progress_bar

        from datasets_scripts.meld import MeldBuilder

        disable_progress_bar()
        with tempfile.TemporaryDirectory() as cache_dir:
            builder = MeldBuilder(config_name="text", data_dir=str(data_dir), cache_dir=cache_dir, splits=("train",))
            builder.download_and_prepare()
            train = builder.as_dataset(split="train")
            labels = [[utterance["emotion"] for utterance in row["utterances"]] for row in train]
        return labels, f"MELD train split ({data_dir / 'train_sent_emo.csv'})"
    # No MELD CSV: MELD-like lengths (geometric, mean about 9.6), so that the script still runs from a bare clone.
    rng = random.Random(0)
    lengths = [min(24, 1 + int(rng.expovariate(1 / 8.6))) for _ in range(MELD_TRAIN["dialogues"])]
    labels = [[rng.randrange(7) for _ in range(length)] for length in lengths]
    return labels, "synthetic MELD-like lengths (no --data_dir)"


def cached_dataset(dialogue_labels: list[list[int]], embed_dims: dict[str, int], seed: int):
    """Random embeddings in the cached-feature format (one row per dialogue), as an in-memory `datasets.Dataset`."""
    import datasets
    import numpy as np

    from m2fnet_training.collators import EMBED_COLUMNS
    from m2fnet_training.features import features_schema

    rng = np.random.default_rng(seed)

    def rows():
        for index, labels in enumerate(dialogue_labels):
            row = {"dialogue_id": str(index), "labels": labels, "modality_mask": np.ones((len(labels), 3), np.int8)}
            row["speaker_ids"] = [position % 2 for position in range(len(labels))]
            for modality, width in embed_dims.items():
                row[EMBED_COLUMNS[modality]] = rng.standard_normal((len(labels), width), dtype=np.float32)
            yield row

    return datasets.Dataset.from_list(list(rows()), features=features_schema(embed_dims))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 steps, epoch time extrapolated (< 1 min).")
    parser.add_argument("--epochs", type=int, default=2, help="Epochs with random batches (the first is a warmup).")
    parser.add_argument("--batch_size", type=int, default=16, help="Dialogues per batch.")
    parser.add_argument("--text_dim", type=int, default=768, choices=sorted(TEXT_CONFIGS), help="D_T (768 or 1024).")
    parser.add_argument("--format", choices=["numpy", "python"], default="numpy", help="How rows are read.")
    parser.add_argument("--no_extra", action="store_true", help="Skip the length-grouped and fused-AdamW epochs.")
    parser.add_argument("--revision", help="Benchmark `modeling_m2fnet` at this git revision (default: working tree).")
    parser.add_argument("--data_dir", help="Folder holding MELD's train_sent_emo.csv (else MELD-like lengths).")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the embeddings, the model and the batch order.")
    parser.add_argument("--output_dir", help="Folder of the JSON file (default benchmarks/results).")
    parser.add_argument("--name", default="training", help="Name of the JSON file (without .json).")
    return parser.parse_args(argv)


def build_model(package, text_dim: int):
    """The paper's MELD setting around a text encoder of width D_T (unused: the embeddings are cached)."""
    import torch

    config = package.M2FNetConfig(text_config=TEXT_CONFIGS[text_dim], hidden_dropout_prob=0.4)
    model = package.M2FNetForEmotionRecognition(config)
    extractors = (model.m2fnet.text_model, model.m2fnet.audio_model, model.m2fnet.visual_model)
    for extractor in extractors:
        extractor.requires_grad_(False)
    model.train()
    for extractor in extractors:
        extractor.eval()
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    return model, trainable, torch.optim.AdamW(trainable, lr=5e-4, weight_decay=5e-4)


def loader(dataset, lengths, batch_size: int, seed: int, group_by_length: bool):
    """As training loads cached features: a DataLoader over the rows, shuffled every epoch."""
    import torch
    from torch.utils.data import DataLoader, RandomSampler

    from m2fnet_training.collators import M2FNetEmbeddingCollator
    from m2fnet_training.samplers import LengthGroupedBatchSampler

    collator = M2FNetEmbeddingCollator()
    if group_by_length:
        return DataLoader(
            dataset, batch_sampler=LengthGroupedBatchSampler(lengths, batch_size, seed), collate_fn=collator
        )
    generator = torch.Generator().manual_seed(seed)
    sampler = RandomSampler(dataset, generator=generator)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collator)


def run_epoch(model, optimizer, batches, num_dialogues: int, batch_size: int, max_steps: int | None = None) -> dict:
    """Collation + forward + backward + optimizer step over `batches`; epoch figures extrapolated from the steps."""
    data_s = compute_s = 0.0
    positions = real = steps = 0
    step_seconds = []
    start, start_cpu = time.perf_counter(), time.process_time()
    tick = start
    for batch in batches:
        tock = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        data_s += tock - tick
        tick = time.perf_counter()
        compute_s += tick - tock
        step_seconds.append(tick - tock)
        positions += batch["utterance_mask"].numel()
        real += int(batch["utterance_mask"].sum())
        steps += 1
        if max_steps is not None and steps >= max_steps:
            break
    total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    scale = -(-num_dialogues // batch_size) / steps
    # Other jobs on a shared machine stall some steps for seconds; the median step is what a quiet machine does.
    median_estimate = (statistics.median(step_seconds) * steps + data_s) * scale
    return {
        "steps": steps,
        "seconds": total,
        "cpu_seconds": total_cpu,
        "data_s": data_s,
        "compute_s": compute_s,
        "epoch_s": total * scale,
        "epoch_cpu_s": total_cpu * scale,
        "epoch_s_median_step": median_estimate,
        "extrapolated": scale != 1,
        "padded_positions": positions,
        "real_utterances": real,
        "padding_fraction": 1 - real / positions,
        "loss_last": float(loss.detach()),
        "step_seconds": [round(value, 4) for value in step_seconds],
    }


def run_all(args, model, trainable, optimizer, dataset, lengths) -> list[dict]:
    import torch

    def epoch(grouped: bool, index: int, optimizer=optimizer, max_steps=None) -> dict:
        batches = loader(dataset, lengths, args.batch_size, args.seed + index, grouped)
        return run_epoch(model, optimizer, batches, len(lengths), args.batch_size, max_steps)

    if args.quick:
        epoch(False, 0, max_steps=1)  # warmup
        return [{"batching": "random", **epoch(False, 1, max_steps=6)}]
    runs = []
    for index in range(args.epochs):
        runs.append({"batching": "random", "epoch": index, **epoch(False, index)})
        print(f"  epoch {index} (random batches): {runs[-1]['epoch_s']:.1f} s", flush=True)
    if not args.no_extra:
        runs.append({"batching": "grouped by length", "epoch": args.epochs, **epoch(True, args.epochs)})
        print(f"  epoch {args.epochs} (grouped by length): {runs[-1]['epoch_s']:.1f} s", flush=True)
        fused = torch.optim.AdamW(trainable, lr=5e-4, weight_decay=5e-4, fused=True)
        runs.append(
            {"batching": "random, AdamW(fused=True)", "epoch": args.epochs + 1, **epoch(False, args.epochs + 1, fused)}
        )
        print(f"  epoch {args.epochs + 1} (random, fused AdamW): {runs[-1]['epoch_s']:.1f} s", flush=True)
    return runs


def print_table(args, runs, lengths, epoch_s, epoch_median_step_s) -> None:
    headers = [
        "batching",
        "epoch",
        "steps",
        "s / epoch",
        "s / epoch (median step)",
        "CPU s / epoch",
        "collate s",
        "fwd+bwd+step s",
        "padding",
    ]
    rows = [
        [
            run["batching"],
            run.get("epoch", "-"),
            run["steps"],
            f"{run['epoch_s']:.1f}" + (" (extrapolated)" if run["extrapolated"] else ""),
            f"{run['epoch_s_median_step']:.1f}",
            f"{run['epoch_cpu_s']:.1f}",
            f"{run['data_s']:.1f}",
            f"{run['compute_s']:.1f}",
            f"{100 * run['padding_fraction']:.0f} %",
        ]
        for run in runs
    ]
    print(
        f"\nStage-2 training on cached embeddings (D_T {args.text_dim}, batch {args.batch_size} dialogues, rows as "
        f"{args.format}; {len(lengths)} dialogues / {sum(lengths)} utterances; {args.revision or 'working tree'})"
    )
    print(format_table(headers, rows))
    print(
        f"\nseconds per epoch (median of the timed random-batch epochs): {epoch_s:.1f} s wall, "
        f"{epoch_median_step_s:.1f} s from the median step (goal < 30 s); peak RSS {peak_rss_mib():.0f} MiB"
    )


def main(argv=None) -> dict:
    args = parse_args(argv)
    set_threads(args.threads)
    import torch

    if args.revision:
        package = import_package(export_package(args.revision, tempfile.mkdtemp(prefix="m2fnet_")))
    else:
        import modeling_m2fnet as package
    print(f"modeling_m2fnet: {Path(package.__file__).parent} ({args.revision or 'working tree'})", flush=True)
    machine = machine_description()
    print(describe(machine), flush=True)
    torch.manual_seed(args.seed)
    dialogue_labels, source = meld_dialogues(Path(args.data_dir) if args.data_dir else None)
    lengths = [len(labels) for labels in dialogue_labels]
    print(f"dialogues: {len(lengths)}, utterances: {sum(lengths)} ({source})", flush=True)
    embed_dims = {"text": args.text_dim, "audio": 300, "visual": 600}
    dataset = cached_dataset(dialogue_labels, embed_dims, args.seed)
    if args.format == "numpy":
        dataset = dataset.with_format("numpy")
    model, trainable, optimizer = build_model(package, args.text_dim)
    num_trainable = sum(parameter.numel() for parameter in trainable)
    print(f"trainable (dialogue level): {num_trainable:,} parameters", flush=True)
    runs = run_all(args, model, trainable, optimizer, dataset, lengths)
    timed = [run for run in runs if run["batching"] == "random"][1:] or runs[:1]
    epoch_s = statistics.median(run["epoch_s"] for run in timed)
    epoch_median_step_s = statistics.median(run["epoch_s_median_step"] for run in timed)
    print_table(args, runs, lengths, epoch_s, epoch_median_step_s)
    settings = {
        "batch_size": args.batch_size,
        "embed_dims": embed_dims,
        "row_format": args.format,
        "optimizer": "AdamW(lr=5e-4, weight_decay=5e-4)",
        "num_hidden_layers": 1,
        "num_fusion_layers": 5,
        "hidden_dropout_prob": 0.4,
        "data": source,
        "dialogues": len(lengths),
        "utterances": sum(lengths),
        "trainable_parameters": num_trainable,
    }
    command = "python benchmarks/bench_training.py" + (" --quick" if args.quick else "")
    command += f" --revision {args.revision}" if args.revision else ""
    sections = {
        "revision": args.revision or "working tree",
        "settings": settings,
        "runs": runs,
        "seconds_per_epoch": epoch_s,
        "seconds_per_epoch_median_step": epoch_median_step_s,
        "peak_rss_mib": peak_rss_mib(),
    }
    return save_benchmark(args, "training", command, machine, sections)


if __name__ == "__main__":
    main()
