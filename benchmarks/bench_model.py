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
"""Inference time per conversation vs its number of utterances: text backbone, full M2FNet, dialogue level alone.

Three measurements per conversation length N (batch of one conversation, `torch.inference_mode`, eval mode):

- (a) the text backbone alone: all-mpnet-base-v2 from `local_models/` (RoBERTa-base-sized random weights when it is
  absent) on the N utterances, each tokenised with its previous and next utterance as context (M-RoBERTa input);
- (b) the full M2FNet on raw inputs: that text encoder + the paper's audio and visual extractors (ResNet-18 each,
  15 frames of 224 px and one 112 px face per frame, log-mel of about 3 s of speech) + the dialogue level;
- (c) the dialogue level alone on cached embeddings (D_T = 768, D_A = 300, D_V = 600; 1 encoder layer per
  modality, 5 fusion layers: the paper's MELD setting), and the same with D_T = 1024 (RoBERTa-large's width).

The ratio (c) / (a) is the cost of M2FNet's dialogue level relative to its text backbone (goal: at most 10 %).

    python benchmarks/bench_model.py            # full run: about 2 minutes on 2 idle cores, up to 8 on busy ones
    python benchmarks/bench_model.py --quick    # smoke check, < 1 minute
"""

import argparse
import resource
import time
from functools import partial

from _common import (
    LOCAL_MODELS,
    SENTENCES,
    SPEAKERS,
    TEXT_ENCODER_CONFIGS,
    describe,
    format_table,
    generate_face_video,
    generate_speech,
    machine_description,
    save_benchmark,
    set_threads,
    time_call,
)


ROBERTA_BASE = TEXT_ENCODER_CONFIGS[768]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_text_backbone():
    """(backbone, tokenizer, name, pooling): the real all-mpnet-base-v2, else a random RoBERTa-base."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    path = LOCAL_MODELS / "all-mpnet-base-v2"
    if (path / "model.safetensors").exists():
        backbone = AutoModel.from_pretrained(str(path), add_pooling_layer=False, use_safetensors=True)
        return backbone.eval(), AutoTokenizer.from_pretrained(str(path)), "all-mpnet-base-v2 (real weights)", "mean"
    from m2fnet_training.tiny_model import train_tiny_tokenizer

    config = AutoConfig.for_model(**ROBERTA_BASE)
    backbone = AutoModel.from_config(config, add_pooling_layer=False).eval()
    lines = [f"{speaker}: {sentence}" for speaker in SPEAKERS for sentence in SENTENCES]
    return backbone, train_tiny_tokenizer(lines), "RoBERTa-base size, random weights (local_models/ absent)", "cls"


def conversation(num_utterances: int, videos=None) -> list[dict]:
    utterances = []
    for index in range(num_utterances):
        utterance = {"speaker": SPEAKERS[index % len(SPEAKERS)], "text": SENTENCES[index % len(SENTENCES)]}
        if videos:
            utterance["video"] = str(videos[index % len(videos)])
        utterances.append(utterance)
    return utterances


def tile_utterances(batch: dict, num_utterances: int) -> dict:
    """Repeats the utterances of a one-conversation batch `(1, K, ...)` cyclically to `(1, num_utterances, ...)`."""
    import torch

    index = torch.arange(num_utterances) % batch["utterance_mask"].shape[1]
    return {key: value[:, index] for key, value in batch.items()}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N in (1, 4), one repeat of (b): a smoke check.")
    parser.add_argument("--utterances", type=int, nargs="+", default=None, help="Lengths N (1 2 4 8 16 32 64).")
    parser.add_argument("--repeats", type=int, default=None, help="Timed repeats of (a) and (c) (default 5).")
    parser.add_argument("--full_repeats", type=int, default=1, help="Timed repeats of (b) (default 1).")
    parser.add_argument(
        "--full_budget_s", type=float, default=300.0, help="Seconds for (b); longer conversations are skipped."
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice).")
    parser.add_argument("--output_dir", default=None, help="Where to write model.json (default benchmarks/results).")
    parser.add_argument("--name", default="model", help="Name of the JSON file (without .json).")
    return parser.parse_args(argv)


def dialogue_parameters(model) -> int:
    extractors = ("m2fnet.text_model.", "m2fnet.audio_model.", "m2fnet.visual_model.")
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(extractors))


def build_models(backbone, pooling: str) -> tuple:
    """The paper-default M2FNet around `backbone`, and a dialogue level of RoBERTa-large's width (D_T = 1024)."""
    from modeling_m2fnet import M2FNetConfig, M2FNetForEmotionRecognition

    config = M2FNetConfig(text_config=backbone.config.to_dict(), text_pooling=pooling)  # paper-default rest
    model = M2FNetForEmotionRecognition(config).eval()
    model.m2fnet.text_model.load_state_dict(backbone.state_dict(), strict=False)
    tiny_encoder = {"model_type": "resnet", "depths": [1], "hidden_sizes": [8], "embedding_size": 8}
    # The text encoder is unused: only its width matters for (c).
    wide_text = {"model_type": "roberta", "hidden_size": 1024, "num_hidden_layers": 1, "num_attention_heads": 16}
    wide_text.update(intermediate_size=64, vocab_size=64)
    wide_config = M2FNetConfig(
        text_config=wide_text,
        audio_config={"encoder_config": tiny_encoder},
        visual_config={"encoder_config": tiny_encoder},
    )
    wide = M2FNetForEmotionRecognition(wide_config).eval()
    parameters = {
        "text_backbone": sum(p.numel() for p in backbone.parameters()),
        "audio_extractor": sum(p.numel() for p in model.m2fnet.audio_model.parameters()),
        "visual_extractor": sum(p.numel() for p in model.m2fnet.visual_model.parameters()),
        "dialogue_level_768": dialogue_parameters(model),
        "dialogue_level_1024": dialogue_parameters(wide),
    }
    return model, wide, parameters


