"""A minimal Hugging Face Hub on loopback, so the real download code runs in tests.

It answers ``HEAD``/``GET {endpoint}/{repo}/resolve/{revision}/{file}`` the way the Hub does
for small files (ETag, X-Repo-Commit, Content-Length) and can misbehave on request: a gated
repository, a missing repository, or a connection that drops mid-file.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading


class FakeHub:
    """``FakeHub(repo, revision, files)``: one repository; ``FakeHub.of({repo: (revision,
    files), ...})``: several, with the tree listing ``snapshot_download`` asks for first."""

    def __init__(
        self,
        repo: str | None,
        revision: str | None,
        files: dict[str, bytes] | None,
        *,
        repos: dict[str, tuple[str, dict[str, bytes]]] | None = None,
    ):
        self.repos = dict(repos or {repo: (revision, dict(files or {}))})
        self.repo, (self.revision, self.files) = next(iter(self.repos.items()))
        # "ok" | "gated" | "no-repo" | "short" (the body stops halfway, as when a proxy or a
        # flaky link cuts a transfer that looked complete)
        self.mode = "ok"
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _refuse(self, status: int, code: str, message: str = ""):
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                if message:
                    self.send_header("X-Error-Message", message)
                self.end_headers()

            def _tree(self, path: str):
                # /api/models/{owner}/{name}/tree/{revision}[?recursive=...], or the repo
                # information of a branch, /api/models/{owner}/{name}/revision/{revision}
                parts = path.split("?")[0].split("/")[3:]
                repo, revision = "/".join(parts[:2]), parts[3] if len(parts) > 3 else ""
                if repo not in hub.repos:
                    return self._refuse(401, "RepoNotFound")
                served_revision, files = hub.repos[repo]
                if revision not in (served_revision, "main"):  # main: the served commit
                    return self._refuse(404, "RevisionNotFound")
                listing = [
                    {
                        "type": "file",
                        "path": name,
                        "size": len(data),
                        "oid": hashlib.sha1(data).hexdigest(),
                    }
                    for name, data in sorted(files.items())
                ]
                if parts[2] == "revision":
                    siblings = [{"rfilename": entry["path"]} for entry in listing]
                    info = {"id": repo, "sha": served_revision, "siblings": siblings}
                    body = json.dumps(info).encode()
                else:
                    body = json.dumps(listing).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer(self, send_body: bool):
                hub.requests.append((self.command, self.path))
                if self.path.startswith("/api/models/"):
                    return self._tree(self.path)
                if hub.mode == "gated":
                    return self._refuse(401, "GatedRepo", "Access to this repo is restricted")
                repo = next((r for r in hub.repos if self.path.startswith(f"/{r}/resolve/")), None)
                if hub.mode == "no-repo" or repo is None:
                    return self._refuse(401, "RepoNotFound")
                served_revision, files = hub.repos[repo]
                revision, _, name = self.path[len(f"/{repo}/resolve/") :].partition("/")
                if revision not in (served_revision, "main"):
                    return self._refuse(404, "RevisionNotFound")
                if name not in files:
                    return self._refuse(404, "EntryNotFound")
                body = files[name]
                etag = hashlib.sha256(body).hexdigest()
                if send_body and hub.mode == "short":
                    body = body[: len(body) // 2]
                self.send_response(200)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("X-Repo-Commit", served_revision)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def do_HEAD(self):
                self._answer(send_body=False)

            def do_GET(self):
                self._answer(send_body=True)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    @classmethod
    def of(cls, repos: dict[str, tuple[str, dict[str, bytes]]]) -> FakeHub:
        """A Hub serving several repositories: ``{repo: (revision, {file: bytes})}``."""
        return cls(None, None, None, repos=repos)

    def file_requests(self) -> list[str]:
        """The paths of the file downloads asked for (``GET .../resolve/...``)."""
        return [path for method, path in self.requests if method == "GET" and "/resolve/" in path]


def write_card(
    folder,
    digests: dict[str, dict[str, str]] | None = None,
    model_id: str = "fmri-dascoli_2026-tribe_v2",
):
    """A copy of berg's card of ``model_id`` in ``folder``, for ``$BERG_CARDS``, whose
    feature models record ``digests`` (modality -> {file: sha256}; default none) instead of
    the real files', and not the real models' sizes: the tiny models a fake Hub serves under
    the real names are not the real files. Returns the folder."""
    from importlib import resources
    from pathlib import Path

    import yaml

    name = f"{model_id}.yaml"
    card = yaml.safe_load(resources.files("berg").joinpath("cards", name).read_text("utf-8"))
    for modality, extractor in card["extractors"].items():
        extractor.pop("sizes", None)
        extractor.pop("num_hidden_layers", None)  # the real models' sizes, not the tiny ones'
        extractor.pop("hidden_size", None)
        extractor["sha256"] = dict((digests or {}).get(modality, {}))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    return folder
