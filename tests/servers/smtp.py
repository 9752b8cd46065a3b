"""pytest plugin: real SMTP servers (aiosmtpd) on loopback.

Three session servers share one recording handler design:
``smtp_server`` (plain, no login), ``smtp_starttls_server`` (STARTTLS and AUTH
required, AUTH only after TLS) and ``smtps_server`` (implicit TLS, AUTH offered;
``Received.login`` shows whether it was used). TLS uses a self-signed
certificate made at test time with the ``openssl`` command; clients trust it
through ``SmtpServer.ca_file``.

The function fixtures ``smtp``, ``smtp_starttls`` and ``smtps`` hand out the
same servers with received messages cleared and refusal switched off.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

SmtpMode = Literal["plain", "starttls", "tls"]

USERNAME = "capplan-mailer"
PASSWORD = "s3cret-for-tests"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    tls: bool
    login: str | None


class RecordingHandler:
    """Keeps every accepted message; can be told to refuse DATA with a reply code, or to
    accept it and answer only after a delay (a slow relay)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._refuse_code: int | None = None
        self._refuse_left: int | None = None
        self._reply_delay = 0.0
        self.attempts = 0

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._refuse_code = None
            self._refuse_left = None
            self._reply_delay = 0.0
            self.attempts = 0

    def refuse(self, code: int, times: int | None = None) -> None:
        """Answer DATA with ``code`` for the next ``times`` messages (None: always)."""
        with self._lock:
            self._refuse_code = code
            self._refuse_left = times

    def delay_reply(self, seconds: float) -> None:
        """Keep each message as accepted, but answer its DATA only ``seconds`` later."""
        with self._lock:
            self._reply_delay = seconds

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd hook name)
        with self._lock:
            self.attempts += 1
            if self._refuse_code is not None and self._refuse_left != 0:
                if self._refuse_left is not None:
                    self._refuse_left -= 1
                code = self._refuse_code
                if 400 <= code < 500:
                    return f"{code} 4.3.0 Temporarily unavailable, try again later"
                return f"{code} 5.7.1 Message rejected"
            raw = bytes(envelope.original_content or b"")
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            transport = server.transport
            tls = transport is not None and transport.get_extra_info("ssl_object") is not None
            auth = session.auth_data
            login = auth.login.decode() if isinstance(auth, LoginPassword) else None
            self._received.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    message=message,
                    raw=raw,
                    tls=tls,
                    login=login,
                )
            )
            delay = self._reply_delay
        if delay:
            await asyncio.sleep(delay)
        return "250 2.0.0 OK queued"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class SmtpServer:
    host: str
    port: int
    mode: SmtpMode
    handler: RecordingHandler
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = None
    _controller: Controller | None = field(default=None, repr=False)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def messages(self) -> list[EmailMessage]:
        return [item.message for item in self.handler.received]

    def clear(self) -> None:
        self.handler.clear()

    def refuse(self, code: int, times: int | None = None) -> None:
        self.handler.refuse(code, times)

    def delay_reply(self, seconds: float) -> None:
        self.handler.delay_reply(seconds)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, valid for a day; returns (cert, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the 'openssl' command is needed to make the test TLS certificate")
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _start(mode: SmtpMode, cert: tuple[Path, Path] | None) -> SmtpServer:
    handler = RecordingHandler()
    port = free_port()
    kwargs: dict[str, Any] = {}
    server_ctx: ssl.SSLContext | None = None
    if mode != "plain":
        assert cert is not None
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(*cert)
        kwargs.update(
            authenticator=_authenticate,
            auth_required=True,
            auth_require_tls=True,
        )
    if mode == "starttls":
        kwargs.update(tls_context=server_ctx, require_starttls=True)
    elif mode == "tls":
        # aiosmtpd only counts STARTTLS as TLS when deciding whether to offer AUTH,
        # and requiring AUTH without that makes it warn; on an implicit-TLS socket
        # AUTH is offered (not required) and the tests check the login was used.
        kwargs.update(ssl_context=server_ctx, auth_required=False, auth_require_tls=False)
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs
    )
    controller.start()
    return SmtpServer(
        host="127.0.0.1",
        port=port,
        mode=mode,
        handler=handler,
        ca_file=cert[0] if cert and mode != "plain" else None,
        username=USERNAME if mode != "plain" else None,
        password=PASSWORD if mode != "plain" else None,
        _controller=controller,
    )


def _serve(mode: SmtpMode, cert: tuple[Path, Path] | None) -> Iterator[SmtpServer]:
    server = _start(mode, cert)
    try:
        yield server
    finally:
        assert server._controller is not None
        server._controller.stop()


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_self_signed(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    yield from _serve("plain", None)


@pytest.fixture(scope="session")
def smtp_starttls_server(smtp_certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    yield from _serve("starttls", smtp_certificate)


@pytest.fixture(scope="session")
def smtps_server(smtp_certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    yield from _serve("tls", smtp_certificate)


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> Iterator[SmtpServer]:
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()


@pytest.fixture
def smtp_starttls(smtp_starttls_server: SmtpServer) -> Iterator[SmtpServer]:
    smtp_starttls_server.clear()
    yield smtp_starttls_server
    smtp_starttls_server.clear()


@pytest.fixture
def smtps(smtps_server: SmtpServer) -> Iterator[SmtpServer]:
    smtps_server.clear()
    yield smtps_server
    smtps_server.clear()
