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
"""A small local Hugging Face Hub (model repos, commits, LFS, downloads) for offline upload/download round trips.

It implements the HTTP endpoints that `huggingface_hub` (2.x, read from its source) calls for `whoami`,
`create_repo`, `create_branch`, `create_commit` / `upload_folder` (preupload, LFS batch + basic transfer + verify,
ndjson commit), `model_info` / `repo_info`, `list_repo_refs`, `list_repo_commits`, `list_repo_tree`,
`get_paths_info` and `hf_hub_download` (`HEAD` / `GET` on `/{repo}/resolve/{revision}/{path}`, with `ETag`,
`X-Repo-Commit`, `Content-Length` and ranges), plus the README check `/api/validate-yaml`, which is all that
`transformers`' `from_pretrained(..., trust_remote_code=True)` and `ModelCard.load` need. Tokens are checked
(`Authorization: Bearer`): an unknown token gets 401, a write outside the user's namespaces 403, and private
repositories are hidden (401 / 404) from everyone but their owner.

Repositories live on disk (`tests/hub_storage.py`); a commit either lands whole or leaves the branch at its previous
commit.

Uploads go through the plain LFS protocol: the pushing process must run with `HF_HUB_DISABLE_XET=1` (with `hf_xet`
installed, `huggingface_hub` otherwise uploads large files to a Xet CAS server, which this server does not emulate;
its `xet-write-token` endpoint answers 501 saying so, as a Hub-compatible server without Xet storage does). Downloads
need nothing special: without `X-Xet-Hash` headers `hf_hub_download` uses plain HTTP.

Usage in tests:

```python
with HubServer(users={"alice": "hf_alice_token", "bob": "hf_bob_token"}) as hub:
    env = hub.client_env(tmp_path / "hf_home", user="alice")     # HF_ENDPOINT, HF_TOKEN, HF_HUB_DISABLE_XET, ...
    hub.create_repo("bob/taken")                                  # a repository alice cannot write to
    hub.inject_fault("commit", mode="drop", times=1)              # next commit: connection dropped, nothing lands
    hub.inject_fault("lfs_batch", mode="403", times=1)            # next LFS batch answers 403
    subprocess.run([sys.executable, "examples/push_to_hub.py", folder, "alice/model"], env=env)
    hub.head("alice/model"), hub.files("alice/model")             # branch head, {path: bytes}
```

or standalone, from the repository root: `python -m tests.hub_server --port 8765 --user alice:hf_alice_token --data_dir /tmp/hub`.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tests.hub_storage import (
    LFS_SIZE_THRESHOLD,
    LFS_SUFFIXES,
    REPO_NAME,
    HubError,
    HubStorage,
    Repo,
    git_blob_id,
    write_atomic,
)


FAULT_POINTS = ("commit", "lfs_upload", "preupload", "lfs_batch")
# A fault either drops the connection or answers with an HTTP error status ("400", "403", "429", "501", "503", ...).
FAULT_STATUS = re.compile(r"^[45]\d\d$")


class _DropConnection(Exception):
    """Raised by a handler to close the socket without answering (an injected network failure)."""


@dataclass
class Fault:
    point: str
    mode: str
    times: int


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "m2fnet-local-hub/1.0"
    hub: "HubServer"  # set on the subclass made by HubServer

    # --- plumbing ----------------------------------------------------------------------------------------------

    def log_message(self, format, *args):  # noqa: A002 - the signature of BaseHTTPRequestHandler
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":  # a HEAD answer has the headers of the GET answer and no body
            self.wfile.write(body)

    def _json(self, status: int, data, headers: dict | None = None, content_type: str = "application/json") -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": content_type, **(headers or {})})

    def _error(self, error: HubError) -> None:
        headers = {"X-Error-Message": error.message}
        if error.error_code:
            headers["X-Error-Code"] = error.error_code
        self._json(error.status, {"error": error.message}, headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        segments = [unquote(segment) for segment in split.path.split("/")[1:]]
        query = parse_qs(split.query)
        self.hub.requests.append((method, split.path))
        body = b"" if method in ("GET", "HEAD") or self._is_lfs_put(method, segments) else self._read_body()
        try:
            user = self.hub.storage.user_for(self.headers.get("Authorization"))
            self._route(method, segments, query, body, user)
        except HubError as error:
            self._error(error)
        except _DropConnection:
            self._drop()
        except Exception as error:  # a request this small server does not understand: say so, do not hang up
            traceback.print_exc()
            self._error(HubError(500, f"The local hub failed on {method} {split.path}: {error!r}"))

    @staticmethod
    def _is_lfs_put(method: str, segments: list[str]) -> bool:
        return method == "PUT" and segments[:1] == ["_lfs"]

    def do_GET(self):  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self):  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self):  # noqa: N802
        self._dispatch("PUT")

    def _fault(self, point: str) -> None:
        mode = self.hub.take_fault(point)
        if mode == "drop":
            raise _DropConnection()
        if mode is not None:
            raise HubError(int(mode), f"Injected server error ({mode}) at {point}")

    # --- routing -----------------------------------------------------------------------------------------------

    def _route(self, method: str, seg: list[str], query: dict, body: bytes, user: str | None) -> None:
        storage = self.hub.storage
        if seg == ["api", "whoami-v2"] and method == "GET":
            if user is None:
                raise HubError(401, "Invalid credentials in Authorization header")
            orgs = [{"type": "org", "name": org} for org, members in storage.orgs.items() if user in members]
            auth = {"type": "access_token", "accessToken": {"displayName": "local", "role": "write"}}
            return self._json(
                200, {"type": "user", "id": user, "name": user, "fullname": user, "orgs": orgs, "auth": auth}
            )
        if seg == ["api", "repos", "create"] and method == "POST":
            return self._create_repo(json.loads(body or b"{}"), user)
        if seg == ["api", "agent-harnesses"] and method == "GET":  # huggingface_hub's user-agent registry
            return self._json(200, {"standardEnvVars": [], "harnesses": {}})
        if seg == ["api", "validate-yaml"] and method == "POST":
            return self._validate_yaml(json.loads(body or b"{}"))
        if len(seg) >= 4 and seg[:2] == ["api", "models"]:
            repo_id, rest = f"{seg[2]}/{seg[3]}", seg[4:]
            return self._api_repo(method, repo_id, rest, query, body, user)
        if len(seg) >= 2 and seg[0] == "_lfs" and method == "PUT":
            return self._lfs_put(seg[1], query)
        if len(seg) == 6 and seg[1].endswith(".git") and seg[2:5] == ["info", "lfs", "objects"] and method == "POST":
            repo_id = f"{seg[0]}/{seg[1][: -len('.git')]}"
            return self._lfs_batch(repo_id, seg[5], json.loads(body or b"{}"), user)
        if len(seg) >= 5 and seg[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(f"{seg[0]}/{seg[1]}", seg[3], "/".join(seg[4:]), user)
        raise HubError(404, f"Not found: {method} {self.path} (not implemented by the local hub)")

    def _create_repo(self, payload: dict, user: str | None) -> None:
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        if payload.get("type", "model") != "model":
            raise HubError(400, "The local hub only hosts model repositories")
        namespace, name = payload.get("organization") or user, payload.get("name", "")
        if not REPO_NAME.match(name):
            raise HubError(400, f"Invalid repo name: {name!r}")
        if not self.hub.storage.can_write(user, namespace):
            raise HubError(403, f'You don\'t have the rights to create a model under the namespace "{namespace}"')
        repo_id = f"{namespace}/{name}"
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        url = f"{self.hub.url}/{repo_id}"
        try:
            self.hub.storage.create_repo(repo_id, private=private, author=user)
        except HubError as error:
            if error.status == 409:
                return self._json(409, {"error": error.message, "url": url}, {"X-Error-Message": error.message})
            raise
        self._json(200, {"url": url, "name": repo_id, "id": repo_id})

    def _validate_yaml(self, payload: dict) -> None:
        import yaml

        content = payload.get("content", "")
        match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.DOTALL)
        if match is None:
            return self._json(200, {"errors": [], "warnings": [{"message": "Empty or missing yaml metadata"}]})
        try:
            metadata = yaml.safe_load(match.group(1))
        except yaml.YAMLError as error:
            return self._json(400, {"errors": [{"message": f"Invalid YAML: {error}"}], "warnings": []})
        if metadata is not None and not isinstance(metadata, dict):
            return self._json(400, {"errors": [{"message": "YAML metadata must be a mapping"}], "warnings": []})
        self._json(200, {"errors": [], "warnings": []})

    # --- /api/models/{repo_id}/... -----------------------------------------------------------------------------

    def _api_repo(self, method: str, repo_id: str, rest: list[str], query: dict, body: bytes, user: str | None):
        storage = self.hub.storage
        if not rest and method == "GET":
            return self._model_info(storage.get_repo(repo_id, user), "main", query)
        action, revision = (rest[0], "/".join(rest[1:2])) if rest else ("", "")
        if action == "revision" and method == "GET":
            return self._model_info(storage.get_repo(repo_id, user), revision, query)
        if action == "refs" and method == "GET":
            repo = storage.get_repo(repo_id, user)
            branches = [
                {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha} for name, sha in repo.refs.items()
            ]
            return self._json(200, {"branches": branches, "converts": [], "tags": [], "pullRequests": []})
        if action == "commits" and method == "GET":
            return self._list_commits(storage.get_repo(repo_id, user), revision)
        if action == "tree" and method == "GET":
            return self._tree(storage.get_repo(repo_id, user), revision, "/".join(rest[2:]), query)
        if action == "paths-info" and method == "POST":
            return self._paths_info(storage.get_repo(repo_id, user), revision, parse_qs(body.decode()))
        if action == "preupload" and method == "POST":
            return self._preupload(storage.require_write(repo_id, user), revision, json.loads(body or b"{}"))
        if action == "commit" and method == "POST":
            if query.get("create_pr"):
                raise HubError(501, "Pull requests are not implemented by the local hub")
            repo = storage.require_write(repo_id, user)
            return self._commit(repo, revision, body, user)
        if action == "branch" and method == "POST":
            repo = storage.require_write(repo_id, user)
            storage.create_branch(repo, revision, json.loads(body or b"{}").get("startingPoint"))
            return self._json(200, {})
        if action in ("xet-write-token", "xet-read-token"):
            raise HubError(
                501,
                "The local hub does not emulate Xet storage: run the upload with HF_HUB_DISABLE_XET=1 (plain LFS).",
            )
        raise HubError(404, f"Not found: {method} {self.path} (not implemented by the local hub)")

    def _files_at(self, repo: Repo, revision: str) -> tuple[str, dict]:
        sha = self.hub.storage.resolve(repo, revision)
        return sha, self.hub.storage.commits[sha]["files"]

    @staticmethod
    def _file_json(path: str, entry: dict) -> dict:
        data = {"type": "file", "oid": entry["blob_id"], "size": entry["size"], "path": path}
        if entry["lfs"]:
            data["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": entry["pointer_size"]}
        return data

    def _model_info(self, repo: Repo, revision: str, query: dict) -> None:
        sha, files = self._files_at(repo, revision)
        blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
        siblings = []
        for path, entry in sorted(files.items()):
            sibling = {"rfilename": path}
            if blobs:
                sibling.update({"blobId": entry["blob_id"], "size": entry["size"]})
                if entry["lfs"]:
                    sibling["lfs"] = {
                        "sha256": entry["sha256"],
                        "size": entry["size"],
                        "pointerSize": entry["pointer_size"],
                    }
            siblings.append(sibling)
        card_data = self._card_data(repo, files)
        commit = self.hub.storage.commits[sha]
        info = {
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": sha,
            "lastModified": commit["date"],
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": list(card_data.get("tags") or []),
            "library_name": card_data.get("library_name"),
            "pipeline_tag": card_data.get("pipeline_tag"),
            "siblings": siblings,
        }
        if card_data:
            info["cardData"] = card_data
        if "config.json" in files:
            try:
                config = json.loads(self.hub.storage.file_bytes(repo.repo_id, files["config.json"]))
                info["config"] = {
                    key: config[key] for key in ("architectures", "model_type", "auto_map") if key in config
                }
            except ValueError:
                pass
        self._json(200, info)

    def _card_data(self, repo: Repo, files: dict) -> dict:
        if "README.md" not in files:
            return {}
        import yaml

        content = self.hub.storage.file_bytes(repo.repo_id, files["README.md"]).decode("utf-8", errors="replace")
        match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.DOTALL)
        try:
            data = yaml.safe_load(match.group(1)) if match else None
        except yaml.YAMLError:
            data = None
        return data if isinstance(data, dict) else {}

    def _list_commits(self, repo: Repo, revision: str) -> None:
        sha = self.hub.storage.resolve(repo, revision)
        history = []
        while sha is not None:
            commit = self.hub.storage.commits[sha]
            history.append(
                {
                    "id": sha,
                    "title": commit["title"],
                    "message": commit["message"],
                    "date": commit["date"],
                    "authors": [{"user": commit["author"]}],
                }
            )
            sha = commit["parent"]
        self._json(200, history)

    def _tree(self, repo: Repo, revision: str, path: str, query: dict) -> None:
        _, files = self._files_at(repo, revision)
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        entries, folders = [], set()
        for name, entry in sorted(files.items()):
            if not name.startswith(prefix):
                continue
            relative = name[len(prefix) :]
            parts = relative.split("/")
            for depth in range(1, len(parts)):
                if recursive or depth == 1:
                    folders.add(prefix + "/".join(parts[:depth]))
            if recursive or len(parts) == 1:
                entries.append(self._file_json(name, entry))
        if prefix and not entries and not folders:
            raise HubError(404, f"{path} does not exist on this revision", "EntryNotFound")
        folder_entries = [
            {"type": "directory", "oid": git_blob_id(folder.encode()), "path": folder} for folder in folders
        ]
        self._json(200, sorted(folder_entries, key=lambda item: item["path"]) + entries)

    def _paths_info(self, repo: Repo, revision: str, form: dict) -> None:
        _, files = self._files_at(repo, revision)
        out = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in files:
                out.append(self._file_json(path, files[path]))
            elif any(name.startswith(path + "/") for name in files):
                out.append({"type": "directory", "oid": git_blob_id(path.encode()), "path": path})
        self._json(200, out)

    def _preupload(self, repo: Repo, revision: str, payload: dict) -> None:
        self._fault("preupload")
        _, files = self._files_at(repo, revision)
        out = []
        for item in payload.get("files", []):
            path, size = item["path"], int(item.get("size", 0))
            sample = base64.b64decode(item.get("sample", ""))
            lfs = path.lower().endswith(LFS_SUFFIXES) or size >= LFS_SIZE_THRESHOLD or b"\0" in sample
            result = {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
            existing = files.get(path)
            if existing is not None:
                result["oid"] = existing["sha256"] if existing["lfs"] else existing["blob_id"]
            out.append(result)
        self._json(200, {"files": out, "commitOid": self.hub.storage.resolve(repo, revision)})

    def _commit(self, repo: Repo, revision: str, body: bytes, user: str) -> None:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        headers = [line["value"] for line in lines if line.get("key") == "header"]
        if len(headers) != 1:
            raise HubError(400, "The commit payload needs exactly one header line")
        self._fault("commit")  # after the body has been sent, before anything is applied
        operations = [line for line in lines if line.get("key") != "header"]
        sha = self.hub.storage.commit(repo, revision, operations, headers[0], user)
        self._json(
            200,
            {
                "success": True,
                "commitOid": sha,
                "commitUrl": f"{self.hub.url}/{repo.repo_id}/commit/{sha}",
                "hookOutput": "",
                "pullRequestUrl": None,
            },
        )

    # --- git-lfs -----------------------------------------------------------------------------------------------

    def _lfs_batch(self, repo_id: str, action: str, payload: dict, user: str | None) -> None:
        storage = self.hub.storage
        if action == "verify":
            storage.require_write(repo_id, user)
            if not storage.has_lfs(repo_id, payload.get("oid", ""), payload.get("size")):
                raise HubError(404, f"LFS object {payload.get('oid')} not found")
            return self._json(200, {"message": "ok"})
        if action != "batch" or payload.get("operation") != "upload":
            raise HubError(400, "The local hub only accepts LFS upload batches")
        storage.require_write(repo_id, user)
        self._fault("lfs_batch")
        objects = []
        for item in payload.get("objects", []):
            oid, size = item["oid"], int(item["size"])
            entry = {"oid": oid, "size": size, "authenticated": True}
            if not storage.has_lfs(repo_id, oid, size):
                upload_token = secrets.token_urlsafe(16)
                with storage.lock:
                    storage.lfs_upload_tokens[upload_token] = (repo_id, oid)
                entry["actions"] = {
                    "upload": {"href": f"{self.hub.url}/_lfs/{oid}?upload_token={upload_token}", "expires_in": 3600},
                    "verify": {"href": f"{self.hub.url}/{repo_id}.git/info/lfs/objects/verify"},
                }
            objects.append(entry)
        self._json(200, {"transfer": "basic", "objects": objects}, content_type="application/vnd.git-lfs+json")

    def _lfs_put(self, oid: str, query: dict) -> None:
        """The "object storage" side of the basic LFS transfer: a pre-signed PUT, checked against its sha256."""
        storage = self.hub.storage
        token = (query.get("upload_token") or [""])[0]
        repo_id, expected_oid = storage.lfs_upload_tokens.get(token, ("", ""))
        if expected_oid != oid:
            self._read_body()
            raise HubError(403, "Invalid or expired upload URL")
        fault = self.hub.take_fault("lfs_upload")
        length = int(self.headers.get("Content-Length") or 0)
        if fault == "drop":
            self.rfile.read(length // 2)  # the connection breaks halfway through the object
            raise _DropConnection()
        data = self._read_body()
        if fault is not None:
            raise HubError(int(fault), f"Injected server error ({fault}) at lfs_upload")
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, f"Uploaded content does not match its sha256 {oid}")
        path = storage.lfs_path(repo_id, oid)
        if not path.exists():
            write_atomic(path, data)
        self._send(200, b"", {"ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    # --- downloads ---------------------------------------------------------------------------------------------

    def _resolve(self, repo_id: str, revision: str, path: str, user: str | None) -> None:
        storage = self.hub.storage
        repo = storage.get_repo(repo_id, user)
        sha, files = self._files_at(repo, revision)
        entry = files.get(path)
        if entry is None:
            raise HubError(404, f"{path} does not exist on {revision}", "EntryNotFound")
        file_path = storage.file_path(repo_id, entry)
        size = file_path.stat().st_size
        etag = entry["sha256"] if entry["lfs"] else entry["blob_id"]
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{etag}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if entry["lfs"]:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": size})
        start, end, status = 0, size - 1, 200
        match = re.match(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and size:
            start = int(match.group(1) or 0)
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        with open(file_path, "rb") as file:
            file.seek(start)
            body = file.read(max(end - start + 1, 0))
        self._send(status, body, headers)


class HubServer:
    """
    Runs the local Hub on 127.0.0.1 in a background thread.

    Args:
        users (`dict[str, str]`):
            User name -> access token. Each user may write to its own namespace (and to the organizations in
            `orgs` it belongs to).
        orgs (`dict[str, list[str]]`, *optional*):
            Organization name -> member user names.
        data_dir (`str` or `Path`, *optional*):
            Where repositories are stored. Defaults to a temporary folder removed by `stop()`.
        port (`int`, *optional*, defaults to 0):
            0 picks a free port.
    """

    def __init__(self, users: dict[str, str], orgs: dict | None = None, data_dir=None, port: int = 0):
        self.users = dict(users)
        self._tmp = None if data_dir is not None else tempfile.mkdtemp(prefix="local-hub-")
        self.storage = HubStorage(Path(data_dir or self._tmp), users, orgs)
        self.requests: list[tuple[str, str]] = []
        self._faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-hub", daemon=True)

    def start(self) -> "HubServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- test helpers ------------------------------------------------------------------------------------------

    def client_env(self, hf_home, user: str | None = None, token: str | None = None) -> dict[str, str]:
        """
        The environment of a client process of this hub: `HF_ENDPOINT`, plain-LFS uploads (`HF_HUB_DISABLE_XET`),
        an own `HF_HOME` (no cached token or files), `HF_TOKEN` of `user` (or `token`; none if both are `None`),
        no proxy for 127.0.0.1 and none of the caller's other Hugging Face settings (offline mode, tokens, caches).
        """
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("HF_", "HUGGING_FACE_", "HUGGINGFACE_", "TRANSFORMERS_"))
            and key.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env.update(
            {
                "HF_ENDPOINT": self.url,
                "HF_HOME": str(hf_home),
                "HF_HUB_DISABLE_XET": "1",
                "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                "HF_HUB_DISABLE_TELEMETRY": "1",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        token = token if token is not None else (self.users[user] if user is not None else None)
        if token is not None:
            env["HF_TOKEN"] = token
        return env

    def create_repo(self, repo_id: str, private: bool = False) -> None:
        """Creates a repository directly (for example one owned by a user whose token the test does not hold)."""
        self.storage.create_repo(repo_id, private=private, author=repo_id.split("/")[0])

    def head(self, repo_id: str, branch: str = "main") -> str | None:
        """The commit id a branch points at (`None` if the repository or branch does not exist)."""
        repo = self.storage.repos.get(repo_id)
        return None if repo is None else repo.refs.get(branch)

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """Path -> content of every file at `revision`."""
        repo = self.storage.repos[repo_id]
        files = self.storage.commits[self.storage.resolve(repo, revision)]["files"]
        return {path: self.storage.file_bytes(repo_id, entry) for path, entry in files.items()}

    def inject_fault(self, point: str, mode: str = "drop", times: int = 1) -> None:
        """
        Makes the next `times` requests at `point` fail.

        Args:
            point (`str`):
                One of `"commit"` (after the ndjson body is received, before anything is applied), `"lfs_upload"`
                (halfway through the object PUT), `"preupload"`, `"lfs_batch"`.
            mode (`str`, *optional*, defaults to `"drop"`):
                `"drop"` closes the connection without an answer; an HTTP error status (`"400"`, `"403"`, `"429"`,
                `"501"`, `"503"`, ...) answers with that status.
        """
        if point not in FAULT_POINTS or not (mode == "drop" or FAULT_STATUS.match(mode)):
            raise ValueError(
                f"point must be one of {FAULT_POINTS} and mode 'drop' or a 4xx/5xx status, got {point}, {mode}"
            )
        with self._faults_lock:
            self._faults.append(Fault(point, mode, times))

    def count_requests(self, path_part: str, method: str | None = None) -> int:
        """How many requests so far had `path_part` in their path (and `method`, if given)."""
        return sum(1 for verb, path in list(self.requests) if path_part in path and (method is None or verb == method))

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def take_fault(self, point: str) -> str | None:
        with self._faults_lock:
            for fault in self._faults:
                if fault.point == point and fault.times > 0:
                    fault.times -= 1
                    return fault.mode
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--user", action="append", default=[], metavar="NAME:TOKEN", help="a user and its token")
    parser.add_argument("--data_dir", default=None, help="where repositories are kept (default: a temporary folder)")
    args = parser.parse_args(argv)
    users = dict(item.split(":", 1) for item in args.user) or {"user": "hf_local_token"}
    with HubServer(users, data_dir=args.data_dir, port=args.port) as hub:
        print(
            f"local hub at {hub.url} (users: {', '.join(users)}); HF_ENDPOINT={hub.url} HF_HUB_DISABLE_XET=1",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
