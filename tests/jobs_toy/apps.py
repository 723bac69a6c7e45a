from django.apps import AppConfig


class JobsToyConfig(AppConfig):
    name = "tests.jobs_toy"
    label = "jobs_toy"

    def ready(self) -> None:
        from .kind import register

        register()
