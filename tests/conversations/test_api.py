"""Messages of a lead (history paging, sending as a person, photos) and the sandbox channel."""
from __future__ import annotations

import os
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from tests.conftest import user_of
from tests.leads.conftest import add_followup, add_message, make_lead, set_managers_see_all

# A real 1×1 PNG (uploads must decode: the earlier constant had a corrupt IDAT and would not).
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def dialog(tenant_a):
    lead = make_lead(tenant_a, name="Диалог", phone="77015550000", provider="sandbox", channel="sandbox")
    messages = [add_message(tenant_a, lead, direction="in" if i % 2 == 0 else "out", text=f"m{i}") for i in range(7)]
    return lead, messages


def test_history_is_oldest_to_newest_with_before_and_limit(tenant_a, client_for, dialog):
    lead, messages = dialog
    client = client_for(tenant_a, "manager")
    url = f"/api/leads/{lead.pk}/messages/"
    assert [m["text"] for m in client.get(url).json()] == [f"m{i}" for i in range(7)]
    page = client.get(url, {"limit": 3}).json()
    assert [m["text"] for m in page] == ["m4", "m5", "m6"]
    older = client.get(url, {"limit": 3, "before": page[0]["id"]}).json()
    assert [m["text"] for m in older] == ["m1", "m2", "m3"]
    oldest = client.get(url, {"limit": 3, "before": older[0]["id"]}).json()
    assert [m["text"] for m in oldest] == ["m0"]
    first = page[0]
    assert first["direction"] == "in" and first["author_kind"] == "client" and first["lead"] == lead.pk
    assert {"id", "kind", "media_url", "caption", "status", "error", "author", "created_at"} <= set(first)


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "201"])
def test_bad_limit_is_400(tenant_a, client_for, dialog, limit):
    res = client_for(tenant_a, "owner").get(f"/api/leads/{dialog[0].pk}/messages/", {"limit": limit})
    assert res.status_code == 400 and res.json()["detail"].startswith("limit")


def test_post_text_sends_as_the_user_and_takes_the_dialog_over(tenant_a, client_for, dialog):
    lead, _ = dialog
    pending = add_followup(tenant_a, lead)
    client = client_for(tenant_a, "manager")
    manager = user_of(tenant_a, "manager")
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"text": "  Добрый день, это Дана  "}, format="json")
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["text"] == "Добрый день, это Дана" and body["kind"] == "text" and body["direction"] == "out"
    assert body["author_kind"] == "user" and body["author"]["id"] == manager.pk
    assert body["status"] == "queued" and body["purpose"] == "human"
    card = client.get(f"/api/leads/{lead.pk}/").json()
    assert card["handled_by"]["id"] == manager.pk and card["assignee"]["id"] == manager.pk
    assert card["last_message"]["text"] == "Добрый день, это Дана" and card["waiting_since"]
    with tenant_context(tenant_a):
        pending.refresh_from_db()
    assert pending.status == "cancelled"
    client.post(f"/api/leads/{lead.pk}/messages/", {"text": "Ещё"}, format="json")
    takeovers = [e for e in client.get(f"/api/leads/{lead.pk}/events/").json() if e["kind"] == "takeover"]
    assert len(takeovers) == 1
    assert [m["text"] for m in client.get(f"/api/leads/{lead.pk}/messages/", {"limit": 2}).json()] == [
        "Добрый день, это Дана", "Ещё"]


