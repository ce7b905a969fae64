import dagster as dg
import polars as pl

from assets.common import Stopwatch, tenant_stage
from assets.source_documents import source_documents
from ingest.models import SourceDocument
from ingest.parse import parse_documents
from ingest.storage import read_parquet, write_parquet
from resources import ParserResource, StorageResource


@tenant_stage(
    deps=[source_documents],
    kinds={"python", "parquet"},
    description="Typed elements (title, text, list, table ...) with page numbers; pages without a text "
    "layer and images OCR'd with Tesseract; unparseable files quarantined with a reason.",
)
def parsed_documents(
    context: dg.AssetExecutionContext, storage: StorageResource, parser: ParserResource
) -> dg.MaterializeResult:
    watch = Stopwatch()
    paths = storage.paths(context.partition_key)
    sources = read_parquet(paths.source_documents)
    documents = [SourceDocument(**{k: v for k, v in row.items() if k != "change"})
                 for row in sources.iter_rows(named=True)]
    total = len(documents)

    def progress(position: int, parsed) -> None:
        state = f"quarantined ({parsed.quarantine_reason})" if not parsed.ok else (
            f"{len(parsed.elements)} elements, {parsed.pages} pages, {parsed.ocr_pages} OCR'd")
        context.log.info(f"parsed {position}/{total} {documents[position - 1].source}: {state}")

    parsed, elements = parse_documents(documents, parser.settings(), on_progress=progress)
    write_parquet(parsed, paths.parsed_documents)
    write_parquet(elements, paths.elements)
    quarantined = parsed.filter(pl.col("quarantine_reason").is_not_null()).join(
        sources.select("doc_id", "source"), on="doc_id")
    return dg.MaterializeResult(metadata={
        "parsed": parsed.height - quarantined.height,
        "quarantined": quarantined.height,
        "quarantine_reasons": dg.MetadataValue.md(
            "\n".join(f"- `{row['source']}`: {row['quarantine_reason']}"
                      for row in quarantined.iter_rows(named=True)) or "none"),
        "elements": elements.height,
        "pages": int(parsed["pages"].sum() or 0),
        "ocr_pages": int(parsed["ocr_pages"].sum() or 0),
        "parser_version": parser.settings().version,
        "seconds": watch.seconds,
    })
