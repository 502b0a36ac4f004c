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
"""The storage of the local Hub of `tests/hub_server.py`: users, repositories, commits, git blobs and LFS objects.

Files are stored on disk: regular files by git blob id, LFS objects by sha256 (per repository), one JSON manifest per
commit, and the branch heads in `repo.json`, replaced atomically (`os.replace`) only after every file of a commit is
stored. A commit therefore either lands whole or leaves the branch at its previous commit.
"""

import base64
import hashlib
import json
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


COMMIT_OID = re.compile(r"^[0-9a-f]{40}$")
REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
# Extensions that the Hub's default `.gitattributes` stores with LFS (a subset; binary samples and files of 10 MB or
# more are sent to LFS as well).
LFS_SUFFIXES = tuple(
    ".safetensors .bin .pt .pth .ckpt .h5 .msgpack .onnx .npy .npz .pkl .arrow .parquet .png .jpg .jpeg .gif .webp "
    ".mp4 .wav .mp3 .flac .zip .gz .tar .model".split()
)
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES).encode()


def git_blob_id(data: bytes) -> str:
    """The git object id of a blob (`git hash-object`)."""
    return hashlib.sha1(b"blob " + str(len(data)).encode() + b"\0" + data).hexdigest()


def lfs_pointer(oid: str, size: int) -> bytes:
    """The git-lfs pointer file that stands for an LFS object in the git tree."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.replace(tmp, path)


class HubError(Exception):
    """An HTTP error answered the way the Hub does (status, `X-Error-Code`, `X-Error-Message`, JSON `error`)."""

    def __init__(self, status: int, message: str, error_code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code


@dataclass
class Repo:
    repo_id: str
    private: bool
    created_at: str
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit id


class HubStorage:
    """Users, repositories, commits and blobs of the local Hub, kept on disk under `root`."""

    def __init__(self, root: Path, users: dict[str, str], orgs: dict[str, list[str]] | None = None):
        self.root = Path(root)
        self.tokens = {token: name for name, token in users.items()}
        self.orgs = {org: set(members) for org, members in (orgs or {}).items()}
        self.repos: dict[str, Repo] = {}
        self.commits: dict[str, dict] = {}
        self.lfs_upload_tokens: dict[str, tuple[str, str]] = {}  # upload token -> (repo id, oid)
        self.lock = threading.RLock()
        for directory in ("lfs", "blobs", "repos"):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        self._load()

    # --- persistence -------------------------------------------------------------------------------------------

    def _load(self) -> None:
        for repo_file in self.root.glob("repos/*/*/repo.json"):
            data = json.loads(repo_file.read_text())
            self.repos[data["repo_id"]] = Repo(**data)
            for commit_file in (repo_file.parent / "commits").glob("*.json"):
                self.commits[commit_file.stem] = json.loads(commit_file.read_text())

    def _repo_dir(self, repo_id: str) -> Path:
        return self.root / "repos" / repo_id

    def _save_repo(self, repo: Repo) -> None:
        data = {"repo_id": repo.repo_id, "private": repo.private, "created_at": repo.created_at, "refs": repo.refs}
        write_atomic(self._repo_dir(repo.repo_id) / "repo.json", json.dumps(data, indent=1).encode())

    def store_blob(self, data: bytes) -> str:
        blob_id = git_blob_id(data)
        path = self.root / "blobs" / blob_id
        if not path.exists():
            write_atomic(path, data)
        return blob_id

    def lfs_path(self, repo_id: str, oid: str) -> Path:
        """LFS objects are stored per repository, as on the Hub (a repository never sees another's uploads)."""
        return self.root / "lfs" / repo_id / oid

    def has_lfs(self, repo_id: str, oid: str, size: int | None = None) -> bool:
        path = self.lfs_path(repo_id, oid)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def file_path(self, repo_id: str, entry: dict) -> Path:
        return self.lfs_path(repo_id, entry["sha256"]) if entry["lfs"] else self.root / "blobs" / entry["blob_id"]

    def file_bytes(self, repo_id: str, entry: dict) -> bytes:
        return self.file_path(repo_id, entry).read_bytes()

    # --- users and permissions ---------------------------------------------------------------------------------

    def user_for(self, authorization: str | None) -> str | None:
        """The user a `Bearer` token belongs to; `None` without a token; a 401 for an unknown token."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def can_write(self, user: str | None, namespace: str) -> bool:
        return user is not None and (user == namespace or user in self.orgs.get(namespace, ()))

    def get_repo(self, repo_id: str, user: str | None) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and not self.can_write(user, repo_id.split("/")[0])):
            # The Hub hides private repositories: 401 for anonymous callers, 404 for other users.
            raise HubError(401 if user is None else 404, "Repository not found", "RepoNotFound")
        return repo

    def require_write(self, repo_id: str, user: str | None) -> Repo:
        repo = self.get_repo(repo_id, user)
        if not self.can_write(user, repo_id.split("/")[0]):
            raise HubError(
                403, f"You don't have the rights to write to {repo_id}: it belongs to another user or organization."
            )
        return repo

    def resolve(self, repo: Repo, revision: str) -> str:
        """A branch name or a full commit id of this repository -> commit id."""
        if revision in repo.refs:
            return repo.refs[revision]
        if COMMIT_OID.match(revision) and self.commits.get(revision, {}).get("repo_id") == repo.repo_id:
            return revision
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    # --- writes ------------------------------------------------------------------------------------------------

    def create_repo(self, repo_id: str, private: bool = False, author: str | None = None) -> Repo:
        with self.lock:
            if repo_id in self.repos:
                raise HubError(409, "You already created this model repo")
            repo = Repo(repo_id=repo_id, private=private, created_at=_now())
            self.repos[repo_id] = repo
            files = {".gitattributes": self._regular_entry(GITATTRIBUTES)}
            repo.refs["main"] = self._write_commit(repo, None, files, "initial commit", "", author or "hub")
            self._save_repo(repo)
            return repo

    def _regular_entry(self, data: bytes) -> dict:
        return {"lfs": False, "blob_id": self.store_blob(data), "size": len(data)}

    def _write_commit(self, repo: Repo, parent: str | None, files: dict, title: str, message: str, author: str) -> str:
        date = _now()
        payload = {"parent": parent, "files": files, "title": title, "message": message, "date": date}
        commit_id = hashlib.sha1(json.dumps(payload, sort_keys=True).encode() + secrets.token_bytes(8)).hexdigest()
        commit = {"id": commit_id, "repo_id": repo.repo_id, "author": author, **payload}
        write_atomic(self._repo_dir(repo.repo_id) / "commits" / f"{commit_id}.json", json.dumps(commit).encode())
        self.commits[commit_id] = commit
        return commit_id

    def commit(self, repo: Repo, branch: str, operations: list[dict], header: dict, author: str) -> str:
        """Applies ndjson commit operations on top of `branch`; the branch moves only when all files are stored."""
        with self.lock:
            if branch not in repo.refs:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            head = repo.refs[branch]
            parent_commit = header.get("parentCommit")
            if parent_commit is not None and not head.startswith(parent_commit):
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = dict(self.commits[head]["files"])
            for operation in operations:
                key, value = operation.get("key"), operation.get("value") or {}
                path = value.get("path", "")
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise HubError(400, f"Unsupported encoding for {path}")
                    files[path] = self._regular_entry(base64.b64decode(value["content"]))
                elif key == "lfsFile":
                    oid, size = value.get("oid"), value.get("size")
                    if not self.has_lfs(repo.repo_id, oid, size):
                        raise HubError(422, f"LFS object {oid} of {path} was not uploaded (or has the wrong size)")
                    pointer = lfs_pointer(oid, size)
                    files[path] = {
                        "lfs": True,
                        "blob_id": git_blob_id(pointer),
                        "size": size,
                        "sha256": oid,
                        "pointer_size": len(pointer),
                    }
                elif key == "deletedFile":
                    if path not in files:
                        raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                    del files[path]
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    files = {name: entry for name, entry in files.items() if not name.startswith(prefix)}
                else:
                    raise HubError(400, f"Unknown commit operation {key!r}")
            if not header.get("summary"):
                raise HubError(400, "A commit summary is required")
            commit_id = self._write_commit(repo, head, files, header["summary"], header.get("description", ""), author)
            repo.refs[branch] = commit_id
            self._save_repo(repo)  # the atomic step: until here, `branch` still points at `head`
            return commit_id

    def create_branch(self, repo: Repo, branch: str, starting_point: str | None) -> None:
        with self.lock:
            if branch in repo.refs:
                raise HubError(409, f"Reference refs/heads/{branch} already exists")
            repo.refs[branch] = self.resolve(repo, starting_point or "main")
            self._save_repo(repo)
