"""unstructured's paragraph classifier, fed by one batched spaCy pass over many paragraphs.

unstructured decides what each paragraph is (title, narrative text, list item ...) with spaCy's
`en_core_web_sm`: one `nlp(text)` call per paragraph, about three quarters of the parse step's time on
ordinary documents. `nlp.pipe` over many paragraphs gives the same analyses (the same tags and sentences,
token for token) about 2.2x faster, and the sentences come from spaCy's sentence recogniser rather than
its parser (`classifier_pipeline`). So the texts a document's classifier will ask about are analysed
together first, and unstructured's per-text analysis is answered from that pass (`prepared_texts`):

- on our own paths (PDF pages, OCR, plain text) the paragraphs are known (`classify_paragraphs`);
- for unstructured's partitioners they are predicted from the file (`expected_paragraphs`: Word
  paragraphs, PowerPoint text frames, HTML and Markdown blocks, an e-mail's body).

A text that was not prepared is analysed when it is asked for, as before, so a wrong prediction costs
time, never a different result.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

# unstructured's classifier runs spaCy over the whole paragraph, three times when it is longer than
# spaCy's cache (8,192 characters): minutes for a 20 MB one-line file. A paragraph is classified by its
# first CLASSIFY_CHARS characters, which decide it as well as the rest would.
CLASSIFY_CHARS = 8192
# Characters analysed in one pass and held until classified: a huge document is prepared a stretch at
# a time (a Doc keeps a vector per token: about 15 MB at this many characters).
PREPARED_CHARS = 200_000
PIPE_BATCH_SIZE = 64
MAX_PREDICTED_BLOCKS = 5_000  # an HTML page's blocks looked at for the prediction
# The HTML elements unstructured's partitioner makes paragraphs of.
_BLOCK_TAGS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "div", "pre", "blockquote",
                         "title", "dt", "dd", "address", "figcaption", "caption", "summary"})
_MARKDOWN_EXTENSIONS = ["tables", "fenced_code"]  # unstructured's partition_md default

_PREPARED: ContextVar[dict[str, Any] | None] = ContextVar("prepared_texts", default=None)
_unprepared_analysis = None  # unstructured's own per-text analysis, asked when a text was not prepared


def _answer(text: str) -> Any:
    """unstructured's analysis of `text` (a spaCy Doc): prepared when it was, else computed as before."""
    prepared = _PREPARED.get()
    if prepared is not None and (doc := prepared.get(text)) is not None:
        return doc
    return _unprepared_analysis(text)


@functools.cache
def classifier_pipeline() -> Any:
    """unstructured's spaCy pipeline with sentences from spaCy's sentence recogniser instead of its parser.

    unstructured's classifier reads part-of-speech tags and sentence boundaries; its pipeline finds the
    boundaries with the dependency parser, about 40% of the pass. The model's own sentence recogniser
    (`senter`, shipped with it and disabled by default) gives them for a fraction of that. The tags are
    the same token for token (the tagger does not read the parser); the boundaries differ on some
    paragraphs, and the categories unstructured makes from them were the same on 3,700 paragraphs of
    every type (tests/unit/parsing/test_classify.py checks a sample), while the parse step spent about a
    third less CPU on its Word, HTML, Markdown and e-mail files.
    """
    import spacy
    from unstructured.nlp import tokenize

    nlp = spacy.load(tokenize._SPACY_MODEL_NAME, exclude=[*tokenize._SPACY_EXCLUDE, "parser"])
    nlp.enable_pipe("senter")
    return nlp


def _tokenize_module() -> Any:
    """unstructured's spaCy module, with its per-text analysis answered by `_answer` and its pipeline
    `classifier_pipeline` (installed once)."""
    global _unprepared_analysis
    from unstructured.nlp import tokenize

    if tokenize._process_cached is not _answer:
        _unprepared_analysis = tokenize._process_cached
        tokenize._process_cached = _answer
        tokenize._get_nlp = classifier_pipeline
    return tokenize


def _wanted(texts: Iterable[str]) -> list[str]:
    """The distinct texts unstructured will analyse for these paragraphs: each one, and its lower case when
    it is all capitals (its verb test reads that)."""
    wanted: dict[str, None] = {}
    for text in texts:
        if 0 < len(text) <= CLASSIFY_CHARS:
            wanted[text] = None
            if text.isupper():
                wanted[text.lower()] = None
    return list(wanted)


@contextmanager
def prepared_texts(texts: Iterable[str]) -> Iterator[int]:
    """Within the block, unstructured's classifier reads its analyses of `texts` from one `nlp.pipe` pass.

    Yields how many texts were prepared (at most PREPARED_CHARS characters of them; the rest are
    analysed when asked for)."""
    tokenize = _tokenize_module()
    wanted, total = [], 0
    for text in _wanted(texts):
        total += len(text)
        if total > PREPARED_CHARS:
            break
        wanted.append(text)
    nlp = tokenize._get_nlp()
    prepared = dict(zip(wanted, nlp.pipe(wanted, batch_size=PIPE_BATCH_SIZE)))
    token = _PREPARED.set(prepared)
    try:
        yield len(prepared)
    finally:
        _PREPARED.reset(token)


