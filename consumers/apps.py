from django.apps import AppConfig


class ConsumersConfig(AppConfig):
    name = "consumers"
    verbose_name = "Consumers: portfolios, events and webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from masterbus.metrics.application import register_provider as register_metrics_provider

        from . import events
        from .webhooks import tasks  # noqa: F401  (the delivery tasks, for the workers)
        from .webhooks.metrics import webhook_samples
        from .webhooks.retention import register as register_pruners

        events.connect()  # events are written in the transaction of the change they record
        register_metrics_provider("webhooks", webhook_samples)
        register_pruners()
        _connect_portfolios()


def _connect_portfolios() -> None:
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from masterbus.access import register_scope_provider
    from masterbus.changes import records_changed
    from masterbus.services import register_api_key_binder

    from .access import scope_provider
    from .models import Portfolio
    from .portfolio_tasks import rules_apply_soon
    from .portfolios import api_key_binder, membership_changed

    # Who sees what: every layer asks masterbus.access, which asks the portfolios.
    register_scope_provider(scope_provider)
    # manage.py create_api_key --portfolio SLUG …
    register_api_key_binder("portfolio", api_key_binder)
    # Rules follow the facilities: re-applied shortly after mirrored records change.
    records_changed.connect(
        lambda sender, **kwargs: rules_apply_soon(), dispatch_uid="consumers.rules", weak=False
    )

    def _changed(sender, action=None, **kwargs):
        if action is None or action.startswith("post_"):
            membership_changed()

    for through in (
        Portfolio.facilities.through,
        Portfolio.api_keys.through,
        Portfolio.users.through,
    ):
        m2m_changed.connect(
            _changed, sender=through, weak=False, dispatch_uid=f"consumers.{through}"
        )
    # Names and slugs are listed (GET /portfolios) under the generation too.
    post_save.connect(_changed, sender=Portfolio, weak=False, dispatch_uid="consumers.saved")
    post_delete.connect(_changed, sender=Portfolio, weak=False, dispatch_uid="consumers.deleted")
