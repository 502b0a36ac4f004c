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
"""What a remote-code file imports at module level: `trust_remote_code` refuses to load it when one is missing."""

import ast
import sys


# What a machine with torch + transformers has: the standard library and transformers' own dependencies.
REMOTE_CODE_IMPORTS = set(sys.stdlib_module_names) | {
    "torch",
    "transformers",
    "numpy",
    "huggingface_hub",
    "safetensors",
    "__future__",
}


def foreign_top_level_imports(files: dict[str, str], allowed: set[str] = REMOTE_CODE_IMPORTS) -> list[str]:
    """`"file: module"` for every absolute module-level import outside `allowed` (imports inside functions are lazy)."""
    found = []
    for name, source in files.items():
        for node in ast.parse(source).body:
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            found += [f"{name}: {module}" for module in modules if module.split(".")[0] not in allowed]
    return found
