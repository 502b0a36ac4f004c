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
"""Tests for the local `evaluate` metric `m2fnet_training/erc_f1`, against scores worked out by hand."""

import os
from pathlib import Path

import pytest


# The module is loaded from a local path: nothing may be fetched from the Hub (set before `evaluate` reads it).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

evaluate = pytest.importorskip("evaluate", reason="the metric is an `evaluate` module (extra `train`)")
pytest.importorskip("sklearn", reason="the metric computes its scores with scikit-learn (extra `train`)")

METRIC_PATH = str(Path(__file__).resolve().parents[1] / "m2fnet_training" / "erc_f1")
LABEL_NAMES = ["neutral", "joy", "sadness", "anger"]

# The worked example. Index:   0  1  2  3  4  5  6  7  8  9
REFERENCES_KEPT = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]
PREDICTIONS_KEPT = [0, 0, 1, 0, 1, 1, 0, 2, 1, 0]
# The same pairs with three ignored ones (reference -100) slipped in; their predictions would change every score if
# they were kept (two "anger" hits and one "sadness" miss).
REFERENCES = [0, -100, 0, 0, 0, 1, 1, -100, 1, 2, 2, 3, -100]
PREDICTIONS = [0, 3, 0, 1, 0, 1, 1, 3, 0, 2, 1, 0, 2]

# Counts by hand (TP: predicted c and true c; FP: predicted c, true other; FN: true c, predicted other):
#   neutral (0): TP = idx 0, 1, 3 -> 3;  FP = idx 6 (joy), idx 9 (anger) -> 2;  FN = idx 2 -> 1;  support 4
#                P = 3/5, R = 3/4, F1 = 2PR / (P + R) = 2 * 9/20 / (27/20) = 2/3
#   joy (1):     TP = idx 4, 5 -> 2;     FP = idx 2 (neutral), idx 8 (sadness) -> 2;  FN = idx 6 -> 1;  support 3
#                P = 2/4, R = 2/3, F1 = 2 * 1/3 / (7/6) = 4/7
#   sadness (2): TP = idx 7 -> 1;        FP = none -> 0;  FN = idx 8 -> 1;  support 2
#                P = 1/1, R = 1/2, F1 = 2 * 1/2 / (3/2) = 2/3
#   anger (3):   TP = 0;                 FP = 0 (never predicted);  FN = idx 9 -> 1;  support 1
#                P = 0/0 -> 0 (zero_division=0), R = 0/1 = 0, F1 = 0
#   weighted F1 = (4 * 2/3 + 3 * 4/7 + 2 * 2/3 + 1 * 0) / 10 = 4/7
#   macro F1    = (2/3 + 4/7 + 2/3 + 0) / 4 = 10/21
#   accuracy    = correct at idx 0, 1, 3, 4, 5, 7 -> 6/10
HAND_COUNTS = {  # label: (TP, FP, FN)
    "neutral": (3, 2, 1),
    "joy": (2, 2, 1),
    "sadness": (1, 0, 1),
    "anger": (0, 0, 1),
}
HAND_SUPPORT = {"neutral": 4, "joy": 3, "sadness": 2, "anger": 1}
# Rows = true class, columns = predicted class (neutral, joy, sadness, anger):
#   true neutral -> predicted 0, 0, 1, 0 (idx 0-3)     -> [3, 1, 0, 0]
#   true joy     -> predicted 1, 1, 0 (idx 4-6)        -> [1, 2, 0, 0]
#   true sadness -> predicted 2, 1 (idx 7-8)           -> [0, 1, 1, 0]
#   true anger   -> predicted 0 (idx 9)                -> [1, 0, 0, 0]
HAND_CONFUSION = [[3, 1, 0, 0], [1, 2, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0]]


