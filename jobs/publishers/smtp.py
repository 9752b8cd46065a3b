"""Email delivery over SMTP (registry name ``email``).

The module is not called ``email`` so that ``import email`` inside this package
keeps meaning the standard library.

"A period is emailed once" is the ledger's job (``jobs.publishers.email_once``); this
module makes the first Message-ID a function of (kind, period, recipients) so
duplicates are visible, and tells a failure before the message content was
handed over (retried: nothing was delivered) from one after it (the outcome is
unknown: :class:`EmailUnconfirmedError`, never retried). A
:class:`HandOver` gate hears of the moment the content goes out.
"""

from __future__ import annotations

import hashlib
import html
import smtplib
import socket
import ssl
import uuid
from collections.abc import Callable, Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, ClassVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from jobs.publishers.base import (
    Artifact,
    EmailUnconfirmedError,
    HandOver,
    OncePublisher,
    Publisher,
    PublisherConfigError,
    PublishError,
    PublisherSettings,
    PublishResult,
    ReportDelivery,
)
from jobs.publishers.settings import EmailSettings, check_address

if TYPE_CHECKING:
    from typing_extensions import Buffer

# Given (artifact, expires_seconds), return a download URL; S3Publisher provides one:
# ``lambda artifact, seconds: s3.presigned_url(artifact.key, seconds)``.
LinkProvider = Callable[[Artifact, int], str]


class _NoGate:
    def begin(self, message_id: str) -> None:
        pass

    def refused(self) -> None:
        pass


class _ContentLostError(Exception):
    """A failure after the content was handed over and before the server's answer."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _WatchedSMTP(smtplib.SMTP):
    """Calls ``gate.begin`` right before the message content follows DATA's 354 reply."""

    gate: HandOver = _NoGate()
    message_id = ""
    content_sent = False
    _sends_in_data: int | None = None

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        # In smtplib's data(), the first send() is the DATA command, the second the content.
        self._sends_in_data = 0
        try:
            return super().data(msg)
        finally:
            self._sends_in_data = None

    def send(self, s: Buffer | str) -> None:
        if self._sends_in_data is not None:
            self._sends_in_data += 1
            if self._sends_in_data == 2:
                self.gate.begin(self.message_id)
                self.content_sent = True
        super().send(s)


class _WatchedSMTPSSL(_WatchedSMTP, smtplib.SMTP_SSL):
    pass


