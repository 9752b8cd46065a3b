"""A real Prometheus with deterministic backfilled history, and a fault-injecting stand-in.

Load as a pytest plugin (``pytest_plugins = ["tests.servers.prometheus"]``). Fixtures:

``prometheus_server`` (session)
    Debian's ``prometheus`` on ``127.0.0.1:<free port>``, its TSDB built by
    ``promtool tsdb create-blocks-from openmetrics`` from generated history.
    Yields a ``PrometheusServer``: ``base_url``, ``data_dir``, ``queries``
    (metric -> PromQL template using ``{service_label}``), ``samples`` (every
    finite generated sample), ``non_finite`` (the NaN/Inf samples written on
    purpose), ``start``/``end`` (first and last sample instant, UTC) and
    ``step_seconds``. The TSDB also holds ``CONTAINER_DAYS`` of cAdvisor-style
    series (``container_cpu_usage_seconds_total``, a counter sampled every
    minute, and ``container_memory_working_set_bytes``) for the README's query
    templates; ``usage`` holds what those templates must return.

``fault_server`` (function)
    A ``FaultServer``: a loopback HTTP server that answers ``/api/v1/*`` with a
    scripted sequence of behaviours (error status, Prometheus error bodies,
    hanging past the client's timeout, forwarding to a real Prometheus) and
    records what it was asked.

``closed_port_url`` (function)
    ``http://127.0.0.1:<port>`` with nothing listening: connections are refused.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest

__all__ = [
    "Behaviour",
    "FaultServer",
    "Forward",
    "Hang",
    "PrometheusServer",
    "RecordedRequest",
    "Respond",
    "bad_data",
    "closed_port_url",
    "fault_server",
    "generate_history",
    "prometheus_server",
    "prometheus_timeout",
    "unavailable",
]

HISTORY_START = datetime(2024, 10, 1, tzinfo=UTC)
HISTORY_DAYS = 92
#: Days of cAdvisor-style container series, from HISTORY_START.
CONTAINER_DAYS = 7
COUNTER_STEP_SECONDS = 60
STEP_SECONDS = 300
SERVICE_LABEL = "service"
SERVICES = ("backend", "frontend", "postgres")
#: capplan metric -> Prometheus metric name written to the TSDB.
METRICS = {"cpu_percent": "capplan_cpu_percent", "memory_percent": "capplan_memory_percent"}
#: (service, metric, sample index, value) written as non-finite values.
NON_FINITE = (
    ("frontend", "memory_percent", 1000, "NaN"),
    ("frontend", "memory_percent", 1001, "+Inf"),
    ("backend", "cpu_percent", 20000, "-Inf"),
)
_INSTALL_HINT = (
    "`make test` installs Debian's prometheus package (which provides both); "
    "or run: apt-get install prometheus"
)


# --------------------------------------------------------------------------- history


def _series_values(
    rng: np.random.Generator, n: int, level: float, slope: float
) -> np.ndarray[Any, np.dtype[np.float64]]:
    minutes = np.arange(n, dtype=np.float64) * (STEP_SECONDS / 60)
    days = minutes / 1440
    daily = 8.0 * np.sin(2 * np.pi * (days - 0.375))
    weekly = 3.0 * np.where((days % 7) >= 5, -1.0, 0.4)
    noise = rng.normal(0.0, 1.5, n)
    raw = np.clip(level + slope * days + daily + weekly + noise, 0.0, 100.0)
    # Three decimals as written to the file, so the parsed float is the exact expectation.
    return np.round(raw, 3)


def _write_container_history(out: TextIO, rng: np.random.Generator) -> pd.DataFrame:
    """cAdvisor-style series; returns what the README's templates evaluate to on the grid.

    CPU use is constant within each step, a multiple of 1/64 core, so the counter
    and ``rate(...[5m])`` at every grid instant are exact binary floats: the rate
    at instant t is the use in the step ending at t. Memory is whole bytes.
    """
    start_s = int(HISTORY_START.timestamp())
    blocks = CONTAINER_DAYS * 86400 // STEP_SECONDS
    per_block = STEP_SECONDS // COUNTER_STEP_SECONDS
    grid = start_s + np.arange(blocks + 1, dtype=np.int64) * STEP_SECONDS
    minute_stamps = start_s + np.arange(blocks * per_block + 1, dtype=np.int64) * 60
    cpu_levels = {"backend": (64, 192), "frontend": (16, 96), "postgres": (32, 112)}
    memory_levels = {"backend": 1.5, "frontend": 0.75, "postgres": 2.5}  # GiB
    expected: list[pd.DataFrame] = []
    out.write("# HELP container_cpu_usage_seconds Generated container CPU time.\n")
    out.write("# TYPE container_cpu_usage_seconds counter\n")
    for service, (low, high) in cpu_levels.items():
        cores = rng.integers(low, high, blocks) / 64.0
        per_minute = np.repeat(cores * COUNTER_STEP_SECONDS, per_block)
        counter = np.concatenate([[0.0], np.cumsum(per_minute)])
        head = f'container_cpu_usage_seconds_total{{{SERVICE_LABEL}="{service}",container="app"}} '
        out.writelines(
            f"{head}{float(value)!r} {stamp}\n"
            for value, stamp in zip(counter, minute_stamps, strict=True)
        )
        expected.append(
            pd.DataFrame(
                {"timestamp": grid[1:], "service": service, "metric": "cpu_cores", "value": cores}
            )
        )
    out.write("# HELP container_memory_working_set_bytes Generated container memory.\n")
    out.write("# TYPE container_memory_working_set_bytes gauge\n")
    for service, gib in memory_levels.items():
        noise = rng.normal(0.0, 0.1, grid.size)
        memory = np.rint((gib + noise) * 2**30).astype(np.int64).astype(np.float64)
        head = f'container_memory_working_set_bytes{{{SERVICE_LABEL}="{service}",container="app"}} '
        out.writelines(
            f"{head}{int(value)} {stamp}\n" for value, stamp in zip(memory, grid, strict=True)
        )
        expected.append(
            pd.DataFrame(
                {"timestamp": grid, "service": service, "metric": "memory_bytes", "value": memory}
            )
        )
    return pd.concat(expected, ignore_index=True)


def generate_history(
    path: Path, *, seed: int = 20241001
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Write the OpenMetrics backfill file.

    Returns (finite samples, non-finite samples, container usage on the grid).
    """
    rng = np.random.default_rng(seed)
    n = HISTORY_DAYS * 86400 // STEP_SECONDS
    start_s = int(HISTORY_START.timestamp())
    stamps = start_s + np.arange(n, dtype=np.int64) * STEP_SECONDS
    stamp_text = [str(s) for s in stamps]
    special = {(svc, metric, i): text for svc, metric, i, text in NON_FINITE}
    levels = {"cpu_percent": 40.0, "memory_percent": 60.0}
    frames: list[pd.DataFrame] = []
    odd: list[dict[str, Any]] = []
    with path.open("w", encoding="ascii") as out:
        for metric, prom_name in METRICS.items():
            out.write(f"# HELP {prom_name} Generated {metric} history for capplan tests.\n")
            out.write(f"# TYPE {prom_name} gauge\n")
            for k, service in enumerate(SERVICES):
                values = _series_values(rng, n, levels[metric] + 2.5 * k, 0.02 * (k + 1))
                texts = [f"{v:.3f}" for v in values]
                keep = np.ones(n, dtype=bool)
                for (svc, name, index), text in special.items():
                    if svc == service and name == metric:
                        texts[index] = text
                        keep[index] = False
                        odd.append(
                            {
                                "timestamp": stamps[index],
                                "service": service,
                                "metric": metric,
                                "value": float(text),
                            }
                        )
                head = f'{prom_name}{{{SERVICE_LABEL}="{service}"}} '
                out.writelines(f"{head}{t} {s}\n" for t, s in zip(texts, stamp_text, strict=True))
                frames.append(
                    pd.DataFrame(
                        {
                            "timestamp": stamps[keep],
                            "service": service,
                            "metric": metric,
                            "value": values[keep],
                        }
                    )
                )
        usage = _write_container_history(out, rng)
        out.write("# EOF\n")
    samples = pd.concat(frames, ignore_index=True)
    non_finite = pd.DataFrame(odd, columns=["timestamp", "service", "metric", "value"])
    for frame in (samples, non_finite, usage):
        frame["timestamp"] = pd.to_datetime(frame["timestamp"].astype("int64"), unit="s", utc=True)
        frame["timestamp"] = frame["timestamp"].dt.as_unit("ns")
        frame["service"] = frame["service"].astype("str")
        frame["metric"] = frame["metric"].astype("str")
    samples = samples.sort_values(["metric", "timestamp", "service"], ignore_index=True)
    usage = usage.sort_values(["metric", "timestamp", "service"], ignore_index=True)
    return samples, non_finite, usage


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _require(binary: str) -> str:
    # /usr/bin may be missing from PATH under cron-like or minimal environments.
    found = shutil.which(binary) or shutil.which(binary, path="/usr/bin:/usr/sbin")
    if found is None:
        pytest.fail(f"{binary!r} not found on PATH; {_INSTALL_HINT}", pytrace=False)
    return found


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"prometheus exited with status {process.returncode} before it was ready:\n"
                + _tail(log)
            )
        try:
            with urllib.request.urlopen(f"{base_url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"prometheus at {base_url} not ready within 60 s:\n" + _tail(log))


@dataclass(frozen=True)
class PrometheusServer:
    base_url: str
    data_dir: Path
    #: capplan metric -> PromQL template (``{service_label}`` marks the grouping label).
    queries: dict[str, str]
    #: Finite generated samples: timestamp (UTC), service, metric, value.
    samples: pd.DataFrame
    #: The NaN/+Inf/-Inf samples that are also in the TSDB; a fetch must drop them.
    non_finite: pd.DataFrame
    #: What ``sum by (service) (rate(container_cpu_usage_seconds_total[5m]))`` (metric
    #: ``cpu_cores``) and ``sum by (service) (container_memory_working_set_bytes)``
    #: (``memory_bytes``) return at each grid instant of the container history.
    usage: pd.DataFrame
    start: datetime
    end: datetime
    step_seconds: int = STEP_SECONDS
    service_label: str = SERVICE_LABEL
    pid: int = 0
    log_path: Path = field(default_factory=Path)

    def expected(self, metric: str) -> pd.DataFrame:
        """Generated finite samples of one metric, sorted by timestamp then service."""
        rows = self.samples[self.samples["metric"] == metric]
        return rows.sort_values(["timestamp", "service"], ignore_index=True)


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    prometheus = _require("prometheus")
    promtool = _require("promtool")
    root = tmp_path_factory.mktemp("prometheus")
    data_dir = root / "data"
    data_dir.mkdir()
    history = root / "history.om"
    samples, non_finite, usage = generate_history(history)

    created = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=744h",
            str(history),
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if created.returncode != 0:
        pytest.fail(
            f"promtool could not build the TSDB (status {created.returncode}):\n"
            f"{created.stdout[-2000:]}\n{created.stderr[-2000:]}",
            pytrace=False,
        )

    config = root / "prometheus.yml"
    # No scrape targets: the TSDB holds only the backfilled history.
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    log = root / "prometheus.log"
    process: subprocess.Popen[bytes] | None = None
    base_url = ""
    for _ in range(3):  # another process may grab the free port before prometheus binds it
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={data_dir}",
                    "--storage.tsdb.retention.time=100y",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=root,
            )
        try:
            _wait_ready(process, base_url, log)
            break
        except RuntimeError as exc:
            _stop(process)
            if "address already in use" not in str(exc):
                pytest.fail(str(exc), pytrace=False)
    else:
        pytest.fail("prometheus could not bind a loopback port:\n" + _tail(log), pytrace=False)
    assert process is not None

    stamps = samples["timestamp"]
    server = PrometheusServer(
        base_url=base_url,
        data_dir=data_dir,
        queries={
            metric: f"max by ({{service_label}}) ({name})" for metric, name in METRICS.items()
        },
        samples=samples,
        non_finite=non_finite,
        usage=usage,
        start=stamps.min().to_pydatetime(),
        end=stamps.max().to_pydatetime(),
        pid=process.pid,
        log_path=log,
    )
    try:
        yield server
    finally:
        _stop(process)


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Respond:
    """Answer with this status and body (a dict is sent as JSON)."""

    status: int
    body: dict[str, Any] | str = ""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Hang:
    """Send nothing for ``seconds`` (released early when the server stops)."""

    seconds: float


