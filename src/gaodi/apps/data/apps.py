from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "gaodi.apps.data"
    label = "data"
    verbose_name = "数据资源 Data resources"

    def ready(self) -> None:
        from . import features, policies, products_features, products_policies  # noqa: F401  registers them
