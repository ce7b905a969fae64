"""The model host's process: load the parsers, the redaction detector and the embedding model once, then
serve the runs of one INGEST_HOME until idle (ingest.host.protocol says how they talk).

Each client connection is served by a thread of its own; batches of documents are parsed one at a time
(each keeps both cores busy already) and so are embedding batches. The host exits when no request has
come for `idle_seconds`, on `ingest host --stop`, or on SIGTERM / Ctrl-C; it then ends its workers' fork
server and removes its key, and the runs after it load their models themselves.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path

from ingest.core.config import converted_models_dir, embed_backend, embed_model_name, embed_precision
from ingest.core.files import atomic_write_bytes
from ingest.core.models import ParsedDocument, SourceDocument
from ingest.core.workers import stop_worker_server, worker_context
from ingest.embedding.embed import DEFAULT_BATCH_SIZE, Embedder
from ingest.host.protocol import EmbedderSettings, HostIdentity, call, code_fingerprint, connect, host_address, key_path
from ingest.parsing.limits import ParseLimits
from ingest.parsing.parse import ParseSettings
from ingest.parsing.preload import EVERYTHING
from ingest.parsing.sources import detect_file_type, scan_source
from ingest.parsing.stage import parse_and_redact_documents
from ingest.pii.policy import RedactionPolicy
from ingest.pii.redact import Redactor, residue_scan

DEFAULT_IDLE_MINUTES = 30.0
WATCH_SECONDS = 5.0  # how often the idle timer is looked at
DEFAULT_REDACTION_WORKERS = 2  # the redactor resource's default: the detector warmed up at start
WARM_UP_TEXT = "# Warm-up\n\nJane Roe wrote from Leeds about the quarterly report.\n"


class HostAlreadyRunning(RuntimeError):
    """Another model host serves this INGEST_HOME."""


def configured_identity(home: Path) -> HostIdentity:
    """The identity of a host of this installation, with the embedding model the environment configures
    (the same settings as the pipeline's embedder resource)."""
    return HostIdentity(code_fingerprint(), EmbedderSettings(
        model_name=embed_model_name(), batch_size=DEFAULT_BATCH_SIZE, backend=embed_backend(),
        cache_dir=str(converted_models_dir(home)), precision=embed_precision()))


def stop_host(home: Path) -> bool:
    """Ask this home's host to exit, whatever code it runs; whether one was running."""
    connection = connect(home, None)
    if connection is None:
        return False
    try:
        call(connection, ("stop",))
    finally:
        connection.close()
    return True


def _withheld(parsed: ParsedDocument) -> ParsedDocument:
    """A parse result for the client's progress line: the counts, the elements without their unredacted text."""
    return dataclasses.replace(parsed, elements=tuple(dataclasses.replace(element, text="")
                                                      for element in parsed.elements))


class ModelHost:
    def __init__(self, home: Path, identity: HostIdentity, idle_seconds: float, say: Callable[[str], None]) -> None:
        self.home, self.identity, self.idle_seconds, self.say = home, identity, idle_seconds, say
        self.stopping = threading.Event()
        self.parse_lock, self.embed_lock, self.state_lock = threading.Lock(), threading.Lock(), threading.Lock()
        self.busy = 0
        self.last_request = time.monotonic()
        self.redactors: dict[tuple[RedactionPolicy, int], Redactor] = {}
        self.key = secrets.token_bytes(32)
        started = time.perf_counter()
        settings = identity.embedder
        say(f"model host for {home}: loading the parsers, the redaction detector and {settings.model_name}")
        worker_context(EVERYTHING)
        from multiprocessing import forkserver

        forkserver.ensure_running()  # every parser and the NER model, for every worker forked from it
        self.embedder = Embedder(settings.model_name, batch_size=settings.batch_size, backend=settings.backend,
                                 cache_dir=Path(settings.cache_dir), precision=settings.precision)
        # Ready means ready: the first workers fork once the server has loaded everything.
        self._warm_up()
        residue_scan(["jane.roe@example.com"])  # presidio's pattern recognisers, for the residue check
        try:
            self.listener = Listener(host_address(home), family="AF_UNIX", authkey=self.key)
        except OSError as error:
            stop_worker_server()
            raise HostAlreadyRunning(f"a model host already serves {home} ({error}); stop it with "
                                     "`ingest host --stop`") from error
        key_path(home).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(key_path(home), self.key, durable=True, private=True)
        say(f"model host ready in {time.perf_counter() - started:.1f} s (pid {os.getpid()}); it exits after "
            f"{idle_seconds / 60:g} minutes without a request, or on `ingest host --stop`")

    def _warm_up(self) -> None:
        """One small document through what a run asks for, so that the first run does not pay this process's
        lazy imports (type detection alone imports for about 2 s), the parse pool's first start or the
        embedding backend's first inference."""
        with tempfile.TemporaryDirectory(prefix="ingest-host-") as folder:
            (Path(folder) / "warm-up.md").write_text(WARM_UP_TEXT, encoding="utf-8")
            documents = scan_source("warm-up", Path(folder))  # type detection included, as a run's source step
            policy = RedactionPolicy()
            parse_and_redact_documents(documents, ParseSettings(), ParseLimits(),
                                       lambda: self._redactor(policy, DEFAULT_REDACTION_WORKERS))
        self.embedder.encode([WARM_UP_TEXT])  # the backend's first inference is several times slower

    def serve(self) -> None:
        watcher = threading.Thread(target=self._watch_idle, name="idle-watch", daemon=True)
        watcher.start()
        try:
            while not self.stopping.is_set():
                try:
                    connection = self.listener.accept()
                except OSError:
                    break
                except Exception as error:  # noqa: BLE001  (a client without the key: refused, the host goes on)
                    self.say(f"refused a connection: {type(error).__name__}")
                    continue
                threading.Thread(target=self._serve_connection, args=(connection,), daemon=True).start()
        finally:
            self.close()

    def close(self) -> None:
        self.listener.close()
        try:
            if key_path(self.home).read_bytes() == self.key:  # not a newer host's
                key_path(self.home).unlink()
        except OSError:
            pass
        stop_worker_server()
        self.say("model host stopped")

    def stop(self) -> None:
        """Make the accept loop end: set the flag, then wake it with a connection of its own."""
        self.stopping.set()
        try:
            Client(host_address(self.home), family="AF_UNIX", authkey=self.key).close()
        except OSError:
            pass

    def _watch_idle(self) -> None:
        while not self.stopping.wait(WATCH_SECONDS):
            with self.state_lock:
                idle = self.busy == 0 and time.monotonic() - self.last_request >= self.idle_seconds
            if idle:
                self.say(f"no request for {self.idle_seconds / 60:g} minutes: exiting")
                self.stop()

    def _serve_connection(self, connection: Connection) -> None:
        try:
            while not self.stopping.is_set():
                request = connection.recv()
                with self.state_lock:
                    self.busy += 1
                try:
                    self._answer(connection, request)
                finally:
                    with self.state_lock:
                        self.busy -= 1
                        self.last_request = time.monotonic()
        except (EOFError, OSError):  # the client is done, or gone
            pass
        finally:
            connection.close()

    def _answer(self, connection: Connection, request: tuple) -> None:
        kind = request[0]
        try:
            if kind == "hello":
                result = self.identity
            elif kind == "describe":
                model = self.embedder
                result = {"model_name": model.model_name, "dimension": model.dimension,
                          "max_tokens": model.max_tokens, "batch_size": model.batch_size,
                          "backend": model.backend, "precision": model.precision}
            elif kind == "token_offsets":
                result = self.embedder.token_offsets(request[1])
            elif kind == "encode":
                with self.embed_lock:
                    result = self.embedder.encode(request[1])
            elif kind == "residue_scan":
                result = residue_scan(request[1], request[2])
            elif kind == "file_type":
                result = detect_file_type(Path(request[1]))
            elif kind == "parse_and_redact":
                result = self._parse_and_redact(connection, *request[1:])
            elif kind == "stop":
                self.say("asked to stop")
                threading.Thread(target=self.stop, daemon=True).start()
                result = True
            else:
                raise ValueError(f"the model host has no request {kind!r}")
        except Exception as error:  # noqa: BLE001  (sent back, raised in the client's process)
            try:
                connection.send(("error", error))
            except Exception:  # noqa: BLE001  (an exception that does not pickle)
                connection.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))
        else:
            connection.send(("result", result))

    def _parse_and_redact(self, connection: Connection, documents: list[SourceDocument], settings: ParseSettings,
                          limits: ParseLimits | None, policy: RedactionPolicy, workers: int) -> tuple:
        conversions: list = []
        started = time.perf_counter()
        with self.parse_lock:
            batch = parse_and_redact_documents(
                documents, settings, limits, lambda: self._redactor(policy, workers),
                on_progress=lambda position, parsed: connection.send(("progress", "parsed", position,
                                                                       _withheld(parsed))),
                on_redact_progress=lambda done, total: connection.send(("progress", "redacted", done, total)),
                on_conversions=conversions.append)
        self.say(f"parsed and redacted {len(documents)} documents in {time.perf_counter() - started:.1f} s")
        return batch, conversions

    def _redactor(self, policy: RedactionPolicy, workers: int) -> Redactor:
        if (policy, workers) not in self.redactors:
            self.redactors[(policy, workers)] = Redactor(policy, workers=workers)
        return self.redactors[(policy, workers)]


def serve(home: Path, *, idle_minutes: float = DEFAULT_IDLE_MINUTES, say: Callable[[str], None] = print) -> None:
    """Run the model host of `home` in this process until it is idle, stopped or interrupted."""
    host = ModelHost(home, configured_identity(home), idle_minutes * 60, say)
    # stop() connects to the host, which the main thread must be free to accept: from a thread of its own.
    signal.signal(signal.SIGTERM, lambda signum, frame: threading.Thread(target=host.stop, daemon=True).start())
    try:
        host.serve()
    except KeyboardInterrupt:  # serve() has closed the host on its way out
        pass
