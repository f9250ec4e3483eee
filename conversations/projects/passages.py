"""A knowledge file's text split into passages of about PASSAGE_CHARS characters, cut on paragraph
boundaries (then lines, sentences, words), a PDF's within each page so a citation names its page.
Pure apart from reading the PDF's bytes: retrieval.py stores and searches what this returns.
"""

import io
import logging
import re
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import PyPdfError

log = logging.getLogger(__name__)

PASSAGE_CHARS = 1000
# Where a passage may end, best first: a paragraph, a line, a sentence, a word.
_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\s+"))


@dataclass(frozen=True)
class Passage:
    text: str
    page: int | None = None  # a PDF's page, from 1


def passages_of(media_type: str, data: bytes) -> list[Passage]:
    """The passages of a stored knowledge file: text files whole, PDFs page by page; an image (or a
    PDF without a text layer) has none, and is only ever sent whole."""
    if media_type == "text/plain":
        return [Passage(text) for text in split(data.decode())]
    if media_type == "application/pdf":
        return [Passage(text, page) for page, page_text in pdf_pages(data) for text in split(page_text)]
    return []


def pdf_pages(data: bytes) -> list[tuple[int, str]]:
    """(page number, its text) for each page of a PDF; [] when pypdf cannot read it (the API may
    still read it as a whole document: retrieval then just finds nothing in it)."""
    try:
        reader = PdfReader(io.BytesIO(data))
        texts = [(page.extract_text() or "").replace("\x00", "") for page in reader.pages]  # no NUL in SQL
        return list(enumerate(texts, start=1))
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        log.warning("a knowledge PDF's text could not be extracted: %s", exc)
        return []


def split(text: str, limit: int = PASSAGE_CHARS) -> list[str]:
    """`text` in pieces of at most `limit` characters (whitespace at their ends trimmed), each the
    most paragraphs that fit, a paragraph too long cut at its lines, sentences, then words."""
    return [piece for piece in _pack(text.strip(), limit, 0) if piece]


def _pack(text: str, limit: int, level: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    if level == len(_BREAKS):
        return [text[i : i + limit] for i in range(0, len(text), limit)]
    pieces: list[str] = []
    current = ""
    at = 0
    # Each part keeps the separator that followed it, so a passage reads as the file does.
    for match in [*_BREAKS[level].finditer(text), None]:
        end = match.end() if match else len(text)
        part = text[at:end]
        at = end
        if len((current + part).rstrip()) <= limit:
            current += part
            continue
        if current.strip():
            pieces.append(current.strip())
        if len(part.rstrip()) <= limit:
            current = part
        else:
            pieces.extend(_pack(part.strip(), limit, level + 1))
            current = ""
    if current.strip():
        pieces.append(current.strip())
    return pieces


def paragraphs(text: str) -> list[str]:
    """A passage's paragraphs: the text blocks of its search_result, each a unit a citation quotes."""
    return [part.strip() for part in _BREAKS[0].split(text) if part.strip()]
