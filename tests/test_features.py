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
"""Tests of the feature cache (datasets_scripts/features.py, examples/extract_features.py) and examples/build_model.py."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoProcessor, BertConfig, BertModel

from datasets_scripts import flatten_dialogues
from datasets_scripts.conversations import ConversationsBuilder
from examples.build_model import main as build_model_main
from examples.extract_features import main as extract_features_main
from m2fnet_training.collators import M2FNetEmbeddingCollator
from m2fnet_training.features import REPORT_FILENAME, extract_features, extraction_signature, shard_bounds
from m2fnet_training.model_building import build_m2fnet, save_m2fnet
from m2fnet_training.tiny_model import TINY_ENCODER_CONFIG, TINY_TEXT_CONFIG, build_tiny_m2fnet, train_tiny_tokenizer
from modeling_m2fnet import (
    MELD_EMOTIONS,
    M2FNetAudioConfig,
    M2FNetAudioExtractor,
    M2FNetVisualConfig,
    M2FNetVisualExtractor,
    MediaDecodingError,
)


REPO_ROOT = Path(__file__).resolve().parents[1]
MODALITY_COLUMNS = {"text": 0, "audio": 1, "visual": 2}
# (speaker, text, audio?, video?, label) per utterance; the builder needs the first utterance of a dialogue labelled.
DIALOGUES = {
    "cafe": [
        ("Ross", "We were on a break!", True, False, "anger"),
        ("Rachel", "Oh my God.", False, True, "surprise"),
        ("Ross", "", True, False, ""),
    ],
    "door": [
        ("Monica", "Welcome to the real world.", False, False, "joy"),
        ("Rachel", "It sucks.", True, False, "sadness"),
    ],
    "couch": [
        ("Joey", "How you doin'?", False, False, "joy"),
        ("Chandler", "Could this be any worse?", False, True, ""),
        ("Joey", "Yes.", False, False, "neutral"),
        ("Phoebe", "Smelly cat.", True, True, "joy"),
    ],
    "hall": [("Ross", "Pivot!", True, True, "anger")],
    "kitchen": [
        ("Monica", "I know!", False, False, "joy"),
        ("Rachel", "No way.", False, False, "disgust"),
        ("Monica", "Way.", False, False, "neutral"),
    ],
    "park": [("Phoebe", "They don't know that we know.", False, True, "fear"), ("Joey", "Huh?", False, True, "")],
}
TEXTS = [f"{speaker}: {text}" for turns in DIALOGUES.values() for speaker, text, *_ in turns]


def write_conversations(path: Path, dialogues: dict, audio: Path, video: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["conversation_id", "utterance_id", "speaker", "text", "audio", "video", "label"])
        for name, turns in dialogues.items():
            for index, (speaker, text, has_audio, has_video, label) in enumerate(turns):
                writer.writerow(
                    [name, index, speaker, text, audio if has_audio else "", video if has_video else "", label]
                )
    return path


def build_conversations(folder: Path, dialogues: dict, audio: Path, video: Path, **config) -> datasets.DatasetDict:
    folder.mkdir(parents=True, exist_ok=True)
    data_file = write_conversations(folder / "train.csv", dialogues, audio, video)
    config.setdefault("label_names", tuple(MELD_EMOTIONS))
    builder = ConversationsBuilder(cache_dir=str(folder / "cache"), data_files={"train": str(data_file)}, **config)
    builder.download_and_prepare()
    return builder.as_dataset()


def raw_conversations(dialogues: dict, audio: Path, video: Path) -> list[list[dict]]:
    """The same dialogues in the processor's input format (the raw-input path)."""
    return [
        [
            {
                "speaker": speaker,
                "text": text,
                "audio": str(audio) if has_audio else None,
                "video": str(video) if has_video else None,
                "label": label or None,
            }
            for speaker, text, has_audio, has_video, label in turns
        ]
        for turns in dialogues.values()
    ]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, speech_wav, face_video_mp4):
    return build_conversations(tmp_path_factory.mktemp("conversations"), DIALOGUES, speech_wav, face_video_mp4)


@pytest.fixture(scope="module")
def tiny():
    model, processor = build_tiny_m2fnet(TEXTS)
    return model, processor


