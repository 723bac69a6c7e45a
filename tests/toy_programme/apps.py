from django.apps import AppConfig


class ToyConfig(AppConfig):
    name = "tests.toy_programme"
    label = "toy_programme"
    verbose_name = "测试用小项目"

    def ready(self) -> None:
        from .programme import register

        register()
