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
"""Packaging for m2fnet: M2FNet (CVPRW 2022) for emotion recognition in conversation, on the Hugging Face stack."""

from setuptools import setup


# The core (what `trust_remote_code` users need) is torch + transformers only; everything else is an extra.
CORE = [
    "torch>=2.4",
    "transformers>=5,<6",
    "numpy>=1.26",
    "safetensors>=0.4",
    "huggingface_hub>=1.0",
]
EXTRAS = {
    # Media decoding (PyAV bundles FFmpeg), resampling (soxr) and face detection (OpenCV Haar cascades,
    # shipped inside the 4.x wheels; OpenCV 5 dropped them).
    "media": ["av>=14", "soxr>=0.5", "opencv-python-headless>=4.10,<5", "pillow>=10"],
    "datasets": ["datasets>=5,<6", "pandas>=2", "ftfy>=6"],
    "train": ["accelerate>=1.10", "evaluate>=0.4.5", "scikit-learn>=1.5", "matplotlib>=3.8", "tqdm>=4.66"],
    "space": ["gradio==6.31.0", "pandas>=2"],  # the version pinned in space/README.md
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})
EXTRAS["dev"] = EXTRAS["all"] + [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "soundfile>=0.12",
    "scikit-image>=0.24",  # ships real photographs with faces (skimage.data.astronaut) for the face-detector tests
    "gradio_client>=1",
    "playwright>=1.40",
    "ruff>=0.6",
    "transformers-mlinter>=0.1.5",
]

setup(
    name="m2fnet",
    version="0.1.0.dev0",
    description="M2FNet: multi-modal fusion network for emotion recognition in conversation, as a Hugging Face model",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=["modeling_m2fnet", "datasets_scripts", "m2fnet_training"],
    install_requires=CORE,
    extras_require=EXTRAS,
    classifiers=[
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
