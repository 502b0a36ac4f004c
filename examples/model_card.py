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
"""Print (or write) the model card that `examples/push_to_hub.py` uploads for a saved M2FNet checkpoint.

    python examples/model_card.py MODEL_DIR [--repo_id org/m2fnet-meld] [--dataset HUB_ID] [--language en]
                                  [--base_model HUB_ID] [--output README.md]

The card is built from the folder's `config.json` and `results.json` only (no weights are loaded): training data
(synthetic data is said at the top), evaluation table, `model-index` for results on a recorded real dataset, usage
(pipeline, then AutoModel / AutoProcessor), model details, training hyper-parameters, limitations and citation.
`--dataset` must agree with the data recorded in `results.json`; a contradiction is an error. The library behind this
script is `m2fnet_training.model_card.build_model_card`.
"""

import argparse
from pathlib import Path

from m2fnet_training.cli import run_cli
from m2fnet_training.io_utils import atomic_output_file
from m2fnet_training.model_card import build_model_card


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("model_dir", type=Path, help="checkpoint folder (config.json, optional results.json)")
    parser.add_argument("--repo_id", default=None, help="Hub repository the card is for (used in the snippets)")
    parser.add_argument("--revision", default="main", help="branch or commit the snippets load")
    parser.add_argument("--license", default="apache-2.0", help="licence id of the weights")
    parser.add_argument(
        "--dataset", default=None, help="training dataset (Hub id); must agree with results.json's record"
    )
    parser.add_argument("--language", default=None, help="language code (overrides results.json)")
    parser.add_argument("--base_model", default=None, help="Hub id of the text encoder (overrides results.json)")
    parser.add_argument("--output", type=Path, default=None, help="write the card here instead of printing it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{args.model_dir / 'config.json'} not found: MODEL_DIR must be a saved checkpoint.")
    card = build_model_card(
        args.model_dir,
        repo_id=args.repo_id,
        revision=args.revision,
        license=args.license,
        dataset=args.dataset,
        language=args.language,
        base_model=args.base_model,
    )
    if args.output is None:
        print(str(card))
    else:
        with atomic_output_file(args.output) as temporary:
            temporary.write_text(str(card), encoding="utf-8")
        print(f"Wrote the model card of {args.model_dir} to {args.output}")
    return 0


if __name__ == "__main__":
    run_cli(main)
