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
"""Stage 1 of M2FNet: trains an utterance-level extractor — text, audio or visual — on the emotion labels.

```bash
# text ("M-RoBERTa"): a pretrained encoder fine-tuned on utterances with their neighbours, first-token embedding
accelerate launch examples/train_extractor.py --modality text --text_encoder roberta-large \\
    --dataset_dir outputs/datasets/meld-text --output_dir outputs/text-encoder
# on a CPU: only the top 4 layers train, on cached lower-layer states (about 10x faster per epoch)
python examples/train_extractor.py --modality text --text_encoder local_models/all-mpnet-base-v2 \\
    --dataset_dir outputs/datasets/meld-text --num_trainable_layers 4 --num_threads 1
# audio / visual: ResNet-18 + projector with the adaptive-margin triplet, covariance and variance losses
accelerate launch examples/train_extractor.py --modality audio --dataset_dir outputs/datasets/meld-raw
```

`--help` with a modality lists its arguments: `python examples/train_extractor.py --modality text --help`. Resume an
interrupted text run with `--resume_from_checkpoint latest` (same command otherwise).
"""

import argparse
import sys

from m2fnet_training.arguments import parse_arguments
from m2fnet_training.cli import run_cli


MODALITIES = ("text", "audio", "visual")


def _split_modality(argv: list[str]) -> tuple[str, list[str]]:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--modality", choices=MODALITIES)
    known, rest = parser.parse_known_args(argv)
    if known.modality is None:
        if any(arg in ("-h", "--help") for arg in argv):
            print(__doc__)
            sys.exit(0)
        sys.exit("train_extractor.py: error: pass --modality text, audio or visual (add --help for its arguments)")
    return known.modality, rest


def main(argv: list[str] | None = None) -> dict:
    modality, rest = _split_modality(sys.argv[1:] if argv is None else argv)
    description = f"Stage 1 of M2FNet for {modality}."
    if modality == "text":
        from m2fnet_training.text_finetuning import (
            TextEncoderArguments,
            TextTrainingArguments,
            UtteranceDataArguments,
            train_text_encoder,
        )

        arguments = (TextEncoderArguments, UtteranceDataArguments, TextTrainingArguments)
        return train_text_encoder(*parse_arguments(arguments, rest, description))
    from m2fnet_training.extractor_training import (
        ExtractorDataArguments,
        ExtractorModelArguments,
        ExtractorTrainingArguments,
        train_extractor,
    )

    arguments = (ExtractorModelArguments, ExtractorDataArguments, ExtractorTrainingArguments)
    return train_extractor(*parse_arguments(arguments, ["--modality", modality, *rest], description))


if __name__ == "__main__":
    run_cli(main)
