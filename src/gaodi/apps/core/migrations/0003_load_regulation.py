from django.db import migrations


def load(apps, schema_editor):
    from gaodi.apps.core.regulation import REGULATION_FILE
    from gaodi.engines.text.regulation import load_regulation

    Chapter = apps.get_model("core", "Chapter")
    Article = apps.get_model("core", "Article")
    for chapter in load_regulation(REGULATION_FILE).chapters:
        ch = Chapter.objects.create(number=chapter.number, title=chapter.title)
        for art in chapter.articles:
            Article.objects.create(number=art.number, chapter=ch, title=art.title, text="\n".join(art.paragraphs))


def unload(apps, schema_editor):
    apps.get_model("core", "Article").objects.all().delete()
    apps.get_model("core", "Chapter").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0002_search_index")]
    operations = [migrations.RunPython(load, unload)]
