"""Stored HTML carries the version of the renderer that made it, and `manage.py rerender` renders
again, in batches, what an older one made; blocks the current renderer made are left alone."""

import io

from django.core.management import call_command

from conversations import rendering, services
from conversations.library import exporting
from conversations.models import ContentBlock, Message
from tests.helpers import finish

TEXT = "A **bold** claim.\n\n- one\n- two\n"


def text(value: str = TEXT) -> dict:
    return {"type": "text", "text": value}


def test_every_stored_html_carries_the_renderer_version(alice):
    conversation, reply = services.conversation_start(user=alice, text="Hi", model="m")
    services.block_save(message_id=reply.pk, index=0, payload=text(), rendered="<p>streamed</p>")
    services.reply_finish(message_id=reply.pk, open_blocks={1: text("cut")}, outcome=services.ReplyOutcome())
    blocks = ContentBlock.objects.filter(message=reply).order_by("index")
    assert [b.rendered_version for b in blocks] == [rendering.RENDERER_VERSION] * 2
    assert blocks[1].rendered == rendering.render_markdown_blocks("cut")

    raw = exporting.as_json(exporting.conversation_data(conversation)).encode()
    copy = exporting.conversation_import(user=alice, data=exporting.parse(raw))
    imported = ContentBlock.objects.filter(message__conversation=copy, message__role="assistant")
    assert {b.rendered_version for b in imported} == {rendering.RENDERER_VERSION}


def test_rerender_brings_older_html_up_to_date_in_batches_and_leaves_current_html(alice, monkeypatch):
    conversation, old = services.conversation_start(user=alice, text="Hi", model="m")
    finish(old, text(), text("Second *block*"))
    # Made before versions were kept (null: version 1), and by version 1.
    ContentBlock.objects.filter(message=old, index=0).update(rendered="<p>old</p>", rendered_version=None)
    ContentBlock.objects.filter(message=old, index=1).update(rendered="<p>old too</p>", rendered_version=1)
    question = old.parent

    monkeypatch.setattr(rendering, "RENDERER_VERSION", rendering.RENDERER_VERSION + 1)
    _, current = services.message_send(conversation=conversation, text="More")
    services.block_save(message_id=current.pk, index=0, payload=text(), rendered="<p>current</p>")
    Message.objects.filter(pk=current.pk).update(status="complete")
    _, streaming = services.message_send(conversation=conversation, text="Still going")
    services.block_save(message_id=streaming.pk, index=0, payload=text(), rendered="<p>live</p>")
    ContentBlock.objects.filter(message=streaming).update(rendered_version=None)

    out = io.StringIO()
    call_command("rerender", batch_size=1, stdout=out)  # two batches of one
    assert out.getvalue().startswith("Rendered 2 block(s) again")

    stored = {(b.message_id, b.index): b for b in ContentBlock.objects.all()}
    new = rendering.RENDERER_VERSION
    assert stored[old.pk, 0].rendered == rendering.render_markdown_blocks(TEXT)
    assert stored[old.pk, 1].rendered == rendering.render_markdown_blocks("Second *block*")
    assert stored[old.pk, 0].rendered_version == stored[old.pk, 1].rendered_version == new
    assert (stored[current.pk, 0].rendered, stored[current.pk, 0].rendered_version) == ("<p>current</p>", new)
    assert stored[streaming.pk, 0].rendered == "<p>live</p>"  # a reply streaming is its stream's
    assert stored[question.pk, 0].rendered == ""  # a user's text is shown escaped, never rendered
    assert services.blocks_rerender(batch_size=1) == 0  # nothing older is left
    assert stored[old.pk, 0].payload == text()  # the source is never touched
