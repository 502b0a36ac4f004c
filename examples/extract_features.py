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
"""Caches M2FNet's utterance embeddings (text / audio / visual) of a row-per-dialogue dataset as Arrow, resumably.

```bash
python examples/build_dataset.py meld --config text --data_dir data/MELD --output_dir outputs/datasets/meld-text
python examples/build_model.py --text_encoder outputs/text-encoder --modalities text \
    --dataset_dir outputs/datasets/meld-text --output_dir outputs/models/m2fnet-text
python examples/extract_features.py --model outputs/models/m2fnet-text --dataset outputs/datasets/meld-text \
    --output_dir outputs/features/meld-text
```

`--dataset` is a folder written by `save_to_disk` (`build_dataset.py --output_dir`), a folder of `<split>.parquet`
files (`build_dataset.py --parquet_dir`) or a Hub dataset id. The output loads with `datasets.load_from_disk` and
trains with `train_m2fnet.py --features_dir`; `extraction_report.json` beside it gives the label names, widths,
counts, unusable media and timings. The dataset's label names must be the model's (build the model with
`build_model.py --dataset_dir`). An interrupted run resumes: restart it with the same arguments, and the finished
shards (about `--shard_utterances` utterances each, in `<output_dir>.shards` or `--cache_dir`) are reused.
"""

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from m2fnet_training.cli import run_cli
from m2fnet_training.features import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_SHARD_UTTERANCES,
    REPORT_FILENAME,
    dataset_builder_name,
    extract_features,
    load_dialogue_dataset,
    load_m2fnet,
)
from modeling_m2fnet.configuration_m2fnet import MODALITIES


logger = logging.getLogger("extract_features")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--model", required=True, help="M2FNet checkpoint folder (examples/build_model.py) or Hub id.")
    parser.add_argument("--dataset", required=True, help="save_to_disk folder, folder of <split>.parquet, or Hub id.")
    parser.add_argument("--output_dir", required=True, help="Where the features DatasetDict is saved.")
    parser.add_argument("--modalities", nargs="+", choices=list(MODALITIES), help="Modalities (default: the model's).")
    parser.add_argument("--splits", nargs="+", help="Splits to process (default: all).")
    parser.add_argument(
        "--shard_utterances",
        type=int,
        default=DEFAULT_SHARD_UTTERANCES,
        help="Utterances per cached shard (whole dialogues): the unit of progress and of resumption.",
    )
    parser.add_argument(
        "--batch_size", type=int, default=DEFAULT_BATCH_SIZE, help="Dialogues encoded together (lower it for video)."
    )
    parser.add_argument("--utterances_per_forward", type=int, default=64, help="Most utterances per forward pass.")
    parser.add_argument(
        "--on_media_error",
        choices=["raise", "skip"],
        help="Unreadable media: stop, or mark the modality missing and count it (default: the processor's).",
    )
    parser.add_argument("--cache_dir", help="Shard cache folder (default: <output_dir>.shards).")
    parser.add_argument("--keep_cache", action="store_true", help="Keep the shard files after a successful run.")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing output folder.")
    parser.add_argument("--max_dialogues", type=int, help="Only the first N dialogues of each split.")
    parser.add_argument("--device", help="torch device, e.g. cuda (default: cuda if available).")
    parser.add_argument("--num_threads", type=int, help="torch CPU threads (1 per process on a shared machine).")
    parser.add_argument("--trust_remote_code", action="store_true", help="Allow a Hub checkpoint's processor code.")
    parser.add_argument("--no_progress", action="store_true", help="Hide the progress bar.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    output_dir = Path(args.output_dir).expanduser()
    if output_dir.exists() and not args.overwrite:
        raise FileExistsError(f"{output_dir} exists; pass --overwrite to replace it.")
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    dataset = load_dialogue_dataset(args.dataset)
    model, processor = load_m2fnet(args.model, trust_remote_code=args.trust_remote_code)
    started = time.perf_counter()
    _, report = extract_features(
        model,
        processor,
        dataset,
        output_dir,
        modalities=args.modalities,
        splits=args.splits,
        shard_utterances=args.shard_utterances,
        batch_size=args.batch_size,
        utterances_per_forward=args.utterances_per_forward,
        on_media_error=args.on_media_error,
        cache_dir=args.cache_dir,
        keep_cache=args.keep_cache,
        overwrite=args.overwrite,
        max_dialogues=args.max_dialogues,
        device=args.device or ("cuda" if torch.cuda.is_available() else "cpu"),
        progress=not args.no_progress,
        dataset_name=dataset_builder_name(args.dataset),
    )
    elapsed = time.perf_counter() - started
    for split, statistics in report["splits"].items():
        logger.info(
            f"{split}: {statistics['dialogues']} dialogues, {statistics['utterances']} utterances "
            f"({statistics['shards_computed']} shards computed, {statistics['shards_reused']} reused), "
            f"{statistics['utterances_per_second']} utterances/s, unusable media {statistics['unusable_media']}"
        )
    size = sum(file.stat().st_size for file in output_dir.rglob("*") if file.is_file())
    logger.info(
        f"Saved {report['modalities']} embeddings {report['embed_dims']} to {output_dir} ({size / 2**20:.1f} MiB, "
        f"{elapsed:.1f} s); report: {output_dir / REPORT_FILENAME}"
    )
    summary = {
        split: {key: stats[key] for key in ("dialogues", "utterances", "utterances_per_second")}
        for split, stats in report["splits"].items()
    }
    print(json.dumps({"wall_seconds": round(elapsed, 2), "output_bytes": size, "splits": summary}))
    return report


if __name__ == "__main__":
    run_cli(main)
