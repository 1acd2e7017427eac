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


def form_view(request, form, action, *, template: str, context: dict | None = None, success: str = "",
              next_url=None):
    """The usual body of a form page: on a POST with a valid form, call `action(form)` (an action function
    that validates again and raises ValidationError keyed by field); on success flash `success` and
    redirect to `next_url` (a URL or URL name, or a callable given the action's result that returns one);
    otherwise, and on GET, render `template` with the form (and its field errors) and `context`."""
    from django.contrib import messages
    from django.shortcuts import redirect, render

    if request.method == "POST" and form.is_valid():
        try:
            result = action(form)
        except ValidationError as exc:
            errors_to_form(form, exc)
        else:
            if success:
                messages.success(request, success)
            target = next_url(result) if callable(next_url) else next_url
            return redirect(target)
    return render(request, template, {**(context or {}), "form": form})
