"""Upload checks shared by every app: size limit, allowed document types judged by content (magic
bytes), never by the name the user gave. Files are stored under random names and never executed."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
# extension -> container it must be
DOCUMENT_TYPES = {
    ".pdf": "pdf",
    ".doc": "ole2", ".xls": "ole2", ".ppt": "ole2",
    ".docx": "ooxml", ".xlsx": "ooxml", ".pptx": "ooxml",
    ".odt": "odf", ".ods": "odf", ".odp": "odf",
}
_OOXML_MARKERS = {".docx": "word/", ".xlsx": "xl/", ".pptx": "ppt/"}


@dataclass(frozen=True)
class CheckedUpload:
    extension: str
    sha256: str
    size: int


def check_document(upload, max_bytes: int, field: str = "report") -> CheckedUpload:
    """Validate an uploaded PDF or Office document; raise ValidationError naming the field and the fix."""
    name = (upload.name or "").lower()
    ext = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if ext not in DOCUMENT_TYPES:
        raise ValidationError({field: _("只接受 PDF 或 Office 文档（%(types)s），请转换后重新上传。")
                               % {"types": ", ".join(sorted(DOCUMENT_TYPES))}})
    if upload.size > max_bytes:
        raise ValidationError({field: _("文件大小 %(size)s 超过上限 %(max)s，请压缩后重新上传。")
                               % {"size": filesizeformat(upload.size), "max": filesizeformat(max_bytes)}})
    if upload.size == 0:
        raise ValidationError({field: _("文件为空，请选择正确的文件。")})
    digest = hashlib.sha256()
    head = b""
    for chunk in upload.chunks():
        if not head:
            head = chunk[:8]
        digest.update(chunk)
    upload.seek(0)
    if not _content_matches(upload, ext, head):
        raise ValidationError({field: _("文件内容与扩展名 %(ext)s 不符（可能是改名的其他类型文件），已拒绝。"
                                        "请上传真实的 PDF 或 Office 文档。") % {"ext": ext}})
    return CheckedUpload(ext, digest.hexdigest(), upload.size)


def _content_matches(upload, ext: str, head: bytes) -> bool:
    container = DOCUMENT_TYPES[ext]
    if container == "pdf":
        return head.startswith(b"%PDF-")
    if container == "ole2":
        return head.startswith(OLE2_MAGIC)
    if not head.startswith(b"PK\x03\x04"):
        return False
    return _zip_is_document(upload, ext, container)


def _zip_is_document(upload, ext: str, container: str) -> bool:
    try:
        data = upload.read()
        upload.seek(0)
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                return False  # macro-enabled documents are refused: uploads are never executed
            if container == "ooxml":
                return "[Content_Types].xml" in names and any(n.startswith(_OOXML_MARKERS[ext]) for n in names)
            return "mimetype" in names and zf.read("mimetype").startswith(b"application/vnd.oasis.opendocument")
    except (zipfile.BadZipFile, KeyError, RuntimeError, ValueError):
        return False
