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

        from django.db.models.signals import post_save

        from images_app.models import Image
        from tasks_app.models import link_producing_task

        post_save.connect(link_producing_task, sender=Image, dispatch_uid="tasks_app.link_producing_task")
