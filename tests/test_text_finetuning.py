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
"""Stage 1 for text: top layers on cached lower-layer states compute what the full encoder computes; the CLI run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModel

from m2fnet_training import text_encoder_cache
from m2fnet_training.text_encoder_cache import (
    build_lower_layer_cache,
    first_trained_layer,
    freeze_lower_layers,
    layers_between,
    upper_layers_only,
)
from m2fnet_training.text_finetuning import (
    TextEncoderArguments,
    UtteranceClassifier,
    encode_split,
    make_text_processor,
)
from m2fnet_training.toy_data import make_toy_dataset, toy_tokenizer
from tests.kill_and_resume import kill_when


REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "examples" / "train_extractor.py"
ARCHITECTURES = ["bert", "roberta", "mpnet", "xlm-roberta", "electra"]


def tiny_encoder(model_type: str = "bert", vocab_size: int = 100, dropout: float = 0.0, seed: int = 0):
    config = AutoConfig.for_model(
        model_type,
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=vocab_size,
        max_position_embeddings=128,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        **({"embedding_size": 16} if model_type == "electra" else {}),
    )
    torch.manual_seed(seed)
    return AutoModel.from_config(config).eval()


def padded_batch(pad_id: int = 1):
    input_ids = torch.randint(5, 100, (3, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(input_ids)
    mask[1, 6:], mask[2, 3:] = 0, 0
    return input_ids.masked_fill(mask == 0, pad_id), mask


@pytest.mark.parametrize("model_type", ARCHITECTURES)
@pytest.mark.parametrize("first_layer", [1, 3])
def test_upper_layers_on_cached_states_reproduce_the_full_encoder(model_type, first_layer):
    encoder = tiny_encoder(model_type)
    input_ids, mask = padded_batch(encoder.config.pad_token_id or 0)
    with torch.no_grad():
        full = encoder(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        cached = full.hidden_states[first_layer].masked_fill(mask[..., None] == 0, 0.0)  # padding is not cached
        with upper_layers_only(encoder, first_layer):
            top = encoder(inputs_embeds=cached, attention_mask=mask).last_hidden_state
        with layers_between(encoder, 0, first_layer):
            lower = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        # Negative control: the states of another layer do not give the same output.
        with upper_layers_only(encoder, first_layer):
            wrong = encoder(inputs_embeds=full.hidden_states[first_layer - 1], attention_mask=mask).last_hidden_state
    real = mask.bool()
    torch.testing.assert_close(top[real], full.last_hidden_state[real], rtol=0, atol=1e-6)
    torch.testing.assert_close(lower[real], full.hidden_states[first_layer][real], rtol=0, atol=1e-6)
    assert (wrong[real] - full.last_hidden_state[real]).abs().max() > 1e-3
    assert len(encoder.encoder.layer) == 4 and not isinstance(encoder.embeddings, type(None))  # restored


def test_freezing_keeps_only_the_top_layers_trainable():
    encoder = tiny_encoder("mpnet")
    frozen = freeze_lower_layers(encoder, first_trained_layer(encoder, 1))
    trainable = {name for name, parameter in encoder.named_parameters() if parameter.requires_grad}
    assert trainable and all(name.startswith("encoder.layer.3.") for name in trainable)
    assert not encoder.encoder.relative_attention_bias.weight.requires_grad  # shared by the cached layers
    assert (
        encoder.embeddings in frozen and encoder.encoder.layer[2] in frozen and encoder.encoder.layer[3] not in frozen
    )
    with pytest.raises(ValueError, match=r"--num_trainable_layers must be in \[1, 4\]"):
        first_trained_layer(encoder, 5)


def test_cache_of_a_higher_layer_built_from_a_lower_one_is_exact_and_resumable(tmp_path, monkeypatch):
    monkeypatch.setattr(text_encoder_cache, "CACHE_SHARD_SIZE", 7)
    encoder, tokenizer = tiny_encoder(vocab_size=len(toy_tokenizer())), toy_tokenizer()
    generator = torch.Generator().manual_seed(0)
    ids = {
        "train": [torch.randint(5, 50, (int(n),), generator=generator).tolist() for n in torch.randint(3, 20, (23,))]
    }
    direct = build_lower_layer_cache(encoder, tokenizer, ids, 3, tmp_path / "direct")["train"]
    build_lower_layer_cache(encoder, tokenizer, ids, 2, tmp_path / "chained")
    chained = build_lower_layer_cache(encoder, tokenizer, ids, 3, tmp_path / "chained")["train"]
    info = json.loads(next((tmp_path / "chained").glob("*/layer-03/complete.json")).read_text())
    assert info["computed_from_layer"] == 2
    torch.testing.assert_close(chained.states, direct.states, rtol=0, atol=1e-6)
    with torch.no_grad():
        expected = encoder(input_ids=torch.tensor([ids["train"][11]]), output_hidden_states=True).hidden_states[3][0]
    torch.testing.assert_close(direct[11], expected, rtol=0, atol=1e-5)
    # A lost shard (a kill between two shards) is recomputed alone; the others are reused as they are.
    shards = sorted(next((tmp_path / "direct").glob("*/layer-03")).glob("train-*.safetensors"))
    assert len(shards) == 4
    times = {path: path.stat().st_mtime_ns for path in shards}
    shards[2].unlink()
    again = build_lower_layer_cache(encoder, tokenizer, ids, 3, tmp_path / "direct")["train"]
    assert [path.stat().st_mtime_ns == times[path] for path in shards] == [True, True, False, True]
    torch.testing.assert_close(again.states, direct.states, rtol=0, atol=0)


def test_training_on_cached_states_learns_what_training_with_frozen_layers_learns():
    """Same initial weights, same batches: the cached path and the full forward give the same weights after 5 steps."""
    encoder_a, encoder_b = tiny_encoder(seed=3), tiny_encoder(seed=3)
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(5):
        input_ids, mask = padded_batch(0)
        batches.append((input_ids, mask, torch.randint(0, 7, (3,), generator=generator)))
    models = []
    for encoder, cached in ((encoder_a, True), (encoder_b, False)):
        first_layer = first_trained_layer(encoder, 2)
        freeze_lower_layers(encoder, first_layer)
        torch.manual_seed(0)
        model = UtteranceClassifier(encoder, num_labels=7, dropout=0.0, first_layer=first_layer)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        for input_ids, mask, labels in batches:
            if cached:
                with torch.no_grad(), layers_between(encoder, 0, first_layer):
                    states = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
                loss = model(lower_states=states * mask[..., None], attention_mask=mask, labels=labels).loss
            else:
                loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        models.append(model)
    state_a, state_b = models[0].state_dict(), models[1].state_dict()
    initial = tiny_encoder(seed=3).state_dict()
    top_layer = [name for name in state_a if name.startswith("encoder.encoder.layer.3.")]
    assert top_layer and any(
        not torch.equal(state_a[name], initial[name.removeprefix("encoder.")]) for name in top_layer
    )
    for name in state_a:
        torch.testing.assert_close(state_a[name], state_b[name], rtol=1e-5, atol=1e-6, msg=name)


def test_context_longer_than_the_encoder_keeps_the_current_utterance_whole(caplog):
    tokenizer = toy_tokenizer()
    encoder = tiny_encoder(vocab_size=len(tokenizer))
    encoder.config.max_position_embeddings = 24  # a short encoder: the contexts must give way
    args = TextEncoderArguments(text_encoder="unused", max_text_length=128, context_window=2)
    processor = make_text_processor(tokenizer, ["neutral", "joy"], args, max_length=24)
    assert processor.max_text_length == 24 and "exceeds what the encoder takes (24 tokens)" in caplog.text
    long_turn = "I am so happy for you, this is wonderful news, I love this, it is great!"
    dialogue = {
        "dialogue_id": "d",
        "utterances": [
            {"speaker": "Ross", "text": long_turn, "emotion": 1},
            {"speaker": "Rachel", "text": "Okay.", "emotion": 0},
            {"speaker": "Ross", "text": long_turn, "emotion": 1},
        ],
    }
    encoded = encode_split([dialogue], processor)
    current = tokenizer("Rachel: Okay.", add_special_tokens=False)["input_ids"]
    for ids in encoded.token_ids:
        assert len(ids) <= 24
    middle = encoded.token_ids[1]
    assert any(middle[start : start + len(current)] == current for start in range(len(middle)))


# ----------------------------------------------------------------------------------------------------------------------
# The CLI: examples/train_extractor.py --modality text
# ----------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_stage_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("text_stage")
    make_toy_dataset(num_train_dialogues=24, num_eval_dialogues=8, multimodal=False).save_to_disk(root / "data")
    tokenizer = toy_tokenizer()
    encoder = tiny_encoder(vocab_size=len(tokenizer), dropout=0.1)
    encoder.save_pretrained(root / "encoder")
    tokenizer.save_pretrained(root / "encoder")
    return root


def _run(arguments: list, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, SCRIPT, "--modality", "text", *map(str, arguments)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stderr[-4000:]
    return result


def _common(inputs: Path, output_dir: Path) -> list:
    return [
        *("--text_encoder", inputs / "encoder", "--dataset_dir", inputs / "data", "--output_dir", output_dir),
        *("--num_trainable_layers", "2", "--num_train_epochs", "3", "--learning_rate", "1e-3"),
        *("--per_device_train_batch_size", "8", "--num_threads", "1", "--save_plots", "false"),
    ]


def test_cli_fine_tunes_and_writes_an_encoder_folder_that_build_model_accepts(text_stage_inputs, tmp_path):
    from m2fnet_training.model_building import build_m2fnet

    output_dir = tmp_path / "encoder-ft"
    _run(_common(text_stage_inputs, output_dir), tmp_path)
    results = json.loads((output_dir / "results.json").read_text())
    history = results["history"]["validation"]
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    assert results["best"]["weighted_f1"] == max(entry["weighted_f1"] for entry in history)
    assert results["validation"]["weighted_f1"] == pytest.approx(results["best"]["weighted_f1"])
    info = json.loads((output_dir / "m2fnet_text_encoder.json").read_text())
    assert (info["text_pooling"], info["context_window"], info["num_trainable_layers"]) == ("cls", 1, "2")
    # Only the top 2 layers moved; the frozen ones are the pretrained weights.
    before, after = (
        load_file(text_stage_inputs / "encoder" / "model.safetensors"),
        load_file(output_dir / "model.safetensors"),
    )
    assert all(
        torch.equal(before[name], after[name])
        for name in after
        if name.startswith(("embeddings.", "encoder.layer.0.", "encoder.layer.1."))
    )
    assert any(not torch.equal(before[name], after[name]) for name in after if name.startswith("encoder.layer.3."))
    model, processor = build_m2fnet(output_dir, modalities=["text"], label_names=info["label_names"])
    assert model.config.text_pooling == "cls" and processor.context_window == 1
    torch.testing.assert_close(
        model.m2fnet.text_model.state_dict()["encoder.layer.3.output.dense.weight"],
        after["encoder.layer.3.output.dense.weight"],
    )


def test_cli_resumes_after_a_kill_with_the_same_result(text_stage_inputs, tmp_path):
    arguments = [*("--checkpointing_steps", "2", "--resume_from_checkpoint", "latest")]
    _run([*_common(text_stage_inputs, tmp_path / "reference"), *arguments], tmp_path)
    interrupted = tmp_path / "interrupted"
    command = [sys.executable, SCRIPT, "--modality", "text", *_common(text_stage_inputs, interrupted), *arguments]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    kill_when(command, interrupted / "checkpoints" / "checkpoint-4" / "training_state.json", tmp_path, env)
    assert not (interrupted / "results.json").exists()
    (interrupted / "checkpoints" / ".checkpoint-99.tmp").mkdir()  # a save cut short: never resumed from
    result = _run([*_common(text_stage_inputs, interrupted), *arguments], tmp_path)
    assert "Resumed from" in result.stderr
    expected, resumed = (
        json.loads((folder / "results.json").read_text()) for folder in (tmp_path / "reference", interrupted)
    )
    for key in ("validation", "best", "history"):
        assert resumed[key] == expected[key], key
    expected_weights, resumed_weights = (
        load_file(folder / "model.safetensors") for folder in (tmp_path / "reference", interrupted)
    )
    assert expected_weights.keys() == resumed_weights.keys()
    assert all(torch.equal(expected_weights[name], resumed_weights[name]) for name in expected_weights)


@pytest.mark.parametrize("damage", ["no_config", "no_tokenizer"])
def test_cli_rejects_a_folder_that_is_not_a_text_encoder(text_stage_inputs, tmp_path, damage):
    import shutil

    folder = tmp_path / "broken-encoder"
    shutil.copytree(text_stage_inputs / "encoder", folder)
    for name in ["config.json"] if damage == "no_config" else ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]:
        (folder / name).unlink(missing_ok=True)
    arguments = _common(text_stage_inputs, tmp_path / "out")
    arguments[1] = folder
    result = _run(arguments, tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    expected = (
        "is not a transformers model folder (no config.json)" if damage == "no_config" else "has no usable tokenizer"
    )
    assert str(folder) in result.stderr and expected in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "out" / "results.json").exists()


def test_two_processes_with_accelerate_launch_evaluate_every_utterance_once(text_stage_inputs, tmp_path):
    """The stage-1 command under `accelerate launch` with 2 CPU processes (gloo), cached top layers."""
    output_dir = tmp_path / "two-processes"
    launcher = [*("--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--main_process_port", "29547")]
    launcher += ["--mixed_precision", "no", "--dynamo_backend", "no"]
    arguments = _common(text_stage_inputs, output_dir)
    arguments[arguments.index("--per_device_train_batch_size") + 1] = "4"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ACCELERATE_", "LOCAL_RANK"))}
    env.update(ACCELERATE_USE_CPU="1", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "accelerate.commands.launch", *launcher, SCRIPT, "--modality", "text"]
    result = subprocess.run(
        [*map(str, command), *map(str, arguments)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    results = json.loads((output_dir / "results.json").read_text())
    assert results["machine"]["num_processes"] == 2
    # `gather_for_metrics` drops the samples repeated to even out the last batch: each utterance counts once.
    for split in ("validation", "test"):
        assert sum(results[split]["support"].values()) == results["num_utterances"][split]
    assert [entry["epoch"] for entry in results["history"]["validation"]] == [1, 2, 3]
    assert (output_dir / "model.safetensors").is_file() and (output_dir / "m2fnet_text_encoder.json").is_file()