def _classify(text: str) -> tuple[str, str]:
    """(category, text) of a paragraph by unstructured's heuristics, judged on its first CLASSIFY_CHARS."""
    from unstructured.partition.text import element_from_text

    head, tail = text[:CLASSIFY_CHARS], text[CLASSIFY_CHARS:]
    classified = element_from_text(head)
    return classified.category, (classified.text or head) + tail  # the classifier may strip a bullet


def _stretches(texts: Sequence[str]) -> Iterator[Sequence[str]]:
    """`texts` in consecutive stretches of at most PREPARED_CHARS classified characters (at least one text)."""
    start, size = 0, 0
    for position, text in enumerate(texts):
        size += min(len(text), CLASSIFY_CHARS)
        if size > PREPARED_CHARS and position > start:
            yield texts[start:position]
            start, size = position, min(len(text), CLASSIFY_CHARS)
    if start < len(texts):
        yield texts[start:]


def classify_paragraphs(texts: Sequence[str]) -> list[tuple[str, str]]:
    """(category, text) of each paragraph, as unstructured's classifier makes it, in batched passes."""
    classified = []
    for stretch in _stretches(texts):
        with prepared_texts(text[:CLASSIFY_CHARS] for text in stretch):
            classified.extend(_classify(text) for text in stretch)
    return classified


def plain_paragraphs(text: str) -> list[str]:
    """A plain text's paragraphs as unstructured's text partitioner splits them (lone bullets left out)."""
    from unstructured.cleaners.core import auto_paragraph_grouper
    from unstructured.nlp.patterns import PARAGRAPH_PATTERN, UNICODE_BULLETS_RE

    paragraphs = (paragraph.strip() for paragraph in re.split(PARAGRAPH_PATTERN, auto_paragraph_grouper(text).strip()))
    return [paragraph for paragraph in paragraphs
            if paragraph and not (len(paragraph) == 1 and UNICODE_BULLETS_RE.match(paragraph))]


def html_paragraphs(html: str) -> list[str]:
    """The paragraphs unstructured's HTML partitioner classifies, predicted: the text of each block that
    holds no other block, and the text a block holds before its first child. Whitespace is collapsed.
    One pass over at most MAX_PREDICTED_BLOCKS blocks, however deep the nesting."""
    import lxml.html
    from lxml.etree import ParserError

    try:
        root = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return []
    blocks, holders = [], set()
    for element in root.iter(*_BLOCK_TAGS):
        blocks.append(element)
        parent = element.getparent()
        while parent is not None and parent not in holders:  # an ancestor already marked has marked its own
            holders.add(parent)
            parent = parent.getparent()
        if len(blocks) >= MAX_PREDICTED_BLOCKS:
            break
    return [" ".join((element.text or "").split() if element in holders else element.text_content().split())
            for element in blocks]


def _docx_paragraphs(path: Path) -> list[str]:
    import docx

    return [paragraph.text.strip() for paragraph in docx.Document(str(path)).paragraphs]


def _pptx_paragraphs(path: Path) -> list[str]:
    """Every text frame's paragraphs, slide by slide, shapes inside groups included."""
    import pptx

    def frames(shapes) -> Iterator[Any]:
        for shape in shapes:
            if getattr(shape, "shapes", None) is not None:  # a group
                yield from frames(shape.shapes)
            elif shape.has_text_frame:
                yield shape.text_frame

    return [paragraph.text.replace("\v", "\n") for slide in pptx.Presentation(str(path)).slides
            for frame in frames(slide.shapes) for paragraph in frame.paragraphs]


def _email_paragraphs(path: Path) -> list[str]:
    """The paragraphs of the body unstructured reads: HTML when the message has it, else plain text."""
    import email
    import email.policy

    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("html", "plain"))
    if body is None:
        return []
    content = body.get_content()
    if not isinstance(content, str):
        return []
    return html_paragraphs(content) if body.get_content_type() == "text/html" else plain_paragraphs(content)


def expected_paragraphs(path: Path, kind: str, text: str | None = None) -> list[str]:
    """The paragraphs unstructured's partitioner for `kind` is expected to classify in this file; empty
    for a kind with no prediction (or a file it cannot read: the partitioner then says what is wrong).
    `text` is an HTML or Markdown file's text where the caller has decoded it already."""
    try:
        if kind == "docx":
            return _docx_paragraphs(path)
        if kind == "pptx":
            return _pptx_paragraphs(path)
        if kind == "html":
            return html_paragraphs(text if text is not None else path.read_text(encoding="utf-8", errors="replace"))
        if kind == "md":
            import markdown

            text = text if text is not None else path.read_text(encoding="utf-8", errors="replace")
            return html_paragraphs(markdown.markdown(text, extensions=_MARKDOWN_EXTENSIONS))
        if kind == "eml":
            return _email_paragraphs(path)
    except Exception:  # noqa: BLE001 - only a guess; the partitioner reports the file's real fault
        return []
    return []
