"""Credentials for HTTP prediction endpoints: which header may carry them, how they are kept, and how
they are kept out of everything the platform shows or writes down.

- **Header names** come from a short allowlist: `Authorization`, `Api-Key`, `X-API-Key`, or another
  `X-…` name of letters, digits and hyphens; names the connection itself or proxies act on (Host,
  Cookie, Content-Length, Transfer-Encoding, Connection, X-Forwarded-For…) are refused.
- **Values** are printable ASCII (no CR, LF, NUL or other control characters: no header injection),
  8 to MAX_SECRET_LENGTH characters.
- **At rest** the value is encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a platform key kept
  like the signing key: generated on first use into settings.VAR_DIR / "keys/endpoint-secrets.key"
  (mode 0600) unless the setting or environment variable GAODI_ENDPOINT_SECRET_KEY_FILE names another
  file. The file may hold several keys, one per line: the first encrypts, all decrypt (key rotation).
  The plaintext is bound to the request's random token, so a ciphertext copied to another request
  does not decrypt there.
- **Decryption** happens only in the worker, right before a run; a missing or different key file is a
  `EndpointCredentialError` with a sentence for people, never a stack trace.
- **Redaction**: whatever the run reports (the engine's error line, which may quote the endpoint's
  answer; result.json; a crash's traceback in the log) goes through `redact()` first, which masks the
  secret, its escaped spellings, and any run of 6 or more of its characters (a quote cut off mid-way).
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from gaodi.engines.evaluation import EndpointError

log = logging.getLogger(__name__)

DEFAULT_HEADER = "Authorization"
MAX_HEADER_LENGTH = 64
MIN_SECRET_LENGTH = 8
MAX_SECRET_LENGTH = 4096
HINT_MIN_LENGTH = 16  # the page shows the last 4 characters only of secrets at least this long
MASK = "[redacted]"
MIN_RUN = 6  # redact every run of this many characters of the secret (or the whole secret if shorter)

_CANONICAL = {"authorization": "Authorization", "api-key": "Api-Key", "x-api-key": "X-API-Key"}
_X_NAME = re.compile(r"X(?:-[A-Za-z0-9]+)+", re.IGNORECASE)
# Set by the HTTP client or the connection itself: never a credential.
_RESERVED = {"host", "cookie", "set-cookie", "content-length", "transfer-encoding", "connection", "keep-alive",
             "content-type", "accept", "accept-encoding", "te", "trailer", "upgrade", "expect",
             "proxy-authorization", "proxy-connection"}
# X- names that proxies and frameworks act on (client address, routed host or URL, method override).
_PROXY_X = {"x-real-ip", "x-client-ip", "x-cluster-client-ip", "x-host", "x-original-url", "x-rewrite-url",
            "x-http-method", "x-http-method-override", "x-method-override", "x-proxyuser-ip", "x-original-host"}
_PROXY_X_PREFIXES = ("x-forwarded-", "x-original-", "x-envoy-")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")


class EndpointCredentialError(EndpointError):
    """The stored endpoint credential cannot be decrypted (the key file is missing or not the one that
    encrypted it). The message is for people and names no path and no secret."""


# ---- validation (the request form, the replace form and the API share these) ----------------------

def clean_header(value: str | None) -> str:
    """The header name to send the credential in (default Authorization), in its usual spelling."""
    name = (value or "").strip(" \t")
    if not name:
        return DEFAULT_HEADER
    if _CONTROL.search(name):
        raise forms.ValidationError(_("请求头名称不能包含换行或控制字符。"))
    lower = name.lower()
    if lower in _CANONICAL:
        return _CANONICAL[lower]
    shown = name[:MAX_HEADER_LENGTH]
    if lower in _RESERVED:
        raise forms.ValidationError(
            _("请求头 %(name)s 由平台或网络连接本身设定，不能用来传凭据；请用 Authorization、X-API-Key、Api-Key "
              "或其他以 X- 开头的请求头。") % {"name": shown})
    if lower in _PROXY_X or lower.startswith(_PROXY_X_PREFIXES):
        raise forms.ValidationError(
            _("请求头 %(name)s 会被代理服务器当作客户端地址、主机或请求方法处理，不能用来传凭据；"
              "请用 Authorization、X-API-Key、Api-Key 或其他以 X- 开头的请求头。") % {"name": shown})
    if len(name) > MAX_HEADER_LENGTH or not _X_NAME.fullmatch(name):
        raise forms.ValidationError(
            _("请求头名称“%(name)s”不可用：只能用 Authorization、X-API-Key、Api-Key，或以 X- 开头、由字母、数字和"
              "连字符组成的名称（最多 %(max)d 个字符）。") % {"name": shown, "max": MAX_HEADER_LENGTH})
    return name


def clean_secret(value: str | None) -> str:
    """The credential's value, refused (without ever quoting it) unless it is a safe header value."""
    secret = (value or "").strip(" \t")
    if not secret:
        return ""
    if re.search(r"[\r\n\x00]", secret):
        raise forms.ValidationError(_("凭据值不能包含换行（CR、LF）或空字符（NUL）。"))
    if not _PRINTABLE_ASCII.fullmatch(secret):
        raise forms.ValidationError(_("凭据值只能包含可打印的 ASCII 字符（字母、数字、空格和常见符号），"
                                      "不能有控制字符或中文等非 ASCII 字符。"))
    if len(secret) > MAX_SECRET_LENGTH:
        raise forms.ValidationError(_("凭据值不能超过 %(max)d 个字符。") % {"max": MAX_SECRET_LENGTH})
    if len(secret) < MIN_SECRET_LENGTH:
        raise forms.ValidationError(_("凭据值太短（至少 %(min)d 个字符）：请填写接口提供方给出的完整值，"
                                      "例如“Bearer ”加令牌。") % {"min": MIN_SECRET_LENGTH})
    return secret


