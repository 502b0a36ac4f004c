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
"""Tests of the example scripts: toy data, M2FNet training (in-process, 1 vs 2 processes, kill and resume), evaluation."""

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

import datasets
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from examples import evaluate_m2fnet as evaluate_script
from examples import train_m2fnet
from m2fnet_training import checkpointing
from m2fnet_training.arguments import parse_arguments
from m2fnet_training.optim import build_optimizer
from m2fnet_training.sources import ToySource
from m2fnet_training.tiny_model import build_tiny_m2fnet
from m2fnet_training.toy_data import make_toy_dataset
from modeling_m2fnet import MELD_EMOTIONS
from tests.kill_and_resume import kill_when, run_script


REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = REPO_ROOT / "examples" / "train_m2fnet.py"
# A small toy run: 48 training dialogues in batches of 8 (6 batches per epoch), 16 validation / test dialogues.
SMALL_TOY = [
    *("--toy_num_train_dialogues", "48", "--toy_num_eval_dialogues", "16"),
    *("--save_plots", "false", "--ablations", "none"),
]


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """In-process runs share Accelerate's singletons and set torch's thread count: restore both after each test."""
    num_threads = torch.get_num_threads()
    yield
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    torch.set_num_threads(num_threads)


def run_main(module, args: list[str]):
    with patch.object(sys, "argv", [module.__file__, *map(str, args)]):
        return module.main()


def script_env(tmp_path: Path, **extra) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ACCELERATE_", "LOCAL_RANK"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), TOKENIZERS_PARALLELISM="false", **extra)
    return env


def launch(tmp_path: Path, num_processes: int, args: list[str]) -> subprocess.CompletedProcess:
    """`accelerate launch` on CPU. Several CPU processes: `--multi_gpu` with `ACCELERATE_USE_CPU=1` (gloo)."""
    if num_processes == 1:
        launcher, extra_env = ["--cpu", "--num_processes", "1"], {}
    else:
        launcher = ["--multi_gpu", "--num_processes", str(num_processes), "--main_process_port", "29533"]
        extra_env = {"ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *launcher,
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(TRAIN_SCRIPT),
        *map(str, args),
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=script_env(tmp_path, **extra_env), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def read_results(output_dir: Path) -> dict:
    return json.loads((output_dir / "results.json").read_text())


# ----------------------------------------------------------------------------------------------------------------------
# Toy data
# ----------------------------------------------------------------------------------------------------------------------


def test_toy_data_is_deterministic_and_in_the_builders_schema():
    first = make_toy_dataset(num_train_dialogues=6, num_eval_dialogues=3)
    second = make_toy_dataset(num_train_dialogues=6, num_eval_dialogues=3)
    assert list(first) == ["train", "validation", "test"]
    assert first["train"].features["utterances"].feature["emotion"].names == list(MELD_EMOTIONS)
    assert first["train"].to_list() == second["train"].to_list()
    assert make_toy_dataset(num_train_dialogues=6, seed=1)["train"].to_list() != first["train"].to_list()
    for dialogue in first["train"]:
        speakers = [utterance["speaker"] for utterance in dialogue["utterances"]]
        assert speakers[0::2] == [speakers[0]] * len(speakers[0::2]) and speakers[1] != speakers[0]  # alternating
        assert [u["utterance_id"] for u in dialogue["utterances"]] == list(range(len(speakers)))


def test_toy_data_texts_carry_the_labels():
    """Text alone: each emotion word names its label, except that two pairs of emotions share their sentences."""
    words = {"joy": "happy", "anger": "angry", "fear": "scared", "sadness": "sad", "disgust": "gross"}
    twins = {"anger": "disgust", "disgust": "anger", "fear": "surprise", "surprise": "fear"}
    for multimodal in (False, True):
        dataset = make_toy_dataset(label_noise=0.0, echo_probability=0.0, multimodal=multimodal)
        names = dataset["train"].features["utterances"].feature["emotion"].names
        shared = 0
        for dialogue in dataset["train"]:
            for utterance in dialogue["utterances"]:
                for emotion, word in words.items():
                    if word in utterance["text"].lower().split():
                        label = names[utterance["emotion"]]
                        assert label == emotion or (multimodal and label == twins[emotion]), utterance
                        shared += label != emotion
        assert (shared > 0) == multimodal


def test_toy_media_embeddings_separate_only_the_text_twins():
    """Audio tells surprise from fear, the visual embedding anger from disgust; neither says anything else."""
    dataset = make_toy_dataset(label_noise=0.0, missing_media=0.0)
    names = dataset["train"].features["utterances"].feature["emotion"].names
    means = {}
    for modality in ("audio", "visual"):
        by_label = {}
        for dialogue in dataset["train"]:
            for utterance in dialogue["utterances"]:
                by_label.setdefault(names[utterance["emotion"]], []).append(utterance[f"{modality}_embedding"])
        means[modality] = {label: np.mean(vectors, axis=0) for label, vectors in by_label.items()}
    audio, visual = means["audio"], means["visual"]
    assert np.linalg.norm(audio["surprise"] - audio["fear"]) > 2.5  # prototypes at +-1.5 along one direction
    assert np.linalg.norm(visual["anger"] - visual["disgust"]) > 2.5
    assert np.linalg.norm(audio["anger"] - audio["disgust"]) < 0.5  # audio does not separate the visual twins
    assert np.linalg.norm(visual["surprise"] - visual["neutral"]) < 0.5
    missing = make_toy_dataset(missing_media=0.5)["train"]
    flags = [not u["audio_embedding"] for dialogue in missing for u in dialogue["utterances"]]
    assert 0.4 < np.mean(flags) < 0.6


# ----------------------------------------------------------------------------------------------------------------------
# train_m2fnet.py: arguments, one step, short runs, reload, evaluate.py
# ----------------------------------------------------------------------------------------------------------------------


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as error:
        run_main(train_m2fnet, ["--help"])
    assert error.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--features_dir", "--dataset_dir", "--checkpointing_steps", "--resume_from_checkpoint"):
        assert option in help_text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--no_such_option", "1"], "unrecognized arguments: --no_such_option"),
        (["--checkpointing_steps", "often"], "--checkpointing_steps must be a positive integer or 'epoch'"),
        (["--features_dir", "a", "--dataset_dir", "b"], "Choose one data source"),
        (["--learning_rate", "abc"], "invalid float value: 'abc'"),
    ],
)
def test_bad_arguments_exit_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as error:
        run_main(train_m2fnet, args)
    assert error.value.code == 2
    assert message in capsys.readouterr().err


