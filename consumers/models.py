"""Portfolios (who sees what), events (what changed) and webhook subscriptions (who is told):
consumers.md."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from facilities.models import Facility
from masterbus.audit import AuditedHistory
from masterbus.models import ApiKey

from .choices import DeliveryStatus

SLUG_RE = r"^[a-z0-9-]{1,50}$"


class Portfolio(models.Model):
    """A named set of facilities (§1): picked by staff, or matched by a saved rule."""

    slug = models.CharField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(SLUG_RE, "Lowercase letters, digits and hyphens (1–50).")],
        help_text="Public id: lowercase letters, digits and hyphens.",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    facilities = models.ManyToManyField(
        Facility, through="PortfolioFacility", related_name="portfolios", blank=True
    )
    rule_contractor = models.CharField(
        "rule: contractor", max_length=500, blank=True, default="",
        help_text="Every facility whose contractor is this (case-insensitive).",
    )  # fmt: skip
    rule_city = models.CharField(
        "rule: city", max_length=500, blank=True, default="",
        help_text="Every facility in this city (case-insensitive).",
    )  # fmt: skip
    rule_state = models.CharField(
        "rule: state", max_length=500, blank=True, default="",
        help_text="Every facility in this state (e.g. IL).",
    )  # fmt: skip
    api_keys = models.ManyToManyField(ApiKey, related_name="portfolios", blank=True)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="portfolios", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Audit history (masterbus/audit.py), with who belongs and who sees it: the staff-picked
    # facilities (Condoit ids; the rule's members follow the rule, which is recorded), the
    # bound API keys and users.
    history = AuditedHistory(
        excluded_fields=["updated_at"],
        related={
            "picked_facilities": lambda p: _picked_facilities(p),
            "bound_api_keys": lambda p: [str(k) for k in p.api_keys.order_by("pk")],
            "bound_users": lambda p: _usernames(p.users.all()),
        },
    )

    class Meta:
        ordering = ["name", "slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def has_rule(self) -> bool:
        return bool(self.rule_contractor or self.rule_city or self.rule_state)


def _picked_facilities(portfolio: Portfolio) -> list[str]:
    return list(
        PortfolioFacility.objects.filter(portfolio=portfolio, by_rule=False)
        .order_by("facility__external_id")
        .values_list("facility__external_id", flat=True)
    )


def _slugs(portfolios) -> list[str]:
    return list(portfolios.order_by("slug").values_list("slug", flat=True))


def _usernames(users) -> list[str]:
    field = users.model.USERNAME_FIELD
    return list(users.order_by(field).values_list(field, flat=True))


class PortfolioFacility(models.Model):
    """Membership; ``by_rule`` rows follow the rule, the others were picked by staff."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="members")
    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="+")
    by_rule = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "facility"], name="one_membership"),
        ]
        indexes = [models.Index(fields=["facility", "portfolio"])]

    def __str__(self) -> str:
        return f"{self.portfolio_id}:{self.facility_id}"


class Event(models.Model):
    """A fact MasterBus knows (§2), written in the transaction of the change it records.

    The public id is ``evt_`` and the sequence number, zero-padded: unique and sortable by
    creation. Writers take one transaction-scoped lock before they insert, so ids become
    visible in id order and a consumer reading "after" an id never misses a later commit."""

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    # The facility the event is about (None: a system event, for unbound consumers only).
    # No constraint: events outlive facilities.
    facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )  # fmt: skip
    data = models.JSONField()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["created_at"]),
            models.Index(fields=["facility", "id"]),
            models.Index(fields=["type", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"

    @property
    def public_id(self) -> str:
        return event_public_id(self.id)


def event_public_id(pk: int) -> str:
    return f"evt_{pk:016d}"


class Subscription(models.Model):
    """A webhook subscription (§4): every event of its types (and portfolios) is POSTed to its
    URL, in order, signed with its secret."""

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True, default="")
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types to send; empty = all."
    )
    portfolios = models.ManyToManyField(Portfolio, related_name="subscriptions", blank=True)
    active = models.BooleanField(default=True)
    # Fernet tokens (masterbus.crypto); the secret itself is shown once, at creation.
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(editable=False, blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Every event with an id up to this one has been delivered (or given up on).
    cursor = models.BigIntegerField(default=0, editable=False)
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_reason = models.CharField(max_length=500, blank=True, default="", editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )  # fmt: skip
    # Audit history (masterbus/audit.py): never a secret, encrypted or not; not the progress
    # of the deliveries (cursor, last success, failures in a row); with the portfolios bound.
    history = AuditedHistory(
        excluded_fields=[
            "secret_encrypted", "previous_secret_encrypted", "cursor", "last_success_at",
            "consecutive_failures",
        ],
        related={"bound_portfolios": lambda s: _slugs(s.portfolios.all())},
    )  # fmt: skip

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.url}"


class Delivery(models.Model):
    """One event to one subscription, with every attempt."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )  # fmt: skip
    event_type = models.CharField(max_length=64)
    event_public_id = models.CharField(max_length=32)
    body = models.BinaryField(help_text="The exact bytes sent.")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    replay = models.BooleanField(default=False, help_text="Sent again by staff, or a test event.")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["subscription", "-id"]),
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_public_id} → #{self.subscription_id} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response = models.TextField(blank=True, default="", help_text="First 2 KB of the answer.")
    error = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        ordering = ["delivery", "at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
