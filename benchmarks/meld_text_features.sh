#!/usr/bin/env bash
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
#
# MELD text features with all-mpnet-base-v2 (text only, mean pooling): wall time, utterances/s, output size.
#
#   bash benchmarks/meld_text_features.sh
#
# Needs the MELD transcripts (train_sent_emo.csv, dev_sent_emo.csv) in $MELD_DIR and the encoder folder built by
# examples/prepare_text_encoder.py. On a 2-core CPU the encoder runs at about 5 utterances/s, so the whole train
# split (9,989 utterances) takes about half an hour: by default this script extracts the validation split and the
# first $MAX_DIALOGUES training dialogues. Run it again with MAX_DIALOGUES=0 for everything; the shards kept by the
# first run (--keep_cache) are reused, only the rest of train is computed.
set -euo pipefail
cd "$(dirname "$0")/.."

MELD_DIR="${MELD_DIR:-/work/shared/data/meld}"
TEXT_ENCODER="${TEXT_ENCODER:-local_models/all-mpnet-base-v2}"
MAX_DIALOGUES="${MAX_DIALOGUES:-0}"
NUM_THREADS="${NUM_THREADS:-2}"
OUTPUT_DIR="${OUTPUT_DIR:-outputs/features/meld-mpnet-text-noctx}"
MODEL_DIR="${MODEL_DIR:-outputs/models/m2fnet-mpnet-text-noctx}"
CONTEXT_WINDOW="${CONTEXT_WINDOW:-0}"  # 0 for frozen mean-pooled encoders (see README); the paper uses 1

python examples/build_dataset.py meld --config text --data_dir "$MELD_DIR" --splits train validation \
    --output_dir outputs/datasets/meld-text --overwrite
python examples/build_model.py --text_encoder "$TEXT_ENCODER" --modalities text --text_pooling mean \
    --context_window "$CONTEXT_WINDOW" --output_dir "$MODEL_DIR" --overwrite

limit=()
if [ "$MAX_DIALOGUES" -gt 0 ]; then
    limit=(--max_dialogues "$MAX_DIALOGUES")
fi
/usr/bin/time -v python examples/extract_features.py --model "$MODEL_DIR" \
    --dataset outputs/datasets/meld-text --output_dir "$OUTPUT_DIR" --splits validation train \
    --shard_size 32 --batch_size 16 --utterances_per_forward 32 --num_threads "$NUM_THREADS" \
    --keep_cache --overwrite "${limit[@]}"
du -sh "$OUTPUT_DIR"
python - "$OUTPUT_DIR" <<'EOF'
import json, sys
report = json.load(open(f"{sys.argv[1]}/extraction_report.json"))
for split, stats in report["splits"].items():
    print(f"{split}: {stats['dialogues']}/{stats['source_rows']} dialogues, {stats['utterances']} utterances, "
          f"{stats['compute_seconds']} s, {stats['utterances_per_second']} utterances/s")
print("embed_dims", report["embed_dims"])
EOF