@dataclass(frozen=True)
class Forward:
    """Pass the request on to a real Prometheus and relay its answer."""

    base_url: str


Behaviour = Respond | Hang | Forward


def unavailable() -> Respond:
    return Respond(503, "<html><body>503 Service Unavailable</body></html>")


def bad_data(message: str = 'parse error: unexpected "}"') -> Respond:
    return Respond(400, {"status": "error", "errorType": "bad_data", "error": message})


def prometheus_timeout() -> Respond:
    return Respond(
        503,
        {"status": "error", "errorType": "timeout", "error": "query timed out in query execution"},
    )


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    form: dict[str, str]


class FaultServer:
    """Loopback HTTP server answering with scripted behaviours, then ``default``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: list[Behaviour] = []
        self._default: Behaviour = unavailable()
        self._release = threading.Event()
        self.requests: list[RecordedRequest] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def script(self, *behaviours: Behaviour, then: Behaviour | None = None) -> None:
        with self._lock:
            self._script = list(behaviours)
            if then is not None:
                self._default = then

    def _next(self) -> Behaviour:
        with self._lock:
            return self._script.pop(0) if self._script else self._default

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._serve(self.rfile.read(length))

            do_PUT = do_POST  # noqa: N815 (a Pushgateway push; the name is http.server's)

            def _serve(self, payload: bytes) -> None:
                query = self.path.partition("?")[2]
                raw = parse_qs(query) | parse_qs(payload.decode("utf-8", "replace"))
                form = {key: values[-1] for key, values in raw.items()}
                with server._lock:
                    server.requests.append(RecordedRequest(self.command, self.path, form))
                behaviour = server._next()
                try:
                    if isinstance(behaviour, Hang):
                        server._release.wait(behaviour.seconds)
                        self._send(503, b"gave up hanging", "text/plain", ())
                    elif isinstance(behaviour, Forward):
                        self._forward(behaviour.base_url, payload)
                    else:
                        body = behaviour.body
                        if isinstance(body, dict):
                            data, kind = json.dumps(body).encode(), "application/json"
                        else:
                            data, kind = body.encode(), "text/html"
                        self._send(behaviour.status, data, kind, behaviour.headers)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first, which is what a timeout test wants

            def _forward(self, base_url: str, payload: bytes) -> None:
                request = urllib.request.Request(
                    base_url + self.path,
                    data=payload if self.command == "POST" else None,
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                    method=self.command,
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        status, data = answer.status, answer.read()
                        kind = answer.headers.get("Content-Type", "application/json")
                except urllib.error.HTTPError as error:
                    status, data = error.code, error.read()
                    kind = error.headers.get("Content-Type", "application/json")
                    error.close()
                self._send(status, data, kind, ())

            def _send(
                self, status: int, data: bytes, kind: str, headers: tuple[tuple[str, str], ...]
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def closed_port_url() -> Iterator[str]:
    # A bound socket that never listens: connects are refused and no one else can take the port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
