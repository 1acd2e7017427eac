"""Image classification: a zip of images as a dataset version, read safely (zip bombs, lying directories,
files that are not images by content), imported as tasks and served only to who may see the task."""

from __future__ import annotations

import io
import random
import struct
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from test_data_labeling_support import (
    add_file,
    add_images,
    annotate,
    build_labeling_world,
    csv_bytes,
    import_text,
    jpeg,
    make_dataset,
    make_project,
    png,
    stored_as,
    zip_bytes,
)

from gaodi.apps.data import labeling_actions as actions
from gaodi.apps.data.labeling_forms import ImageArchiveForm, ImportForm
from gaodi.apps.data.labeling_images import Limits, read_images
from gaodi.apps.data.labeling_policies import usable_versions

ANIMALS = "cat | 猫 | c\ndog | 狗 | d\nother | 其他 | o"


@pytest.fixture
def lw(world):
    return build_labeling_world(world)


@pytest.fixture
def resource(world):
    version = add_file(world.paul, make_dataset(world, title="宠物图片"), csv_bytes(["占位"]))
    return version.resource


def import_images(lw, project, version):
    form = ImportForm(data={"version": version.pk}, project=project, versions=usable_versions(lw.mona, project))
    return actions.start_import(lw.mona, project, form)


def test_zip_of_images_becomes_tasks_and_non_images_are_skipped(lw, world, resource, client):
    archive = zip_bytes({
        "b/02.png": png(color=(0, 0, 0)), "a/01.jpg": jpeg(), "c/03.png": png(),
        "notes.txt": b"just text", "virus.png": b"MZ\x90\x00 not an image", "__MACOSX/._01.jpg": b"junk",
        "folder/": b"", ".DS_Store": b"junk",
    })
    version = add_images(world.paul, resource, archive)
    assert (version.file_format, version.quality_state) == ("zip", "none")
    project = make_project(lw, kind="image_classification", labels=ANIMALS, overlap=1, annotators=("anna",))
    batch = import_images(lw, project, version)
    assert batch.state == "done", batch.error
    assert [t.image_name for t in project.tasks.order_by("ordinal")] == ["a/01.jpg", "b/02.png", "c/03.png"]
    assert [t.image_type for t in project.tasks.order_by("ordinal")] == ["image/jpeg", "image/png", "image/png"]
    assert batch.skipped_count == 2
    assert {s["file"]: s["reason"] for s in batch.skipped_samples} == {"notes.txt": "不是图片（按内容识别）",
                                                                        "virus.png": "不是图片（按内容识别）"}
    task = project.tasks.get(ordinal=2)
    assert annotate(lw.anna, task, ["dog"]).value == ["dog"]
    client.force_login(lw.anna)
    response = client.get(f"/data/labeling/tasks/{task.pk}/image/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png(color=(0, 0, 0))
    assert response["X-Content-Type-Options"] == "nosniff"
    page = client.get(f"/data/labeling/tasks/{task.pk}/").content.decode()
    assert 'alt="待分类的图片：b/02.png"' in page
    client.force_login(lw.oscar)
    assert client.get(f"/data/labeling/tasks/{task.pk}/image/").status_code == 404
    client.logout()
    assert client.get(f"/data/labeling/tasks/{task.pk}/image/").status_code == 302


def test_zip_bomb_is_refused_on_upload(world, resource):
    bomb = zip_bytes({"huge.png": b"\0" * (40 << 20)})
    assert len(bomb) < 100_000
    form = ImageArchiveForm(data={}, files={"file": SimpleUploadedFile("bomb.zip", bomb)})
    assert not form.is_valid() and "压缩炸弹" in form.errors["file"][0]
    with pytest.raises(ValidationError, match="压缩炸弹"):
        add_images(world.paul, resource, bomb)
    assert resource.versions.filter(file_format="zip").count() == 0


def test_zip_bomb_stored_earlier_fails_the_import_and_nothing_else(lw, world, resource):
    version = add_images(world.paul, resource, zip_bytes({"a.png": png()}))
    project = make_project(lw, kind="image_classification", labels=ANIMALS, overlap=1, annotators=("anna",))
    assert import_images(lw, project, version).state == "done"
    bomb_version = stored_as(add_images(world.paul, resource, zip_bytes({"b.png": png()})),
                             zip_bytes({"b.png": png(), "huge.png": b"\0" * (40 << 20)}))
    failed = import_images(lw, project, bomb_version)
    assert failed.state == "failed" and "压缩炸弹" in failed.error
    assert project.tasks.count() == 1  # the earlier import is untouched


def _lying_zip() -> bytes:
    """A zip whose central directory and local header understate an entry's uncompressed size."""
    data = zip_bytes({"x.png": png() + b"\0" * 50_000})
    raw = bytearray(data)
    real = len(png()) + 50_000
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(signature)
        assert struct.unpack_from("<I", raw, at + offset)[0] == real
        struct.pack_into("<I", raw, at + offset, 100)
    return bytes(raw)


def test_a_directory_that_lies_about_sizes_is_caught(tmp_path):
    path = tmp_path / "lying.zip"
    path.write_bytes(_lying_zip())
    with pytest.raises(Exception) as exc:
        list(read_images(path))
    assert "损坏或被篡改" in str(exc.value)


def test_limits_on_images(tmp_path, settings):
    path = tmp_path / "big.zip"
    path.write_bytes(zip_bytes({"big.png": png(40, 40), "small.png": png(4, 4)}, compression=zipfile.ZIP_STORED))
    limits = Limits(max_archive_bytes=1 << 20, max_files=10, max_image_bytes=1 << 20, max_total_bytes=1 << 20,
                    max_ratio=100, max_pixels=100)
    found = list(read_images(path, limits))
    assert [type(x).__name__ for x in found] == ["Skipped", "ArchiveImage"]
    assert "40×40 像素，超过上限 100 像素" in found[0].reason
    few = Limits(max_archive_bytes=1 << 20, max_files=1, max_image_bytes=1 << 20, max_total_bytes=1 << 20,
                 max_ratio=100, max_pixels=10_000)
    with pytest.raises(Exception, match="超过上限 1 个"):
        list(read_images(path, few))
    from PIL import Image

    noisy = io.BytesIO()
    pixels = random.Random(7).randbytes(40 * 40 * 3)  # noise does not compress
    Image.frombytes("RGB", (40, 40), pixels).save(noisy, format="PNG")
    path.write_bytes(zip_bytes({"big.png": noisy.getvalue(), "small.png": png(4, 4)}))
    settings.GAODI_LABELING_MAX_IMAGE_BYTES = 1000
    assert len(noisy.getvalue()) > 1000
    assert "大于单张图片上限" in list(read_images(path))[0].reason


def test_gbk_names_from_windows_zip_tools_are_read(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        info = zipfile.ZipInfo("猫.png")
        zf.writestr(info, png())
    raw = bytearray(out.getvalue())
    # rewrite the UTF-8 name as GBK and clear the UTF-8 flag, as Chinese Windows tools write it
    utf8, gbk = "猫.png".encode(), "猫.png".encode("gbk")
    raw = bytearray(bytes(raw).replace(utf8, gbk + b" " * (len(utf8) - len(gbk))))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        flags = struct.unpack_from("<H", raw, at + flag_at)[0]
        struct.pack_into("<H", raw, at + flag_at, flags & ~0x800)
    path = tmp_path / "gbk.zip"
    path.write_bytes(bytes(raw))
    names = [x.name.strip() for x in read_images(path)]
    assert names == ["猫.png"]


def test_wrong_files_for_the_project_kind(lw, world, resource):
    not_zip = SimpleUploadedFile("images.zip", b"%PDF-1.4 not a zip")
    form = ImageArchiveForm(data={}, files={"file": not_zip})
    assert not form.is_valid() and "不是 zip" in form.errors["file"][0]
    csv_version = resource.latest
    project = make_project(lw, kind="image_classification", labels=ANIMALS, overlap=1, annotators=("anna",))
    with pytest.raises(ValidationError) as exc:
        import_images(lw, project, csv_version)
    assert "图片压缩包" in exc.value.message_dict["version"][0]
    text_project = make_project(lw, name="文本项目")
    zip_version = add_images(world.paul, resource, zip_bytes({"a.png": png()}))
    with pytest.raises(ValidationError) as exc:
        import_text(lw, text_project, zip_version)
    assert "CSV" in exc.value.message_dict["version"][0]
    client_form = ImageArchiveForm(data={}, files={"file": SimpleUploadedFile("x.zip", zip_bytes({}))})
    assert not client_form.is_valid() and "没有文件" in client_form.errors["file"][0]


def test_only_the_publisher_adds_image_archives(lw, world, resource, client):
    with pytest.raises(PermissionDenied):
        add_images(lw.mona, resource, zip_bytes({"a.png": png()}))  # the dataset is not hers
    client.force_login(world.paul)
    upload = SimpleUploadedFile("pets.zip", zip_bytes({"a.png": png()}))
    response = client.post(f"/data/labeling/resources/{resource.pk}/images/new/", {"file": upload, "note": "第一批"})
    assert response.status_code == 302 and resource.versions.filter(file_format="zip").count() == 1
    client.force_login(lw.mona)
    assert client.get(f"/data/labeling/resources/{resource.pk}/images/new/").status_code == 404
