"""Uploads: content sniffing, bad input, re-encoding, private serving, and the request blocks."""

import base64
import io

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from PIL import Image

from conversations import attachments, services
from conversations.attachments import Refused, process
from conversations.models import Attachment, Message
from conversations.reply import generation
from tests.helpers import image_bytes, pdf_bytes

pytestmark = pytest.mark.django_db


def photo_bytes(width: int, height: int, **save) -> bytes:
    """Noisy content so encoders cannot shrink it to nothing, like a real photo."""
    image = Image.effect_noise((width, height), 60).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, **save)
    return out.getvalue()


# --- bad input -------------------------------------------------------------------------------


def png_bomb() -> bytes:
    """A 20000x20000 PNG: a few KB on disk, 400 million pixels decoded."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (
            "notes.png",
            b"just some text, not an image\n" * 10,
            "not a JPEG, PNG, GIF, WebP, PDF or plain text",
        ),
        ("bomb.png", png_bomb(), "too large to process"),
        (
            "evil.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "not a JPEG",
        ),
        ("cut.jpg", photo_bytes(300, 200)[:2000], "damaged or truncated"),
        ("empty.pdf", pdf_bytes(pages=0), "has no pages"),
        ("locked.pdf", pdf_bytes(password="secret"), "encrypted"),
        ("long.pdf", pdf_bytes(pages=101), "the limit is 100"),
        ("broken.pdf", b"%PDF-1.7\nnot really", "damaged"),
        ("huge.png", b"\x89PNG" + b"\0" * (attachments.MAX_IMAGE_BYTES + 1), "limited to 20 MB"),
    ],
)
def test_bad_files_are_refused_with_the_file_name_and_the_reason(name, data, reason):
    with pytest.raises(Refused) as refused:
        process(name, data)
    assert str(refused.value).startswith(f"{name}: ")
    assert reason in str(refused.value)


# --- processing ------------------------------------------------------------------------------


def test_large_photo_is_downscaled_to_1568_on_the_long_edge_and_fits_the_api_limit():
    upload = photo_bytes(4000, 3000)
    result = process("photo.jpg", upload)
    assert (result.width, result.height) == (1568, 1176)
    assert result.media_type == "image/jpeg"
    assert len(base64.b64encode(result.data)) < 5 * 1024 * 1024
    print(
        f"\n4000x3000 photo: upload {len(upload):,} bytes, sent {len(base64.b64encode(result.data)):,} "
        f"bytes of base64 ({len(result.data):,} bytes of JPEG)"
    )


def test_exif_is_removed_by_re_encoding():
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    exif[0x9286] = "GPS home address"  # UserComment-ish text
    upload = photo_bytes(400, 300, exif=exif.tobytes())
    assert b"SecretCameraMaker" in upload
    result = process("photo.jpg", upload)
    assert b"SecretCameraMaker" not in result.data and b"Exif" not in result.data


def test_png_stays_png_when_it_is_not_a_photo_and_small_images_keep_their_size():
    result = process("diagram.png", image_bytes(300, 200, "PNG", mode="RGBA"))
    assert result.media_type == "image/png" and (result.width, result.height) == (300, 200)


def test_a_photo_saved_as_png_becomes_jpeg_when_much_smaller():
    out = io.BytesIO()
    Image.effect_noise((800, 600), 40).convert("RGB").save(out, "PNG")
    assert process("screenshot.png", out.getvalue()).media_type == "image/jpeg"


def test_pdf_is_kept_with_its_page_count():
    result = process("report.pdf", pdf_bytes(pages=3))
    assert result.media_type == "application/pdf" and result.pages == 3


def test_identical_uploads_are_stored_once_per_user(media, alice, bob):
    data = image_bytes()
    first = services.attachment_store(user=alice, name="a.png", data=data)
    again = services.attachment_store(user=alice, name="copy.png", data=data)
    theirs = services.attachment_store(user=bob, name="a.png", data=data)
    assert first.pk == again.pk and theirs.pk != first.pk
    assert len(list(media.rglob("*.png"))) == 2


# --- upload and serving --------------------------------------------------------------------


def test_upload_answers_json_and_the_file_is_served_only_to_its_owner(client, media, alice, bob):
    client.force_login(alice)
    upload = io.BytesIO(image_bytes())
    upload.name = "../../etc/passwd.png"
    response = client.post(reverse("upload_attachment"), {"file": upload})
    assert response.status_code == 200
    data = response.json()
    stored = Attachment.objects.get(pk=data["id"])
    assert stored.name == "passwd.png" and ".." not in stored.storage_key
    assert stored.storage_key.startswith(f"attachments/{alice.pk}/")

    file_response = client.get(data["url"])
    assert file_response.status_code == 200
    assert file_response["X-Content-Type-Options"] == "nosniff"
    assert file_response["Content-Type"] == "image/png"
    assert file_response["Content-Disposition"].startswith("inline")

    client.force_login(bob)
    assert client.get(data["url"]).status_code == 404
    client.logout()
    assert client.get(data["url"]).status_code == 302


def test_pdfs_are_served_inline_so_a_citation_opens_its_page(client, media, alice):
    client.force_login(alice)
    upload = io.BytesIO(pdf_bytes(2))
    upload.name = "report.pdf"
    data = client.post(reverse("upload_attachment"), {"file": upload}).json()
    assert data["pages"] == 2
    response = client.get(data["url"])
    assert response["Content-Disposition"].startswith("inline")
    assert response["Content-Type"] == "application/pdf" and response["X-Content-Type-Options"] == "nosniff"


def test_a_refused_upload_stores_nothing_and_says_why(client, media, alice):
    client.force_login(alice)
    upload = io.BytesIO(b"<svg/>")
    upload.name = "x.svg"
    response = client.post(reverse("upload_attachment"), {"file": upload})
    assert response.status_code == 422 and response.json()["error"].startswith("x.svg: not a JPEG")
    assert not Attachment.objects.exists() and not list(media.rglob("*"))


def test_forged_attachment_ids_in_a_send_are_404(client, media, alice, bob, settings):
    settings.CHAT_LOCAL_MODEL_NAME = "not-this-one"
    theirs = services.attachment_store(user=bob, name="b.png", data=image_bytes())
    client.force_login(alice)
    for ids in ([str(theirs.pk)], ["999999"], ["abc"]):
        response = client.post(reverse("start_chat"), {"text": "look", "attachment": ids})
        assert response.status_code == 404
    assert not Message.objects.exists()


def test_models_that_cannot_read_files_refuse_them_clearly(client, media, alice, settings):
    settings.CHAT_DEFAULT_MODEL = settings.CHAT_LOCAL_MODEL_NAME
    mine = services.attachment_store(user=alice, name="a.png", data=image_bytes())
    client.force_login(alice)
    page = client.get(reverse("new_chat")).content.decode()
    assert "cannot read images or PDFs" in page
    response = client.post(reverse("start_chat"), {"text": "look", "attachment": [mine.pk]})
    assert response.status_code == 422 and "cannot read images or PDFs" in response.content.decode()
    assert "look</textarea>" in response.content.decode()
    assert not Message.objects.exists()


def test_too_many_files_are_refused(media, alice):
    files = [
        services.attachment_store(user=alice, name=f"{i}.png", data=image_bytes(10 + i, 10))
        for i in range(21)
    ]
    with pytest.raises(services.ChatError, match="at most 20 files"):
        services.conversation_start(user=alice, text="look", model="claude-sonnet-4-6", attachments=files)


# --- the request -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_api_receives_the_stored_re_encoded_bytes_before_the_text(fake_api, media, alice, settings):
    settings.CHAT_FILES_API = False  # base64 (the Files API: test_conversations_attachment_files.py)
    image = await sync_to_async(services.attachment_store)(
        user=alice, name="a.jpg", data=photo_bytes(2000, 1000)
    )
    pdf = await sync_to_async(services.attachment_store)(user=alice, name="r.pdf", data=pdf_bytes(2))
    conversation, reply = await sync_to_async(services.conversation_start)(
        user=alice, text="What is this?", model="claude-sonnet-4-6", attachments=[image, pdf]
    )
    generation.start(reply)
    await generation.wait_all()
    _, second = await sync_to_async(services.message_send)(conversation=conversation, text="And now?")
    generation.start(second)
    await generation.wait_all()

    stored = (media / image.storage_key).read_bytes()
    for request in fake_api.message_requests:
        content = request.body["messages"][0]["content"]
        assert [block["type"] for block in content] == ["image", "document", "text"]
        assert content[0]["source"]["media_type"] == "image/jpeg"
        assert base64.b64decode(content[0]["source"]["data"]) == stored
        assert content[1]["source"]["media_type"] == "application/pdf"
    assert len(fake_api.message_requests) == 2  # the second turn replayed the files
