from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "gaodi.apps.data"
    label = "data"
    verbose_name = "数据资源 Data resources"

    def ready(self) -> None:
        from . import features, policies  # noqa: F401  register features and permission policies
