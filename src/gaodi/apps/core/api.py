"""The platform API at /api/v1 (django-ninja). Apps add their routers here.

Authentication (the same users, roles and permission policies as the web UI):

- `Authorization: Bearer gdt_…`: a personal access token (only its SHA-256 is stored). A header that is
  present but wrong (unknown, revoked or expired token, inactive user, another scheme) is a 401: a bad
  credential is never silently treated as anonymous.
- the browser's Django session cookie; writes then need the CSRF token (`X-CSRFToken` header).
- no credentials at all: allowed on public endpoints (`auth=PUBLIC_AUTH`), a 401 elsewhere.

Errors are JSON, never a stack trace: `{"detail": "..."}`, or for invalid input
`{"detail": [{"field": "name", "message": "..."}, ...]}` with status 422 (`__all__` for non-field errors).
"""

import logging
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from . import actions, features
from .models import Article, PersonalAccessToken
from .permissions import is_authenticated

logger = logging.getLogger(__name__)

# last_used_at is written at most this often per token (a busy client must not write on every call).
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
MAX_PAGE_LIMIT = 200


# ---- authentication -----------------------------------------------------------------------------

def user_for_token(key: str):
    """The active user behind an active personal access token, or None."""
    if not key.startswith(PersonalAccessToken.PREFIX):
        return None
    token = (PersonalAccessToken.objects.select_related("user")
             .filter(key_hash=PersonalAccessToken.hash_key(key)).first())
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_INTERVAL:
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class TokenAuth(HttpBearer):
    """个人访问令牌 Personal access token: `Authorization: Bearer gdt_…` (create one under 账户 › 访问令牌)."""

    openapi_bearerFormat = "gdt_…"
    openapi_description = "个人访问令牌（在“访问令牌”页面创建）。Personal access token, created on the tokens page."

    def __call__(self, request: HttpRequest):
        header = request.headers.get(self.header)
        if header is None:
            return None  # no credential offered: let the next method (session, anonymous) decide
        scheme, _sep, key = header.strip().partition(" ")
        if scheme.lower() != self.openapi_scheme or not key.strip():
            raise AuthenticationError(message="请使用 Authorization: Bearer gdt_… 令牌。Use a Bearer token.")
        return self.authenticate(request, key.strip())

    def authenticate(self, request: HttpRequest, token: str):
        user = user_for_token(token)
        if user is None:
            raise AuthenticationError(message="令牌无效、已吊销或已过期。Invalid, revoked or expired token.")
        request.user = user  # the rest of the code (policies, actions) reads request.user like the web UI
        request.api_auth_method = "token"
        return user


class SessionAuth(APIKeyCookie):
    """Django session of the signed-in browser. Unsafe methods need the CSRF token, as in the web UI."""

    param_name = settings.SESSION_COOKIE_NAME
    openapi_description = "浏览器登录会话（写操作需 X-CSRFToken）。Browser session; writes need X-CSRFToken."

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest):
        # CSRF is checked in authenticate, only once we know there is a signed-in user: a request
        # without any credential is then a 401, not a confusing CSRF 403.
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key):
        user = getattr(request, "user", None)
        if not is_authenticated(user):
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise HttpError(403, "CSRF 校验失败，请附带 X-CSRFToken。CSRF check failed.")
        request.api_auth_method = "session"
        return user


class Anonymous:
    """Last resort on public endpoints: no credentials at all means the anonymous public."""

    def __call__(self, request: HttpRequest):
        request.user = AnonymousUser()
        request.api_auth_method = ""
        return request.user


token_auth = TokenAuth()
session_auth = SessionAuth()
PRIVATE_AUTH = [token_auth, session_auth]
PUBLIC_AUTH = [token_auth, session_auth, Anonymous()]


def current_user(request: HttpRequest):
    """The caller: the token's or session's user, or AnonymousUser on public endpoints."""
    user = getattr(request, "auth", None)
    return user if user is not None else AnonymousUser()


class UnicodeJSONRenderer(JSONRenderer):
    """UTF-8 JSON with Chinese text as characters, not \\u escapes (readable in curl and logs)."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="Gaodi API",
    renderer=UnicodeJSONRenderer(),
    version="1",
    urls_namespace="api",
    auth=PRIVATE_AUTH,
    description=(
        "高地平台接口：条例条文、算法备案与公示。公开接口无需登录；其他接口使用个人访问令牌"
        "（`Authorization: Bearer gdt_…`）或浏览器会话。权限与网页相同。\n\n"
        "Gaodi platform API: the regulation, algorithm filing and disclosure. Public endpoints need no "
        "credentials; the others take a personal access token (`Authorization: Bearer gdt_…`) or the "
        "browser session, with the same permissions as the web pages. Invalid input is a 422 with "
        "`{\"detail\": [{\"field\": ..., \"message\": ...}]}`."
    ),
)


# ---- errors -------------------------------------------------------------------------------------

def validation_errors(exc: DjangoValidationError) -> list[dict]:
    """Django ValidationError -> [{"field", "message"}], `__all__` for errors not tied to a field."""
    if hasattr(exc, "error_dict"):
        return [{"field": field, "message": str(message)}
                for field, messages in exc.message_dict.items() for message in messages]
    return [{"field": NON_FIELD_ERRORS, "message": str(message)} for message in exc.messages]


def raise_form_errors(form) -> None:
    """Raise a form's errors as a Django ValidationError (rendered as a 422 by the handler below)."""
    raise DjangoValidationError({field: list(errors) for field, errors in form.errors.items()})