@pytest.fixture(scope="module")
def extracted(tiny, dataset, tmp_path_factory):
    model, processor = tiny
    output_dir = tmp_path_factory.mktemp("features") / "out"
    # 5 utterances a shard: cafe + door, couch + hall, kitchen + park (the pairs `raw_batches` encodes together).
    features, report = extract_features(model, processor, dataset, output_dir, shard_utterances=5, batch_size=2)
    return features, report, output_dir


def test_shards_are_whole_dialogues_of_about_the_given_number_of_utterances():
    assert shard_bounds([3, 2, 4, 1, 3, 2], 5) == [(0, 2), (2, 4), (4, 6)]
    assert shard_bounds([3, 2, 4, 1, 3, 2], 1) == [(index, index + 1) for index in range(6)]
    assert shard_bounds([12, 1, 1], 5) == [(0, 1), (1, 3)]  # a long dialogue is a shard of its own
    assert shard_bounds([], 5) == []


def test_output_format_and_report(extracted):
    features, report, output_dir = extracted
    train = features["train"]
    assert train["dialogue_id"] == list(DIALOGUES)
    columns = {"dialogue_id", "labels", "text_embeds", "audio_embeds", "visual_embeds", "modality_mask", "speaker_ids"}
    assert set(train.column_names) == columns
    assert train[0]["speaker_ids"] == [0, 1, 0] and train[2]["speaker_ids"] == [0, 1, 0, 2]  # by first appearance
    assert train.features["labels"] == datasets.List(datasets.Value("int64"))
    assert train.features["modality_mask"].feature.feature == datasets.Value("int8")
    assert train.features["text_embeds"].feature.feature == datasets.Value("float32")
    assert train[0]["labels"] == [MELD_EMOTIONS.index("anger"), MELD_EMOTIONS.index("surprise"), -100]
    # cafe: text, text + video (audio from its track), audio only (no text)
    assert train[0]["modality_mask"] == [[1, 1, 0], [1, 1, 1], [0, 1, 0]]
    assert np.all(np.asarray(train[0]["text_embeds"][2]) == 0)  # missing modality: zero embedding
    on_disk = json.loads((output_dir / REPORT_FILENAME).read_text())
    assert on_disk["label_names"] == list(MELD_EMOTIONS)
    assert on_disk["embed_dims"] == {"text": 32, "audio": 16, "visual": 16}
    statistics = on_disk["splits"]["train"]
    assert (statistics["dialogues"], statistics["utterances"], statistics["shards"]) == (6, 15, 3)
    turns = [turn for dialogue in DIALOGUES.values() for turn in dialogue]
    assert statistics["present"] == {
        "text": sum(bool(text) for _, text, *_ in turns),
        "audio": sum(has_audio or has_video for *_, has_audio, has_video, _ in turns),  # mp4 audio tracks count
        "visual": sum(has_video for *_, has_video, _ in turns),
    }
    assert statistics["unusable_media"] == {"audio": 0, "visual": 0}
    assert not output_dir.with_name("out.shards").exists()  # shard cache removed after success


@pytest.fixture(scope="module")
def raw_batches(tiny, speech_wav, face_video_mp4):
    """The processor's output for the dialogues in the groups that `extracted` encodes together (its map batches:
    audio spectrograms are padded per batch)."""
    processor = tiny[1]
    conversations = dict(zip(DIALOGUES, raw_conversations(DIALOGUES, speech_wav, face_video_mp4)))
    names = list(DIALOGUES)
    groups = [names[start : start + 2] for start in range(0, len(names), 2)]
    return [(group, processor(conversations=[conversations[name] for name in group])) for group in groups]


