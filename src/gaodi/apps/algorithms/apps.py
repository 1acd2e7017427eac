from django.apps import AppConfig


class AlgorithmsConfig(AppConfig):
    name = "gaodi.apps.algorithms"
    label = "algorithms"
    verbose_name = "算法备案 Algorithm filing"

    def ready(self) -> None:
        from . import features, policies  # noqa: F401  register features and permission policies
