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
"""ERC F1: weighted / macro F1, accuracy, per-class F1 and confusion matrix for emotion recognition in conversation."""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


_DESCRIPTION = """
Utterance-level classification scores for emotion recognition in conversation (ERC), as reported by M2FNet
(Chudasama et al., CVPRW 2022), whose headline metric is the support-weighted F1 over the emotion classes.

Pairs whose reference equals `ignore_index` (`-100` by default: dialogue padding or ignored utterances, the same
convention as the `labels` of the model) are dropped first. The remaining pairs give:

- `weighted_f1`: per-class F1 averaged with weights equal to the class support (number of true instances);
- `macro_f1`: unweighted mean of the per-class F1 over the classes that occur in `references` or `predictions`
  (scikit-learn's default label set, so a class absent from both does not drag the mean down);
- `accuracy`: fraction of utterances whose prediction equals the reference.

All F1 values and the accuracy are fractions in [0, 1] (papers, including M2FNet, report them multiplied by 100).
A class with no true and no predicted instance has an undefined F1, reported as 0 (`zero_division=0`). A class that
occurs in `references` but is never predicted has recall 0 and therefore F1 0.
"""


_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`):
        Predicted class ids, one per utterance.
    references (`list` of `int`):
        Gold class ids, one per utterance; entries equal to `ignore_index` are dropped together with their prediction.
    label_names (`list` of `str`, *optional*):
        Class names indexed by class id (for example `config.id2label` values in id order). They key `per_class_f1`
        and `support` and give `labels`. When omitted, the class ids as strings are used.
    num_labels (`int`, *optional*):
        Number of classes. When given (or implied by `label_names`), classes `0 .. num_labels - 1` all get a row and a
        column in `confusion_matrix` and an entry in `per_class_f1` / `support`, even if they never occur. When
        omitted, the classes are the sorted union of the ids found in `references` and `predictions`.
    ignore_index (`int`, *optional*, defaults to -100):
        Reference value that marks a pair to drop.

Returns:
    `dict` with:
        weighted_f1 (`float`): support-weighted F1 in [0, 1] (M2FNet's headline metric).
        macro_f1 (`float`): unweighted mean of the per-class F1 in [0, 1].
        accuracy (`float`): accuracy in [0, 1].
        per_class_f1 (`dict[str, float]`): label name -> F1 in [0, 1].
        support (`dict[str, int]`): label name -> number of references of that class.
        confusion_matrix (`list[list[int]]`): rows are true classes, columns predicted classes, in `labels` order.
        labels (`list[str]`): label names in the order of the confusion-matrix rows and columns.
        num_examples (`int`): number of pairs scored (after dropping `ignore_index`).

Raises:
    `ValueError`: if `predictions` and `references` differ in length, if no pair is left after dropping
    `ignore_index`, if `label_names` and `num_labels` disagree, or if a class id lies outside `0 .. num_labels - 1`.

Examples:

    >>> erc_f1 = evaluate.load("m2fnet_training/erc_f1")
    >>> results = erc_f1.compute(
    ...     predictions=[0, 1, 1, 2, 0], references=[0, 1, 2, 2, -100], label_names=["neutral", "joy", "anger"]
    ... )
    >>> round(results["weighted_f1"], 4), results["num_examples"]
    (0.75, 4)
    >>> results["per_class_f1"]
    {'neutral': 1.0, 'joy': 0.6666666666666666, 'anger': 0.6666666666666666}
"""


_CITATION = """
@inproceedings{chudasama2022m2fnet,
    title={M2FNet: Multi-modal Fusion Network for Emotion Recognition in Conversation},
    author={Chudasama, Vishal and Kar, Purbayan and Gudmalwar, Ashish and Shah, Nirmesh and Wasnik, Pankaj
            and Onoe, Naoyuki},
    booktitle={Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR) Workshops},
    year={2022}
}
@article{scikit-learn,
    title={Scikit-learn: Machine Learning in {P}ython},
    author={Pedregosa, F. and Varoquaux, G. and Michel, V. and Thirion, B. and Grisel, O. and Blondel, M.
            and Prettenhofer, P. and Weiss, R. and Dubourg, V. and Vanderplas, J. and Passos, A. and Cournapeau, D.
            and Brucher, M. and Perrot, M. and Duchesnay, E.},
    journal={Journal of Machine Learning Research},
    volume={12},
    pages={2825--2830},
    year={2011}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ErcF1(evaluate.Metric):
    """Weighted / macro F1, accuracy, per-class F1, support and confusion matrix for utterance-level ERC labels."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
            reference_urls=[
                "https://arxiv.org/abs/2206.02187",
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.f1_score.html",
            ],
        )

    def _compute(self, predictions, references, label_names=None, num_labels=None, ignore_index=-100):
        predictions = np.asarray(predictions, dtype=np.int64).reshape(-1)
        references = np.asarray(references, dtype=np.int64).reshape(-1)
        if predictions.shape != references.shape:
            raise ValueError(
                f"`predictions` and `references` must have the same length (got {predictions.size} predictions and "
                f"{references.size} references)."
            )
        keep = references != ignore_index
        predictions, references = predictions[keep], references[keep]
        if references.size == 0:
            raise ValueError(
                f"No (prediction, reference) pair left to score: the input is empty or every reference equals "
                f"`ignore_index` ({ignore_index})."
            )

        if label_names is not None:
            label_names = [str(name) for name in label_names]
            if num_labels is not None and num_labels != len(label_names):
                raise ValueError(
                    f"`num_labels` ({num_labels}) must equal the number of `label_names` ({len(label_names)})."
                )
            num_labels = len(label_names)
        if num_labels is not None:
            labels = list(range(num_labels))
            for name, values in (("predictions", predictions), ("references", references)):
                outside = sorted({int(v) for v in values if not 0 <= v < num_labels})
                if outside:
                    raise ValueError(f"`{name}` holds class ids outside 0 .. {num_labels - 1}: {outside}.")
        else:
            labels = sorted({int(v) for v in np.concatenate([references, predictions])})
        names = [label_names[i] for i in labels] if label_names is not None else [str(i) for i in labels]

        per_class = f1_score(references, predictions, labels=labels, average=None, zero_division=0)
        support = [int((references == label).sum()) for label in labels]
        return {
            "weighted_f1": float(f1_score(references, predictions, average="weighted", zero_division=0)),
            "macro_f1": float(f1_score(references, predictions, average="macro", zero_division=0)),
            "accuracy": float(accuracy_score(references, predictions)),
            "per_class_f1": {name: float(score) for name, score in zip(names, per_class, strict=True)},
            "support": dict(zip(names, support, strict=True)),
            "confusion_matrix": confusion_matrix(references, predictions, labels=labels).tolist(),
            "labels": names,
            "num_examples": int(references.size),
        }
