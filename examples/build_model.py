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
"""Builds an M2FNet around a pretrained text encoder (and trained stage-1 extractors); saves model + processor.

```bash
# text only, around all-mpnet-base-v2 fine-tuned by stage 1 (pooling and context come from its record), for the
# labels of a built dataset
python examples/build_model.py --text_encoder outputs/text-encoder --modalities text \
    --dataset_dir outputs/datasets/meld-text --output_dir outputs/models/m2fnet-text
# the paper's model: RoBERTa-large + audio and visual extractors trained with examples/train_extractor.py
python examples/build_model.py --text_encoder FacebookAI/roberta-large --audio_extractor outputs/audio-extractor \
    --visual_extractor outputs/visual-extractor --dataset_dir outputs/datasets/meld-raw --output_dir outputs/models/m2fnet
# IEMOCAP-style labels given by hand, 5 dialogue-encoder layers
python examples/build_model.py --text_encoder local_models/all-MiniLM-L6-v2 --modalities text \
    --label_names happy sad neutral angry excited frustrated --set num_hidden_layers=5 --output_dir out/iemocap
```

The model is saved with its code: `AutoModel.from_pretrained(output_dir, trust_remote_code=True)` loads it. In Python:
`m2fnet_training.model_building.build_m2fnet` and `save_m2fnet`.
"""

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import torch

from m2fnet_training.cli import run_cli
from m2fnet_training.model_building import build_m2fnet, label_names_from_dataset, save_m2fnet
from modeling_m2fnet.configuration_m2fnet import MODALITIES


logger = logging.getLogger("build_model")


def _parse_override(item: str) -> tuple[str, Any]:
    key, separator, value = item.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # a plain string


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--text_encoder", help="Local folder or Hub id of a transformers text encoder + tokenizer.")
    parser.add_argument("--audio_extractor", help="Folder of a trained M2FNetAudioExtractor.")
    parser.add_argument("--visual_extractor", help="Folder of a trained M2FNetVisualExtractor.")
    parser.add_argument("--config", help="Base M2FNet config (config.json or its folder) for the dialogue level.")
    parser.add_argument("--modalities", nargs="+", choices=list(MODALITIES), help="Active modalities (default: all).")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument(
        "--dataset_dir", help="A dataset built by examples/build_dataset.py: the model predicts its emotion labels."
    )
    labels.add_argument("--label_names", nargs="+", help="Emotion names in class-id order (default: MELD's seven).")
    parser.add_argument(
        "--text_pooling",
        choices=["cls", "mean"],
        help="First token (paper) or token mean; default: what the encoder folder declares, else cls.",
    )
    parser.add_argument("--context_window", type=int, help="Neighbouring utterances as context (default 1).")
    parser.add_argument("--max_text_length", type=int, help="Tokens per utterance, context included (default 128).")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        default=[],
        type=_parse_override,
        metavar="KEY=VALUE",
        help="Other M2FNetConfig fields; values are parsed as JSON (e.g. num_fusion_layers=0).",
    )
    parser.add_argument("--allow_missing_keys", action="store_true", help="Accept an encoder that lacks weights.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the randomly initialised layers.")
    parser.add_argument("--output_dir", required=True, help="Where model + processor are saved (with the code).")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing output folder.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    output_dir = Path(args.output_dir).expanduser()
    if output_dir.exists() and not args.overwrite:
        raise FileExistsError(f"{output_dir} exists; pass --overwrite to replace it.")
    label_names = label_names_from_dataset(args.dataset_dir) if args.dataset_dir else args.label_names
    processor_kwargs = {
        name: getattr(args, name) for name in ("context_window", "max_text_length") if getattr(args, name) is not None
    }
    torch.manual_seed(args.seed)
    model, processor, info = build_m2fnet(
        text_encoder=args.text_encoder,
        audio_extractor=args.audio_extractor,
        visual_extractor=args.visual_extractor,
        modalities=args.modalities,
        label_names=label_names,
        text_pooling=args.text_pooling,
        config=args.config,
        processor_kwargs=processor_kwargs,
        allow_missing_keys=args.allow_missing_keys,
        return_loading_info=True,
        **dict(args.overrides),
    )
    saved = save_m2fnet(model, processor, output_dir, overwrite=args.overwrite)
    logger.info(f"Loaded: {json.dumps(info, indent=2, default=str)}")
    logger.info(
        f"Saved M2FNet ({info['num_parameters'] / 1e6:.1f}M parameters, modalities {model.config.modalities}, labels "
        f"{info['label_names']}, text_pooling={model.config.text_pooling!r}, context_window="
        f"{processor.context_window}) with its processor and code to {saved}."
    )
    return saved


if __name__ == "__main__":
    run_cli(main)
