"""Images from a zip archive, read safely (nothing is ever extracted to disk by the archive's names).

1. The archive must be a zip file of at most `max_archive_bytes`, with at most `max_files` files.
2. Before anything is decompressed, the central directory's *declared* sizes are checked: the total at
   most `max_total_bytes` and at most `max_ratio` times the compressed total (for archives over
   1 MiB uncompressed), else the archive is refused as a zip bomb. Encrypted entries are skipped.
3. Each entry is decompressed as a stream in 1 MiB pieces counting the *actual* bytes against the
   per-image limit and the total, so a directory that lies about sizes is caught too (zipfile also
   stops at the declared size and then fails the CRC check: "damaged or manipulated").
4. Each file must be a real PNG, JPEG, GIF or WebP by its content (Pillow identifies it, whatever its
   name), at most `max_pixels` pixels (checked from the header before decoding), and decode whole.
   Anything else is skipped and counted with the reason; folders, `__MACOSX/` and hidden files are
   ignored.

Entry names that are not flagged UTF-8 are decoded as GB18030 when they are not ASCII (Chinese
Windows zip tools write GBK names without the flag).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from gaodi.engines.dataquality import ZipBombError

FORMATS = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"), "GIF": ("image/gif", ".gif"),
           "WEBP": ("image/webp", ".webp")}
_PIECE = 1 << 20
_MIN_RATIO_CHECK = 1 << 20


class ArchiveError(Exception):
    """The whole archive is refused (not a zip, a zip bomb, too many files, damaged)."""


@dataclass(frozen=True)
class Limits:
    max_archive_bytes: int
    max_files: int
    max_image_bytes: int
    max_total_bytes: int
    max_ratio: float
    max_pixels: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_archive_bytes=int(getattr(settings, "GAODI_LABELING_MAX_ARCHIVE_BYTES", 200 << 20)),
            max_files=int(getattr(settings, "GAODI_LABELING_MAX_IMAGES", 10_000)),
            max_image_bytes=int(getattr(settings, "GAODI_LABELING_MAX_IMAGE_BYTES", 20 << 20)),
            max_total_bytes=int(getattr(settings, "GAODI_LABELING_MAX_ARCHIVE_UNCOMPRESSED_BYTES", 1 << 30)),
            max_ratio=float(getattr(settings, "GAODI_LABELING_MAX_ARCHIVE_RATIO", 100.0)),
            max_pixels=int(getattr(settings, "GAODI_LABELING_MAX_IMAGE_PIXELS", 25_000_000)),
        )


@dataclass(frozen=True)
class ArchiveImage:
    name: str
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def entry_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not info.flag_bits & 0x800 and not name.isascii():
        try:
            name = name.encode("cp437").decode("gb18030")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def _ignored(name: str) -> bool:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return name.endswith("/") or name.startswith("__MACOSX/") or base.startswith(".") or not base


def check_archive(source, limits: Limits, size: int | None = None) -> list[zipfile.ZipInfo]:
    """The declared-size checks (steps 1-2) on a path or an open binary file; returns the entries to
    read, in name order."""
    import os

    size = os.path.getsize(source) if size is None else size
    if size > limits.max_archive_bytes:
        raise ArchiveError(_("压缩包大小 %(size)s 超过上限 %(max)s，请拆分后分批导入。")
                           % {"size": filesizeformat(size), "max": filesizeformat(limits.max_archive_bytes)})
    try:
        with zipfile.ZipFile(source) as zf:
            infos = [i for i in zf.infolist() if not _ignored(entry_name(i))]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(_("不是有效的 zip 压缩包（%(e)s），请重新打包图片。") % {"e": str(exc)[:100]}) from None
    if len(infos) > limits.max_files:
        raise ArchiveError(_("压缩包内有 %(n)d 个文件，超过上限 %(max)d 个，请拆分后分批导入。")
                           % {"n": len(infos), "max": limits.max_files})
    declared = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos)
    if declared > limits.max_total_bytes:
        raise ZipBombError(_("压缩包解压后共 %(size)s，超过上限 %(max)s（疑似压缩炸弹），已拒绝。")
                           % {"size": filesizeformat(declared), "max": filesizeformat(limits.max_total_bytes)})
    if declared >= _MIN_RATIO_CHECK and declared > limits.max_ratio * max(1, compressed):
        raise ZipBombError(_("压缩包的压缩比为 %(r).0f 倍，超过上限 %(max).0f 倍（图片几乎不可再压缩，疑似压缩炸弹），已拒绝。")
                           % {"r": declared / max(1, compressed), "max": limits.max_ratio})
    return sorted(infos, key=lambda i: entry_name(i))


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: list[int]) -> bytes | None:
    """The entry's bytes, or None if it is larger than one image may be; counts actual bytes."""
    out = io.BytesIO()
    with zf.open(info) as stream:
        while True:
            piece = stream.read(_PIECE)
            if not piece:
                break
            budget[0] += len(piece)
            if budget[0] > limits.max_total_bytes:
                raise ZipBombError(_("压缩包实际解压的数据超过上限 %(max)s（目录中的大小与内容不符，疑似压缩炸弹），已拒绝。")
                                   % {"max": filesizeformat(limits.max_total_bytes)})
            if out.tell() + len(piece) > limits.max_image_bytes:
                return None
            out.write(piece)
    return out.getvalue()


def identify(data: bytes, limits: Limits) -> tuple[str, int, int] | str:
    """(format, width, height) of a real image, or the reason it is not acceptable."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            width, height = img.size
            if fmt not in FORMATS:
                return _("不支持的图片格式 %(f)s（支持 PNG、JPEG、GIF、WebP）") % {"f": fmt or "?"}
            if width * height > limits.max_pixels:
                return _("图片 %(w)d×%(h)d 像素，超过上限 %(max)d 像素") % {"w": width, "h": height, "max": limits.max_pixels}
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return _("不是图片（按内容识别）")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        return _("图片已损坏：%(e)s") % {"e": str(exc)[:100]}
    return fmt, width, height


def read_images(path, limits: Limits | None = None, progress=None) -> Iterator[ArchiveImage | Skipped]:
    """Yield each acceptable image (bytes in memory one at a time) or a Skipped entry with the reason.
    Raises ArchiveError / ZipBombError for an archive refused as a whole."""
    limits = limits or Limits.from_settings()
    infos = check_archive(path, limits)
    budget = [0]
    try:
        with zipfile.ZipFile(path) as zf:
            for index, info in enumerate(infos):
                name = entry_name(info)
                if progress:
                    progress(index, len(infos))
                if info.flag_bits & 0x1:
                    yield Skipped(name, _("已加密"))
                    continue
                if info.file_size > limits.max_image_bytes:
                    yield Skipped(name, _("大于单张图片上限 %(max)s") % {"max": filesizeformat(limits.max_image_bytes)})
                    continue
                data = _read(zf, info, limits, budget)
                if data is None:
                    yield Skipped(name, _("大于单张图片上限 %(max)s") % {"max": filesizeformat(limits.max_image_bytes)})
                    continue
                found = identify(data, limits)
                if isinstance(found, str):
                    yield Skipped(name, found)
                    continue
                fmt, width, height = found
                content_type, extension = FORMATS[fmt]
                yield ArchiveImage(name, data, content_type, extension, width, height)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise ArchiveError(_("压缩包已损坏或被篡改（%(e)s），请重新打包。") % {"e": str(exc)[:100]}) from None
