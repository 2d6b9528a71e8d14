from django.apps import AppConfig


class TasksAppConfig(AppConfig):
    name = "tasks_app"
    verbose_name = "Tasks"

    def ready(self):
        from images_app.services import image_in_use
        from models_app.services import model_in_use
        from tasks_app.usage import image_needed_by_active_task, model_needed_by_active_task

        model_in_use.register("active tasks", model_needed_by_active_task)
        image_in_use.register("active tasks", image_needed_by_active_task)
