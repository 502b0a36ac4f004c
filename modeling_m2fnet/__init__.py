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
"""M2FNet (Chudasama et al., CVPRW 2022) for emotion recognition in conversation, as a transformers model."""

from .configuration_m2fnet import (
    IEMOCAP_EMOTIONS,
    MELD_EMOTIONS,
    M2FNetAudioConfig,
    M2FNetConfig,
    M2FNetExtractorConfig,
    M2FNetVisualConfig,
)
from .feature_extraction_m2fnet import M2FNetFeatureExtractor
from .image_processing_m2fnet import M2FNetImageProcessor
from .media_utils import (
    MEDIA_INSTALL_COMMAND,
    EmptyAudioError,
    M2FNetFaceDetector,
    MediaDecodingError,
    MediaFileNotFoundError,
    NoAudioStreamError,
    NoVideoStreamError,
    load_audio,
    load_video_frames,
)
from .modeling_m2fnet import (
    M2FNetEmotionRecognitionOutput,
    M2FNetForEmotionRecognition,
    M2FNetModel,
    M2FNetModelOutput,
    M2FNetPreTrainedModel,
)
from .modeling_m2fnet_extractors import M2FNetAudioExtractor, M2FNetExtractorOutput, M2FNetVisualExtractor
from .processing_m2fnet import M2FNetProcessor, number_speakers


def register_auto_classes() -> None:
    """
    Registers the M2FNet classes with the transformers `Auto*` factories of this process (so that a local checkpoint
    loads without `trust_remote_code`), and marks them for `register_for_auto_class` so that `save_pretrained`
    writes an `auto_map` and copies this package's code next to the weights (what `trust_remote_code=True` loads on
    machines without this package). Idempotent.
    """
    from transformers import AutoConfig, AutoFeatureExtractor, AutoImageProcessor, AutoModel, AutoProcessor

    for config_class in (M2FNetConfig, M2FNetAudioConfig, M2FNetVisualConfig):
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    AutoModel.register(M2FNetConfig, M2FNetForEmotionRecognition, exist_ok=True)
    AutoModel.register(M2FNetAudioConfig, M2FNetAudioExtractor, exist_ok=True)
    AutoModel.register(M2FNetVisualConfig, M2FNetVisualExtractor, exist_ok=True)
    AutoFeatureExtractor.register(M2FNetConfig, M2FNetFeatureExtractor, exist_ok=True)
    AutoImageProcessor.register(M2FNetConfig, slow_image_processor_class=M2FNetImageProcessor, exist_ok=True)
    AutoProcessor.register(M2FNetConfig, M2FNetProcessor, exist_ok=True)

    M2FNetConfig.register_for_auto_class()
    M2FNetForEmotionRecognition.register_for_auto_class("AutoModel")
    M2FNetAudioConfig.register_for_auto_class()
    M2FNetAudioExtractor.register_for_auto_class("AutoModel")
    M2FNetVisualConfig.register_for_auto_class()
    M2FNetVisualExtractor.register_for_auto_class("AutoModel")
    M2FNetFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
    M2FNetImageProcessor.register_for_auto_class("AutoImageProcessor")
    M2FNetProcessor.register_for_auto_class("AutoProcessor")

    from transformers.pipelines import PIPELINE_REGISTRY

    from .pipeline_m2fnet import PIPELINE_TASK, M2FNetEmotionRecognitionPipeline

    PIPELINE_REGISTRY.register_pipeline(PIPELINE_TASK, M2FNetEmotionRecognitionPipeline, pt_model=AutoModel)


__all__ = [
    "EmptyAudioError",
    "IEMOCAP_EMOTIONS",
    "MELD_EMOTIONS",
    "M2FNetAudioConfig",
    "M2FNetAudioExtractor",
    "M2FNetConfig",
    "M2FNetEmotionRecognitionOutput",
    "M2FNetExtractorConfig",
    "M2FNetExtractorOutput",
    "M2FNetFaceDetector",
    "M2FNetFeatureExtractor",
    "M2FNetImageProcessor",
    "M2FNetProcessor",
    "MEDIA_INSTALL_COMMAND",
    "MediaDecodingError",
    "MediaFileNotFoundError",
    "NoAudioStreamError",
    "NoVideoStreamError",
    "load_audio",
    "load_video_frames",
    "number_speakers",
    "M2FNetForEmotionRecognition",
    "M2FNetModel",
    "M2FNetModelOutput",
    "M2FNetPreTrainedModel",
    "M2FNetVisualConfig",
    "M2FNetVisualExtractor",
    "register_auto_classes",
]
