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
"""Throughput of `M2FNetProcessor` in utterances/s: text with context, audio log-mel, video frames + faces.

Media are generated once (cached in `outputs/benchmark_media/`): espeak-ng speech of MELD-like lines (about 3.3 s,
MELD's utterances average about 3 s) and 3 s, 25 fps H.264 mp4s of a face (scikit-image's astronaut photograph on
a 16:9 background) at 1280x720 (MELD's clip size) and 640x360, with the speech as AAC audio track. The processor
uses its default settings (15 frames, 224 px scenes, 112 px faces, 128 mel bins); the text tokenizer is
all-mpnet-base-v2's from `local_models/` (or a WordPiece tokenizer trained in-process when it is absent).

    python benchmarks/bench_processor.py            # full run: about 1 minute on 2 idle cores, 3 on busy ones
    python benchmarks/bench_processor.py --quick    # smoke check, < 1 minute
"""

import argparse
from functools import partial

from _common import (
    LOCAL_MODELS,
    SENTENCES,
    SPEAKERS,
    describe,
    format_table,
    generate_face_video,
    generate_speech,
    machine_description,
    media_duration,
    save_benchmark,
    set_threads,
    time_call,
)


def build_tokenizer():
    """all-mpnet-base-v2's tokenizer from `local_models/`, else a WordPiece tokenizer trained on the benchmark lines."""
    path = LOCAL_MODELS / "all-mpnet-base-v2"
    if (path / "tokenizer.json").exists():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(path)), "all-mpnet-base-v2"
    from m2fnet_training.tiny_model import train_tiny_tokenizer

    lines = [f"{speaker}: {sentence}" for speaker in SPEAKERS for sentence in SENTENCES]
    return train_tiny_tokenizer(lines), "WordPiece trained in-process (local_models/ absent)"


def conversation(num_utterances: int, offset: int = 0, audio=None, video=None) -> list[dict]:
    """A MELD-like conversation; `audio` / `video` are lists of paths cycled through the utterances."""
    utterances = []
    for index in range(num_utterances):
        position = offset + index
        utterance = {"speaker": SPEAKERS[position % len(SPEAKERS)], "text": SENTENCES[position % len(SENTENCES)]}
        if audio:
            utterance["audio"] = str(audio[position % len(audio)])
        if video:
            utterance["video"] = str(video[position % len(video)])
        utterances.append(utterance)
    return utterances


def _detect_all(detector, frames) -> list:
    return [detector.detect(frame) for frame in frames]


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.1f}"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer utterances and repeats: a smoke check (< 1 min).")
    parser.add_argument("--repeats", type=int, default=None, help="Timed repeats per workload (default 5, quick 1).")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice).")
    parser.add_argument("--output_dir", default=None, help="Folder of the JSON file (default benchmarks/results).")
    parser.add_argument("--name", default="processor", help="Name of the JSON file (without .json).")
    return parser.parse_args(argv)


def make_workloads(tokenizer, speech, videos, speech_seconds: float, quick: bool) -> list[tuple]:
    """`(name, processor, conversations per call, details)` for each timed workload."""
    from modeling_m2fnet import M2FNetFeatureExtractor, M2FNetImageProcessor, M2FNetProcessor

    def processor(modalities):
        return M2FNetProcessor(tokenizer, M2FNetFeatureExtractor(), M2FNetImageProcessor(), modalities=modalities)

    text_batch, media = (4, 1) if quick else (16, 4)
    texts = [conversation(10, offset=10 * b) for b in range(text_batch)]
    workloads = [
        ("text (tokenise + context)", processor(["text"]), texts, f"{text_batch} dialogues x 10 utterances"),
        (
            "audio: wav -> log-mel",
            processor(["audio"]),
            [conversation(2 * media, audio=speech)],
            f"espeak-ng wav, 22.05 kHz, {speech_seconds:.1f} s avg",
        ),
        (
            "audio: mp4 track -> log-mel",
            processor(["audio"]),
            [conversation(2 * media, video=videos["640x360"])],
            "AAC track of the 3 s mp4s, 44.1 kHz",
        ),
    ]
    for resolution, paths in videos.items():
        workloads.append(
            (
                f"video {resolution}: decode + frames + faces",
                processor(["visual"]),
                [conversation(media, video=paths)],
                "3 s, 25 fps H.264, one face",
            )
        )
    workloads.append(
        (
            "all: text + audio (mp4 track) + video 1280x720",
            processor(None),
            [conversation(media, video=videos["1280x720"])],
            "audio taken from the mp4",
        )
    )
    return workloads


