"""A real HTTP receiver for webhooks, on 127.0.0.1 and a port of its own, in a thread.

It records every request as it arrives (before answering), and answers from a plan: a
list of replies used in turn, then a default. A reply can be slow, can trickle its answer
byte by byte, or can hold the request until the test releases it (to kill a worker in
the middle of a delivery). A receiver can start "down": its port is bound, so no one else
takes it, but not listening, so connections are refused until `up()`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    hold: bool = False  # wait until Receiver.release() (or 60 s) before answering
    trickle: float = 0.0  # seconds between the bytes of the answer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1: one that no
    trust store knows."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "receiver.crt", directory / "receiver.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


class Receiver:
    def __init__(self, *, listening: bool = True, tls: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self.plan: list[Reply | Callable[[Received], Reply | None]] = []
        self.default = Reply()
        self.held = threading.Event()  # a request is being held
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length),
                    at=time.monotonic(),
                )
                reply = receiver._record(request)
                # the sender may have given up (or been killed) first
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    receiver._answer(self, reply)

            do_GET = do_POST  # a redirect followed would come back as a GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.daemon_threads = True
        self.server.allow_reuse_address = True
        self.server.server_bind()
        self.scheme = "http"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        if listening:
            self.up()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/hooks"

    def up(self) -> None:
        self.server.server_activate()
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._release.set()
        if self._thread is not None:
            self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self._release.set()

    def _record(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            while self.plan:
                step = self.plan.pop(0)
                reply = step(request) if callable(step) else step
                if reply is not None:
                    return reply
            return self.default

    def _answer(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.hold:
            self.held.set()
            self._release.wait(60)
        if reply.delay:
            time.sleep(reply.delay)
        head = f"HTTP/1.1 {reply.status} Reply\r\n"
        headers = {"Content-Length": str(len(reply.body)), "Connection": "close", **reply.headers}
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        raw = head.encode() + reply.body
        if reply.trickle:
            for byte in raw:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(reply.trickle)
        else:
            handler.wfile.write(raw)
        handler.close_connection = True

    # --- What the tests read -------------------------------------------------------------

    def ids(self) -> list[str]:
        with self._lock:
            return [request.webhook_id for request in self.received]

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return predicate(self)
