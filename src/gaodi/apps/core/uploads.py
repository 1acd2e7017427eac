"""Upload checks shared by every app: size limit, allowed document types judged by content (magic
bytes), never by the name the user gave. Files are stored under random names and never executed."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
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


# ---- size limits enforced while an upload streams in ---------------------------------------------
# Django would otherwise write a whole file to a temporary file before any form sees its size, so a
# 2 GB upload would be stored first and refused later. The handler sits first in the request's upload
# handlers, counts each limited file's bytes as they arrive and, at the first chunk past the limit,
# skips the rest of that file (`SkipFile`: the parser discards the remaining bytes without storing
# them). The form then reports the field as too large; the other fields of the request are kept.
# A view that installs it must be `csrf_exempt` and check CSRF itself afterwards (`csrf_protect` on an
# inner function), because the CSRF middleware would read the body first.

class LimitedUploadHandler(FileUploadHandler):
    """Passes every chunk on to the next handler, and skips a file once it exceeds its field's limit
    (`limits[field]`, else `default`; None: no limit). What was cut off is kept in `oversize` (field ->
    bytes received) and, for the view, in `request.oversize_uploads` (field -> (file name, bytes))."""

    def __init__(self, request=None, limits: dict[str, int] | None = None, default: int | None = None) -> None:
        super().__init__(request)
        self.limits = dict(limits or {})
        self.default = default
        self.oversize: dict[str, int] = {}
        self._received = 0

    def new_file(self, field_name, *args, **kwargs) -> None:
        super().new_file(field_name, *args, **kwargs)
        self._received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self._received += len(raw_data)
        limit = self.limits.get(self.field_name, self.default)
        if limit is not None and self._received > limit:
            self.oversize[self.field_name] = self._received
            if self.request is not None:
                refused = getattr(self.request, "oversize_uploads", {})
                refused[self.field_name] = (self.file_name or "", self._received)
                self.request.oversize_uploads = refused
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) makes the UploadedFile


def install_upload_limit(request, limits: dict[str, int] | None = None,
                         default: int | None = None) -> LimitedUploadHandler | None:
    """Put the limiting handler first; None when the body was already parsed (then only the form's
    after-the-fact size check applies)."""
    if hasattr(request, "_files"):
        return None
    handler = LimitedUploadHandler(request, limits, default)
    request.upload_handlers.insert(0, handler)
    return handler

