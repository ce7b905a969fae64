"""Word, PowerPoint and Excel files, and what LibreOffice converts into them."""

from ingest.parsing.preload import load_quietly


def _load() -> None:
    import msoffcrypto  # noqa: F401  (legacy Office files' encryption check)
    import unstructured.partition.docx  # noqa: F401
    import unstructured.partition.pptx  # noqa: F401
    import unstructured.partition.xlsx  # noqa: F401
    import xlrd  # noqa: F401  (.xls, through unstructured's spreadsheet partitioner)


load_quietly(_load)
