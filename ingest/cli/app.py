"""The `ingest` command: run, query, status, export, forget, lineage, rollback, demo, ui and doctor.

`run`, `demo`, `ui` and the run part of `lineage` go through a `Launcher` (ingest.cli.launching)
that the entry point hands in (launcher.main: Dagster's instance); the other commands read the
index and manifest directly. This module never imports Dagster.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import ingest  # noqa: F401  (offline environment first)
from ingest.cli.launching import Launcher, LaunchFailed, TenantBusy
from ingest.core.config import TenantRegistry, converted_models_dir, embed_backend, embed_model_name, ingest_home
from ingest.core.errors import ConfigError, ModelNotAvailable
from ingest.core.manifest import read_manifest
from ingest.core.models import DocStatus
from ingest.core.storage import TenantPaths
from ingest.embedding.embed import configured_embedder
from ingest.index.qdrant import IndexUnavailable, QdrantSettings, TenantIndex, open_qdrant
from ingest.index.retrieval import MODES, RetrievalSettings

SAMPLE_CORPUS = Path(__file__).resolve().parents[1] / "sample_corpus"
EXCERPT_CHARS = 240


class CommandError(Exception):
    """A failure the user can act on; printed without a traceback."""


def qdrant_settings() -> QdrantSettings:
    import os

    return QdrantSettings(path=ingest_home() / "qdrant", url=os.environ.get("QDRANT_URL") or None,
                          api_key=os.environ.get("QDRANT_API_KEY") or None)


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, sort_keys=False), flush=True)


RUN_WAIT_SECONDS = 3600  # a second run of a tenant waits this long for the one in progress


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- run ----------------------------------------------------------------------

def command_run(args: argparse.Namespace) -> int:
    registry = TenantRegistry(ingest_home())
    if args.source or args.golden:
        tenant = registry.register(args.tenant, Path(args.source) if args.source else None,
                                   golden=Path(args.golden) if args.golden else None)
    else:
        tenant = registry.get(args.tenant)
    _log(f"ingest: running tenant {tenant.name} from {tenant.source} (state in {ingest_home()})")
    try:
        outcome = _launcher(args).run_tenant(tenant.name, log_level=args.log_level,
                                             allow_mass_delete=args.allow_mass_delete, wait_seconds=args.wait)
    except (TenantBusy, LaunchFailed) as refused:
        raise CommandError(str(refused)) from None
    summary = outcome.summary()
    if not outcome.success:
        _log(f"ingest: run {outcome.run_id} for tenant {tenant.name} FAILED: {outcome.error}")
        if args.json:
            _print_json({**summary, "error": outcome.error})
        return 1
    if args.json:
        _print_json(summary)
    else:
        print(_format_run_summary(summary))
    return 0


def _format_run_summary(summary: dict) -> str:
    docs, chunks, points = summary["docs"], summary["chunks"], summary["points"]
    skipped = f", {docs['skipped']} links leading outside the folder skipped" if docs.get("skipped") else ""
    where = f" on {summary['worker']}" if summary.get("worker") else ""
    return (
        f"tenant {summary['tenant']}: run {summary['run_id']} succeeded in {summary['seconds']:.1f}s{where}\n"
        f"  documents: {docs['seen']} seen ({docs['new']} new, {docs['changed']} changed, "
        f"{docs['unchanged']} unchanged, {docs['deleted']} deleted, {docs['quarantined']} quarantined{skipped})\n"
        f"  chunks: {chunks['total']} ({chunks['embedded']} embedded); "
        f"points: {points['upserted']} upserted, {points['deleted']} deleted"
    )


# --- query --------------------------------------------------------------------

def _load_queries(args: argparse.Namespace) -> list[dict]:
    if args.queries:
        queries = []
        for number, line in enumerate(Path(args.queries).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                queries.append({"id": item.get("id", str(number)), "query": str(item["query"])})
            except (json.JSONDecodeError, KeyError, AttributeError) as error:
                raise CommandError(f"{args.queries}:{number}: expected a JSON object with a 'query' "
                                   f"field ({error})") from error
        return queries
    if not args.text:
        raise CommandError("give a question as TEXT or a JSON lines file with --queries FILE")
    return [{"id": None, "query": " ".join(args.text)}]


def retrieval_settings(tenant: str, mode: str | None = None) -> RetrievalSettings:
    """The tenant's `[tenants.NAME.retrieval]` settings, with `mode` (from --mode) taking precedence."""
    config = TenantRegistry(ingest_home()).get(tenant)
    return RetrievalSettings.from_table(config.retrieval, tenant).with_mode(mode)


