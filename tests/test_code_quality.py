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
"""The project's code rules, enforced in the test run: ruff (format and lint), mlinter, sizes, imports, layout."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.import_checks import foreign_top_level_imports


REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("modeling_m2fnet", "m2fnet_training", "datasets_scripts", "examples", "benchmarks", "space")
MAX_FILE_LINES = 700
MAX_MODELING_FILE_LINES = 900  # modeling_m2fnet/modeling_*.py
MAX_FUNCTION_LINES = 100
MAX_FMT_SKIPS = 5


def tracked_python_files(*folders: str) -> list[Path]:
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *folders],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [
        REPO_ROOT / line for line in result.stdout.splitlines() if line.endswith(".py") and (REPO_ROOT / line).exists()
    ]


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(path).exists():
        pytest.fail(f"`{name}` is not installed; it comes with the dev extra (pip install -e '.[dev]').")
    return path


@pytest.mark.parametrize("command", [["format", "--check"], ["check"]], ids=["ruff-format", "ruff-check"])
def test_ruff(command):
    result = subprocess.run([_tool("ruff"), *command, "."], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_mlinter_checks_the_model_files():
    result = subprocess.run(
        [_tool("mlinter"), "--no-progress", "--no-cache", "modeling_m2fnet/"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _is_sys_path(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys"


def _edits_sys_path(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_sys_path(node.func.value):
            return True  # sys.path.insert / append / extend / remove
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_is_sys_path(target) or _is_sys_path(getattr(target, "value", None)) for target in targets):
                return True  # sys.path = ..., sys.path[:] = ..., sys.path += ...
    return False


def test_no_source_file_edits_sys_path():
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in tracked_python_files(*SOURCE_FOLDERS)
        if _edits_sys_path(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == [], f"sys.path edited outside tests/: {offenders}"


def test_example_scripts_do_not_import_each_other():
    scripts = {path.stem for path in (REPO_ROOT / "examples").glob("*.py")}
    offenders = []
    for path in tracked_python_files("examples"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + ([f"{node.module}.{alias.name}" for alias in node.names])
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if any(name.split(".")[0] == "examples" or name in scripts for name in names):
                offenders.append(f"{path.name}: {names}")
    assert offenders == []


def test_file_and_function_sizes():
    too_long, long_functions = [], []
    for path in tracked_python_files(*SOURCE_FOLDERS):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n") + 1
        limit = (
            MAX_MODELING_FILE_LINES
            if path.parent.name == "modeling_m2fnet" and path.name.startswith("modeling_")
            else MAX_FILE_LINES
        )
        if lines > limit:
            too_long.append(f"{path.relative_to(REPO_ROOT)}: {lines} lines (limit {limit})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert too_long == [] and long_functions == [], too_long + long_functions


def test_fmt_skip_markers_are_rare():
    markers = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in tracked_python_files(*SOURCE_FOLDERS, "tests")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if line.rstrip().endswith("# fmt: skip") and path.name != Path(__file__).name
    ]
    assert len(markers) <= MAX_FMT_SKIPS, markers


def test_the_model_package_imports_only_torch_and_transformers_at_top_level():
    files = {path.name: path.read_text(encoding="utf-8") for path in tracked_python_files("modeling_m2fnet")}
    assert foreign_top_level_imports(files) == []
