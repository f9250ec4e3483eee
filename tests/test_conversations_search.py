"""Search over one user's titles and message text (conversations/search.py), through the
database's own index: FTS5 on SQLite, a GIN index on PostgreSQL (run the file with DATABASE_URL
set for the second)."""

import pytest
from django.utils import timezone

from conversations import services
from conversations.library import organising, search
from conversations.models import ContentBlock, Conversation, Message

pytestmark = pytest.mark.django_db


def chat(user, question: str, answer: str = "", **fields) -> Conversation:
    """A conversation whose first message is `question`, with a finished reply `answer`."""
    conversation, reply = services.conversation_start(user=user, text=question, model="m")
    Message.objects.filter(pk=reply.pk).update(status="complete")
    if answer:
        services.block_save(message_id=reply.pk, index=0, payload={"type": "text", "text": answer})
    if fields:
        Conversation.objects.filter(pk=conversation.pk).update(**fields)
    return conversation


def found(user, query: str) -> list[int]:
    return [result.conversation.pk for result in search.search(user, query)]


def test_finds_words_in_replies_and_questions_anywhere_in_the_text(alice):
    moon = chat(alice, "Tell me about space", "The Moon landing was in 1969, with Apollo eleven.")
    bread = chat(alice, "How do I bake sourdough bread at home?")
    assert found(alice, "apollo") == [moon.pk]
    assert found(alice, "SOURDOUGH") == [bread.pk]  # any case
    assert found(alice, "1969 moon") == [moon.pk]  # every word, in any order
    assert found(alice, "moon bread") == []
    assert found(alice, "sourd") == [bread.pk]  # a word's start, as it is typed
    assert found(alice, "ough") == []  # not the middle of a word


def test_titles_match_too_and_come_first(alice):
    by_text = chat(alice, "Question one", "Our budget plan for spring.")
    by_title = chat(alice, "Question two")
    services.conversation_rename(conversation=by_title, title="Budget review")
    assert found(alice, "budget") == [by_title.pk, by_text.pk]
    result = search.search(alice, "budget")[0]
    assert str(result.title) == "<mark>Budget</mark> review"
    assert result.snippet == ""


def test_the_snippet_shows_the_match_highlighted_around_it(alice):
    filler = " ".join(f"word{i}" for i in range(60))
    chat(alice, "Long one", f"{filler} the needle is here {filler}")
    [result] = search.search(alice, "needle")
    snippet = str(result.snippet)
    assert "the <mark>needle</mark> is here" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < 260
    assert result.message_id == Message.objects.get(role="assistant").pk


def test_html_in_titles_and_text_is_escaped_in_results(alice):
    evil = '<img src=x onerror=alert(1)> "quoted" & <script>steal()</script>'
    chat(alice, f"{evil} title", f"{evil} body")
    [result] = search.search(alice, "img")
    for html in (str(result.title), str(result.snippet)):
        assert "<img" not in html and "<script" not in html
        assert "&lt;<mark>img</mark> src=x onerror=alert(1)&gt; &quot;quoted&quot; &amp;" in html
    assert "&amp; &lt;script&gt;steal()&lt;/script&gt; body" in str(result.snippet)


def test_a_match_inside_a_tag_name_is_highlighted_without_breaking_the_escaping(alice):
    chat(alice, "Markup", "use <mark> and </mark> tags, or <b>bold</b>")
    [result] = search.search(alice, "mark")
    assert str(result.snippet) == (
        "use &lt;<mark>mark</mark>&gt; and &lt;/<mark>mark</mark>&gt; tags, or &lt;b&gt;bold&lt;/b&gt;"
    )


def test_the_snippet_reads_as_text_not_as_markdown(alice):
    answer = (
        "## Setup\n\nRun **the `needle` command**, see [the guide](https://example.com/guide) "
        "or ![a diagram](x.png).\n\n- first\n- second\n\n> quoted\n\n```sh\nneedle --all\n```\n"
        "Keep <b>this</b> & that."
    )
    chat(alice, "Markdown", answer)
    [result] = search.search(alice, "needle")
    assert str(result.snippet) == (
        "Setup Run the <mark>needle</mark> command, see the guide or a diagram. first second quoted "
        "<mark>needle</mark> --all Keep &lt;b&gt;this&lt;/b&gt; &amp; that."
    )


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        '"unbalanced',
        "*",
        "a*",
        "-",
        "-moon",
        "moon:",
        "body:moon",
        "NEAR",
        "NEAR(moon apollo)",
        "moon AND",
        "OR",
        "NOT moon",
        "(",
        ")moon(",
        "^moon",
        "{body}:moon",
        "'",
        "%",
        "_",
        "\\",
        ";--",
        "moon\x00",
        "\u202e\u200b",
        "x" * 5000,
        " ".join(["moon"] * 100),
        "ΑΠΟΛΛΩΝ",
        "月",
    ],
)
def test_query_syntax_characters_are_plain_text_and_never_an_error(alice, query):
    moon = chat(alice, "Space", "The moon landing: Apollo (near 1969).")
    text_words = ["space", "the", "moon", "landing", "apollo", "near", "1969"]
    words = search.terms_of(query)
    expected = bool(words) and all(any(t.startswith(w) for t in text_words) for w in words)
    assert found(alice, query) == ([moon.pk] if expected else []), query


