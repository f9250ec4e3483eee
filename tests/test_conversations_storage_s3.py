"""Files in an S3-compatible bucket (CHAT_STORAGE_URL, conversations/storage.py), against moto's S3
server on a free port: an upload lands in the bucket and not on local disk, a send reads its bytes
back, the ownership-checked views stream it (its owner 200, anyone else 404), a purge deletes it.
Local disk, the default, is what the rest of the suite runs on."""

import base64
import io
import zipfile
from datetime import timedelta

import boto3
import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.urls import reverse
from django.utils import timezone
from moto.server import ThreadedMotoServer

from chatsite.storage_url import chat_storage
from conversations import services
from conversations.library import exporting, organising
from conversations.models import Attachment
from conversations.projects import services as projects
from conversations.reply import generation
from tests.helpers import image_bytes

BUCKET = "chat-files"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings, media, monkeypatch):
    """storages["chat"] is the bucket (under a prefix); `media` stays the local MEDIA_ROOT, to show
    nothing is written there."""
    for name, value in [("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")]:
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    url = f"s3://{BUCKET}/media?endpoint_url={s3_endpoint}&region_name=us-east-1"
    settings.STORAGES = {**settings.STORAGES, "chat": chat_storage(url)}
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def stored_keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_the_url_is_parsed_and_the_default_is_local_disk():
    assert chat_storage("")["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    options = chat_storage("s3://b/some/prefix?endpoint_url=http://x:9000&addressing_style=path")["OPTIONS"]
    assert (options["bucket_name"], options["location"], options["endpoint_url"]) == (
        "b",
        "some/prefix",
        "http://x:9000",
    )
    assert options["default_acl"] is None and options["addressing_style"] == "path"
    for wrong in ["file:///tmp", "s3://b?secret=1"]:
        with pytest.raises(ValueError, match="CHAT_STORAGE_URL"):
            chat_storage(wrong)


@pytest.mark.django_db
def test_an_upload_is_in_the_bucket_and_served_only_to_its_owner(bucket, client, media, alice, bob):
    data = image_bytes()
    client.force_login(alice)
    upload = io.BytesIO(data)
    upload.name = "a.png"
    answer = client.post(reverse("upload_attachment"), {"file": upload}).json()
    stored = Attachment.objects.get(pk=answer["id"])
    assert stored_keys(bucket) == [f"media/{stored.storage_key}"]
    assert not list(media.rglob("*"))  # nothing on this worker's disk

    response = client.get(answer["url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    in_bucket = bucket.get_object(Bucket=BUCKET, Key=f"media/{stored.storage_key}")["Body"].read()
    assert b"".join(response.streaming_content) == in_bucket
    client.force_login(bob)
    assert client.get(answer["url"]).status_code == 404

    with zipfile.ZipFile(exporting.user_zip(alice)) as archive:  # the export reads the bucket too
        assert archive.read(f"attachments/{stored.pk}-a.png") == in_bucket


@pytest.mark.django_db(transaction=True)
async def test_a_send_reads_the_bytes_back_from_the_bucket(bucket, fake_api, alice, settings):
    settings.CHAT_FILES_API = False  # base64 in each request
    image = await sync_to_async(services.attachment_store)(user=alice, name="a.png", data=image_bytes())
    _, reply = await sync_to_async(services.conversation_start)(
        user=alice, text="What is this?", model="claude-sonnet-4-6", attachments=[image]
    )
    generation.start(reply)
    await generation.wait_all()
    content = fake_api.message_requests[0].body["messages"][0]["content"]
    in_bucket = bucket.get_object(Bucket=BUCKET, Key=f"media/{image.storage_key}")["Body"].read()
    assert base64.b64decode(content[0]["source"]["data"]) == in_bucket


@pytest.mark.django_db
def test_a_purge_deletes_the_file_from_the_bucket(bucket, alice, django_capture_on_commit_callbacks):
    image = services.attachment_store(user=alice, name="a.png", data=image_bytes())
    conversation, _ = services.conversation_start(
        user=alice, text="look", model="claude-sonnet-4-6", attachments=[image]
    )
    assert stored_keys(bucket) == [f"media/{image.storage_key}"]
    organising.conversation_trash(conversation=conversation)
    later = timezone.now() + timedelta(seconds=organising.UNDO_SECONDS + organising.UNDO_GRACE_SECONDS + 1)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert organising.deleted_conversations_purge() == 1
    assert not Attachment.objects.exists() and stored_keys(bucket) == []


@pytest.mark.django_db
def test_a_projects_knowledge_file_is_in_the_bucket_and_goes_with_it(
    bucket, alice, django_capture_on_commit_callbacks
):
    project = projects.project_create(user=alice, name="Plans", instructions="Plan things.", team=None)
    file, _ = projects.project_file_add(user=alice, project=project, name="notes.txt", data=b"the plan\n")
    assert stored_keys(bucket) == [f"media/{file.storage_key}"]
    with django_capture_on_commit_callbacks(execute=True):
        projects.project_file_delete(project=project, file_id=file.pk)
    assert stored_keys(bucket) == []