def time_workloads(workloads, repeats: int, budget: float) -> tuple[list, list]:
    rows, results = [], []
    for name, proc, conversations, details in workloads:
        num_utterances = sum(len(conv) for conv in conversations)
        call = partial(proc, conversations=conversations, return_tensors="pt")
        timing = time_call(call, repeats=repeats, warmup=1, budget_s=budget)
        per_s = num_utterances / timing["median_s"]
        per_utterance_ms = timing["median_s"] * 1e3 / num_utterances
        rows.append([name, num_utterances, _ms(per_utterance_ms), f"{per_s:.1f}", timing["repeats"], details])
        results.append(
            {
                "workload": name,
                "utterances_per_call": num_utterances,
                "details": details,
                "utterances_per_s": per_s,
                "ms_per_utterance": per_utterance_ms,
                **timing,
            }
        )
        print(f"  {name}: {per_s:.1f} utterances/s", flush=True)
    return rows, results


def time_video_stages(videos, repeats: int, budget: float, quick: bool) -> list[dict]:
    """Where the video time goes, per utterance: decoding + sampling, then the image processor with and without faces."""
    from modeling_m2fnet import M2FNetImageProcessor, load_video_frames

    stages = []
    image_processor = M2FNetImageProcessor()
    for resolution, paths in videos.items():
        path = str(paths[0])
        frames = load_video_frames(path, num_frames=image_processor.num_frames)
        for stage, function in (
            ("decode + sample 15 frames", partial(load_video_frames, path, num_frames=image_processor.num_frames)),
            ("resize + normalise (no faces)", partial(image_processor, frames, do_detect_faces=False)),
            ("face detection + crops + resize + normalise", partial(image_processor, frames)),
        ):
            timing = time_call(function, repeats=repeats, warmup=0 if quick else 1, budget_s=budget / 2)
            stages.append(
                {"resolution": resolution, "stage": stage, "ms_per_utterance": timing["median_s"] * 1e3, **timing}
            )
    detector = image_processor.get_face_detector()
    for resolution, paths in videos.items():
        frames = load_video_frames(str(paths[0]), num_frames=image_processor.num_frames)
        timing = time_call(partial(_detect_all, detector, frames), repeats=repeats, warmup=0, budget_s=budget / 2)
        stages.append(
            {
                "resolution": resolution,
                "stage": "face detection alone (15 frames)",
                "ms_per_utterance": timing["median_s"] * 1e3,
                **timing,
            }
        )
    return stages


def main(argv=None) -> dict:
    args = parse_args(argv)
    set_threads(args.threads)
    machine = machine_description()
    print(describe(machine), flush=True)
    repeats = args.repeats or (1 if args.quick else 5)
    budget = 5.0 if args.quick else 40.0  # seconds of timed repeats per workload, at most
    speech = [generate_speech(index) for index in range(10)]
    videos = {
        "1280x720": [generate_face_video(1280, 720, speech[index]) for index in range(3)],
        "640x360": [generate_face_video(640, 360, speech[index]) for index in range(3)],
    }
    speech_seconds = sum(media_duration(path) for path in speech) / len(speech)
    tokenizer, tokenizer_name = build_tokenizer()
    workloads = make_workloads(tokenizer, speech, videos, speech_seconds, args.quick)
    rows, results = time_workloads(workloads, repeats, budget)
    stages = time_video_stages(videos, repeats, budget, args.quick)
    print(f"\nProcessor throughput (tokenizer: {tokenizer_name}; default settings: 15 frames, 224 px, 112 px faces)")
    print(format_table(["workload", "utterances/call", "ms/utterance", "utterances/s", "repeats", "input"], rows))
    print("\nVideo stages, one utterance (15 frames)")
    stage_rows = [[s["resolution"], s["stage"], _ms(s["ms_per_utterance"]), s["repeats"]] for s in stages]
    print(format_table(["resolution", "stage", "ms/utterance", "repeats"], stage_rows))
    settings = {
        "num_frames": 15,
        "size": 224,
        "face_size": 112,
        "feature_size": 128,
        "tokenizer": tokenizer_name,
        "speech_seconds_avg": speech_seconds,
        "video_seconds": 3.0,
        "fps": 25,
    }
    command = "python benchmarks/bench_processor.py" + (" --quick" if args.quick else "")
    sections = {"settings": settings, "workloads": results, "video_stages": stages}
    return save_benchmark(args, "processor", command, machine, sections)


if __name__ == "__main__":
    main()