def hint(secret: str) -> str:
    """What the owner's page may show of a secret: its last 4 characters, and only for long secrets."""
    return secret[-4:] if len(secret) >= HINT_MIN_LENGTH else ""


# ---- the key and encryption ------------------------------------------------------------------------

def key_path() -> Path:
    configured = (getattr(settings, "GAODI_ENDPOINT_SECRET_KEY_FILE", None)
                  or os.environ.get("GAODI_ENDPOINT_SECRET_KEY_FILE"))
    return Path(configured) if configured else Path(settings.VAR_DIR) / "keys" / "endpoint-secrets.key"


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: use theirs
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key() + b"\n")


def _keys(create: bool) -> MultiFernet | None:
    """The key ring from the key file (first line encrypts), or None when there is no usable file."""
    path = key_path()
    if create and not path.exists():
        _create(path)
    try:
        lines = path.read_text(encoding="ascii").splitlines()
        if path.stat().st_mode & 0o077:
            log.warning("endpoint credential key file %s is readable by others; chmod 600 it", path)
        ring = [Fernet(line.strip().encode()) for line in lines if line.strip() and not line.startswith("#")]
    except FileNotFoundError:
        log.warning("endpoint credential key file %s is missing", path)
        return None
    except (OSError, ValueError):
        log.warning("endpoint credential key file %s cannot be read as Fernet keys", path)
        return None
    return MultiFernet(ring) if ring else None


@sensitive_variables("secret", "plaintext")
def encrypt(secret: str, bound_to: str) -> str:
    """The Fernet token (ASCII) of `secret`, bound to one request's random token. Creates the key on
    first use. Raises forms.ValidationError (on the secret field) if the key file is unusable."""
    ring = _keys(create=True)
    if ring is None:
        raise forms.ValidationError(_("平台暂时无法保存凭据（凭据密钥文件不可用），请联系平台运营方。"))
    plaintext = json.dumps({"request": bound_to, "secret": secret}).encode()
    return ring.encrypt(plaintext).decode("ascii")


CANNOT_DECRYPT = ("the endpoint credential cannot be decrypted (the platform's credential key is missing or "
                  "is not the one it was stored with); ask the enterprise to enter it again")


@sensitive_variables("secret", "plaintext", "data")
def decrypt(token: str, bound_to: str) -> str:
    """The secret stored as `token` for the request whose random token is `bound_to`."""
    ring = _keys(create=False)
    if ring is None:
        raise EndpointCredentialError(CANNOT_DECRYPT)
    try:
        plaintext = ring.decrypt(token.encode("ascii"))
        data = json.loads(plaintext)
    except (InvalidToken, UnicodeError, ValueError):
        log.warning("an endpoint credential does not decrypt with the key in %s", key_path())
        raise EndpointCredentialError(CANNOT_DECRYPT) from None
    if not isinstance(data, dict) or data.get("request") != bound_to or not isinstance(data.get("secret"), str):
        raise EndpointCredentialError(CANNOT_DECRYPT)
    return data["secret"]


# ---- redaction -------------------------------------------------------------------------------------

def _escapes(text: str) -> set[str]:
    backslashed = text.replace("\\", "\\\\")
    return {text, backslashed, backslashed.replace("'", "\\'"), backslashed.replace('"', '\\"'),
            json.dumps(text)[1:-1], quote(text, safe=""), quote_plus(text),
            text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("'", "&#x27;")}


def _spellings(secret: str) -> list[str]:
    """The secret as it may appear in an error line: raw, or escaped once or twice (repr, JSON, URL, HTML)."""
    found = set()
    for once in _escapes(secret):
        found |= _escapes(once)
    return sorted(found, key=len, reverse=True)


@sensitive_variables("secret")
def redact(text: str, secret: str | None) -> str:
    """`text` with every spelling of `secret`, and every run of MIN_RUN or more of its characters, masked."""
    if not text or not secret:
        return text
    spellings = _spellings(secret)
    shortest = min(MIN_RUN, len(secret))
    # Every run of `shortest` characters of any spelling: a position can start a match only with one of these.
    starts = {spelling[j:j + shortest] for spelling in spellings for j in range(len(spelling) - shortest + 1)}
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        if text[i:i + shortest] not in starts:
            i += 1
            continue
        best = 0
        for spelling in spellings:
            end = i + best + 1
            while end <= len(text) and text[i:end] in spelling:
                end += 1
            best = max(best, end - 1 - i)
        if best >= shortest:
            spans.append((i, i + best))
            i += best
        else:
            i += 1
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], MASK]
        last = end
    out.append(text[last:])
    return "".join(out)


def redact_document(value: Any, secret: str | None) -> Any:
    """A JSON-like document (the run's result.json) with every string redacted."""
    if not secret:
        return value
    if isinstance(value, str):
        return redact(value, secret)
    if isinstance(value, dict):
        return {redact(k, secret) if isinstance(k, str) else k: redact_document(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_document(v, secret) for v in value]
    return value