def test_json_config_file(tmp_path):
    config = tmp_path / "args.json"
    config.write_text(json.dumps({"output_dir": str(tmp_path / "out"), "num_train_epochs": 3, "learning_rate": 1e-3}))
    arguments = (
        train_m2fnet.ModelArguments,
        train_m2fnet.DataArguments,
        train_m2fnet.DialogueTrainingArguments,
        train_m2fnet.AblationArguments,
    )
    model_args, data_args, training_args, _ = parse_arguments(arguments, [str(config)])
    assert (training_args.num_train_epochs, training_args.learning_rate) == (3, 1e-3)
    assert data_args.make_source().kind == "toy"


def test_one_training_step_lowers_the_loss_on_a_fixed_batch():
    source = ToySource()
    dataset = make_toy_dataset(num_train_dialogues=8, num_eval_dialogues=1)
    model, processor = source.build_model(list(MELD_EMOTIONS), seed=0)
    batch = source.collator(processor, model.config.modalities, None, None)(list(dataset["train"]))
    assert batch["audio_embeds"].shape[-1] == 16 and batch["modality_mask"][..., 1:].sum() > 0
    optimizer = build_optimizer(model, 5e-4, 5e-4)
    model.eval()  # no dropout: the two losses differ only by the update
    loss_before = model(**batch).loss
    loss_before.backward()
    optimizer.step()
    with torch.no_grad():
        loss_after = model(**batch).loss
    assert loss_after < loss_before - 1e-3, (loss_before.item(), loss_after.item())


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A short in-process toy run: `(output_dir, report)`."""
    output_dir = tmp_path_factory.mktemp("toy_run") / "model"
    args = [
        "--output_dir",
        output_dir,
        "--toy_num_train_dialogues",
        "96",
        "--toy_num_eval_dialogues",
        "24",
        "--num_train_epochs",
        "8",
        "--class_weighted_loss",
        "--ablations",
        "none",
    ]
    num_threads = torch.get_num_threads()
    report = run_main(train_m2fnet, args)
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    torch.set_num_threads(num_threads)
    return output_dir, report


def test_toy_run_learns_well_above_chance(toy_run):
    output_dir, report = toy_run
    validation = report["validation"]
    # Chance level: predicting the majority class (neutral, about 30 %) gives a weighted F1 of about 0.14.
    assert validation["weighted_f1"] > 0.5, validation
    assert report["best"]["weighted_f1"] == pytest.approx(validation["weighted_f1"])
    history = report["history"]
    assert history["train_loss"][-1][1] < history["train_loss"][0][1] - 0.3
    assert len(history["validation"]) == 8
    assert set(validation["per_class_f1"]) == set(MELD_EMOTIONS)
    assert np.asarray(validation["confusion_matrix"]).sum() == validation["num_examples"]
    assert len(report["config"]["class_weights"]) == 7 and max(report["config"]["class_weights"]) > 1
    on_disk = read_results(output_dir)
    assert on_disk["validation"] == validation and "test" in on_disk
    assert {"machine", "wall_time_seconds", "args", "config"} <= set(on_disk)
    for name in (
        "confusion_matrix_validation.png",
        "confusion_matrix_test.png",
        "loss_curve.png",
        "validation_f1.png",
    ):
        assert (output_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert not (output_dir / checkpointing.BEST_MODEL_DIRNAME).exists()
    assert on_disk["data"] == {**on_disk["data"], "source": "toy", "synthetic": True}


def test_saved_model_reloads_with_auto_classes(toy_run):
    from transformers import AutoModel, AutoProcessor

    output_dir, _ = toy_run
    model = AutoModel.from_pretrained(output_dir, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(output_dir, trust_remote_code=True)
    assert type(model).__name__ == "M2FNetForEmotionRecognition"
    # The folder carries what a machine without this repository needs (loading there: tests/test_remote_code.py).
    config = json.loads((output_dir / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_m2fnet.M2FNetForEmotionRecognition"
    assert {"modeling_m2fnet.py", "configuration_m2fnet.py", "processing_m2fnet.py"} <= {
        p.name for p in output_dir.iterdir()
    }
    conversation = [{"speaker": "Ross", "text": "I am so happy for you!"}, {"speaker": "Rachel", "text": "Ew, gross."}]
    with torch.no_grad():
        logits = model(**processor(conversations=[conversation])).logits
    assert logits.shape == (1, 2, 7)
    state = load_file(output_dir / "model.safetensors")
    assert set(state) == set(model.state_dict())
    assert all(torch.equal(state[name], tensor) for name, tensor in model.state_dict().items())
    assert any(name.startswith("m2fnet.fusion_layers.") for name in state), "the main job trains the fusion layers"


def test_evaluate_script_reproduces_the_validation_numbers(toy_run, tmp_path):
    output_dir, report = toy_run
    args = [
        "--model_name_or_path",
        output_dir,
        "--output_dir",
        tmp_path,
        "--toy_num_train_dialogues",
        "96",
        "--toy_num_eval_dialogues",
        "24",
    ]
    evaluation = run_main(evaluate_script, args)
    assert evaluation["validation"] == report["validation"]
    assert read_results(tmp_path)["validation"] == report["validation"]
    assert (tmp_path / "confusion_matrix_validation.png").is_file()


def test_end_to_end_from_a_dataset_dir_with_a_frozen_text_encoder(toy_run, tmp_path):
    model_dir, _ = toy_run
    make_toy_dataset(num_train_dialogues=16, num_eval_dialogues=8, seed=3).save_to_disk(str(tmp_path / "data"))
    args = [
        "--model_name_or_path",
        model_dir,
        "--dataset_dir",
        tmp_path / "data",
        "--output_dir",
        tmp_path / "out",
        "--freeze_text_encoder",
        "--max_train_steps",
        "3",
        "--save_plots",
        "false",
        "--num_threads",
        "1",
    ]
    report = run_main(train_m2fnet, args)
    assert report["data"]["source"] == "dialogues" and len(report["history"]["train_loss"]) == 3
    before, after = load_file(model_dir / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    text_encoder = [name for name in before if name.startswith("m2fnet.text_model.")]
    assert text_encoder and all(torch.equal(before[name], after[name]) for name in text_encoder)
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])


def test_end_to_end_with_audio_and_the_data_s_own_classes(tmp_path, tone_wavs):
    """Raw text + audio through the processor; the data's 2 classes replace the model's 7 (classifier re-initialised)."""
    from datasets_scripts.conversations import ConversationsBuilder

    csv = _clips_csv(tmp_path / "clips.csv", tone_wavs, "audio")
    builder = ConversationsBuilder(data_files={"train": str(csv), "validation": str(csv)}, cache_dir=tmp_path / "c")
    builder.download_and_prepare()
    builder.as_dataset().save_to_disk(tmp_path / "data")  # embeds the audio bytes
    model, processor = build_tiny_m2fnet(["A: hello"], modalities=["text", "audio"])
    model.save_pretrained(tmp_path / "init")
    processor.save_pretrained(tmp_path / "init")
    args = [
        *("--model_name_or_path", tmp_path / "init", "--dataset_dir", tmp_path / "data"),
        *("--output_dir", tmp_path / "out", "--max_train_steps", "2", "--per_device_train_batch_size", "1"),
        *("--num_threads", "1", "--save_plots", "false"),
    ]
    with pytest.raises(ValueError, match=r"predicts \['neutral', .*\] but the data's labels are \['anger', 'joy'\]"):
        run_main(train_m2fnet, args)
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    report = run_main(train_m2fnet, [*args, "--new_head"])
    assert report["config"]["id2label"] == {0: "anger", 1: "joy"}
    assert report["validation"]["num_examples"] == 8
    before, after = (
        load_file(tmp_path / "init" / "model.safetensors"),
        load_file(tmp_path / "out" / "model.safetensors"),
    )
    audio_extractor = [name for name in before if name.startswith("m2fnet.audio_model.")]
    assert audio_extractor and all(torch.equal(before[name], after[name]) for name in audio_extractor)
    assert after["classifier.weight"].shape[0] == 2


def test_dialogue_level_on_cached_features(tmp_path):
    """Stage 2 on cached embeddings: class-dependent Gaussian features, a text + audio model, fusion on."""
    dataset = make_toy_dataset(num_train_dialogues=48, num_eval_dialogues=16, label_noise=0.0)
    model, processor = build_tiny_m2fnet(["a b c"], modalities=["text", "audio"])
    model.save_pretrained(tmp_path / "init")
    processor.save_pretrained(tmp_path / "init")
    rng = np.random.default_rng(0)
    centres = {"text": rng.normal(size=(7, 32)), "audio": rng.normal(size=(7, 16))}

    def features(split):
        rows = []
        for dialogue in split:
            labels = [u["emotion"] for u in dialogue["utterances"]]
            row = {
                "dialogue_id": str(dialogue["dialogue_id"]),
                "labels": labels,
                "modality_mask": [[1, 1, 0]] * len(labels),
            }
            for modality, centre in centres.items():
                row[f"{modality}_embeds"] = (centre[labels] + rng.normal(size=(len(labels), centre.shape[1]))).tolist()
            rows.append(row)
        return datasets.Dataset.from_list(rows)

    datasets.DatasetDict({name: features(split) for name, split in dataset.items()}).save_to_disk(tmp_path / "feats")
    args = [
        "--model_name_or_path",
        tmp_path / "init",
        "--features_dir",
        tmp_path / "feats",
        "--output_dir",
        tmp_path / "out",
        "--num_train_epochs",
        "6",
        "--save_plots",
        "false",
        "--num_threads",
        "1",
    ]
    report = run_main(train_m2fnet, args)
    assert report["data"]["source"] == "features" and report["validation"]["weighted_f1"] > 0.5
    before, after = (
        load_file(tmp_path / "init" / "model.safetensors"),
        load_file(tmp_path / "out" / "model.safetensors"),
    )
    frozen = [name for name in before if name.startswith(("m2fnet.text_model.", "m2fnet.audio_model."))]
    assert frozen and all(torch.equal(before[name], after[name]) for name in frozen)


# ----------------------------------------------------------------------------------------------------------------------
# Checkpoints: selection, kill and resume, 1 vs 2 processes
# ----------------------------------------------------------------------------------------------------------------------


def test_resume_ignores_incomplete_checkpoints(tmp_path):
    checkpoints = tmp_path / checkpointing.CHECKPOINTS_DIRNAME
    for name, complete in (
        ("checkpoint-4", True),
        ("checkpoint-12", True),
        ("checkpoint-20", False),
        (".checkpoint-16.tmp", True),
        ("checkpoint-x", True),
    ):
        (checkpoints / name).mkdir(parents=True)
        if complete:
            (checkpoints / name / checkpointing.TRAINING_STATE_NAME).write_text("{}")
    assert checkpointing.list_checkpoints(tmp_path) == [checkpoints / "checkpoint-4", checkpoints / "checkpoint-12"]
    assert checkpointing.resolve_checkpoint("latest", tmp_path) == checkpoints / "checkpoint-12"
    assert checkpointing.resolve_checkpoint("latest", tmp_path / "elsewhere") is None
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        checkpointing.resolve_checkpoint(str(checkpoints / "checkpoint-20"), tmp_path)


def test_kill_and_resume_matches_an_uninterrupted_run(tmp_path):
    # 48 dialogues, batches of 8, 2 accumulation steps: 3 optimizer steps per epoch, 24 in all, checkpoints every 4.
    args = [
        *SMALL_TOY,
        "--num_train_epochs",
        "8",
        "--gradient_accumulation_steps",
        "2",
        "--checkpointing_steps",
        "4",
        "--resume_from_checkpoint",
        "latest",
    ]
    env = script_env(tmp_path)
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    run_script([sys.executable, TRAIN_SCRIPT, *args, "--output_dir", reference], tmp_path, env)
    marker = interrupted / "checkpoints" / "checkpoint-8" / checkpointing.TRAINING_STATE_NAME
    kill_when([sys.executable, TRAIN_SCRIPT, *args, "--output_dir", interrupted], marker, tmp_path, env)
    assert not (interrupted / "results.json").exists()
    # What a crash in the middle of a save leaves behind (a temporary folder, a folder without its state file):
    # resume must ignore both and take the newest complete checkpoint.
    (interrupted / "checkpoints" / ".checkpoint-99.tmp").mkdir()
    (interrupted / "checkpoints" / ".checkpoint-99.tmp" / "model.safetensors").write_bytes(b"half-written")
    (interrupted / "checkpoints" / "checkpoint-98").mkdir()
    complete = checkpointing.list_checkpoints(interrupted)
    assert complete and complete[-1].name in ("checkpoint-8", "checkpoint-12", "checkpoint-16", "checkpoint-20")

    result = run_script([sys.executable, TRAIN_SCRIPT, *args, "--output_dir", interrupted], tmp_path, env)
    assert f"Resumed from {complete[-1]}" in result.stderr

    expected, resumed = read_results(reference), read_results(interrupted)
    for key in ("validation", "test", "best", "history"):
        assert resumed[key] == expected[key], key
    expected_state, resumed_state = (
        load_file(reference / "model.safetensors"),
        load_file(interrupted / "model.safetensors"),
    )
    assert expected_state.keys() == resumed_state.keys()
    assert all(torch.equal(expected_state[name], resumed_state[name]) for name in expected_state)


def test_one_and_two_processes_agree(tmp_path):
    """Same global batch (1 x 8 vs 2 x 4 dialogues): the metrics agree within noise (dropout streams differ)."""
    common = [*SMALL_TOY, "--toy_num_train_dialogues", "64", "--num_train_epochs", "6"]
    launch(tmp_path, 1, [*common, "--per_device_train_batch_size", "8", "--output_dir", tmp_path / "one"])
    launch(tmp_path, 2, [*common, "--per_device_train_batch_size", "4", "--output_dir", tmp_path / "two"])
    one, two = read_results(tmp_path / "one"), read_results(tmp_path / "two")
    assert (one["machine"]["num_processes"], two["machine"]["num_processes"]) == (1, 2)
    assert two["machine"]["distributed_type"] == "DistributedType.MULTI_CPU"
    assert len(one["history"]["train_loss"]) == len(two["history"]["train_loss"]) == 6 * 8
    assert abs(one["history"]["train_loss"][0][1] - two["history"]["train_loss"][0][1]) < 0.05
    for split in ("validation", "test"):
        assert one[split]["num_examples"] == two[split]["num_examples"]
        assert abs(one[split]["weighted_f1"] - two[split]["weighted_f1"]) < 0.1, (one[split], two[split])


# ----------------------------------------------------------------------------------------------------------------------
# train_extractor.py (stage 1)
# ----------------------------------------------------------------------------------------------------------------------

TINY_EXTRACTOR = json.dumps(
    {
        "projection_dim": 8,
        "encoder_config": {
            "model_type": "resnet",
            "layer_type": "basic",
            "depths": [1, 1],
            "hidden_sizes": [8, 16],
            "embedding_size": 8,
        },
    }
)


def test_label_aware_batches_always_hold_positives_and_negatives():
    from collections import Counter

    from m2fnet_training.extractor_training import LabelAwareBatchSampler

    labels = [0] * 10 + [1] * 3 + [2] * 2 + [3] * 1 + [4] * 7
    sampler = LabelAwareBatchSampler(labels, classes_per_batch=3, samples_per_class=3, seed=0)
    for epoch in range(4):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler) == 2
        for batch in batches:
            counts = Counter(labels[index] for index in batch)
            assert len(counts) >= 2 and min(counts.values()) >= 2 and 3 not in counts, counts
            assert len(set(batch)) == len(batch)
    sampler.set_epoch(1)
    assert list(sampler) == list(sampler)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LabelAwareBatchSampler([0, 0, 0, 1], classes_per_batch=2, samples_per_class=2, seed=0)


def _clips_csv(path: Path, media: list[Path], column: str) -> Path:
    lines = [f"conversation_id,utterance_id,speaker,text,{column},label"]
    for index, file in enumerate(media):
        lines.append(f"d{index // 4},{index % 4},A,hello,{file},{'joy' if index % 2 else 'anger'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_extractor_audio_runs_and_saves_a_loadable_extractor(tmp_path, tone_wavs):
    from transformers import AutoFeatureExtractor, AutoModel

    from examples import train_extractor

    csv = _clips_csv(tmp_path / "clips.csv", tone_wavs, "audio")
    args = [
        "--modality",
        "audio",
        "--data_files",
        f"train={csv}",
        f"validation={csv}",
        "--cache_dir",
        tmp_path / "cache",
        "--output_dir",
        tmp_path / "audio",
        "--max_train_steps",
        "2",
        "--classes_per_batch",
        "2",
        "--samples_per_class",
        "2",
        "--feature_size",
        "32",
        "--config_overrides",
        TINY_EXTRACTOR,
    ]
    report = run_main(train_extractor, args)
    assert len(report["history"]) == 2 and all(entry["num_triplets"] > 0 for entry in report["history"])
    assert (
        np.isfinite(report["final_loss"]["loss"]) and report["validation"][0]["nearest_neighbour_accuracy"] is not None
    )
    extractor = AutoModel.from_pretrained(tmp_path / "audio", trust_remote_code=True).eval()
    feature_extractor = AutoFeatureExtractor.from_pretrained(tmp_path / "audio", trust_remote_code=True)
    assert type(extractor).__name__ == "M2FNetAudioExtractor"
    features = feature_extractor([np.zeros(8000, dtype=np.float32)], sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        assert extractor(features["input_features"]).embeddings.shape == (1, 8)


def test_train_extractor_visual_runs_one_step(tmp_path, face_video_mp4, noface_video_mp4):
    from transformers import AutoModel

    from examples import train_extractor

    csv = _clips_csv(tmp_path / "clips.csv", [face_video_mp4, noface_video_mp4] * 2, "video")
    args = [
        "--modality",
        "visual",
        "--data_files",
        f"train={csv}",
        "--cache_dir",
        tmp_path / "cache",
        "--output_dir",
        tmp_path / "visual",
        "--max_train_steps",
        "1",
        "--classes_per_batch",
        "2",
        "--samples_per_class",
        "2",
        "--num_frames",
        "2",
        "--image_size",
        "32",
        "--face_size",
        "16",
        "--config_overrides",
        TINY_EXTRACTOR,
    ]
    report = run_main(train_extractor, args)
    assert len(report["history"]) == 1 and np.isfinite(report["final_loss"]["loss"])
    extractor = AutoModel.from_pretrained(tmp_path / "visual", trust_remote_code=True)
    assert type(extractor).__name__ == "M2FNetVisualExtractor" and extractor.config.embed_dim == 16
