from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "gaodi.apps.core"
    label = "core"
    verbose_name = "核心 Core"

    def ready(self) -> None:
        from . import features  # noqa: F401  registers the core's own features