def test_near_and_other_operators_are_searched_as_words(alice):
    near = chat(alice, "Directions", "The shop is near the station.")
    chat(alice, "Other", "The shop is far from the station.")
    assert found(alice, "NEAR") == [near.pk]
    assert found(alice, "shop far") == [Conversation.objects.get(title="Other").pk]
    assert found(alice, "shop OR far") == []  # OR is a word, which neither holds, not "either"


def test_words_inside_addresses_paths_and_markup_are_found_on_every_database(alice):
    conversation = chat(
        alice, "Links", "Mail jane@example.com, read https://docs.acme.org/setup_guide or <div>."
    )
    for word in ["jane", "example", "docs", "acme", "setup", "guide", "div"]:
        assert found(alice, word) == [conversation.pk], word


def test_another_users_text_and_titles_are_never_found(alice, bob):
    chat(bob, "Bob's secret merger", "The merger with Initech closes Friday.")
    mine = chat(alice, "My notes", "Nothing about that.")
    assert found(alice, "merger") == []
    assert found(alice, "initech") == []
    assert found(bob, "merger") != [] and mine.pk not in found(bob, "nothing")


def test_anonymous_finds_nothing(alice):
    from django.contrib.auth.models import AnonymousUser

    chat(alice, "Public words", "words")
    assert search.search(AnonymousUser(), "words") == []


def test_archived_conversations_are_found(alice):
    archived = chat(alice, "Old trip", "Packing list for Lisbon.", archived_at=timezone.now())
    assert found(alice, "lisbon") == [archived.pk]
    assert found(alice, "trip") == [archived.pk]


def test_deleted_conversations_are_not_found_and_come_back_with_undo(alice):
    conversation = chat(alice, "Regrets", "Delete this paragraph about volcanoes.")
    organising.conversation_trash(conversation=conversation)
    assert found(alice, "volcanoes") == [] and found(alice, "regrets") == []
    organising.conversation_restore(conversation=conversation)
    assert found(alice, "volcanoes") == [conversation.pk]


def test_purged_conversations_leave_nothing_in_the_index(alice):
    conversation = chat(alice, "Gone", "Ephemeral glacier notes.")
    Conversation.objects.filter(pk=conversation.pk).update(
        deleted_at=timezone.now() - timezone.timedelta(minutes=1)
    )
    assert organising.deleted_conversations_purge() == 1
    again = chat(alice, "Another", "Unrelated.")
    assert found(alice, "glacier") == [] and found(alice, "unrelated") == [again.pk]


def test_the_index_follows_every_write_of_a_block(alice):
    """Checkpoints, the final write and a retry's delete all change what is found."""
    conversation, reply = services.conversation_start(user=alice, text="Question", model="m")
    services.replies_checkpoint(
        message_ids=[reply.pk], partial=[(reply.pk, 0, {"type": "text", "text": "Partial zebra"})], worker="w"
    )
    assert found(alice, "zebra") == [conversation.pk]
    services.reply_finish(
        message_id=reply.pk,
        open_blocks={0: {"type": "text", "text": "Final giraffe"}},
        outcome=services.ReplyOutcome(status="error"),
    )
    assert found(alice, "zebra") == [] and found(alice, "giraffe") == [conversation.pk]
    services.reply_retry(reply=Message.objects.get(pk=reply.pk))
    assert found(alice, "giraffe") == []
    # Thinking and tool blocks are not searched.
    ContentBlock.objects.create(
        message_id=reply.pk, index=5, type="thinking", payload={"type": "thinking", "thinking": "okapi"}
    )
    assert found(alice, "okapi") == []


def test_many_matches_in_one_conversation_do_not_hide_the_others(alice):
    busy = chat(alice, "Busy", "kiwi")
    for i in range(search.SCAN_LIMITS[0]):  # more matches than the first look reads
        services.message_send(conversation=busy, text=f"kiwi again {i}")
        Message.objects.filter(status="streaming").update(status="complete")
    quiet = chat(alice, "Quiet", "kiwi once")
    assert found(alice, "kiwi")[:2] == [quiet.pk, busy.pk]


def test_terms_are_words_only():
    assert search.terms_of('"Hello" wor*ld NEAR(x) a-b:c') == [
        "hello",
        "wor",
        "ld",
        "near",
        "x",
        "a",
        "b",
        "c",
    ]
    assert search.terms_of("moon moon MOON") == ["moon"]
    assert len(search.terms_of(" ".join(f"w{i}" for i in range(50)))) == search.MAX_TERMS