def media_batch(tokenizer) -> dict:
    """Three real utterances (mp4 with a face and AAC speech) through the processor, without the text keys."""
    from modeling_m2fnet import M2FNetFeatureExtractor, M2FNetImageProcessor, M2FNetProcessor

    speech = [generate_speech(index) for index in range(3)]
    videos = [generate_face_video(640, 360, path) for path in speech]
    processor = M2FNetProcessor(tokenizer, M2FNetFeatureExtractor(), M2FNetImageProcessor())
    media = processor(conversations=[conversation(len(videos), videos)], return_tensors="pt")
    return {key: value for key, value in media.items() if key not in ("input_ids", "attention_mask", "labels")}


def measure(num_utterances: int, models: dict, text: dict, media: dict, args, full_budget_left: float) -> dict:
    """(a), (b) when it fits in the budget (extrapolated from `args.last_per_utterance_s`), (c) for one length N."""
    import torch

    model, wide, backbone = models["model"], models["wide"], models["backbone"]
    repeats = args.repeats or (2 if args.quick else 5)
    input_ids, attention_mask = text["input_ids"][0], text["attention_mask"][0]
    raw = {**tile_utterances(media, num_utterances), "input_ids": text["input_ids"]}
    raw["attention_mask"] = text["attention_mask"]
    config = model.config
    embeds = {f"{m}_embeds": torch.randn(1, num_utterances, config.embed_dim(m)) for m in ("text", "audio", "visual")}
    embeds.update(utterance_mask=raw["utterance_mask"], modality_mask=raw["modality_mask"])
    embeds_1024 = {**embeds, "text_embeds": torch.randn(1, num_utterances, 1024)}
    with torch.inference_mode():
        backbone_call = partial(backbone, input_ids=input_ids, attention_mask=attention_mask)
        backbone_time = time_call(backbone_call, repeats=repeats, warmup=1, budget_s=30)
        dialogue_time = time_call(partial(model, **embeds), repeats=2 * repeats, warmup=1, budget_s=20)
        dialogue_1024_time = time_call(partial(wide, **embeds_1024), repeats=2 * repeats, warmup=1, budget_s=20)
        full_time, start = None, time.perf_counter()
        # (b) grows linearly with N: skip the lengths that would not fit in the budget.
        if args.last_per_utterance_s * num_utterances * args.full_repeats <= full_budget_left:
            warmup = 1 if args.last_per_utterance_s == 0 else 0
            full_time = time_call(partial(model, **raw), repeats=args.full_repeats, warmup=warmup)
        full_seconds = time.perf_counter() - start
    return {
        "num_utterances": num_utterances,
        "text_tokens_per_utterance": int(attention_mask.shape[-1]),
        "text_real_tokens_mean": float(attention_mask.sum(-1).float().mean()),
        "text_backbone": backbone_time,
        "full_model": full_time,
        "dialogue_level": dialogue_time,
        "dialogue_level_d1024": dialogue_1024_time,
        "dialogue_over_backbone": dialogue_time["median_s"] / backbone_time["median_s"],
        "peak_rss_mib_so_far": peak_rss_mib(),
        "full_model_seconds_spent": full_seconds,
    }


