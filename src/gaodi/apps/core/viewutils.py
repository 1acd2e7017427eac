"""Small helpers every app's views share: paging, and showing an action's ValidationError."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator


def paginate(request, qs, per_page: int = 20) -> Page:
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def errors_to_form(form, exc: ValidationError) -> None:
    """Put an action's errors on the form fields they name (the rest at the top of the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def error_messages(exc: ValidationError) -> list[str]:
    """All messages of a ValidationError, for a flash message."""
    if hasattr(exc, "error_dict"):
        return [m for errors in exc.message_dict.values() for m in errors]
    return list(exc.messages)
