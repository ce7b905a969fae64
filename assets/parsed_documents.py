import dagster as dg

from assets.common import report, tenant_stage
from assets.source_documents import source_documents
from ingest.models import ParsedDocument
from ingest.stages import parse_stage
from resources import ParserResource, StorageResource


@tenant_stage(
    deps=[source_documents],
    kinds={"python", "parquet"},
    description="Typed elements (title, text, list, table ...) with page numbers; pages without a text "
    "layer and images OCR'd with Tesseract; unparseable files quarantined with a reason. Only new and "
    "changed files are parsed; a moved file reuses its earlier result.",
)
def parsed_documents(
    context: dg.AssetExecutionContext, storage: StorageResource, parser: ParserResource
) -> dg.MaterializeResult:
    def progress(position: int, total: int, source: str, parsed: ParsedDocument) -> None:
        state = f"quarantined ({parsed.quarantine_reason})" if not parsed.ok else (
            f"{len(parsed.elements)} elements, {parsed.pages} pages, {parsed.ocr_pages} OCR'd")
        context.log.info(f"parsed {position}/{total} {source}: {state}")

    return report(context, parse_stage(storage.paths(context.partition_key), parser.settings(), progress))
