"""Where the model host listens, what admits a client, and the client a run uses.

The host listens on an abstract Unix socket named after its INGEST_HOME (no file to leave behind, and
two homes get two hosts). A client proves it may use it with the key in INGEST_HOME/host/key, readable by
the owner only, which the host writes at start (Python's multiprocessing.connection challenge, both ways).
Messages are pickled tuples: a request, then any number of ("progress", ...) and one ("result", value)
or ("error", exception).

Before any request the client sends its identity (the code it runs and its embedding settings): a host
that differs answers with its own, and the client goes on without it. Every failure to reach or keep the
host makes the caller load and do the work itself, with a log line that says why.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection
from pathlib import Path

import numpy as np

import ingest
from ingest.core.models import ParsedDocument, SourceDocument
from ingest.parsing.convert import ConversionReport
from ingest.parsing.limits import ParseLimits
from ingest.parsing.parse import ParseSettings
from ingest.parsing.sources import detect_file_type
from ingest.parsing.stage import RedactedBatch
from ingest.pii.policy import RedactionPolicy
from ingest.pii.redact import residue_scan

log = logging.getLogger(__name__)

HOST_FOLDER = "host"
KEY_FILE = "key"


class HostUnavailable(ConnectionError):
    """The host could not be reached, turned the client away, or went away mid-call."""


@dataclass(frozen=True, slots=True)
class EmbedderSettings:
    """What identifies the embedding model a host serves: the arguments of ingest.embedding.embed.Embedder."""

    model_name: str
    batch_size: int
    backend: str
    cache_dir: str
    precision: str


@dataclass(frozen=True, slots=True)
class HostIdentity:
    code: str  # code_fingerprint() of the process
    embedder: EmbedderSettings


@functools.cache
def code_fingerprint() -> str:
    """A hash of this installation's `ingest` package source: a host started before the code changed
    parses, redacts and embeds as the old code did, so a run with other code does not use it."""
    root = Path(ingest.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def host_address(home: Path) -> str:
    """The host's abstract socket name for this INGEST_HOME."""
    return "\0tenant-ingest-host-" + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]


def key_path(home: Path) -> Path:
    return home / HOST_FOLDER / KEY_FILE


def call(connection: Connection, request: tuple, on_progress: Callable[[tuple], None] | None = None) -> object:
    """Send one request and wait for its result; progress messages go to `on_progress`. Raises what the host
    raised, or HostUnavailable if the connection broke."""
    try:
        connection.send(request)
        while True:
            kind, *payload = connection.recv()
            if kind == "progress":
                if on_progress is not None:
                    on_progress(tuple(payload))
            elif kind == "result":
                return payload[0]
            elif kind == "error":
                raise payload[0]
            else:
                raise HostUnavailable(f"the model host answered {kind!r}")
    except (EOFError, OSError) as error:
        raise HostUnavailable(f"the model host went away ({type(error).__name__}: {error})") from error


def connect(home: Path, identity: HostIdentity | None) -> Connection | None:
    """A connection to this home's host if one runs with the same identity (any host when None), else None
    (logged)."""
    key = key_path(home)
    if not key.is_file():
        return None
    try:
        connection = Client(host_address(home), family="AF_UNIX", authkey=key.read_bytes())
    except (OSError, EOFError) as error:  # no host listening (a key left by one that was killed), or refused
        log.debug("no model host for %s: %s", home, error)
        return None
    except Exception as error:  # noqa: BLE001  (multiprocessing's AuthenticationError: a key of another host)
        log.warning("the model host of %s refused this process (%s): loading the models here", home, error)
        return None
    if identity is None:
        return connection
    try:
        theirs = call(connection, ("hello", identity))
    except HostUnavailable as error:
        log.warning("%s: loading the models here", error)
        connection.close()
        return None
    if theirs != identity:
        log.warning("the model host of %s runs other code or embedding settings (%s): loading the models here; "
                    "restart it (`ingest host --stop`, then `ingest host`)", home, _difference(identity, theirs))
        connection.close()
        return None
    return connection


def _difference(ours: HostIdentity, theirs: object) -> str:
    if not isinstance(theirs, HostIdentity):
        return f"it answered {theirs!r}"
    if theirs.code != ours.code:
        return "another version of the code"
    return f"embedding model {theirs.embedder}, this run {ours.embedder}"


class HostClient:
    """The calls a run makes on the host, over one connection (one call at a time)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    def call(self, request: tuple, on_progress: Callable[[tuple], None] | None = None) -> object:
        with self._lock:
            return call(self._connection, request, on_progress)

    def close(self) -> None:
        self._connection.close()

    def parse_and_redact(self, documents: list[SourceDocument], on_progress: Callable[[int, ParsedDocument], None],
                         on_redact_progress: Callable[[int, int], None] | None,
                         on_conversions: Callable[[ConversionReport], None], *, settings: ParseSettings,
                         limits: ParseLimits | None, policy: RedactionPolicy, workers: int) -> RedactedBatch | None:
        """The batch parsed and redacted by the host, its progress reported here as it goes; None if the host
        went away (the caller then does it itself). The arguments of ingest.parsing.stage.ParseElsewhere,
        and the settings it is done under."""

        def progress(message: tuple) -> None:
            if message[0] == "parsed":
                on_progress(message[1], message[2])
            elif message[0] == "redacted" and on_redact_progress is not None:
                on_redact_progress(message[1], message[2])

        try:
            batch, conversions = self.call(("parse_and_redact", documents, settings, limits, policy, workers),
                                           progress)
        except HostUnavailable as error:
            log.warning("%s: parsing and redacting here", error)
            return None
        for report in conversions:
            on_conversions(report)
        return batch


    def file_type(self, path: Path) -> tuple[str, str]:
        """(kind, mime type) of a file, as ingest.parsing.sources.detect_file_type finds it, in the host; here
        if the host went away."""
        try:
            return self.call(("file_type", str(path)))
        except HostUnavailable as error:
            log.warning("%s: detecting file types here", error)
            return detect_file_type(path)


    def residue_scan(self, texts: list[str], policy: RedactionPolicy) -> list[dict[str, int]]:
        """ingest.pii.redact.residue_scan in the host; here if the host went away."""
        try:
            return self.call(("residue_scan", texts, policy))
        except HostUnavailable as error:
            log.warning("%s: scanning for residue here", error)
            return residue_scan(texts, policy)


class HostedEmbedder:
    """The host's embedding model, used as ingest.embedding.embed.Embedder is (token offsets, vectors).

    If the host goes away, the model is loaded here (`load_here`) and the run goes on with it."""

    def __init__(self, client: HostClient, load_here: Callable[[], object]) -> None:
        self._client = client
        self._load_here = load_here
        self._here: object | None = None
        description = client.call(("describe",))
        self.model_name: str = description["model_name"]
        self.dimension: int = description["dimension"]
        self.max_tokens: int = description["max_tokens"]
        self.batch_size: int = description["batch_size"]
        self.backend: str = description["backend"]
        self.precision: str = description["precision"]

    def _call(self, request: tuple, here: Callable[[object], object]) -> object:
        if self._here is None:
            try:
                return self._client.call(request)
            except HostUnavailable as error:
                log.warning("%s: loading the embedding model here", error)
                self._here = self._load_here()
        return here(self._here)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return self._call(("token_offsets", text), lambda model: model.token_offsets(text))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._call(("encode", list(texts)), lambda model: model.encode(texts))
