"""A minimal Hugging Face Hub on loopback, so the real download code runs in tests.

It answers ``HEAD``/``GET {endpoint}/{repo}/resolve/{revision}/{file}`` the way the Hub does
for small files (ETag, X-Repo-Commit, Content-Length) and can misbehave on request: a gated
repository, a missing repository, or a connection that drops mid-file.
"""

from __future__ import annotations

import hashlib
import http.server
import threading


class FakeHub:
    def __init__(self, repo: str, revision: str, files: dict[str, bytes]):
        self.repo, self.revision, self.files = repo, revision, dict(files)
        # "ok" | "gated" | "no-repo" | "short" (the body stops halfway, as when a proxy or a
        # flaky link cuts a transfer that looked complete)
        self.mode = "ok"
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _answer(self, send_body: bool):
                hub.requests.append((self.command, self.path))
                prefix = f"/{hub.repo}/resolve/"
                if hub.mode == "gated":
                    self.send_response(401)
                    self.send_header("X-Error-Code", "GatedRepo")
                    self.send_header("X-Error-Message", "Access to this repo is restricted")
                    self.end_headers()
                    return
                if hub.mode == "no-repo" or not self.path.startswith(prefix):
                    self.send_response(401)
                    self.send_header("X-Error-Code", "RepoNotFound")
                    self.end_headers()
                    return
                revision, _, name = self.path[len(prefix) :].partition("/")
                if revision != hub.revision:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "RevisionNotFound")
                    self.end_headers()
                    return
                if name not in hub.files:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                body = hub.files[name]
                etag = hashlib.sha256(body).hexdigest()
                if send_body and hub.mode == "short":
                    body = body[: len(body) // 2]
                self.send_response(200)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("X-Repo-Commit", hub.revision)
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
