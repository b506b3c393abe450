"""Test helpers: paths to the small data files kept in the project, a loopback HTTP server, and edits of
saved model folders."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

from mumo.io import sha256sum

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
MOLECULENET = FIXTURES / "moleculenet"


def edit_saved_json(folder: Path, name: str, **changes) -> None:
    """Set fields of a saved model's JSON file and record its new checksum, as if the model had been saved so
    (a test's shortcut to a model with a quirk or a short max_length)."""
    path = folder / name
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))
    checksums = json.loads((folder / "checksums.json").read_text())
    checksums["sha256"][name] = sha256sum(path)
    (folder / "checksums.json").write_text(json.dumps(checksums))


def weights_only_checksums(folder: Path) -> None:
    """Make `folder` look saved before mumo verified more than the weights (checksums.json format 1)."""
    checksums = json.loads((folder / "checksums.json").read_text())["sha256"]
    (folder / "checksums.json").write_text(
        json.dumps({"sha256": {"model.safetensors": checksums["model.safetensors"]}})
    )


class LoopbackHTTP:
    """An HTTP server on 127.0.0.1 (a free port) in a daemon thread, for `with`: started on entry, stopped and
    its socket closed on exit. Subclasses build their handler class and call `super().__init__(handler)`."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        # polled every 20 ms for shutdown (the default 0.5 s would add that to every test's teardown)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class LoopbackServer(LoopbackHTTP):
    """Serves files from `root` on 127.0.0.1; `truncate` maps a file name to the byte count actually sent
    (while Content-Length announces the full size), to simulate a connection dropped mid-download;
    `truncate_times` optionally limits how many requests are cut before the file is served whole."""

    def __init__(self, root: Path):
        self.root = root
        self.truncate: dict[str, int] = {}
        self.truncate_times: dict[str, int] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                name = self.path.lstrip("/").split("?")[0]
                server.requests.append(name)
                path = server.root / name
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = server.truncate.get(name, len(body))
                if name in server.truncate and name in server.truncate_times:
                    server.truncate_times[name] -= 1
                    if server.truncate_times[name] <= 0:
                        del server.truncate[name], server.truncate_times[name]
                self.wfile.write(body[:cut])

            def log_message(self, *args):
                pass

        super().__init__(Handler)