_REQUEST_PARTS = {"body", "query", "path", "form", "file", "header", "cookie", "payload", "filters"}


def _ninja_field(loc) -> str:
    names = [p for p in loc if isinstance(p, str) and p not in _REQUEST_PARTS]
    return names[-1] if names else NON_FIELD_ERRORS


@api.exception_handler(DjangoValidationError)
def _on_validation_error(request, exc):
    return api.create_response(request, {"detail": validation_errors(exc)}, status=422)


@api.exception_handler(NinjaValidationError)
def _on_request_validation_error(request, exc):
    # Malformed parameters or body (wrong type, missing field) get the same shape as form errors.
    detail = [{"field": _ninja_field(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors]
    return api.create_response(request, {"detail": detail}, status=422)


_PERM_CODE = re.compile(r"^[a-z_]+$")


@api.exception_handler(PermissionDenied)
def _on_permission_denied(request, exc):
    message = str(exc)
    if not message or _PERM_CODE.match(message):
        # require() raises with the bare permission name; give the client a sentence.
        message = "您无权执行此操作。You do not have permission to do this." + (f" ({message})" if message else "")
    return api.create_response(request, {"detail": message}, status=403)


@api.exception_handler(Http404)
def _on_not_found(request, exc):
    return api.create_response(request, {"detail": "未找到。Not found."}, status=404)


@api.exception_handler(AuthenticationError)
def _on_unauthenticated(request, exc):
    message = str(exc)
    if message == AuthenticationError().message:  # ninja's bare default: no credential was offered
        message = "请登录或提供访问令牌（Authorization: Bearer gdt_…）。Authentication required."
    response = api.create_response(request, {"detail": message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="gaodi"'
    return response


@api.exception_handler(HttpError)
def _on_http_error(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(Exception)
def _on_unexpected(request, exc) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return api.create_response(request, {"detail": "服务器内部错误。Internal server error."}, status=500)


# ---- shared schemas -----------------------------------------------------------------------------

class ErrorItem(Schema):
    field: str = Field(..., description="出错的字段（__all__ 表示整体）Field in error (__all__: not one field)")
    message: str = Field(..., description="错误说明与改正方法 What is wrong and how to fix it")


class ValidationErrorOut(Schema):
    detail: list[ErrorItem]


class MessageOut(Schema):
    detail: str = Field(..., description="说明 Explanation")


ERRORS = {401: MessageOut, 403: MessageOut, 404: MessageOut, 422: ValidationErrorOut}


class PageParams(Schema):
    limit: int = Field(20, ge=1, le=MAX_PAGE_LIMIT, description="每页条数（最多 200）Page size (at most 200)")
    offset: int = Field(0, ge=0, description="跳过的条数 Items to skip")


def page(qs, params: PageParams, convert) -> dict:
    """Slice a queryset for limit/offset pagination: {count, limit, offset, items}."""
    return {"count": qs.count(), "limit": params.limit, "offset": params.offset,
            "items": [convert(obj) for obj in qs[params.offset:params.offset + params.limit]]}


# ---- regulation ---------------------------------------------------------------------------------

class FeatureOut(Schema):
    key: str = Field(..., description="功能标识 Feature key")
    name: str = Field(..., description="功能名称 Feature name")
    description: str = Field("", description="说明 Description")
    articles: list[int] = Field(..., description="法律依据（条）Legal basis (article numbers)")
    url: str = Field("", description="页面地址 Page URL")


class ArticleOut(Schema):
    number: int = Field(..., description="条 Article number")
    title: str = Field(..., description="条标题 Article title")
    chapter: int = Field(..., description="章 Chapter number")
    chapter_title: str = Field(..., description="章标题 Chapter title")
    text: str = Field(..., description="条文（段落以换行分隔）Text, paragraphs separated by newlines")
    features: list[FeatureOut] = Field(..., description="实施本条的平台功能 Platform features implementing it")


def _feature(feature) -> dict:
    url = ""
    if feature.url_name:
        try:
            url = reverse(feature.url_name)
        except NoReverseMatch:
            url = ""
    return {"key": feature.key, "name": str(feature.name), "description": str(feature.description or ""),
            "articles": list(feature.articles), "url": url}


def _article(article: Article) -> dict:
    return {"number": article.number, "title": article.title, "chapter": article.chapter.number,
            "chapter_title": article.chapter.title, "text": article.text,
            "features": [_feature(f) for f in features.for_article(article.number)]}


@api.get("/regulation/articles", response=list[ArticleOut], auth=PUBLIC_AUTH, tags=["regulation 条例"],
         summary="条例条文列表 The regulation's articles")
def list_articles(request):
    """条例全部条文，每条附实施它的平台功能。All articles, each with the features that implement it."""
    return [_article(a) for a in Article.objects.select_related("chapter").order_by("number")]


@api.get("/regulation/articles/{number}", response={200: ArticleOut, 404: MessageOut}, auth=PUBLIC_AUTH,
         tags=["regulation 条例"], summary="单条条文 One article")
def get_article(request, number: int):
    article = Article.objects.select_related("chapter").filter(number=number).first()
    if article is None:
        raise Http404("article")
    return _article(article)


# ---- the caller ---------------------------------------------------------------------------------

class RoleOut(Schema):
    organization_id: int = Field(..., description="机构 ID Organization id")
    organization: str = Field(..., description="机构名称 Organization name")
    role: str = Field(..., description="角色：member/admin/reviewer/publisher Role")
    role_label: str = Field(..., description="角色名称 Role label")


class MembershipOrgOut(Schema):
    id: int
    name: str = Field(..., description="名称 Name")
    code: str = Field(..., description="平台编码 Platform code")
    kind: str = Field(..., description="类型，如 enterprise、department Kind")
    kind_label: str = Field(..., description="类型名称 Kind label")
    roles: list[str] = Field(..., description="在该机构的角色 The caller's roles there")


class MeOut(Schema):
    id: int
    username: str = Field(..., description="用户名 Username")
    display_name: str = Field(..., description="显示名 Display name")
    is_superuser: bool = Field(..., description="平台管理员 Platform administrator")
    auth: str = Field(..., description="认证方式：token 或 session Authentication method")
    organizations: list[MembershipOrgOut] = Field(..., description="所属机构 Organizations")
    roles: list[RoleOut] = Field(..., description="角色 Roles")


@api.get("/me", response={200: MeOut, 401: MessageOut}, tags=["account 账户"], summary="当前用户 The caller")
def me(request):
    """当前用户、所属机构与角色。The caller, their organizations and roles."""
    user = current_user(request)
    memberships = user.memberships.select_related("organization").order_by("organization__name", "role")
    orgs: dict[int, dict] = {}
    roles = []
    for m in memberships:
        org = m.organization
        entry = orgs.setdefault(org.pk, {"id": org.pk, "name": org.name, "code": org.code, "kind": org.kind,
                                         "kind_label": org.get_kind_display(), "roles": []})
        entry["roles"].append(m.role)
        roles.append({"organization_id": org.pk, "organization": org.name, "role": m.role,
                      "role_label": m.get_role_display()})
    return {"id": user.pk, "username": user.username, "display_name": user.display_name or user.username,
            "is_superuser": user.is_superuser, "auth": getattr(request, "api_auth_method", ""),
            "organizations": list(orgs.values()), "roles": roles}


class NotificationOut(Schema):
    id: int
    message: str = Field(..., description="内容 Message")
    url: str = Field(..., description="相关页面 Related page")
    created_at: datetime = Field(..., description="时间 Created at")
    read_at: datetime | None = Field(None, description="已读时间 Read at")


class NotificationPage(Schema):
    count: int
    unread: int = Field(..., description="未读条数 Unread count")
    limit: int
    offset: int
    items: list[NotificationOut]


class NotificationParams(PageParams):
    unread_only: bool = Field(False, description="只看未读 Only unread notifications")


def _notification(n) -> dict:
    return {"id": n.pk, "message": n.message, "url": n.url, "created_at": n.created_at, "read_at": n.read_at}


@api.get("/notifications", response={200: NotificationPage, 401: MessageOut, 422: ValidationErrorOut},
         tags=["account 账户"], summary="站内通知 Notifications")
def list_notifications(request, params: Query[NotificationParams]):
    qs = current_user(request).notifications.all()
    unread = qs.filter(read_at__isnull=True)
    result = page(unread if params.unread_only else qs, params, _notification)
    result["unread"] = unread.count()
    return result


class MarkedOut(Schema):
    marked: int = Field(..., description="标为已读的条数 Notifications marked read")


@api.post("/notifications/read", response={200: MarkedOut, 401: MessageOut, 403: MessageOut},
          tags=["account 账户"], summary="全部标为已读 Mark all read")
def mark_notifications_read(request):
    return {"marked": actions.mark_notifications_read(current_user(request))}


# Apps' routers register themselves on `api` when imported (they import `api` from here; importing them
# last keeps the import order safe whichever module is loaded first).
import gaodi.apps.algorithms.api  # noqa: E402, F401, I001
import gaodi.apps.algorithms.evaluation_api  # noqa: E402, F401, I001
import gaodi.apps.compute.api  # noqa: E402, F401, I001
import gaodi.apps.data.api  # noqa: E402, F401, I001
