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
# The real MELD result of the README: the dialogue level of M2FNet (text only: no MELD media here) trained on frozen
# all-mpnet-base-v2 utterance embeddings of MELD train, model selection and report on MELD dev.
# Needs the cached features of benchmarks/meld_text_features.sh (run with MAX_DIALOGUES=0 for the full train split).
set -euo pipefail
cd "$(dirname "$0")/.."

FEATURES_DIR="${FEATURES_DIR:-outputs/features/meld-mpnet-text-noctx}"
MODEL_DIR="${MODEL_DIR:-outputs/models/m2fnet-mpnet-text-noctx}"
EPOCHS="${EPOCHS:-10}"

for variant in ${VARIANTS:-plain class-weighted}; do
    extra=()
    [ "$variant" = class-weighted ] && extra=(--class_weighted_loss)
    /usr/bin/time -v python examples/train_m2fnet.py --model_name_or_path "$MODEL_DIR" --features_dir "$FEATURES_DIR" \
        --output_dir "outputs/m2fnet-meld-mpnet-text-$variant" --num_train_epochs "$EPOCHS" \
        --per_device_train_batch_size 8 --learning_rate 5e-4 --weight_decay 5e-4 --seed 42 \
        "${extra[@]}" 2>&1 | grep -v "it/s" | tail -25
done
