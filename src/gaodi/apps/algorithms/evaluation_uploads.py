"""Size limits for evaluation uploads, enforced while the upload streams in.

A test set may be large (EVALUATION_MAX_DATA_BYTES, 1 GiB by default) and someone will try 2 GB.
Django would otherwise write the whole file to a temporary file before the form sees its size. The
handler below sits first in the request's upload handlers, counts the bytes of each limited file field
as they arrive and, at the first chunk past the limit, skips the rest of that file (`SkipFile`: the
parser discards the remaining bytes without storing them, and the partial temporary file is deleted).
The form then reports the field as too large; the other fields of the request are kept.

A view that installs the handler must be `csrf_exempt` and check CSRF itself after installing it
(`csrf_protect` on the inner function), because the CSRF middleware would read the body first.
"""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class LimitedUploadHandler(FileUploadHandler):
    """Passes every chunk on to the next handler, and skips a file once it exceeds its field's limit."""

    def __init__(self, request=None, limits: dict[str, int] | None = None) -> None:
        super().__init__(request)
        self.limits = dict(limits or {})
        self.oversize: dict[str, int] = {}  # field name -> bytes received when the upload was cut off
        self._received = 0

    def new_file(self, field_name, *args, **kwargs) -> None:
        super().new_file(field_name, *args, **kwargs)
        self._received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self._received += len(raw_data)
        limit = self.limits.get(self.field_name)
        if limit is not None and self._received > limit:
            self.oversize[self.field_name] = self._received
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) makes the UploadedFile


def install(request, limits: dict[str, int]) -> LimitedUploadHandler | None:
    """Put the limiting handler first; None when the body was already parsed (then only the form's
    after-the-fact size check applies)."""
    if hasattr(request, "_files"):
        return None
    handler = LimitedUploadHandler(request, limits)
    request.upload_handlers.insert(0, handler)
    return handler
