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
"""Training speed of stage 1 for text on real MELD utterances: full fine-tuning vs top layers on cached states.

    python benchmarks/bench_text_finetuning.py --text_encoder local_models/all-mpnet-base-v2 \\
        --dataset_dir outputs/datasets/meld-text [--threads 1] [--steps 12]

Every option trains the same `UtteranceClassifier` (first-token head) with AdamW on the same MELD training
utterances, encoded with the paper's context (previous and next utterance, speaker names), batches of 16:

- `all layers, padded to 128`: every layer trains, batches padded to `max_text_length` (the naive set-up);
- `all layers, length-grouped`: batches of similar lengths, padded to their longest utterance;
- `top k, cached`: the lower layers are frozen and their output is taken from a cache (computed here, untimed, for
  the benchmarked batches only), so each step runs only the top k layers forward and backward;
- the same with `bf16` autocast (CPUs with AVX512-BF16 or AMX run bfloat16 matrix products about twice as fast).

Printed and written to `benchmarks/results/text_finetuning.json`: seconds per step, training utterances per second
and the implied time of one MELD epoch (9,989 utterances), with the machine and its load.
"""

import argparse
import statistics
import time

import torch
from _common import describe, format_table, load_average, machine_description, set_threads, write_results

from m2fnet_training.samplers import LengthGroupedBatchSampler
from m2fnet_training.text_encoder_cache import first_trained_layer, freeze_lower_layers, layers_between
from m2fnet_training.text_finetuning import (
    TextEncoderArguments,
    UtteranceClassifier,
    encode_split,
    encoder_max_length,
    load_text_encoder,
    make_text_processor,
)


MELD_TRAIN_UTTERANCES = 9989


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text_encoder", required=True, help="Text encoder folder or Hub id (all-mpnet-base-v2).")
    parser.add_argument("--dataset_dir", required=True, help="MELD built by examples/build_dataset.py (text config).")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
    parser.add_argument("--steps", type=int, default=12, help="Timed optimizer steps per option (after 2 warm-up).")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--options", nargs="+", default=None, help="Subset of option names to run.")
    parser.add_argument(
        "--name", default="text_finetuning", help="Results file name (benchmarks/results/<name>.json)."
    )
    return parser.parse_args()


def batches(split, batch_size: int, count: int, grouped: bool) -> list[list[int]]:
    lengths = split.lengths if grouped else [0] * len(split)
    sampler = LengthGroupedBatchSampler(lengths, batch_size, seed=0, shuffle=True)
    return list(sampler)[:count]


def pad(split, indices, length: int | None, pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rows = [split.token_ids[index] for index in indices]
    length = length or max(len(row) for row in rows)
    input_ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for row, ids in enumerate(rows):
        input_ids[row, : len(ids)], mask[row, : len(ids)] = torch.tensor(ids[:length]), 1
    labels = torch.tensor([split.labels[index] for index in indices])
    return input_ids, mask, labels


def run_option(name, text_encoder, split, pad_id, args, trainable, padded, bf16) -> dict:
    encoder, _ = load_text_encoder(text_encoder)
    first_layer = first_trained_layer(encoder, trainable)
    frozen = freeze_lower_layers(encoder, first_layer)
    torch.manual_seed(0)
    model = UtteranceClassifier(encoder, num_labels=7, dropout=0.1, first_layer=first_layer)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-5)
    model.train()
    for module in frozen:
        module.eval()
    steps = []
    for indices in batches(split, args.batch_size, args.steps + 2, grouped=not padded):
        input_ids, mask, labels = pad(split, indices, 128 if padded else None, pad_id)
        inputs = {"input_ids": input_ids}
        if first_layer > 0:  # the cache a real run computes once: not timed
            with torch.no_grad(), layers_between(encoder, 0, first_layer):
                states = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
            inputs = {"lower_states": states * mask[..., None]}
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**inputs, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        steps.append(time.perf_counter() - start)
    seconds = statistics.median(steps[2:])
    per_second = args.batch_size / seconds
    return {
        "option": name,
        "trainable_layers": trainable or "all",
        "padding": "to 128" if padded else "per batch (length-grouped)",
        "bf16": bf16,
        "seconds_per_step": round(seconds, 3),
        "utterances_per_second": round(per_second, 2),
        "meld_epoch_minutes": round(MELD_TRAIN_UTTERANCES / per_second / 60, 1),
    }


OPTIONS = {
    "all layers, padded to 128": (None, True, False),
    "all layers, length-grouped": (None, False, False),
    "all layers, length-grouped, bf16": (None, False, True),
    "top 6, cached": (6, False, False),
    "top 4, cached": (4, False, False),
    "top 2, cached": (2, False, False),
    "top 6, cached, bf16": (6, False, True),
    "top 4, cached, bf16": (4, False, True),
    "top 2, cached, bf16": (2, False, True),
}


def main() -> None:
    args = parse_args()
    set_threads(args.threads)
    machine = machine_description()
    print(describe(machine), flush=True)
    import datasets

    from datasets_scripts.schema import dialogue_label_names

    meld = datasets.load_from_disk(args.dataset_dir)
    encoder, tokenizer = load_text_encoder(args.text_encoder)
    settings = TextEncoderArguments(text_encoder=args.text_encoder)
    processor = make_text_processor(
        tokenizer, dialogue_label_names(meld), settings, encoder_max_length(encoder, tokenizer)
    )
    split = encode_split(meld["train"], processor)
    lengths = split.lengths
    print(f"{len(split)} MELD training utterances, mean length {statistics.mean(lengths):.1f} tokens", flush=True)
    rows, load_before = [], load_average()
    for name, (trainable, padded, bf16) in OPTIONS.items():
        if args.options and name not in args.options:
            continue
        result = run_option(name, args.text_encoder, split, tokenizer.pad_token_id, args, trainable, padded, bf16)
        rows.append(result)
        print(
            f"{name:<36} {result['seconds_per_step']:>7.3f} s/step {result['utterances_per_second']:>7.2f} utt/s "
            f"{result['meld_epoch_minutes']:>7.1f} min/epoch",
            flush=True,
        )
    table = format_table(
        ["option", "s / step", "utterances / s", "MELD epoch (min)"],
        [[r["option"], r["seconds_per_step"], r["utterances_per_second"], r["meld_epoch_minutes"]] for r in rows],
    )
    print("\n" + table)
    write_results(
        args.name,
        {
            "machine": machine,
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "batch_size": args.batch_size,
            "steps": args.steps,
            "mean_tokens": round(statistics.mean(lengths), 1),
            "results": rows,
            "command": "python benchmarks/bench_text_finetuning.py --text_encoder <all-mpnet-base-v2> --dataset_dir "
            f"<meld-text> --threads {args.threads} --steps {args.steps}",
        },
    )


if __name__ == "__main__":
    main()
