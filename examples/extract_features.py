#!/usr/bin/env python
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
python examples/build_dataset.py meld --config text --data_dir /data/MELD --output_dir outputs/datasets/meld-text
python examples/build_model.py --text_encoder local_models/all-mpnet-base-v2 --modalities text --text_pooling mean \
    --output_dir outputs/models/m2fnet-mpnet-text
python examples/extract_features.py --model outputs/models/m2fnet-mpnet-text --dataset outputs/datasets/meld-text \
    --output_dir outputs/features/meld-mpnet-text
```

`--dataset` is a folder written by `save_to_disk` (e.g. `build_dataset.py --output_dir`), a folder of
`<split>.parquet` files (`build_dataset.py --parquet_dir`) or a Hub dataset id. The output loads with
`datasets.load_from_disk` and collates with `m2fnet_training.collators.M2FNetEmbeddingCollator`;
`extraction_report.json` beside it gives the label names, widths, counts, unusable media and timings.

An interrupted run resumes: restart it with the same arguments and the finished shards (in `<output_dir>.shards`,
or `--cache_dir`) are reused. See `datasets_scripts/features.py` for the design.
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a clone without installing
    sys.path.insert(0, str(REPO_ROOT))

import datasets  # noqa: E402
import torch  # noqa: E402

from m2fnet_training.features import (  # noqa: E402
    DEFAULT_BATCH_SIZE,
    DEFAULT_SHARD_SIZE,
    REPORT_FILENAME,
    extract_features,
)
from modeling_m2fnet import M2FNetForEmotionRecognition, M2FNetProcessor, register_auto_classes  # noqa: E402
from modeling_m2fnet.configuration_m2fnet import MODALITIES  # noqa: E402


logger = logging.getLogger("extract_features")


def load_dialogue_dataset(source: str) -> datasets.DatasetDict:
    """
    Loads a row-per-dialogue dataset: a `save_to_disk` folder, a folder of `<split>.parquet` files, or a Hub id.

    Raises:
        `ValueError`: for a local folder that holds neither.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            loaded = datasets.load_from_disk(str(path))
            return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict({"train": loaded})
        parquet_files = sorted(path.glob("*.parquet"))
        if parquet_files:
            return datasets.DatasetDict(
                {file.stem: datasets.Dataset.from_parquet(str(file)) for file in parquet_files}
            )
        raise ValueError(
            f"{path} holds neither a `save_to_disk` dataset (dataset_dict.json) nor <split>.parquet files; build one "
            "with examples/build_dataset.py --output_dir (or --parquet_dir)."
        )
    if path.exists() or source.startswith((".", "/", "~")):
        raise FileNotFoundError(f"Dataset {source!r} is not a folder.")
    return datasets.load_dataset(source)


def load_m2fnet(checkpoint: str, trust_remote_code: bool = False):
    """
    Loads an M2FNet checkpoint (e.g. written by `examples/build_model.py`) with this repository's model class, and
    its processor. The processor's sub-processors are loaded through the checkpoint's code, which a local folder
    is trusted to run; a Hub checkpoint needs `trust_remote_code=True`.
    """
    local = Path(checkpoint).expanduser().is_dir()
    if not local and not trust_remote_code:
        raise ValueError(f"{checkpoint!r} is not a local folder: pass --trust_remote_code to load its processor code.")
    register_auto_classes()
    model = M2FNetForEmotionRecognition.from_pretrained(checkpoint)
    processor = M2FNetProcessor.from_pretrained(checkpoint, trust_remote_code=True)
    return model, processor


def _folder_size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--model", required=True, help="M2FNet checkpoint folder (examples/build_model.py) or Hub id.")
    parser.add_argument(
        "--dataset",
        required=True,
        help="Row-per-dialogue dataset: save_to_disk folder, folder of <split>.parquet, or Hub id.",
    )
    parser.add_argument("--output_dir", required=True, help="Where the features DatasetDict is saved.")
    parser.add_argument(
        "--modalities",
        nargs="+",
        choices=list(MODALITIES),
        default=None,
        help="Modalities to extract (default: the model's).",
    )
    parser.add_argument("--splits", nargs="+", default=None, help="Splits to process (default: all).")
    parser.add_argument(
        "--shard_size",
        type=int,
        default=DEFAULT_SHARD_SIZE,
        help="Dialogues per cached shard (the unit of resumption).",
    )
    parser.add_argument(
        "--batch_size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help="Dialogues encoded together per map batch (lower it for video).",
    )
    parser.add_argument(
        "--utterances_per_forward", type=int, default=64, help="Most utterances per extractor forward pass."
    )
    parser.add_argument(
        "--on_media_error",
        choices=["raise", "skip"],
        default=None,
        help="Unreadable media: stop, or mark the modality missing and count it (default: the processor's setting).",
    )
    parser.add_argument("--cache_dir", default=None, help="Shard cache folder (default: <output_dir>.shards).")
    parser.add_argument("--keep_cache", action="store_true", help="Keep the shard files after a successful run.")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing output folder.")
    parser.add_argument(
        "--max_dialogues",
        type=int,
        default=None,
        help="Only the first N dialogues of each split (quick or partial runs).",
    )
    parser.add_argument("--device", default=None, help="torch device, e.g. cuda (default: cuda if available).")
    parser.add_argument("--num_threads", type=int, default=None, help="torch CPU threads (torch.set_num_threads).")
    parser.add_argument(
        "--trust_remote_code", action="store_true", help="Allow loading the processor code of a Hub checkpoint."
    )
    parser.add_argument("--no_progress", action="store_true", help="Hide the progress bar.")
    return parser.parse_args(argv)  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    output_dir = Path(args.output_dir).expanduser()
    if output_dir.exists() and not args.overwrite:
        raise SystemExit(f"{output_dir} exists; pass --overwrite to replace it.")
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")

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
        shard_size=args.shard_size,
        batch_size=args.batch_size,
        utterances_per_forward=args.utterances_per_forward,
        on_media_error=args.on_media_error,
        cache_dir=args.cache_dir,
        keep_cache=args.keep_cache,
        overwrite=args.overwrite,
        max_dialogues=args.max_dialogues,
        device=device,
        progress=not args.no_progress,
    )
    elapsed = time.perf_counter() - started
    for split, statistics in report["splits"].items():
        logger.info(
            f"{split}: {statistics['dialogues']} dialogues, {statistics['utterances']} utterances "
            f"({statistics['shards_computed']} shards computed, {statistics['shards_reused']} reused), "
            f"{statistics['utterances_per_second']} utterances/s, unusable media {statistics['unusable_media']}"
        )
    size = _folder_size(output_dir)
    logger.info(
        f"Saved {report['modalities']} embeddings {report['embed_dims']} to {output_dir} ({size / 2**20:.1f} MiB, "
        f"{elapsed:.1f} s); report: {output_dir / REPORT_FILENAME}"
    )
    report["wall_seconds"] = round(elapsed, 2)
    report["output_bytes"] = size
    print(json.dumps({"wall_seconds": report["wall_seconds"], "output_bytes": size,
                      "splits": {split: {key: value for key, value in statistics.items()
                                         if key in ("dialogues", "utterances", "utterances_per_second")}
                                 for split, statistics in report["splits"].items()}}))  # fmt: skip
    return report


if __name__ == "__main__":
    main()
