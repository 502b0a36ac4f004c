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
"""Push a saved M2FNet checkpoint (weights, config, code, processor, results, plots, card) to the Hub in one commit.

    hf auth login                     # or: export HF_TOKEN=hf_...  (a token with write access)
    python examples/push_to_hub.py MODEL_DIR REPO_ID [--private] [--revision BRANCH] [--commit_message MSG]
                                   [--dataset HUB_ID] [--language en] [--base_model HUB_ID]

`MODEL_DIR` is a folder written by `save_pretrained` after `modeling_m2fnet.register_auto_classes()` (the training
script does this): `model.safetensors` (or shards + index), `config.json` with `auto_map`, the `modeling_m2fnet` code
files, the processor files, and optionally `results.json` and `*.png` plots. Everything is uploaded in a single
commit with a model card built from `config.json` and `results.json` (preview it with `examples/model_card.py`), so
the repository is either at its previous commit or has the whole new checkpoint. Managed files (weights, code,
processor files, plots) of an earlier push that are not in the folder any more are deleted in the same commit.

The token is read from `HF_TOKEN` or the `hf auth login` file, never from the command line. `HF_ENDPOINT` selects
another Hub-compatible server; one without Xet storage needs `HF_HUB_DISABLE_XET=1`. Only transient failures
(timeouts, dropped connections, HTTP 408, 429, 5xx other than 501) are retried. The library behind this script is
`m2fnet_training.hub.push_model_folder`.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from m2fnet_training.cli import run_cli
from m2fnet_training.hub import PushToHubError, push_model_folder


logger = logging.getLogger("m2fnet_training.hub")


class RejectTokenAction(argparse.Action):
    """`--token` is refused: a token on the command line ends up in the shell history and in process listings."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(
            f"{option_string} is not accepted: a token on the command line is visible in the shell history and to "
            "other users' process listings. Run `hf auth login` once, or set the HF_TOKEN environment variable."
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Token: HF_TOKEN or `hf auth login` (never a command-line argument). Endpoint: HF_ENDPOINT.",
        allow_abbrev=False,
    )
    parser.add_argument("model_dir", type=Path, help="folder written by save_pretrained (+ results.json, *.png)")
    parser.add_argument("repo_id", help="Hub repository, `namespace/name` (created if missing)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--revision", default=None, help="branch to commit to (default: main; created if missing)")
    parser.add_argument("--commit_message", default=None, help='default: "Upload M2FNet checkpoint"')
    parser.add_argument("--commit_description", default=None, help="longer commit description")
    parser.add_argument("--license", default="apache-2.0", help="licence id of the weights, for the model card")
    parser.add_argument(
        "--dataset",
        default=None,
        help="training dataset (Hub id) for the card; must agree with results.json, which decides the model-index",
    )
    parser.add_argument("--language", default=None, help="language code for the card (overrides results.json)")
    parser.add_argument("--base_model", default=None, help="Hub id of the text encoder (overrides results.json)")
    parser.add_argument("--max_retries", type=int, default=5, help="retries per Hub call on transient failures")
    parser.add_argument("--token", "--hub_token", nargs="?", action=RejectTokenAction, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.max_retries < 0:
        parser.error(f"--max_retries must be 0 or more, got {args.max_retries}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    try:
        commit = push_model_folder(
            args.model_dir,
            args.repo_id,
            private=True if args.private else None,
            revision=args.revision,
            commit_message=args.commit_message,
            commit_description=args.commit_description,
            license=args.license,
            dataset=args.dataset,
            language=args.language,
            base_model=args.base_model,
            max_retries=args.max_retries,
        )
    except PushToHubError as error:
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        return error.exit_code

    repo_id = commit.repo_url.repo_id
    print(f"{commit.repo_url} is at commit {commit.oid} with the contents of {args.model_dir} ({commit.commit_url})")
    pin = f'"{repo_id}", trust_remote_code=True, revision="{commit.oid}"'
    lines = ["Load exactly this version with:"]
    config = json.loads((args.model_dir / "config.json").read_text(encoding="utf-8"))
    if config.get("custom_pipelines"):
        lines.append(f"  pipeline(model={pin})")
    lines += [f"  AutoModel.from_pretrained({pin}, use_safetensors=True)", f"  AutoProcessor.from_pretrained({pin})"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run_cli(main)