def test_cached_embeddings_equal_model_features(tiny, extracted, raw_batches):
    model = tiny[0]
    train = extracted[0]["train"]
    for group, batch in raw_batches:
        with torch.no_grad():
            expected = {}
            for modality, column in MODALITY_COLUMNS.items():
                selected = batch["utterance_mask"].bool() & batch["modality_mask"][..., column].bool()
                if modality == "text":
                    expected[modality] = model.m2fnet.get_text_features(
                        batch["input_ids"], batch["attention_mask"], selected
                    )
                elif modality == "audio":
                    expected[modality] = model.m2fnet.get_audio_features(
                        batch["input_features"], batch["audio_attention_mask"], selected
                    )
                else:
                    expected[modality] = model.m2fnet.get_visual_features(
                        batch["pixel_values"], batch["face_pixel_values"], batch["face_weights"], selected
                    )
        for b, name in enumerate(group):
            row = train[list(DIALOGUES).index(name)]
            length = len(DIALOGUES[name])
            np.testing.assert_array_equal(row["modality_mask"], batch["modality_mask"][b, :length].numpy())
            np.testing.assert_array_equal(row["labels"], batch["labels"][b, :length].numpy())
            for modality in MODALITY_COLUMNS:
                np.testing.assert_allclose(
                    np.asarray(row[f"{modality}_embeds"]), expected[modality][b, :length].numpy(), atol=1e-5, rtol=0
                )


def test_collated_cache_gives_the_raw_input_logits(tiny, extracted, raw_batches):
    model = tiny[0]
    train = extracted[0]["train"]
    collator = M2FNetEmbeddingCollator()
    for group, raw in raw_batches:
        cached = collator([train[list(DIALOGUES).index(name)] for name in group])
        with torch.no_grad():
            from_cache = model(**cached)
            from_raw = model(**raw)
        real = raw["utterance_mask"].bool()
        torch.testing.assert_close(from_cache.logits[real], from_raw.logits[real], atol=1e-5, rtol=0)
        torch.testing.assert_close(from_cache.loss, from_raw.loss, atol=1e-5, rtol=0)


def test_collator_rejects_nan_features(extracted):
    row = dict(extracted[0]["train"][1])
    row["audio_embeds"] = [list(vector) for vector in row["audio_embeds"]]
    row["audio_embeds"][1][3] = float("nan")
    with pytest.raises(ValueError, match=r"'door'.*`audio_embeds` holds NaN"):
        M2FNetEmbeddingCollator()([row])


def test_resume_recomputes_only_the_missing_shards(tiny, dataset, tmp_path):
    model, processor = tiny
    settings = {"modalities": ["text", "audio"], "shard_utterances": 1, "batch_size": 1, "progress": False}
    reference, _ = extract_features(model, processor, dataset, tmp_path / "reference", **settings)

    class Interrupt(Exception):
        pass

    computed = []

    def stop_after_three(split, index, path, reused):
        computed.append(index)
        if len(computed) == 3:
            raise Interrupt

    output_dir, cache_dir = tmp_path / "resumed", tmp_path / "cache"
    with pytest.raises(Interrupt):
        extract_features(
            model, processor, dataset, output_dir, cache_dir=cache_dir, shard_callback=stop_after_three, **settings
        )
    assert not output_dir.exists()
    finished = sorted(cache_dir.glob("*.arrow"))
    assert len(finished) == 3
    mtimes = {path: path.stat().st_mtime_ns for path in finished}

    calls = []
    original = model.m2fnet.get_text_features
    model.m2fnet.get_text_features = lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs)
    try:
        resumed, report = extract_features(
            model, processor, dataset, output_dir, cache_dir=cache_dir, keep_cache=True, **settings
        )
    finally:
        del model.m2fnet.get_text_features
    statistics = report["splits"]["train"]
    assert (statistics["shards_reused"], statistics["shards_computed"]) == (3, 3)
    assert len(calls) == 3  # one text forward per remaining dialogue (batch_size=1)
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in mtimes.items())
    assert len(list(cache_dir.glob("*.arrow"))) == 6
    assert resumed["train"].to_dict() == reference["train"].to_dict()


def test_cache_key_follows_the_extractor_weights_not_the_dialogue_level(tiny):
    model, processor = tiny
    before = extraction_signature(model, processor, ["text"], "raise", 4)
    classifier, embeddings = model.classifier.weight, model.m2fnet.text_model.embeddings.word_embeddings.weight
    saved = classifier.detach().clone(), embeddings.detach().clone()
    with torch.no_grad():
        try:
            classifier.add_(1.0)  # dialogue level: the utterance embeddings do not change
            unchanged = extraction_signature(model, processor, ["text"], "raise", 4)
            embeddings[0, 0] += 1.0
            changed = extraction_signature(model, processor, ["text"], "raise", 4)
        finally:
            classifier.copy_(saved[0])
            embeddings.copy_(saved[1])
    assert unchanged == before
    assert changed["text"]["weights"] != before["text"]["weights"]