def table_row(result: dict) -> list:
    full = result["full_model"]
    return [
        result["num_utterances"],
        f"{result['text_backbone']['median_s'] * 1e3:.1f}",
        f"{full['median_s'] * 1e3:.0f}" if full else "skipped (budget)",
        f"{result['dialogue_level']['median_s'] * 1e3:.2f}",
        f"{result['dialogue_level_d1024']['median_s'] * 1e3:.2f}",
        f"{100 * result['dialogue_over_backbone']:.1f} %",
        f"{result['peak_rss_mib_so_far']:.0f}",
    ]


def main(argv=None) -> dict:
    args = parse_args(argv)
    set_threads(args.threads)
    import torch

    from modeling_m2fnet import M2FNetFeatureExtractor, M2FNetImageProcessor, M2FNetProcessor

    machine = machine_description()
    print(describe(machine), flush=True)
    sizes = args.utterances or ([1, 4] if args.quick else [1, 2, 4, 8, 16, 32, 64])
    torch.manual_seed(0)
    backbone, tokenizer, backbone_name, pooling = load_text_backbone()
    model, wide, parameters = build_models(backbone, pooling)
    print(f"parameters: {parameters}", flush=True)
    media = media_batch(tokenizer)
    text_processor = M2FNetProcessor(tokenizer, M2FNetFeatureExtractor(), M2FNetImageProcessor(), modalities=["text"])

    models = {"model": model, "wide": wide, "backbone": backbone}
    rows, results, full_spent = [], [], 0.0
    args.last_per_utterance_s = 0.0
    for num_utterances in sizes:
        text = text_processor(conversations=[conversation(num_utterances)], return_tensors="pt")
        result = measure(num_utterances, models, text, media, args, args.full_budget_s - full_spent)
        full_spent += result["full_model_seconds_spent"]
        if result["full_model"]:
            args.last_per_utterance_s = result["full_model"]["median_s"] / num_utterances
        results.append(result)
        rows.append(table_row(result))
        print("  N=" + " | ".join(str(value) for value in rows[-1]), flush=True)

    headers = ["N utterances", "(a) text backbone ms", "(b) full M2FNet ms", "(c) dialogue level ms (D_T 768)"]
    headers += ["(c) D_T 1024 ms", "(c) / (a)", "peak RSS MiB"]
    print(f"\nInference per conversation (text backbone: {backbone_name}; batch of one conversation)")
    print(format_table(headers, rows))

    settings = {"text_backbone": backbone_name, "text_pooling": pooling, "num_frames": 15, "frame_size": 224}
    settings.update(
        face_size=112,
        faces_per_frame=int(media["face_mask"].sum() / media["face_mask"].numel()),
        spectrogram_frames=int(media["input_features"].shape[-1]),
        num_hidden_layers=1,
        num_fusion_layers=5,
        attn_implementation=model.config._attn_implementation,
        **{f"{m}_embed_dim": model.config.embed_dim(m) for m in ("text", "audio", "visual")},
    )
    command = "python benchmarks/bench_model.py" + (" --quick" if args.quick else "")
    sections = {"settings": settings, "parameters": parameters, "results": results}
    return save_benchmark(args, "model", command, machine, sections)


if __name__ == "__main__":
    main()