def search_tenant(tenant: str, queries: Sequence[str], top_k: int, mode: str | None = None) -> list[list]:
    """Hits for each query from the tenant's collection, best first.

    Queries are embedded with the model the serving collection was built with,
    which differs from INGEST_EMBED_MODEL while a new model's index is not yet
    published; sparse search needs no model at all.
    """
    settings = retrieval_settings(tenant, mode)
    with open_qdrant(qdrant_settings(), tenant) as client:
        index = TenantIndex(client, tenant)
        if not index.exists():
            raise CommandError(f"tenant {tenant!r} has no index yet: run `ingest run --tenant {tenant}` first")
        if settings.mode == "sparse":
            vectors: list = [None] * len(queries)
        else:
            vectors = configured_embedder(index.serving_model() or embed_model_name()).encode(list(queries))
        return [index.search(vector, top_k, text=text, settings=settings)
                for vector, text in zip(vectors, queries, strict=True)]


def _hit_json(hit) -> dict:
    payload = hit.payload
    return {"source": payload.get("source"), "doc_id": payload.get("doc_id"), "page": payload.get("page"),
            "score": round(hit.score, 4), "text": hit.text}


def command_query(args: argparse.Namespace) -> int:
    queries = _load_queries(args)
    results = search_tenant(args.tenant, [item["query"] for item in queries], args.top_k, args.mode)
    for item, hits in zip(queries, results, strict=True):
        if args.json:
            _print_json({"id": item["id"], "query": item["query"], "hits": [_hit_json(hit) for hit in hits]})
            continue
        print(f"Q: {item['query']}")
        if not hits:
            print("   (no results)")
        for rank, hit in enumerate(hits, start=1):
            payload = hit.payload
            where = payload.get("source", "?")
            if payload.get("pages"):
                where += f", p. {', '.join(map(str, payload['pages']))}"
            section = " > ".join(payload.get("section_path") or [])
            excerpt = " ".join(hit.text.split())
            if len(excerpt) > EXCERPT_CHARS:
                excerpt = excerpt[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " ..."
            print(f"{rank:>3}. [{hit.score:.3f}] {where}" + (f"  ({section})" if section else ""))
            print(f"     {excerpt}")
        print()
    return 0


# --- status and export --------------------------------------------------------

def tenant_status(tenant: str) -> dict:
    registry = TenantRegistry(ingest_home())
    config = registry.get(tenant)
    manifest = read_manifest(TenantPaths.for_tenant(ingest_home(), tenant).manifest)
    with open_qdrant(qdrant_settings(), tenant) as client:
        index = TenantIndex(client, tenant)
        points = index.count()
        collection = index.collection
    documents = [
        {"source": row["source"], "doc_id": row["doc_id"], "status": row["status"], "reason": row["reason"],
         # the failure's category (ingest/limits.py documents them): encrypted, corrupt, too_large, ...
         "category": row["reason"].split(":", 1)[0] if row["reason"] else None, "chunks": row["chunks"]}
        for row in manifest.iter_rows(named=True) if row["status"] != DocStatus.DELETED
    ]
    categories = Counter(document["category"] for document in documents if document["category"])
    return {"tenant": tenant, "source": str(config.source), "collection": collection, "points": points,
            "quarantined_by_category": dict(sorted(categories.items())), "documents": documents}


def command_status(args: argparse.Namespace) -> int:
    status = tenant_status(args.tenant)
    if args.json:
        _print_json(status)
        return 0
    indexed = sum(1 for d in status["documents"] if d["status"] == DocStatus.INDEXED)
    print(f"tenant {status['tenant']}  source {status['source']}")
    by_category = ", ".join(f"{n} {category}" for category, n in status["quarantined_by_category"].items())
    print(f"collection {status['collection']}: {status['points']} points, {indexed} documents indexed, "
          f"{len(status['documents']) - indexed} quarantined" + (f" ({by_category})" if by_category else ""))
    for document in status["documents"]:
        detail = f"{document['chunks']} chunks" if document["status"] == DocStatus.INDEXED else document["reason"]
        print(f"  {document['status']:<12} {document['source']}  ({detail})")
    return 0


def command_export(args: argparse.Namespace) -> int:
    TenantRegistry(ingest_home()).get(args.tenant)
    with open_qdrant(qdrant_settings(), args.tenant) as client:
        for hit in TenantIndex(client, args.tenant).scroll():
            _print_json({"id": hit.point_id, **hit.payload})
    return 0


# --- erasure and lineage --------------------------------------------------------

def command_forget(args: argparse.Namespace) -> int:
    from ingest.index.erase import forget_document

    TenantRegistry(ingest_home()).get(args.tenant)
    entry = forget_document(args.tenant, TenantPaths.for_tenant(ingest_home(), args.tenant), qdrant_settings(),
                            doc_id=args.doc_id, source=args.source)
    if args.json:
        _print_json(entry)
    else:
        removed = ", ".join(f"{count} {what}" for what, count in entry["removed"].items())
        print(f"forgot document {entry['doc_id']} of tenant {args.tenant}: removed {removed}")
        print("It stays out of later runs while its file is unchanged; delete the file at the source too.")
    return 0


def command_lineage(args: argparse.Namespace) -> int:
    from ingest.index.lineage import trace

    TenantRegistry(ingest_home()).get(args.tenant)
    describe_run = _launcher(args).describe_run
    chains = trace(args.tenant, TenantRegistry(ingest_home()).get(args.tenant).source,
                   TenantPaths.for_tenant(ingest_home(), args.tenant), qdrant_settings(),
                   point_id=args.point, source=args.source, describe_run=describe_run)
    if args.json:
        for chain in chains:
            _print_json(chain)
        return 0
    for chain in chains:
        point, document, source, run = chain["point"], chain["document"], chain["source"], chain["run"]
        print(f"point {point['id']}  (collection {point['collection']})")
        print(f"  chunk {point['chunk_index']}: characters {point['start']}-{point['end']}, pages "
              f"{point['pages'] or '-'}, section {' > '.join(point['section_path']) or '-'}")
        print(f"  document {document['doc_id']} version {document['version']} ({document['status']}), "
              f"sha256 {document['sha256'][:16]}..., parser {point['parser']} / {point['strategy']}, "
              f"OCR {point['ocr']}")
        print(f"  settings: {document['parser_version']} | {document['redaction_policy']} | "
              f"{document['chunker_version']} | {document['embedding_model']}")
        state = "unchanged since indexing" if source["unchanged"] else (
            "changed since indexing" if source["exists"] else "no longer in the source folder")
        print(f"  source {source['path']} ({state})")
        print(f"  run {run['run_id']}: {run['status']}, {run['started'] or '?'} -> {run['ended'] or '?'}  "
              f"{run['url']}")
    return 0


def command_rollback(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ingest.index.stage import rollback

    TenantRegistry(ingest_home()).get(args.tenant)
    outcome = rollback(args.tenant, TenantPaths.for_tenant(ingest_home(), args.tenant), qdrant_settings(),
                       now=datetime.now(UTC).isoformat(timespec="seconds"))
    print(f"tenant {args.tenant}: now serving {outcome['serving']} (was {outcome['replaced']})")
    return 0


# --- demo and doctor ----------------------------------------------------------

def command_demo(args: argparse.Namespace) -> int:
    questions = json.loads((SAMPLE_CORPUS / "questions.json").read_text(encoding="utf-8"))
    registry = TenantRegistry(ingest_home())
    for tenant in questions:
        registry.register(tenant, SAMPLE_CORPUS / tenant, golden=SAMPLE_CORPUS / "golden" / f"{tenant}.jsonl")
    failures = 0
    for tenant, question in questions.items():
        failures += command_run(argparse.Namespace(tenant=tenant, source=None, golden=None, json=False,
                                                   log_level=args.log_level, allow_mass_delete=False,
                                                   wait=RUN_WAIT_SECONDS, launcher=args.launcher))
    print()
    for tenant, question in questions.items():
        print(f"=== tenant {tenant}")
        command_query(argparse.Namespace(tenant=tenant, text=[question], queries=None, top_k=3, json=False,
                                          mode=None))
    print("Open the Dagster UI on the same state with:  .venv/bin/ingest ui")
    return 1 if failures else 0


def command_doctor(args: argparse.Namespace) -> int:
    """Check that everything the pipeline loads is on this machine, offline."""
    from ingest.parsing.ocr import ensure_tesseract

    checks = []
    try:
        checks.append(("tesseract", ensure_tesseract()))
        import spacy

        for model, role in (("en_core_web_sm", "parser's text classifier"), ("en_core_web_md", "redaction")):
            nlp = spacy.load(model, exclude=["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "ner"])
            checks.append((f"spaCy {model}", f"{nlp.meta['version']} ({role})"))
        from ingest.embedding.embed import cpu_int8_support, resolve_model_path

        model_path = resolve_model_path(embed_model_name())
        checks.append((f"embedding model {embed_model_name()}", model_path))
        # Loading it converts (and quantizes) it for the faster backend once, so the first run does not.
        embedder = configured_embedder()
        checks.append(("embedding backend", f"{embedder.backend} {embedder.precision} (INGEST_EMBED_BACKEND="
                                            f"{embed_backend()}, INGEST_EMBED_PRECISION={embedder.precision}; "
                                            f"converted models in {converted_models_dir()})"))
        int8_units = cpu_int8_support()
        checks.append(("int8 on this CPU", f"{', '.join(int8_units)}: INGEST_EMBED_PRECISION=int8 embeds about "
                                           "twice as fast here" if int8_units else
                       "no VNNI or AMX: int8 embeddings are emulated and slower than fp32 here; keep fp32"))
    except Exception as error:
        _log(f"ingest doctor: {error}")
        return 1
    for name, detail in checks:
        _log(f"ok  {name}: {detail}")
    from ingest.parsing.convert import converter_programs

    for program, (binary, types) in converter_programs().items():  # optional: without one, its types are quarantined
        _log(f"ok  {program}: {binary} ({', '.join(types)})" if binary else
             f"--  {program}: not installed, so {', '.join(types)} files are quarantined as unavailable "
             "(scripts/setup.sh installs it as root)")
    return 0


# --- entry point --------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ingest", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="ingest a tenant's source folder through every stage")
    run.add_argument("--tenant", required=True)
    run.add_argument("--source", help="the tenant's source folder (registers or updates the tenant)")
    run.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    run.add_argument("--golden", help="JSON lines golden set {\"query\", \"expected\": [paths]} for the "
                     "retrieval-quality check (remembered for later runs)")
    run.add_argument("--wait", type=float, default=RUN_WAIT_SECONDS, metavar="SECONDS",
                     help="when a run of the tenant is in progress, wait this long for it (default "
                     f"{RUN_WAIT_SECONDS}; 0 gives up at once)")
    run.add_argument("--allow-mass-delete", action="store_true",
                     help="proceed even when the run would delete more than half of the tenant's documents")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(handler=command_run)

    query = commands.add_parser("query", help="search a tenant's index")
    query.add_argument("--tenant", required=True)
    query.add_argument("--top-k", type=int, default=5)
    query.add_argument("--json", action="store_true", help="one JSON object per query")
    query.add_argument("--queries", help="JSON lines file of {\"id\", \"query\"}")
    query.add_argument("--mode", choices=MODES, help="hybrid (keywords and meaning, fused), dense (the embedding "
                       "model) or sparse (BM25 keywords); default: the tenant's retrieval mode, hybrid unless set")
    query.add_argument("text", nargs="*", help="the question")
    query.set_defaults(handler=command_query)

    status = commands.add_parser("status", help="what a tenant's index holds")
    status.add_argument("--tenant", required=True)
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=command_status)

    export = commands.add_parser("export", help="every indexed chunk with its payload")
    export.add_argument("--tenant", required=True)
    export.add_argument("--jsonl", action="store_true", required=True, help="JSON lines (the only format)")
    export.set_defaults(handler=command_export)

    forget = commands.add_parser("forget", help="erase a document from the index and all pipeline state")
    forget.add_argument("--tenant", required=True)
    which = forget.add_mutually_exclusive_group(required=True)
    which.add_argument("--source", help="the document's path relative to the tenant's source folder")
    which.add_argument("--doc-id")
    forget.add_argument("--json", action="store_true")
    forget.set_defaults(handler=command_forget)

    lineage = commands.add_parser("lineage", help="where a point came from: chunk, document, file, run")
    lineage.add_argument("--tenant", required=True)
    start = lineage.add_mutually_exclusive_group(required=True)
    start.add_argument("--point", help="a point id (as printed by `ingest export`)")
    start.add_argument("--source", help="a path relative to the tenant's source folder: all its points")
    lineage.add_argument("--json", action="store_true")
    lineage.set_defaults(handler=command_lineage)

    roll = commands.add_parser("rollback", help="serve the previously published index of a tenant again")
    roll.add_argument("--tenant", required=True)
    roll.set_defaults(handler=command_rollback)

    demo = commands.add_parser("demo", help="ingest the bundled sample corpus and ask it one question per tenant")
    demo.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    demo.set_defaults(handler=command_demo)

    ui = commands.add_parser("ui", help="open the Dagster UI (dg dev) on the pipeline's instance")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=command_ui)

    host = commands.add_parser("host", help="keep the parsers and models loaded for the runs of this INGEST_HOME "
                               "(a small run then skips loading them)")
    host.add_argument("--idle-minutes", type=float, default=30.0,
                      help="exit after this long without a request (default 30)")
    host.add_argument("--stop", action="store_true", help="stop the running host instead")
    host.set_defaults(handler=command_host)

    doctor = commands.add_parser("doctor", help="check that Tesseract and the offline models are available")
    doctor.set_defaults(handler=command_doctor)
    return parser


def command_host(args: argparse.Namespace) -> int:
    """The model host (ingest.host) in the foreground, or --stop: ask the running one to exit."""
    from ingest.host.server import HostAlreadyRunning, serve, stop_host

    home = ingest_home()
    if args.stop:
        stopped = stop_host(home)
        _log(f"model host of {home}: " + ("stopping" if stopped else "none running"))
        return 0
    if args.idle_minutes <= 0:
        raise CommandError("--idle-minutes must be positive")
    try:
        serve(home, idle_minutes=args.idle_minutes, say=_log)
    except HostAlreadyRunning as error:
        raise CommandError(str(error)) from error
    return 0


def command_ui(args: argparse.Namespace) -> int:
    """The Dagster UI on this pipeline's instance, so runs made by `ingest run` show in it."""
    return _launcher(args).ui(args.host, args.port)


def _launcher(args: argparse.Namespace) -> Launcher:
    if args.launcher is None:
        raise CommandError(f"`ingest {args.command}` needs Dagster: start it through the installed `ingest` "
                           "command (launcher.main), not ingest.cli.app directly")
    return args.launcher


def main(argv: Sequence[str] | None = None, launcher: Launcher | None = None) -> int:
    """Run one command. `launcher` starts Dagster runs and the UI; commands that need none run without."""
    args = build_parser().parse_args(argv)
    args.launcher = launcher
    if getattr(args, "top_k", 1) < 1:
        _log("ingest: --top-k must be at least 1")
        return 2
    try:
        return args.handler(args)
    except (CommandError, ConfigError, IndexUnavailable, ModelNotAvailable, FileNotFoundError) as error:
        _log(f"ingest: {error}")
        return 2
