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
"""Errors shared by the audio and video decoding helpers of the M2FNet processors."""


class MediaDecodingError(ValueError):
    """A media file (or in-memory blob) could not be decoded. The message names the source and the fix."""


class NoAudioStreamError(MediaDecodingError):
    """The media has no audio stream (for example a silent mp4). Callers may treat audio as a missing modality."""


class NoVideoStreamError(MediaDecodingError):
    """The media has no video stream (for example a wav file given as `video`)."""


__all__ = ["MediaDecodingError", "NoAudioStreamError", "NoVideoStreamError"]
