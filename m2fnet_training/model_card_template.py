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
"""The Jinja template of the M2FNet model card, rendered by `m2fnet_training.model_card.build_model_card`.

It is a Python string rather than a `.md` data file so that it installs with the package without package data.
"""

CARD_TEMPLATE = """\
---
{{ card_data }}
---

# {{ model_name }}
{% if synthetic %}
> **Trained on synthetic data.** This checkpoint was trained on {{ data_description }}, not on real \
conversations. Its scores measure that toy task only and say nothing about emotion recognition in real dialogue; use \
it to try the code (loading, inference, pushing), not its predictions.
{% endif %}
An [M2FNet]({{ paper_url }}) (Chudasama et al., CVPR Workshops 2022) model for **emotion recognition in \
conversation**: it predicts one of {{ labels | length }} emotions ({{ labels | join(", ") }}) for every utterance of \
a conversation from its {{ inputs }}. \
{%- if synthetic %} Training data: {{ data_description }}.
{%- elif uploader_named %} Trained on {{ uploader_named }}, as the uploader states (`{{ results_file }}` does not \
record the dataset).
{%- elif data_description %} Trained on {{ data_description }}.
{%- else %} `{{ results_file }}` does not record the training data.
{%- endif %} The modeling code ships with the weights and runs with `trust_remote_code=True`.

## Evaluation

{% if metric_rows -%}
{% if synthetic -%}
On the synthetic toy splits (metrics in %; not a result on any real dataset):
{%- elif verified -%}
On {{ data.pretty_name }} (metrics in %):
{%- else -%}
On the validation and test splits of the training data (metrics in %):
{%- endif %}

| split | {{ metric_names | join(" | ") }} |
|---|{% for name in metric_names %}---|{% endfor %}
{% for split, cells in metric_rows -%}
| {{ split }} | {{ cells | join(" | ") }} |
{% endfor %}
{%- if paper_comparison %}
{{ paper_comparison }}
{% endif %}
{%- elif has_results -%}
`{{ results_file }}` holds no evaluation metrics.
{% else -%}
No evaluation results: this folder had no `{{ results_file }}`. Treat the predictions as untested (a checkpoint \
with random weights predicts arbitrary emotions).
{% endif %}
{%- for title, file in plots %}
![{{ title }}]({{ file }})
{% endfor %}
## How to use

The code that `trust_remote_code=True` runs needs only `torch` and `transformers` (5.x)
{%- if media_install %}; conversations with audio or video files also need the media packages on the second line{% endif %}:

```bash
{{ core_install }}
{% if media_install -%}
{{ media_install }}   # only for conversations with audio or video files
{% endif -%}
```
{% if usage.pipeline_call %}
The simplest path is the pipeline that ships with the model. Called on a conversation (a list of utterance dicts), \
it returns one `{"label", "score"}` dict per utterance; called on a list of conversations, one such list each.

```python
from transformers import pipeline

{{ usage.repo_line }}
classifier = {{ usage.pipeline_call }}

{{ usage.conversation }}
predictions = classifier(conversation)  # [{"label": ..., "score": ...}, ...], one dict per utterance
```

For logits and hidden states, load the model and its processor:
{% endif %}
```python
from transformers import AutoModel, AutoProcessor

{{ usage.repo_line }}
model = AutoModel.from_pretrained(repo_id, trust_remote_code=True, revision=revision, use_safetensors=True)
processor = AutoProcessor.from_pretrained(repo_id, trust_remote_code=True, revision=revision)

{{ usage.conversation }}
batch = processor(conversations=[conversation], return_tensors="pt")
out = model(**batch)  # out.logits: (batch, n_utterances, n_labels)
model.config.id2label[out.logits.argmax(-1)[0, 0].item()]
```

Pin `revision` to a commit sha (see the repository's history) so that a later push cannot change the code you \
execute. `model.m2fnet` is the bare `M2FNetModel` (fused per-utterance features).

## Model details

| | |
|---|---|
{% for name, value in details -%}
| {{ name }} | {{ value }} |
{% endfor %}
Utterance-level extractors embed each modality; per-modality transformer encoders add the dialogue context; \
multi-head attention fusion layers (text as query and value, audio and visual as keys) combine them; two fully \
connected layers classify each utterance (paper, Sec. 3).

## Training hyper-parameters

{% if hyperparameters -%}
| hyper-parameter | value |
|---|---|
{% for name, value in hyperparameters -%}
| {{ name }} | {{ value }} |
{% endfor %}
{%- else -%}
`{{ results_file }}` records no training hyper-parameters.
{% endif %}
## Intended use

{% if synthetic -%}
Trying the code: loading with `trust_remote_code`, inference, the pipeline and the Hub round trip. The predictions \
of a model trained on synthetic data carry no information about real emotions.
{%- else -%}
Research on emotion recognition in conversation and reproduction of the M2FNet paper: per-utterance emotion labels \
for dialogue with its transcripts{% if unused | length < 2 %} and media{% endif %}.
{%- endif %}

## Limitations

{% if synthetic -%}
- Training data: {{ data_description }}. The model has not seen a real conversation.
{% elif data.known -%}
- Training data: {{ data.known.description }}. Expect lower accuracy on other domains, languages, recording \
conditions or label sets.
{% else -%}
- Training data: {{ uploader_named or data_description or "not recorded" }}. Expect lower accuracy on other \
domains, languages, recording conditions or label sets.
{% endif -%}
{% if unused -%}
- Trained with {{ modalities | join(" + ") }} only: the model has no {{ unused | join(" or ") }} branch and \
ignores such inputs.
{% else -%}
- Trained with text + audio + visual. An utterance that lacks a modality is masked (`modality_mask`), which the \
model handles, with less evidence.
{% endif -%}
- Predicts exactly these {{ labels | length }} labels: {{ labels | join(", ") }}; it cannot say "none of these".
{% if "visual" in modalities -%}
- Faces are found with OpenCV's Haar cascade (the paper used MTCNN); profile or small faces are often missed, and \
the visual branch then relies on whole frames.
{% endif -%}
- Emotion labels of acted or scripted dialogue are a coarse proxy for what people feel. Do not use the predictions \
for decisions about individuals (hiring, health, policing, surveillance).

## Citation

```bibtex
@inproceedings{chudasama2022m2fnet,
  title     = {M2FNet: Multi-modal Fusion Network for Emotion Recognition in Conversation},
  author    = {Chudasama, Vishal and Kar, Purbayan and Gudmalwar, Ashish and Shah, Nirmesh and Wasnik, Pankaj and \
Onoe, Naoyuki},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR) Workshops},
  pages     = {4652--4661},
  year      = {2022}
}
```
"""
