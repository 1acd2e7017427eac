"""Load the regulation text shipped with the project into Chapter and Article rows."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from gaodi.engines.text.regulation import load_regulation

from .models import Article, Chapter

REGULATION_FILE = Path(__file__).parent / "data" / "regulation_draft_2022.zh-Hant.txt"


def load(path: Path = REGULATION_FILE) -> int:
    """(Re)load chapters and articles; idempotent. Returns the number of articles."""
    regulation = load_regulation(path)
    count = 0
    with transaction.atomic():
        for chapter in regulation.chapters:
            ch, _ = Chapter.objects.update_or_create(number=chapter.number, defaults={"title": chapter.title})
            for article in chapter.articles:
                Article.objects.update_or_create(
                    number=article.number,
                    defaults={"chapter": ch, "title": article.title, "text": "\n".join(article.paragraphs)},
                )
                count += 1
    return count