def _is_transient(exc: BaseException) -> bool:
    """4xx replies and lost connections are worth retrying; 5xx and TLS problems are not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return False
    return isinstance(exc, ConnectionError | TimeoutError | socket.gaierror)


class EmailPublisher(OncePublisher):
    name: ClassVar[str] = "email"
    order: ClassVar[int] = 30

    def __init__(
        self,
        settings: EmailSettings,
        *,
        env: Mapping[str, str],
        link_provider: LinkProvider | None = None,
    ) -> None:
        """``env`` is where the login named by ``username_env``/``password_env`` is read."""
        self.settings = settings
        self.link_provider = link_provider
        self._login: tuple[str, str] | None = None
        if settings.username_env and settings.password_env:
            # Named by field, never by value: a password_env that holds the
            # password itself would otherwise be echoed into cron mail.
            missing = [
                f"publish.email.{field}"
                for field, name in (
                    ("username_env", settings.username_env),
                    ("password_env", settings.password_env),
                )
                if not env.get(name)
            ]
            if missing:
                named = " and ".join(missing)
                raise PublisherConfigError(
                    f"email: the environment variable named by {named} is not set"
                    if len(missing) == 1
                    else f"email: the environment variables named by {named} are not set"
                )
            self._login = (env[settings.username_env], env[settings.password_env])

    @classmethod
    def build(
        cls,
        settings: PublisherSettings,
        *,
        env: Mapping[str, str],
        built: Mapping[str, Publisher],
    ) -> EmailPublisher:
        assert isinstance(settings, EmailSettings)  # the registration names EmailSettings
        links: LinkProvider | None = None
        storage = built.get("s3")
        if storage is not None:
            # A report too large to attach is linked to the copy S3 holds (it comes first).
            from jobs.publishers.s3 import S3Publisher

            assert isinstance(storage, S3Publisher)
            s3 = storage

            def presigned(artifact: Artifact, seconds: int) -> str:
                return s3.presigned_url(artifact.key, seconds)

            links = presigned
        return cls(settings, env=env, link_provider=links)

    @property
    def server(self) -> str:
        return f"smtp://{self.settings.host}:{self.settings.effective_port}"

    def recipients(self, delivery: ReportDelivery) -> list[str]:
        if delivery.recipients:
            return [check_address(value) for value in delivery.recipients]
        return self.settings.recipients_for(delivery.kind)

    def target(self, delivery: ReportDelivery) -> str:
        """Where ``delivery`` goes, as results name it: server and recipients."""
        return f"{self.server} to {', '.join(self.recipients(delivery))}"

    def message_id(self, delivery: ReportDelivery, *, fresh: bool = False) -> str:
        """The same (kind, period, recipients) always gives the same Message-ID.

        ``fresh`` adds a random part, for a deliberate resend: a copy of the
        first message under its own ID would be discarded as a duplicate by
        mail systems that deduplicate on it, so a resend is a new message.
        """
        recipients = ",".join(sorted({r.lower() for r in self.recipients(delivery)}))
        digest = hashlib.sha256(
            f"{delivery.kind}\n{delivery.period}\n{recipients}".encode()
        ).hexdigest()[:24]
        if fresh:  # as long as the first, so the header is not folded either
            digest = f"{digest[:12]}.{uuid.uuid4().hex[:11]}"
        domain = self.settings.from_address.rpartition("@")[2]
        period = "".join(c if c.isalnum() or c == "-" else "-" for c in delivery.period)
        return f"<capplan.{delivery.kind}.{period}.{digest}@{domain}>"

    def publish(self, delivery: ReportDelivery) -> list[PublishResult]:
        return [self.send(delivery)]

    def build_message(
        self, delivery: ReportDelivery, *, message_id: str | None = None
    ) -> EmailMessage:
        recipients = self.recipients(delivery)
        if not recipients:
            raise PublishError(
                self.name,
                self.server,
                f"no recipients configured for {delivery.kind} reports "
                f"(email.recipients.{delivery.kind})",
            )
        message = EmailMessage()
        message["Subject"] = delivery.subject
        message["From"] = Address(addr_spec=self.settings.from_address)
        message["To"] = ", ".join(recipients)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = message_id or self.message_id(delivery)
        message["X-Capplan-Report"] = f"{delivery.kind} {delivery.period}"

        pdf = delivery.pdf
        link = self._link(delivery) if len(pdf.body) > self.settings.max_attachment_bytes else None
        text, body_html = delivery.summary_text, delivery.summary_html
        if link is None:
            note = f"The full report is attached ({pdf.filename})."
            text += f"\n\n{note}\n"
            body_html += f"<p>{html.escape(note)}</p>"
        else:
            note = (
                f"The full report ({_size(len(pdf.body))}) is too large to attach; "
                f"download it within {human_duration(self.settings.link_expires_seconds)}:"
            )
            text += f"\n\n{note}\n{link}\n"
            anchor = f'<a href="{html.escape(link, quote=True)}">{html.escape(pdf.filename)}</a>'
            body_html += f"<p>{html.escape(note)} {anchor}</p>"
        message.set_content(text)
        message.add_alternative(
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            f"<title>{html.escape(delivery.subject)}</title></head>"
            f"<body>{body_html}</body></html>",
            subtype="html",
        )
        if link is None:
            maintype, _, subtype = pdf.content_type.partition("/")
            message.add_attachment(
                pdf.body,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=pdf.filename,
            )
        return message

    def send(
        self,
        delivery: ReportDelivery,
        *,
        message_id: str | None = None,
        handover: HandOver | None = None,
    ) -> PublishResult:
        """Send one message for ``delivery``.

        Failures before the content is handed over are retried when transient,
        then raise :class:`PublishError`. A failure after it (a timeout waiting
        for the server's answer, a dropped connection) raises
        :class:`EmailUnconfirmedError` at once: the server may have taken the
        message, and a retry would then deliver a second copy.
        """
        message = self.build_message(delivery, message_id=message_id)
        recipients = self.recipients(delivery)
        target = self.target(delivery)
        gate = handover or _NoGate()
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=wait_exponential(multiplier=self.settings.retry_wait_seconds, max=60),
            retry=retry_if_exception(_is_transient),
            reraise=True,
        )
        attempts: list[RetryCallState] = []
        try:
            for attempt in retrying:
                attempts.append(attempt.retry_state)
                with attempt:
                    refused = self._deliver(message, recipients, gate)
        except _ContentLostError as lost:
            raise EmailUnconfirmedError(
                self.name,
                target,
                f"the message was handed over, but the server never confirmed it "
                f"({self._reason(lost.cause)}): it may have been delivered, so it is not sent "
                f"again (after {len(attempts)} attempt(s))",
                str(message["Message-ID"]),
            ) from lost.cause
        except (smtplib.SMTPException, OSError) as exc:
            raise PublishError(
                self.name, target, f"{self._reason(exc)} (after {len(attempts)} attempt(s))"
            ) from exc
        detail = f"{len(recipients) - len(refused)} recipient(s)"
        if refused:
            # Retrying would mail the accepted recipients twice; report instead.
            detail += "; refused: " + ", ".join(
                f"{addr} ({code} {reply.decode(errors='replace')})"
                for addr, (code, reply) in refused.items()
            )
        return PublishResult(self.name, target, "sent", detail, message_id=message["Message-ID"])

    def _link(self, delivery: ReportDelivery) -> str:
        size = _size(len(delivery.pdf.body))
        limit = _size(self.settings.max_attachment_bytes)
        if self.link_provider is None:
            raise PublishError(
                self.name,
                self.server,
                f"{delivery.pdf.filename} is {size}, over the {limit} attachment limit "
                "(max_attachment_bytes), and no S3 publisher is configured for a download link",
            )
        return self.link_provider(delivery.pdf, self.settings.link_expires_seconds)

    def _ssl_context(self) -> ssl.SSLContext:
        ca_file = str(self.settings.ca_file) if self.settings.ca_file else None
        return ssl.create_default_context(cafile=ca_file)

    def _deliver(
        self, message: EmailMessage, recipients: Sequence[str], gate: HandOver
    ) -> dict[str, tuple[int, bytes]]:
        settings = self.settings
        host, port, timeout = settings.host, settings.effective_port, settings.timeout_seconds
        smtp: _WatchedSMTP
        if settings.security == "tls":
            smtp = _WatchedSMTPSSL(host, port, timeout=timeout, context=self._ssl_context())
        else:
            smtp = _WatchedSMTP(host, port, timeout=timeout)
        smtp.gate, smtp.message_id = gate, str(message["Message-ID"])
        try:
            smtp.ehlo()
            if settings.security == "starttls":
                smtp.starttls(context=self._ssl_context())
                smtp.ehlo()
            if self._login is not None:
                smtp.login(*self._login)
            refused = smtp.send_message(
                message, from_addr=settings.from_address, to_addrs=list(recipients)
            )
        except smtplib.SMTPResponseException:
            smtp.close()
            if smtp.content_sent:
                gate.refused()  # an answer, though a refusal: the message was not taken
            raise
        except (smtplib.SMTPException, OSError) as exc:
            smtp.close()
            if smtp.content_sent:
                raise _ContentLostError(exc) from exc
            raise
        except BaseException:
            smtp.close()
            raise
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()  # the message was accepted; a failed goodbye changes nothing
        return refused

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return (
                f"authentication failed ({exc.smtp_code}); check the login in the environment "
                f"variables {self.settings.username_env} and {self.settings.password_env}"
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError) or (
            isinstance(exc, smtplib.SMTPException) and "STARTTLS" in str(exc)
        ):
            return f"server does not offer what is required: {exc}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            return "all recipients refused: " + ", ".join(
                f"{addr} ({code})" for addr, (code, _) in exc.recipients.items()
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            kind = "temporary" if 400 <= exc.smtp_code < 500 else "permanent"
            reply = exc.smtp_error
            if isinstance(reply, bytes):
                reply = reply.decode(errors="replace")
            return f"{kind} refusal {exc.smtp_code} {reply}"
        if isinstance(exc, ssl.SSLError | ssl.CertificateError):
            return f"TLS failure: {exc}"
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        return f"{type(exc).__name__}: {exc}"


def human_duration(seconds: int) -> str:
    """``600`` -> "10 minutes", ``5400`` -> "1 hour 30 minutes" (days, hours, minutes, seconds)."""
    parts = []
    remaining = int(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"