def test_post_image_multipart_stores_it_and_sends_its_url(tenant_a, client_for, dialog, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    lead, _ = dialog
    client = client_for(tenant_a, "head")
    photo = SimpleUploadedFile("дом.png", PNG, content_type="image/png")
    res = client.post(f"/api/leads/{lead.pk}/messages/", {"text": "Вот такой дом", "image": photo},
                      format="multipart")
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["kind"] == "image" and body["caption"] == "Вот такой дом"
    assert body["media_url"].startswith("http://alpha.") and "/media/alpha/" in body["media_url"]
    stored = os.path.join(str(tmp_path), "alpha", unquote(body["media_url"].rsplit("/", 1)[1]))
    assert open(stored, "rb").read() == PNG
    only_photo = client.post(f"/api/leads/{lead.pk}/messages/",
                             {"image": SimpleUploadedFile("a.jpg", PNG, content_type="image/jpeg")}, format="multipart")
    assert only_photo.status_code == 201 and only_photo.json()["caption"] == ""


@pytest.mark.parametrize("body,fmt", [({"text": ""}, "json"), ({"text": "   "}, "json"), ({}, "json"),
                                      ({"text": "x" * 4097}, "json")])
def test_empty_or_oversized_message_is_400(tenant_a, client_for, dialog, body, fmt):
    lead, messages = dialog
    client = client_for(tenant_a, "owner")
    res = client.post(f"/api/leads/{lead.pk}/messages/", body, format=fmt)
    assert res.status_code == 400 and res.json()["detail"]
    assert len(client.get(f"/api/leads/{lead.pk}/messages/").json()) == len(messages)
    assert client.get(f"/api/leads/{lead.pk}/").json()["handled_by"] == "ai"


def test_non_image_upload_is_400(tenant_a, client_for, dialog, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    lead, _ = dialog
    res = client_for(tenant_a, "owner").post(
        f"/api/leads/{lead.pk}/messages/",
        {"text": "смета", "image": SimpleUploadedFile("a.pdf", b"%PDF-1.4", content_type="application/pdf")},
        format="multipart")
    assert res.status_code == 400 and res.json()["detail"].startswith("image")


# --- uploads that lie about their type, and how media is served ---------------------------------------


def _image(fmt: str, size=(3, 2), **save) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format=fmt, **save)
    return out.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header claims width × height pixels (a bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 4096, 9))
            + chunk(b"IEND", b""))


HTML = b"<html><body><script>fetch('/api/users/').then(r=>r.text()).then(alert)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><rect width="9" height="9"/></svg>'


def _upload(client, lead, name: str, data: bytes, content_type: str, text: str = "фото"):
    return client.post(f"/api/leads/{lead.pk}/messages/",
                       {"text": text, "image": SimpleUploadedFile(name, data, content_type=content_type)},
                       format="multipart")


def _media_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("name,data,content_type", [
    pytest.param("x.html", HTML, "image/png", id="html-named-html-sent-as-png"),  # the manager's "photo"
    pytest.param("x.png", HTML, "image/png", id="html-named-png"),
    pytest.param("x.svg", SVG, "image/svg+xml", id="svg-onload"),  # SVG runs script: never an accepted image
    pytest.param("x.png", SVG, "image/png", id="svg-named-png"),
    pytest.param("x.png", PNG[:40], "image/png", id="png-truncated"),
    pytest.param("x.png", PNG[:-20] + b"\x00" * 20, "image/png", id="png-corrupt-tail"),
    pytest.param("x.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg", id="jpeg-signature-only"),
    pytest.param("x.png", _png_claiming(100_000, 100_000), "image/png", id="decompression-bomb"),
    pytest.param("x.bmp", b"BM" + b"\x00" * 60, "image/bmp", id="bmp"),
    pytest.param("x.tif", b"II*\x00" + b"\x00" * 60, "image/tiff", id="tiff"),
    pytest.param("x.png", b"", "image/png", id="empty"),
    pytest.param("x.png", b"\x00" * 1000, "image/png", id="nul-bytes"),
])
def test_upload_that_is_not_a_decodable_image_is_400_and_stores_nothing(tenant_a, client_for, dialog, settings,
                                                                       tmp_path, name, data, content_type):
    settings.MEDIA_ROOT = str(tmp_path)
    lead, messages = dialog
    client = client_for(tenant_a, "manager")
    res = _upload(client, lead, name, data, content_type)
    assert res.status_code == 400, res.content
    assert res.json()["detail"].startswith("image")
    assert _media_files(tmp_path) == []
    assert len(client.get(f"/api/leads/{lead.pk}/messages/").json()) == len(messages)


@pytest.mark.parametrize("fmt,extension,content_type", [("JPEG", "jpg", "image/jpeg"), ("PNG", "png", "image/png"),
                                                         ("WEBP", "webp", "image/webp"), ("GIF", "gif", "image/gif")])
