"""Retrieval, for a project whose knowledge does not fit: the passages that match a question, found
with the database's full text index (migration 0027: SQLite FTS5, PostgreSQL tsvector, as the
chats' search in library/search.py), sent as the API's `search_result` blocks with citations on.

A question is reduced to its words (search.terms_of), less the most common English ones, and a
passage matches when it holds any of them at the start of a word; the best ranked come first
(SQLite's bm25, PostgreSQL's ts_rank). Each result names its file and, for a PDF, its page; its
`source` is the file's address in this app (`#page=N` for a PDF), so a citation of it, which
repeats `source` and `title`, links to the file at its page (citations.project_file_url) without
any other record.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from django.urls import reverse

from conversations.claude.capabilities import capabilities
from conversations.library.search import terms_of
from conversations.models import ProjectFile, ProjectPassage
from conversations.projects import services
from conversations.projects.passages import paragraphs

TEXT_TYPES = ("text/plain", "application/pdf")  # what passages.passages_of finds text in
MAX_QUESTION_CHARS = 2000  # the start of a long message is what it asks
MAX_TERMS = 16
# Words too common to tell passages apart (PostgreSQL's ts_rank has no idea of a word's rarity).
COMMON_WORDS = frozenset(
    """a about after all also am an and any are as at be been before being but by can could did do
    does doing for from had has have having he her here hers him his how i if in into is it its
    just me more most my no nor not of off on once only or other our out over own same she should
    so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your""".split()
)


def question_terms(question: str) -> list[str]:
    """The words searched for: the question's, lower-cased, without repeats or common words."""
    words = terms_of(question, max_chars=MAX_QUESTION_CHARS, max_terms=MAX_TERMS + len(COMMON_WORDS))
    return [word for word in words if word not in COMMON_WORDS][:MAX_TERMS]


def fits(token_counts: Iterable[int | None], context_window: int) -> bool:
    """Whether the files go whole: their count_tokens total within CHAT_PROJECT_KNOWLEDGE_SHARE of the
    model's context window (the rest is the chat's). A file not counted yet counts as 0."""
    total = sum(count or 0 for count in token_counts)
    return total <= settings.CHAT_PROJECT_KNOWLEDGE_SHARE * context_window


def searched(token_counts: Iterable[int | None], model: str | None = None) -> bool:
    """Whether a chat with `model` (CHAT_DEFAULT_MODEL by default: the files are counted for it)
    gets the question's passages rather than the files whole: the rule requests follow (fits)."""
    window = capabilities(model or settings.CHAT_DEFAULT_MODEL).context_window
    return not fits(token_counts, window)


def matching_passages(project_id: int, question: str, limit: int | None = None) -> list[ProjectPassage]:
    """The project's passages that best match the question, best first (at most `limit`,
    CHAT_PROJECT_PASSAGES by default); [] when the question has no word to look for."""
    terms = question_terms(question)
    if not terms:
        return []
    limit = settings.CHAT_PROJECT_PASSAGES if limit is None else limit
    missing_passages_build(project_id)
    with connection.cursor() as cursor:
        cursor.execute(*_passage_query(project_id, terms, limit))
        ids = [row[0] for row in cursor.fetchall()]
    found = ProjectPassage.objects.select_related("file").in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def missing_passages_build(project_id: int) -> int:
    """Build the passages of the project's text files and PDFs that have none: files added before
    passages were stored (migration 0027) would otherwise never be found. How many were stored.
    A PDF without a text layer has none, and is read again at each search that needs it."""
    has_passages = ProjectPassage.objects.filter(project_id=project_id).values("file_id")
    missing = ProjectFile.objects.filter(project_id=project_id, media_type__in=TEXT_TYPES).exclude(
        pk__in=has_passages
    )
    return sum(services.project_file_passages_build(file=file) for file in missing)


def _passage_query(project_id: int, terms: list[str], limit: int) -> tuple[str, list]:
    """SQL and parameters for the ids of the project's passages holding any term, best first.
    Terms are letters and digits only (terms_of), so quoting them needs no escaping."""
    if connection.vendor == "sqlite":
        words = " OR ".join(f'"{term}"*' for term in terms)
        sql = """
            SELECT rowid FROM conversations_passage_search
            WHERE conversations_passage_search MATCH %s ORDER BY rank, rowid LIMIT %s
        """
        return sql, [f'project : "p{project_id}" AND body : ({words})', limit]
    if connection.vendor == "postgresql":
        query = " | ".join(f"'{term}':*" for term in terms)
        sql = """
            SELECT p.id FROM conversations_projectpassage p, to_tsquery('simple', %s) q
            WHERE p.project_id = %s AND p.search_vector @@ q
            ORDER BY ts_rank(p.search_vector, q) DESC, p.id LIMIT %s
        """
        return sql, [query, project_id, limit]
    raise NotImplementedError(f"No text index on {connection.vendor} (migration 0027)")


def source_of(file: ProjectFile, page: int | None) -> str:
    """The file's address in this app, at its page for a PDF: a search result's `source`."""
    url = reverse("project_file", args=[file.project_id, file.pk])
    return f"{url}#page={page}" if page else url


def search_result(passage: ProjectPassage) -> dict:
    """A passage as the API's `search_result` block: its paragraphs are the text blocks a citation
    quotes; the title is the file's name, with the page for a PDF."""
    title = passage.file.name if passage.page is None else f"{passage.file.name}, page {passage.page}"
    return {
        "type": "search_result",
        "source": source_of(passage.file, passage.page),
        "title": title,
        "content": [{"type": "text", "text": text} for text in paragraphs(passage.text)],
        "citations": {"enabled": True},
    }


NO_MATCH = "[No passage of this project's knowledge files matches this message.]"


def search_results(project_id: int, question: str) -> list[dict]:
    """What the request carries for the question: its passages as search_result blocks, or a line
    saying that nothing in the files matched (so Claude does not answer as if it had looked)."""
    found = matching_passages(project_id, question)
    if not found:
        return [{"type": "text", "text": NO_MATCH}]
    return [search_result(passage) for passage in found]