def test_media_errors_follow_the_processor_policy(tiny, tmp_path, speech_wav, corrupt_mp4):
    model, processor = tiny
    dialogues = {"ok": DIALOGUES["door"], "broken": [("Ross", "Look!", False, True, "surprise")]}
    broken = build_conversations(tmp_path / "data", dialogues, speech_wav, corrupt_mp4)
    with pytest.raises(MediaDecodingError, match="extracting the audio of dialogue 'broken'"):
        extract_features(model, processor, broken, tmp_path / "raise", on_media_error="raise", progress=False)
    assert not (tmp_path / "raise").exists()
    features, report = extract_features(
        model, processor, broken, tmp_path / "skip", on_media_error="skip", progress=False
    )
    assert features["train"][1]["modality_mask"] == [[1, 0, 0]]  # the clip's audio and frames: missing
    assert report["splits"]["train"]["unusable_media"] == {"audio": 1, "visual": 1}
    saved = json.loads((tmp_path / "skip" / REPORT_FILENAME).read_text())
    assert saved["splits"]["train"]["unusable_media_examples"] == ["broken/0 (audio)", "broken/0 (visual)"]


def test_dataset_checks(tiny, tmp_path, speech_wav, face_video_mp4):
    model, processor = tiny
    sorted_labels = build_conversations(
        tmp_path / "sorted",
        {"door": DIALOGUES["door"]},
        speech_wav,
        face_video_mp4,
        label_names=tuple(sorted(MELD_EMOTIONS)),
    )
    with pytest.raises(ValueError, match="not the model's"):
        extract_features(model, processor, sorted_labels, tmp_path / "out")
    with pytest.raises(ValueError, match="no `utterances` column"):
        extract_features(model, processor, flatten_dialogues(sorted_labels), tmp_path / "out")
    (tmp_path / "exists").mkdir()
    with pytest.raises(FileExistsError):
        extract_features(model, processor, sorted_labels, tmp_path / "exists")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A random BERT with a pooler and its tokenizer, saved as a plain transformers model folder."""
    folder = tmp_path_factory.mktemp("encoders") / "tiny-bert"
    tokenizer = train_tiny_tokenizer(TEXTS)
    torch.manual_seed(1)
    config = BertConfig(
        **{key: value for key, value in TINY_TEXT_CONFIG.items() if key != "model_type"}, vocab_size=len(tokenizer)
    )
    encoder = BertModel(config)  # with its pooler, as pretrained BERT checkpoints are
    encoder.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, encoder.state_dict(), tokenizer.get_vocab()


def test_build_m2fnet_copies_the_pretrained_encoder(tiny_bert, tmp_path):
    folder, weights, vocab = tiny_bert
    model, processor, info = build_m2fnet(folder, modalities=["text"], return_loading_info=True, num_hidden_layers=2)
    copied = model.m2fnet.text_model.state_dict()
    assert set(copied) == {key for key in weights if not key.startswith("pooler.")}
    for key, tensor in copied.items():
        assert torch.equal(tensor, weights[key]), key
    assert info["text_model"]["ignored_keys"] == ["pooler.dense.bias", "pooler.dense.weight"]
    assert info["text_model"]["missing_keys"] == info["text_model"]["unexpected_keys"] == []
    assert model.config.num_hidden_layers == 2 and model.config.text_config.hidden_size == 32
    assert processor.modalities == ["text"] and processor.label_names == list(MELD_EMOTIONS)
    assert processor.tokenizer.get_vocab() == vocab


def test_build_model_cli_checkpoint_reloads_with_auto_classes(tiny_bert, tmp_path):
    folder, weights, _ = tiny_bert
    torch.manual_seed(2)
    audio = M2FNetAudioExtractor(M2FNetAudioConfig(projection_dim=8, encoder_config=TINY_ENCODER_CONFIG))
    audio.save_pretrained(tmp_path / "audio")
    output_dir = tmp_path / "m2fnet"
    build_model_main(
        [
            "--text_encoder",
            str(folder),
            "--audio_extractor",
            str(tmp_path / "audio"),
            "--modalities",
            "text",
            "audio",
            "--label_names",
            "calm",
            "angry",
            "--set",
            "num_attention_heads=2",
            "num_fusion_layers=1",
            "fusion_num_attention_heads=2",
            "--output_dir",
            str(output_dir),
        ]
    )
    assert not [path for path in output_dir.parent.iterdir() if path.name.startswith(".m2fnet")]  # no staging left
    model = AutoModel.from_pretrained(output_dir, trust_remote_code=True)
    processor = AutoProcessor.from_pretrained(output_dir, trust_remote_code=True)
    assert type(model).__name__ == "M2FNetForEmotionRecognition"
    assert model.config.id2label == {0: "calm", 1: "angry"} and processor.label_names == ["calm", "angry"]
    for key, tensor in model.m2fnet.text_model.state_dict().items():
        assert torch.equal(tensor, weights[key]), key
    for key, tensor in model.m2fnet.audio_model.state_dict().items():
        assert torch.equal(tensor, audio.state_dict()[key]), key
    assert oct(os.stat(output_dir / "model.safetensors").st_mode & 0o044) == oct(0o044)  # readable by others
    with pytest.raises(FileExistsError, match="exists"):
        build_model_main(["--text_encoder", str(folder), "--output_dir", str(output_dir)])


def test_build_m2fnet_errors(tiny_bert, tmp_path):
    folder, _, _ = tiny_bert
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a transformers model folder"):
        build_m2fnet(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_m2fnet(tmp_path / "missing")
    model, _ = build_m2fnet(folder, modalities=["text"])
    with pytest.raises(ValueError, match="disagree with the given config"):
        build_m2fnet(folder, config=model.config, label_names=["calm", "angry"])
    with pytest.raises(ValueError, match="lacks 'audio'"):
        build_m2fnet(folder, modalities=["text"], audio_extractor=folder)
    visual = M2FNetVisualExtractor(M2FNetVisualConfig(projection_dim=8, encoder_config=TINY_ENCODER_CONFIG))
    visual.save_pretrained(tmp_path / "visual")
    with pytest.raises(ValueError, match="expected 'm2fnet_audio'"):
        build_m2fnet(folder, modalities=["text", "audio"], audio_extractor=tmp_path / "visual")
    no_weights = tmp_path / "config-only"
    BertConfig(**{key: value for key, value in TINY_TEXT_CONFIG.items() if key != "model_type"}).save_pretrained(
        no_weights
    )
    with pytest.raises(ValueError, match="Could not load the weights"):
        build_m2fnet(no_weights, modalities=["text"])


def test_extract_features_cli(tiny, dataset, tmp_path):
    model, processor = tiny
    checkpoint = save_m2fnet(model, processor, tmp_path / "model")
    dataset.save_to_disk(str(tmp_path / "data"))
    output_dir = tmp_path / "features"
    argv = [
        "--model",
        str(checkpoint),
        "--dataset",
        str(tmp_path / "data"),
        "--output_dir",
        str(output_dir),
        "--modalities",
        "text",
        "--shard_utterances",
        "9",
        "--no_progress",
    ]
    report = extract_features_main(argv)
    features = datasets.load_from_disk(str(output_dir))
    assert features["train"].column_names == ["dialogue_id", "labels", "text_embeds", "modality_mask", "speaker_ids"]
    assert report["splits"]["train"]["shards"] == 2  # cafe + door + couch (9 utterances), then hall + kitchen + park
    with pytest.raises(FileExistsError, match="exists"):
        extract_features_main(argv)


def test_cli_help(capsys):
    result = subprocess.run(
        [sys.executable, "examples/extract_features.py", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--shard_utterances" in result.stdout and "--output_dir" in result.stdout
    with pytest.raises(SystemExit) as exit_info:
        build_model_main(["--help"])
    assert exit_info.value.code == 0
    assert "--text_encoder" in capsys.readouterr().out
