"""Search of one user's conversations: titles and message text, newest matches first, with a
highlighted, escaped snippet of the text that matched, as the words read (markdown syntax left out).

The text index is the database's own (migration 0013): SQLite's FTS5 table `conversations_search`,
kept in step by triggers, or PostgreSQL's GIN index on `contentblock.search_vector`. Both match
each word typed as the start of a word, case-insensitively. A query is reduced to its words
(letters and digits) before it reaches either, so quotes, `*`, `-`, `:`, `NEAR` or unbalanced
brackets are just text, never syntax.
"""

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from markdown_it import MarkdownIt

from conversations.models import ContentBlock, Conversation

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
MAX_TERM_CHARS = 64
RESULTS = 30
# Matching blocks read, newest first, to find RESULTS conversations: the first limit nearly
# always finds them; the second is for a conversation whose many matches crowd the others out.
# A common word never reads the whole index.
SCAN_LIMITS = (100, 1000)
SNIPPET_CHARS = 160
SNIPPET_LEAD = 50  # characters shown before the first match

_WORD = re.compile(r"[^\W_]+")


def terms_of(query: str, *, max_chars: int = MAX_QUERY_CHARS, max_terms: int = MAX_TERMS) -> list[str]:
    """The words of a query, lower-cased, in order, without repeats: what is searched for."""
    words = _WORD.findall(query[:max_chars].lower())
    return list(dict.fromkeys(word[:MAX_TERM_CHARS] for word in words))[:max_terms]


@dataclass(frozen=True)
class Result:
    conversation: Conversation
    title: SafeString  # escaped, the words highlighted
    snippet: SafeString  # escaped, the words highlighted; empty when only the title matched
    message_id: int | None  # the message the snippet is from


def search(user, query: str) -> list[Result]:
    """The user's conversations (archived ones too, never deleted ones) whose title holds every
    word, then those with a message holding every word; newest first, at most RESULTS."""
    terms = terms_of(query)
    if not terms or not user.is_authenticated:
        return []
    mine = Conversation.objects.listed().filter(owner=user)
    titled = _title_hits(mine, terms)
    found = {c.pk for c in titled}
    first_hit = _newest_hits(user.pk, terms, wanted=RESULTS - len(titled), counted_apart=found)
    more_ids = [cid for cid in first_hit if cid not in found][: RESULTS - len(titled)]
    by_text = mine.only("id", "title", "archived_at").in_bulk(more_ids)
    conversations = titled + [by_text[cid] for cid in more_ids if cid in by_text]
    block_ids = [first_hit[c.pk] for c in conversations if c.pk in first_hit]
    blocks = ContentBlock.objects.only("id", "message_id", "payload").in_bulk(block_ids)
    pattern = _pattern(terms)
    results = []
    for conversation in conversations:
        block = blocks.get(first_hit.get(conversation.pk))
        results.append(
            Result(
                conversation=conversation,
                title=highlight(conversation.title, pattern),
                snippet=snippet(plain_text(block.payload.get("text") or ""), pattern)
                if block
                else SafeString(""),
                message_id=block.message_id if block else None,
            )
        )
    return results


def _title_hits(conversations, terms: list[str]) -> list[Conversation]:
    """Those whose title has each term at the start of a word, as the text index matches."""
    if connection.vendor == "postgresql":
        matches = RawSQL(f"{TITLE_VECTOR} @@ to_tsquery('simple', %s)", [_tsquery(terms)], BooleanField())
        found = conversations.alias(matches=matches).filter(matches=True)
        return list(found.order_by("-updated_at").only("id", "title", "archived_at")[:RESULTS])
    # Elsewhere narrowed by substring in the database, then checked here.
    for term in terms:
        conversations = conversations.filter(title__icontains=term)
    candidates = conversations.order_by("-updated_at").only("id", "title", "archived_at")
    words = [_pattern([term]) for term in terms]
    found = []
    for candidate in candidates.iterator(chunk_size=100):  # fetched as needed: stops at RESULTS
        if all(word.search(candidate.title) for word in words):
            found.append(candidate)
            if len(found) == RESULTS:
                break
    return found


# The expression of migration 0013's GIN index on titles, exactly, so that the index is used.
TITLE_VECTOR = (
    "to_tsvector('simple'::regconfig, translate(conversations_conversation.title, "
    "'<>&@/\\.:_=?#', '            '))"
)


def _tsquery(terms: list[str]) -> str:
    """Every term as a word's start. Terms are letters and digits only (terms_of), so quoting
    them needs no escaping."""
    return " & ".join(f"'{term}':*" for term in terms)


