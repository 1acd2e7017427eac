from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "gaodi.apps.compute"
    label = "compute"
    verbose_name = "公共算力 Public compute"

    def ready(self) -> None:
        from . import features, policies  # noqa: F401  register features and permission policies