def _f1_from_counts(tp: int, fp: int, fn: int) -> float:
    """Precision, recall and F1 in plain Python, with 0 wherever a denominator is 0 (`zero_division=0`)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


HAND_F1 = {label: _f1_from_counts(*counts) for label, counts in HAND_COUNTS.items()}
HAND_WEIGHTED_F1 = sum(HAND_SUPPORT[label] * HAND_F1[label] for label in LABEL_NAMES) / sum(HAND_SUPPORT.values())
HAND_MACRO_F1 = sum(HAND_F1.values()) / len(HAND_F1)
HAND_ACCURACY = 6 / 10


@pytest.fixture
def erc_f1():
    return evaluate.load(METRIC_PATH)


def test_hand_arithmetic_matches_the_fractions_in_the_comments():
    # Guards the expected values themselves: the formula-based numbers equal the fractions worked out above.
    assert HAND_F1 == pytest.approx({"neutral": 2 / 3, "joy": 4 / 7, "sadness": 2 / 3, "anger": 0.0})
    assert HAND_WEIGHTED_F1 == pytest.approx(4 / 7)
    assert HAND_MACRO_F1 == pytest.approx(10 / 21)
    # And the confusion matrix agrees with the counts: its diagonal is TP, column sums minus TP are FP, row sums
    # minus TP are FN, row sums are the support.
    for i, label in enumerate(LABEL_NAMES):
        tp, fp, fn = HAND_COUNTS[label]
        row = HAND_CONFUSION[i]
        column = [HAND_CONFUSION[r][i] for r in range(len(LABEL_NAMES))]
        assert (row[i], sum(column) - row[i], sum(row) - row[i], sum(row)) == (tp, fp, fn, HAND_SUPPORT[label])


def test_scores_match_hand_computation(erc_f1):
    results = erc_f1.compute(predictions=PREDICTIONS_KEPT, references=REFERENCES_KEPT, label_names=LABEL_NAMES)

    assert set(results) == {
        "weighted_f1",
        "macro_f1",
        "accuracy",
        "per_class_f1",
        "support",
        "confusion_matrix",
        "labels",
        "num_examples",
    }
    assert results["weighted_f1"] == pytest.approx(HAND_WEIGHTED_F1)
    assert results["macro_f1"] == pytest.approx(HAND_MACRO_F1)
    assert results["accuracy"] == pytest.approx(HAND_ACCURACY)
    assert results["per_class_f1"] == pytest.approx(HAND_F1)
    assert list(results["per_class_f1"]) == LABEL_NAMES
    assert results["support"] == HAND_SUPPORT
    assert results["confusion_matrix"] == HAND_CONFUSION
    assert results["labels"] == LABEL_NAMES
    assert results["num_examples"] == 10
    # Fractions, not percentages.
    assert all(0.0 <= results[key] <= 1.0 for key in ("weighted_f1", "macro_f1", "accuracy"))
    assert isinstance(results["weighted_f1"], float) and isinstance(results["num_examples"], int)


def test_ignored_references_are_dropped(erc_f1):
    with_ignored = erc_f1.compute(predictions=PREDICTIONS, references=REFERENCES, label_names=LABEL_NAMES)
    kept_only = erc_f1.compute(predictions=PREDICTIONS_KEPT, references=REFERENCES_KEPT, label_names=LABEL_NAMES)

    assert with_ignored == kept_only
    assert with_ignored["num_examples"] == 10
    assert with_ignored["confusion_matrix"] == HAND_CONFUSION


def test_class_in_references_but_never_predicted_scores_zero(erc_f1):
    results = erc_f1.compute(predictions=PREDICTIONS, references=REFERENCES, label_names=LABEL_NAMES)

    assert 3 not in PREDICTIONS_KEPT
    assert results["support"]["anger"] == 1
    assert results["per_class_f1"]["anger"] == 0.0
    assert results["confusion_matrix"][3] == [1, 0, 0, 0]  # its one utterance went to "neutral"
    assert [row[3] for row in results["confusion_matrix"]] == [0, 0, 0, 0]  # nothing predicted as "anger"


def test_num_labels_gives_absent_classes_a_row(erc_f1):
    # A fifth class ("surprise", id 4) never occurs: it gets a zero row and column, support 0 and F1 0, and the
    # averages stay those of the four classes that occur (weighted: weight 0; macro: absent classes are left out).
    results = erc_f1.compute(
        predictions=PREDICTIONS, references=REFERENCES, label_names=[*LABEL_NAMES, "surprise"], num_labels=5
    )

    assert results["confusion_matrix"] == [[*row, 0] for row in HAND_CONFUSION] + [[0, 0, 0, 0, 0]]
    assert results["support"]["surprise"] == 0
    assert results["per_class_f1"]["surprise"] == 0.0
    assert results["weighted_f1"] == pytest.approx(HAND_WEIGHTED_F1)
    assert results["macro_f1"] == pytest.approx(HAND_MACRO_F1)

    by_id = erc_f1.compute(predictions=PREDICTIONS, references=REFERENCES, num_labels=5)
    assert by_id["labels"] == ["0", "1", "2", "3", "4"]
    assert by_id["confusion_matrix"] == results["confusion_matrix"]


def test_without_names_the_classes_are_the_ids_found(erc_f1):
    # Without `num_labels` / `label_names`, the classes are the sorted union of the ids seen, keyed as strings.
    results = erc_f1.compute(predictions=[2, 2, 5], references=[2, 5, 5])

    assert results["labels"] == ["2", "5"]
    # Class 2: TP 1, FP 1, FN 0 -> P 1/2, R 1, F1 2/3.  Class 5: TP 1, FP 0, FN 1 -> P 1, R 1/2, F1 2/3.
    assert results["per_class_f1"] == pytest.approx({"2": 2 / 3, "5": 2 / 3})
    assert results["support"] == {"2": 1, "5": 2}
    assert results["confusion_matrix"] == [[1, 0], [1, 1]]


def test_empty_input_raises(erc_f1):
    with pytest.raises(ValueError, match="No \\(prediction, reference\\) pair left"):
        erc_f1.compute(predictions=[], references=[])
    with pytest.raises(ValueError, match="every reference equals `ignore_index` \\(-100\\)"):
        erc_f1.compute(predictions=[1, 2], references=[-100, -100])


def test_length_mismatch_raises(erc_f1):
    with pytest.raises(ValueError, match="Mismatch in the number of predictions \\(3\\) and references \\(2\\)"):
        erc_f1.compute(predictions=[0, 1, 2], references=[0, 1])


def test_length_mismatch_raises_in_compute_itself(erc_f1):
    # `evaluate` checks lengths per batch; `_compute` checks again for callers that bypass the batching.
    with pytest.raises(ValueError, match="same length \\(got 3 predictions and 2 references\\)"):
        erc_f1._compute(predictions=[0, 1, 2], references=[0, 1])


def test_invalid_label_arguments_raise(erc_f1):
    with pytest.raises(ValueError, match="`num_labels` \\(3\\) must equal the number of `label_names` \\(4\\)"):
        erc_f1.compute(predictions=[0], references=[0], label_names=LABEL_NAMES, num_labels=3)
    with pytest.raises(ValueError, match="`predictions` holds class ids outside 0 .. 3: \\[7\\]"):
        erc_f1.compute(predictions=[0, 7], references=[0, 1], label_names=LABEL_NAMES)


def test_add_batch_accumulates_like_one_shot(erc_f1):
    one_shot = erc_f1.compute(predictions=PREDICTIONS, references=REFERENCES, label_names=LABEL_NAMES)

    erc_f1.add_batch(predictions=PREDICTIONS[:6], references=REFERENCES[:6])
    erc_f1.add_batch(predictions=PREDICTIONS[6:], references=REFERENCES[6:])
    accumulated = erc_f1.compute(label_names=LABEL_NAMES)

    assert accumulated == one_shot
    assert accumulated["weighted_f1"] == pytest.approx(HAND_WEIGHTED_F1)