def _newest_hits(user_id: int, terms: list[str], *, wanted: int, counted_apart: set[int]) -> dict[int, int]:
    """Conversation id -> its newest text block holding every term, newest first: enough to name
    `wanted` conversations besides those `counted_apart` (found by title; they get a snippet)."""
    for limit in SCAN_LIMITS:
        first_hit: dict[int, int] = {}
        rows = 0
        with connection.cursor() as cursor:
            cursor.execute(*_text_query(user_id, terms, limit))
            # SQLite finds the rows as they are fetched: stop as soon as there are enough.
            while batch := cursor.fetchmany(100):
                rows += len(batch)
                for block_id, conversation_id in batch:
                    first_hit.setdefault(conversation_id, block_id)
                if len(first_hit.keys() - counted_apart) >= wanted:
                    return first_hit
        if rows < limit:
            break
    return first_hit


def _text_query(user_id: int, terms: list[str], limit: int) -> tuple[str, list]:
    """The SQL and parameters for (block id, conversation id) of the user's text blocks holding
    every term, newest first, at most `limit`."""
    if connection.vendor == "sqlite":
        # Each term quoted: whatever it holds is a string to FTS5, never an operator.
        words = " AND ".join(f'"{term}"*' for term in terms)
        sql = """
            SELECT conversations_search.rowid, conversations_search.conversation_id
            FROM conversations_search
            JOIN conversations_conversation c ON c.id = conversations_search.conversation_id
            WHERE conversations_search MATCH %s AND c.owner_id = %s AND c.deleted_at IS NULL
            ORDER BY conversations_search.rowid DESC LIMIT %s
        """
        return sql, [f'owner : "u{user_id}" AND body : ({words})', user_id, limit]
    if connection.vendor == "postgresql":
        sql = """
            SELECT b.id, m.conversation_id FROM conversations_contentblock b
            JOIN conversations_message m ON m.id = b.message_id
            JOIN conversations_conversation c ON c.id = m.conversation_id
            WHERE b.search_vector @@ to_tsquery('simple', %s) AND c.owner_id = %s AND c.deleted_at IS NULL
            ORDER BY b.id DESC LIMIT %s
        """
        return sql, [_tsquery(terms), user_id, limit]
    raise NotImplementedError(f"No text index on {connection.vendor} (migration 0013)")


# --- snippets ---------------------------------------------------------------------------------


def _pattern(terms: list[str]) -> re.Pattern:
    """Any term at the start of a word (what the index matched), longest first."""
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})", re.IGNORECASE)


# Parsed as replies are rendered (rendering.py: no raw HTML, so tags stay text), tables and ~~ too.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
# The tokens whose content is what is read (an image's is its description).
_WORDS_OF = {"text", "code_inline", "fence", "code_block", "image"}
_BREAKS = {"softbreak", "hardbreak"}


def plain_text(markdown: str) -> str:
    """The words of a markdown text as they read on screen: no #, *, `, > or list markers, a
    link's text without its address, an image's description, code's text without its fence."""
    words: list[str] = []
    for token in _MARKDOWN.parse(markdown):
        for part in token.children or [token]:
            if part.type in _WORDS_OF:
                words.append(part.content)
            elif part.type in _BREAKS:
                words.append(" ")
        if token.block and token.nesting == -1 or token.type in ("fence", "code_block"):
            words.append(" ")  # the end of a paragraph, heading, cell or list item
    return "".join(words)


def highlight(text: str, pattern: re.Pattern) -> SafeString:
    """`text` escaped, each match in <mark>. Only our own tags are markup; the text never is."""
    out = SafeString("")
    at = 0
    for match in pattern.finditer(text):
        out += conditional_escape(text[at : match.start()]) + format_html("<mark>{}</mark>", match.group())
        at = match.end()
    return out + conditional_escape(text[at:])


def snippet(text: str, pattern: re.Pattern, width: int = SNIPPET_CHARS) -> SafeString:
    """About `width` characters of `text` around its first match, on one line, highlighted."""
    line = " ".join(text.split())
    first = pattern.search(line)
    start = 0
    if first and first.start() > SNIPPET_LEAD:
        start = (
            line.find(" ", first.start() - SNIPPET_LEAD, first.start()) + 1 or first.start() - SNIPPET_LEAD
        )
    end = min(len(line), start + width)
    if end < len(line):
        end = line.rfind(" ", start + width // 2, end) if " " in line[start + width // 2 : end] else end
    cut = highlight(line[start:end], pattern)
    return format_html("{}{}{}", "…" if start else "", cut, "…" if end < len(line) else "")
