"""A report period is emailed once: a slow relay, a killed sender and ``--resend``.

Against the real aiosmtpd server: a relay that takes the message and answers
after the client's timeout, and a listener that never greets (a sender stuck
before handing anything over, then killed).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from jobs.config import Config
from jobs.publishers import EmailUnconfirmedError, PublishError
from jobs.publishers.delivery import deliver, email_record, load_bundle, stage_report
from jobs.schedule.lease import lease_record
from jobs.store import ledger, open_store
from tests.conftest import Capplan
from tests.publishers.test_delivery import GENERATED, PERIOD, make_config, report
from tests.servers.smtp import SmtpServer

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


@pytest.fixture
def engine(database_url: str) -> Engine:
    return open_store(database_url)


def write(config: Config, path: Path) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def test_a_slow_relay_gets_one_copy_and_the_operator_decides_on_a_resend(
    capplan: Capplan, engine: Engine, tmp_path: Path, smtp: SmtpServer
) -> None:
    # The defaults would let four copies through: the relay keeps each message and
    # answers only after the client's timeout.
    config = make_config(tmp_path, smtp=smtp, timeout_seconds=0.5, max_attempts=4)
    config_path = write(config, tmp_path / "capplan.yaml")
    stage_report(engine, config, report(), generated_at=GENERATED)
    smtp.delay_reply(2.0)

    first = capplan("publish", "monthly", "--period", "2026-10", config=config_path, expect=1)
    assert "never confirmed" in first.output
    assert "capplan publish monthly --period 2026-10 --resend" in first.output
    [received] = smtp.received
    record = email_record(engine, "monthly", "2026-10")
    assert record is not None and record.status == "unconfirmed"
    assert record.message_id == received.message["Message-ID"]
    [run] = ledger.runs(engine, "publish:monthly")
    assert run.status == "failed" and run.error is not None and "never confirmed" in run.error

    schedule = capplan("schedule", "--now", "2026-11-02T00:00", config=config_path).output
    [line] = [line for line in schedule.splitlines() if "unconfirmed" in line]
    assert "monthly 2026-10" in line and str(record.message_id) in line and "--resend" in line

    # A re-run does not send on its own, whatever the relay does now.
    smtp.delay_reply(0)
    again = capplan("publish", "monthly", "--period", "2026-10", config=config_path)
    assert "email: unconfirmed" in again.output and "not sent again" in again.output
    assert len(smtp.received) == 1

    # The operator asks: one more message, under a new Message-ID.
    resent = capplan("publish", "monthly", "--period", "2026-10", "--resend", config=config_path)
    assert "email: sent" in resent.output
    assert len(smtp.received) == 2
    second_id = smtp.messages[1]["Message-ID"]
    assert second_id != received.message["Message-ID"]
    record = email_record(engine, "monthly", "2026-10")
    assert record is not None and (record.status, record.message_id) == ("sent", second_id)
    schedule = capplan("schedule", "--now", "2026-11-02T00:00", config=config_path).output
    assert "unconfirmed" not in schedule


def test_a_failed_resend_of_an_unconfirmed_email_keeps_it_unconfirmed(
    engine: Engine, tmp_path: Path, smtp: SmtpServer
) -> None:
    config = make_config(tmp_path, smtp=smtp, timeout_seconds=0.5)
    bundle = stage_report(engine, config, report(), generated_at=GENERATED)
    smtp.delay_reply(2.0)
    with pytest.raises(EmailUnconfirmedError):
        deliver(engine, config, bundle, env={})
    smtp.delay_reply(0)
    smtp.refuse(554)
    with pytest.raises(PublishError, match="permanent refusal 554"):
        deliver(engine, config, bundle, env={}, resend=True)
    record = email_record(engine, "monthly", "2026-10")
    assert record is not None and record.status == "unconfirmed"
    assert len(smtp.received) == 1


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A listener that accepts connections (the kernel does) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


SENDER = """
import sys
from pathlib import Path
from jobs.config import load_config
from jobs.publishers.delivery import deliver, load_bundle
from jobs.periods import parse_period
from jobs.store import open_store

config = load_config(Path(sys.argv[1]))
bundle = load_bundle(config, parse_period("monthly", "2026-10"))
deliver(open_store(sys.argv[2]), config, bundle, env={}, claim_ttl_seconds=3)
"""


def wait_for(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_sender_killed_before_handing_over_holds_the_period_only_for_its_claim_ttl(
    database_url: str, engine: Engine, tmp_path: Path, smtp: SmtpServer, silent_server: int
) -> None:
    config = make_config(tmp_path, smtp=smtp)
    stage_report(engine, config, report(), generated_at=GENERATED)
    stuck = make_config(tmp_path, smtp=smtp, port=silent_server, timeout_seconds=120)
    stuck_path = write(stuck, tmp_path / "stuck.yaml")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with tmp_path.joinpath("sender.err").open("wb") as errors:
        sender = subprocess.Popen(
            [sys.executable, "-c", SENDER, str(stuck_path), database_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )

    def claimed() -> bool:
        assert sender.poll() is None, tmp_path.joinpath("sender.err").read_text()
        record = email_record(engine, "monthly", "2026-10")
        return record is not None and record.status == "sending"

    try:
        wait_for(claimed, "the sender's claim")
        bundle = load_bundle(config, PERIOD)
        assert bundle is not None
        # While the sender lives, its claim holds.
        time.sleep(3.5)
        with pytest.raises(PublishError, match="is sending it right now"):
            deliver(engine, config, bundle, env={})
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=30)
    assert smtp.received == []

    killed_at = time.time()
    lease = lease_record(engine, "email:monthly:2026-10")
    assert lease is not None and lease.expires_at <= killed_at + 3
    wait_for(lambda: time.time() >= lease.expires_at, "the claim to lapse", timeout=10)
    # It never handed anything over: the next publisher sends it, once.
    results = deliver(engine, config, bundle, env={})
    assert results[-1].status == "sent"
    assert len(smtp.received) == 1
    record = email_record(engine, "monthly", "2026-10")
    assert record is not None and record.status == "sent"
