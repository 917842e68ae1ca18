"""A real HTTP server standing in for a router_url: records the JSON bodies it accepts."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    url: str
    received: list[dict] = field(default_factory=list)
    requests: int = 0
    # Answers to give, first to last (then 200): e.g. [503] fails the first request.
    failures: list[int] = field(default_factory=list)
    delay: float = 0.0
    # When given, requests wait for it to be set before they are answered.
    hold: threading.Event | None = None


@contextmanager
def receiver(**behaviour: object) -> Iterator[Receiver]:
    state = Receiver(url="", **behaviour)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(state.delay)
            if state.hold is not None:
                state.hold.wait()
            with lock:
                state.requests += 1
                status = state.failures.pop(0) if state.failures else 200
                if status == 200:
                    state.received.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/objects"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
