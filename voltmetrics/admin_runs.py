"""Admin for recompute runs split into chunks (read-only: written by the recompute tasks)."""

from django.contrib import admin

from facilities.admin_support import ReadOnlyAdmin

from .models import RecomputeChunk, RecomputeRun


class RecomputeChunkInline(admin.TabularInline):
    model = RecomputeChunk
    extra = 0
    can_delete = False
    fields = (
        "number", "pk_from", "pk_to", "facilities", "equipment", "attempts", "worker",
        "started_at", "finished_at", "seconds",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="seconds")
    def seconds(self, chunk):
        if chunk.started_at and chunk.finished_at:
            return f"{(chunk.finished_at - chunk.started_at).total_seconds():.1f}"
        return "—"


@admin.register(RecomputeRun)
class RecomputeRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "kind", "status", "as_of", "algorithm_version", "progress", "facilities",
        "equipment", "queued_at", "seconds",
    )  # fmt: skip
    list_filter = ("kind", "status")
    date_hierarchy = "queued_at"
    fields = (
        "kind", "status", "as_of", "algorithm_version", "chunks_total", "chunks_done",
        "facilities", "equipment", "queued_at", "finished_at", "note",
    )  # fmt: skip
    readonly_fields = fields
    inlines = [RecomputeChunkInline]

    @admin.display(description="chunks")
    def progress(self, run):
        return f"{run.chunks_done}/{run.chunks_total}"

    @admin.display(description="seconds")
    def seconds(self, run):
        if run.finished_at:
            return f"{(run.finished_at - run.queued_at).total_seconds():.1f}"
        return "—"
