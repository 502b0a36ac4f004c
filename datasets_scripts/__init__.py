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
"""Dataset builders for M2FNet: MELD, IEMOCAP and your own conversations, one row per dialogue.

The row schema is defined once, in `schema.dialogue_features`; the label lists (`MELD_EMOTIONS`, `IEMOCAP_EMOTIONS`)
live in `modeling_m2fnet.configuration_m2fnet`.
"""

from ._common import flatten_dialogues
from .conversations import ConversationsBuilder, ConversationsConfig
from .iemocap import IemocapBuilder, IemocapConfig
from .meld import MELD_SENTIMENTS, MeldBuilder, MeldConfig
from .schema import dialogue_features, dialogue_label_names


__all__ = [
    "MELD_SENTIMENTS",
    "ConversationsBuilder",
    "ConversationsConfig",
    "IemocapBuilder",
    "IemocapConfig",
    "MeldBuilder",
    "MeldConfig",
    "dialogue_features",
    "dialogue_label_names",
    "flatten_dialogues",
]