def test_upload_is_stored_under_a_random_name_with_the_decoded_type(tenant_a, client_for, dialog, settings, tmp_path,
                                                                    fmt, extension, content_type):
    settings.MEDIA_ROOT = str(tmp_path)
    lead, _ = dialog
    data = _image(fmt)
    # the client's name and content type lie; the stored name and the served type follow the bytes
    res = _upload(client_for(tenant_a, "owner"), lead, "дом.html", data, "text/html")
    assert res.status_code == 201, res.content
    url = res.json()["media_url"]
    name = url.rsplit("/", 1)[1]
    assert name.endswith(f".{extension}") and "html" not in url and "дом" not in unquote(url)
    assert len(name) == 32 + 1 + len(extension)
    assert _media_files(tmp_path) == [f"alpha/{name}"]
    served = client_for(tenant_a).get(url.split("localhost", 1)[1])
    assert served.status_code == 200
    assert served["Content-Type"] == content_type
    assert b"".join(served.streaming_content) == data


def test_polyglot_image_is_served_as_an_image_that_cannot_run(tenant_a, client_for, dialog, settings, tmp_path):
    """PNG bytes with HTML after IEND decode as a PNG; they are served as image/png, nosniff, sandboxed."""
    settings.MEDIA_ROOT = str(tmp_path)
    lead, _ = dialog
    res = _upload(client_for(tenant_a, "owner"), lead, "x.html", PNG + HTML, "text/html")
    assert res.status_code == 201, res.content
    served = client_for(tenant_a).get("/media/alpha/" + res.json()["media_url"].rsplit("/", 1)[1])
    assert served["Content-Type"] == "image/png" and served["X-Content-Type-Options"] == "nosniff"
    csp = served["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp


def test_upload_size_is_bounded(tenant_a, client_for, dialog, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.MEDIA_UPLOAD_MAX_BYTES = 2000
    lead, _ = dialog
    client = client_for(tenant_a, "owner")
    big = _image("PNG", size=(30, 30), compress_level=0)
    assert len(big) > 2000
    res = _upload(client, lead, "a.png", big, "image/png")
    assert res.status_code == 400 and res.json()["detail"].startswith("image")
    # a body far beyond the limit is refused before it is parsed
    huge = big * 40  # > limit + 64 KiB
    res = _upload(client, lead, "a.png", huge, "image/png")
    assert res.status_code == 413 and res.json()["detail"]
    assert _media_files(tmp_path) == []
    assert _upload(client, lead, "a.png", PNG, "image/png").status_code == 201


def test_upload_to_a_lead_of_another_tenant_is_404(tenant_a, tenant_b, client_for, dialog, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    lead, _ = dialog
    res = _upload(client_for(tenant_b, "owner"), lead, "a.png", PNG, "image/png")
    assert res.status_code == 404
    assert _upload(client_for(tenant_a), lead, "a.png", PNG, "image/png").status_code == 401
    assert _media_files(tmp_path) == []


@pytest.mark.parametrize("name,body", [("old-x.html", HTML), ("old-y.svg", SVG), ("noext", HTML),
                                       ("z.HTML", HTML), ("w.png.html", HTML)], ids=lambda v: None)
def test_files_stored_before_verification_are_served_as_inert_downloads(tenant_a, client_for, settings, tmp_path,
                                                                        name, body):
    settings.MEDIA_ROOT = str(tmp_path)
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpha" / name).write_bytes(body)
    res = client_for(tenant_a).get(f"/media/alpha/{name}")
    assert res.status_code == 200
    assert res["Content-Type"] == "application/octet-stream"
    assert res["Content-Disposition"].startswith("attachment")
    assert res["X-Content-Type-Options"] == "nosniff"
    csp = res["Content-Security-Policy"]
    assert csp.startswith("sandbox") and "default-src 'none'" in csp


def test_media_of_one_tenant_is_not_served_on_another_tenant_host(tenant_a, tenant_b, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    for schema in ("alpha", "beta"):
        (tmp_path / schema).mkdir()
        (tmp_path / schema / "f.png").write_bytes(PNG)
    (tmp_path / "secret.png").write_bytes(PNG)
    assert client_for(tenant_a).get("/media/alpha/f.png").status_code == 200
    for path in ("/media/beta/f.png", "/media/alpha/../beta/f.png", "/media/alpha/%2e%2e/beta/f.png",
                 "/media/secret.png", "/media/alpha/", "/media/alpha", "/media/", "/media/alpha/nope.png",
                 "/media/alpha/../../etc/passwd", "/media//etc/passwd", "/media/alpha/f.png%00.html"):
        assert client_for(tenant_a).get(path).status_code == 404, path
    assert client_for(tenant_a).post("/media/alpha/f.png").status_code in (403, 405)


# --- sandbox ------------------------------------------------------------------------------------------


def test_sandbox_message_creates_a_lead_and_stores_the_message(tenant_a, client_for):
    client = client_for(tenant_a, "manager")
    res = client.post("/api/sandbox/messages/", {"phone": "+7 (701) 555-44-33", "name": "Жанна",
                                                 "text": "Здравствуйте, нужен дом"}, format="json")
    assert res.status_code == 201, res.content
    lead_id = res.json()["lead_id"]
    message = res.json()["message"]
    assert message["direction"] == "in" and message["author_kind"] == "client" and message["status"] == "received"
    card = client.get(f"/api/leads/{lead_id}/").json()
    assert (card["name"], card["phone"], card["channel"], card["stage_kind"]) == ("Жанна", "77015554433", "sandbox",
                                                                                 "new")
    assert card["last_message"]["text"] == "Здравствуйте, нужен дом" and card["source"] == "sandbox"
    # the same phone written differently is the same client
    again = client.post("/api/sandbox/messages/", {"phone": "77015554433", "text": "Алло?"}, format="json")
    assert again.json()["lead_id"] == lead_id
    dialog = client.get("/api/sandbox/messages/", {"phone": "+7 701 555 44 33"}).json()
    assert [m["text"] for m in dialog] == ["Здравствуйте, нужен дом", "Алло?"]
    assert [e["kind"] for e in client.get(f"/api/leads/{lead_id}/events/").json()] == ["created"]


def test_sandbox_get_shows_what_the_product_sent(tenant_a, client_for):
    from conversations.services import message_send

    client = client_for(tenant_a, "owner")
    lead_id = client.post("/api/sandbox/messages/", {"phone": "77017778899", "text": "Привет"},
                          format="json").json()["lead_id"]
    with tenant_context(tenant_a):
        from leads.models import Lead

        message_send(lead=Lead.objects.get(pk=lead_id), author_kind="ai", text="Здравствуйте! Я Алия.")
    dialog = client.get("/api/sandbox/messages/", {"phone": "77017778899"}).json()
    assert [(m["direction"], m["text"]) for m in dialog] == [("in", "Привет"), ("out", "Здравствуйте! Я Алия.")]
    assert client.get("/api/sandbox/messages/", {"phone": "77000000000"}).json() == []


@pytest.mark.parametrize("body", [
    {"phone": "abc", "text": "x"}, {"phone": "12", "text": "x"}, {"phone": "1" * 16, "text": "x"},
    {"phone": "77015554433"}, {"phone": "77015554433", "text": ""}, {"text": "x"},
    {"phone": "77015554433", "text": "x" * 4097},
])
def test_sandbox_post_bad_input_is_400(tenant_a, client_for, body):
    res = client_for(tenant_a, "owner").post("/api/sandbox/messages/", body, format="json")
    assert res.status_code == 400 and res.json()["detail"]
    with tenant_context(tenant_a):
        from leads.models import Lead

        assert not Lead.objects.exists()


@pytest.mark.parametrize("query", [{}, {"phone": ""}, {"phone": "abc"}, {"phone": "123"}])
def test_sandbox_get_bad_phone_is_400(tenant_a, client_for, query):
    res = client_for(tenant_a, "owner").get("/api/sandbox/messages/", query)
    assert res.status_code == 400 and res.json()["detail"].startswith("phone")


def test_sandbox_dialog_follows_lead_visibility(tenant_a, tenant_b, client_for):
    owner = client_for(tenant_a, "owner")
    lead_id = owner.post("/api/sandbox/messages/", {"phone": "77016660000", "text": "Секрет"},
                         format="json").json()["lead_id"]
    set_managers_see_all(tenant_a, False)
    manager = client_for(tenant_a, "manager")
    assert manager.get("/api/sandbox/messages/", {"phone": "77016660000"}).json() == []
    owner.patch(f"/api/leads/{lead_id}/", {"assignee": user_of(tenant_a, "manager").pk}, format="json")
    assert len(manager.get("/api/sandbox/messages/", {"phone": "77016660000"}).json()) == 1
    # another tenant's sandbox knows nothing of it
    assert client_for(tenant_b, "owner").get("/api/sandbox/messages/", {"phone": "77016660000"}).json() == []
