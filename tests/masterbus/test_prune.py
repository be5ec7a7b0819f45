"""Retention (operations.md §3): ``manage.py prune [--dry-run]`` and the ``masterbus.prune``
beat task keep what the spec keeps, delete the rest in batches, and refuse a setting below
its floor without deleting anything."""

import logging
import os
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from equipment.models import Equipment, Photo
from facilities.choices import ChangeSource, RecordKind, SyncSource, SyncStatus
from facilities.models import Facility, ProcessedEvent, RecordChange, RejectedRecord, SyncRun
from masterbus.celery import app
from masterbus.retention import RetentionRefused, batch_size, prune, retention_floors
from masterbus.tasks import prune_task
from voltmetrics.choices import JobKind, JobStatus, RunKind, RunStatus
from voltmetrics.models import Job, RecomputeChunk, RecomputeRun, WebhookEvent

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def retention_settings(settings, tmp_path):
    settings.SYNC_RUN_RETENTION_DAYS = 90
    settings.PROCESSED_EVENT_RETENTION_DAYS = 14
    settings.CHANGE_RETENTION_DAYS = 7
    settings.VOLTMETRICS_RETENTION_DAYS = 30
    settings.EVENT_RETENTION_DAYS = 30
    settings.PHOTO_ORPHAN_RETENTION_DAYS = 1
    settings.PRUNE_BATCH_SIZE = 5000
    settings.VOLTMETRICS_URL = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings


# --- builders -----------------------------------------------------------------------------------


def sync_run(source=SyncSource.PULL, *, age=timedelta(0), rejections=()):
    """A finished sync run started ``age`` before NOW, with rejections given by their
    ``rerun_at`` (None: never re-run) or (rerun_at, outcome)."""
    run = SyncRun.objects.create(source=source, status=SyncStatus.SUCCEEDED)
    SyncRun.objects.filter(pk=run.pk).update(started_at=NOW - age, finished_at=NOW - age)
    for rej in rejections:
        rerun_at, outcome = rej if isinstance(rej, tuple) else (rej, "")
        RejectedRecord.objects.create(
            sync_run=run, kind=RecordKind.EQUIPMENT, record_id="eq", field="facilityId",
            reason="unknown facility", raw="{}", rerun_at=rerun_at, rerun_outcome=outcome,
        )  # fmt: skip
    return run


def processed_event(event_id, *, age):
    ev = ProcessedEvent.objects.create(event_id=event_id, event_type="equipment.updated",
                                       outcome="applied")  # fmt: skip
    ProcessedEvent.objects.filter(pk=ev.pk).update(received_at=NOW - age)
    return ev


def change(ext="eq_1", *, age, recomputed=True, pushed=False, kind=RecordKind.EQUIPMENT):
    row = RecordChange.objects.create(kind=kind, external_id=ext, source=ChangeSource.PULL)
    RecordChange.objects.filter(pk=row.pk).update(
        created_at=NOW - age,
        recomputed_at=(NOW - age + timedelta(minutes=1)) if recomputed else None,
        pushed_at=(NOW - age + timedelta(minutes=1)) if pushed else None,
    )
    return row


def job(job_id, *, age, status=JobStatus.COMPLETED, next_retry_at=None):
    return Job.objects.create(
        job_id=job_id, kind=JobKind.EQUIPMENT, items=["eq_1"], status=status,
        submitted_at=NOW - age,
        completed_at=None if status == JobStatus.PROCESSING else NOW - age + timedelta(minutes=5),
        next_retry_at=next_retry_at,
    )  # fmt: skip


def webhook_event(event_id, *, age, job_id=""):
    ev = WebhookEvent.objects.create(event_id=event_id, event_type="calculation_complete",
                                     job_id=job_id)  # fmt: skip
    WebhookEvent.objects.filter(pk=ev.pk).update(received_at=NOW - age)
    return ev


def media_file(settings, name, *, age):
    path = os.path.join(settings.MEDIA_ROOT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG")
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def photo_row(image="", thumbnail=""):
    fac = Facility.objects.first() or Facility.objects.create(
        external_id="fac_1", name="F", condoit_created_at=NOW, condoit_updated_at=NOW
    )
    eq = Equipment.objects.create(
        external_id=f"eq_{Equipment.objects.count()}", facility=fac, name="Panel",
        equipment_class="panelboard", type="panelboard",
        condoit_created_at=NOW, condoit_updated_at=NOW,
    )  # fmt: skip
    return Photo.objects.create(external_id=f"ph_{eq.pk}", equipment=eq, url="https://x/p.png",
                                image=image, thumbnail=thumbnail)  # fmt: skip


def pks(model):
    return set(model.objects.values_list("pk", flat=True))


# --- sync runs ----------------------------------------------------------------------------------


def test_old_sync_runs_go_with_their_rejections_but_the_last_20_per_door_stay():
    pulls = [sync_run(SyncSource.PULL, age=(200 - i) * DAY) for i in range(25)]  # oldest first
    files = [sync_run(SyncSource.FILE, age=300 * DAY) for _ in range(3)]
    push = sync_run(SyncSource.PUSH, age=95 * DAY, rejections=[NOW - 94 * DAY])
    pushes = [sync_run(SyncSource.PUSH, age=i * DAY) for i in range(20)]
    young = sync_run(SyncSource.RERUN, age=89 * DAY)

    result = prune(now=NOW)

    kept = pks(SyncRun)
    assert {r.pk for r in pulls[:5]} & kept == set()  # old and not among the last 20 pulls
    assert {r.pk for r in pulls[5:]} <= kept  # the last 20 pulls, however old
    assert {r.pk for r in files} <= kept  # fewer than 20 file runs: all kept
    assert push.pk not in kept and not RejectedRecord.objects.filter(sync_run=push.pk).exists()
    assert {r.pk for r in pushes} | {young.pk} <= kept
    assert result.counts["facilities_syncrun"] == 6
    assert result.counts["facilities_rejectedrecord"] == 1


def test_a_run_with_a_rejection_not_re_run_is_kept_however_old():
    for i in range(20):  # the last 20 pulls are young: the old ones compete on age alone
        sync_run(SyncSource.PULL, age=i * DAY)
    never = sync_run(age=400 * DAY, rejections=[NOW - 399 * DAY, None])
    cannot = sync_run(age=400 * DAY, rejections=[(None, "cannot re-run: raw record is not JSON")])
    rerun_ok = sync_run(age=400 * DAY, rejections=[(NOW - 300 * DAY, "created (sync run #9)")])
    # Re-run but rejected again: the record's rejection moved to the re-run's own sync run,
    # which is kept for it, while the first run goes.
    again = sync_run(age=400 * DAY, rejections=[(NOW - 300 * DAY, "rejected again: facilityId")])
    rerun_run = sync_run(SyncSource.RERUN, age=300 * DAY, rejections=[None])

    prune(now=NOW)

    kept = pks(SyncRun)
    assert {never.pk, cannot.pk, rerun_run.pk} <= kept
    assert rerun_ok.pk not in kept and again.pk not in kept
    assert RejectedRecord.objects.filter(sync_run=never).count() == 2  # all its rejections stay


# --- processed events -----------------------------------------------------------------------------


def test_processed_events_kept_14_days_to_the_second():
    old = processed_event("ev_old", age=14 * DAY + timedelta(seconds=1))
    edge = processed_event("ev_edge", age=14 * DAY)
    young = processed_event("ev_young", age=13 * DAY)

    result = prune(now=NOW)

    assert pks(ProcessedEvent) == {edge.pk, young.pk}
    assert old.pk not in pks(ProcessedEvent)
    assert result.counts["facilities_processedevent"] == 1


# --- record changes -------------------------------------------------------------------------------


def test_changes_handled_by_both_consumers_go_unhandled_ones_stay(settings):
    settings.VOLTMETRICS_URL = "http://voltmetrics.invalid"
    handled = change("eq_1", age=8 * DAY, recomputed=True, pushed=True)
    handled_young = change("eq_2", age=6 * DAY, recomputed=True, pushed=True)
    not_pushed = change("eq_3", age=60 * DAY, recomputed=True, pushed=False)
    not_recomputed = change("eq_4", age=60 * DAY, recomputed=False, pushed=True)
    neither = change("eq_5", age=60 * DAY, recomputed=False, pushed=False)
    # VoltMetrics on: a later change of the same record does not stand for an unpushed one.
    later = change("eq_3", age=30 * DAY, recomputed=True, pushed=False)

    prune(now=NOW)

    assert pks(RecordChange) == {
        handled_young.pk, not_pushed.pk, not_recomputed.pk, neither.pk, later.pk,
    }  # fmt: skip
    assert handled.pk not in pks(RecordChange)


def test_changes_with_voltmetrics_off_the_latest_row_of_each_record_waits_for_a_push():
    """Off, nothing sets pushed_at; turning the integration on later pushes every record that
    changed meanwhile, so the latest row of each record stays, the older recomputed ones go."""
    first = change("eq_1", age=40 * DAY, recomputed=True)
    second = change("eq_1", age=20 * DAY, recomputed=True)
    latest = change("eq_1", age=10 * DAY, recomputed=True)
    only = change("eq_2", age=40 * DAY, recomputed=True)
    same_id_other_kind = change("eq_2", age=5 * DAY, kind=RecordKind.MAINTENANCE)
    unrecomputed = change("eq_3", age=40 * DAY, recomputed=False)
    change("eq_3", age=20 * DAY, recomputed=True)
    pushed_before = change("eq_4", age=40 * DAY, recomputed=True, pushed=True)

    result = prune(now=NOW)

    left = pks(RecordChange)
    assert first.pk not in left and second.pk not in left and pushed_before.pk not in left
    assert {latest.pk, only.pk, same_id_other_kind.pk, unrecomputed.pk} <= left
    assert result.counts["facilities_recordchange"] == 3


def test_changes_handled_through_the_real_recompute_are_pruned(tmp_path, monkeypatch):
    """recomputed_at as the recompute sets it (VoltMetrics off): after a second import
    changes a record, its first change row goes once old; the latest stays."""
    from condoit.files import import_file
    from tests import factories as f
    from voltmetrics.services import recompute_pending

    fac = f.facility(id="fac_a")
    eq = f.equipment("fac_a", id="eq_a")
    import_file(f.write_export(tmp_path / "1.json", [fac], [eq]))
    renamed = {**eq, "name": "Renamed", "updatedAt": "2025-06-01T00:00:00Z"}
    import_file(f.write_export(tmp_path / "2.json", [fac], [renamed]))
    assert RecordChange.objects.filter(external_id="eq_a").count() == 2
    recompute_pending()
    assert not RecordChange.objects.filter(recomputed_at__isnull=True).exists()

    prune(now=timezone.now() + 8 * DAY)

    rows = list(RecordChange.objects.filter(external_id="eq_a").values_list("pk", flat=True))
    assert len(rows) == 1  # the latest, waiting for a push should VoltMetrics be turned on
    assert RecordChange.objects.filter(external_id="fac_a").count() == 1


# --- VoltMetrics jobs and callbacks ---------------------------------------------------------------


def test_finished_jobs_and_callbacks_go_after_30_days_jobs_in_progress_never():
    done = job("j_done", age=31 * DAY)
    failed = job("j_failed", age=31 * DAY, status=JobStatus.FAILED)
    processing = job("j_processing", age=90 * DAY, status=JobStatus.PROCESSING)
    awaiting_retry = job("j_retry", age=90 * DAY, status=JobStatus.PROCESSING,
                         next_retry_at=NOW + DAY)  # fmt: skip
    young = job("j_young", age=29 * DAY)
    ev_old = webhook_event("e_old", age=31 * DAY, job_id="j_done")
    ev_young = webhook_event("e_young", age=29 * DAY)
    ev_processing = webhook_event("e_processing", age=60 * DAY, job_id="j_processing")

    result = prune(now=NOW)

    assert pks(Job) == {processing.pk, awaiting_retry.pk, young.pk}
    assert done.pk not in pks(Job) and failed.pk not in pks(Job)
    assert pks(WebhookEvent) == {ev_young.pk, ev_processing.pk}
    assert ev_old.pk not in pks(WebhookEvent)
    assert (result.counts["voltmetrics_job"], result.counts["voltmetrics_webhookevent"]) == (2, 1)


def test_ended_recompute_runs_go_with_their_chunks_after_30_days_the_running_one_never():
    def run(status, age):
        r = RecomputeRun.objects.create(
            kind=RunKind.FULL, status=status, as_of=NOW.date(), algorithm_version="1.0",
            lock_token="t", finished_at=None if status == RunStatus.RUNNING else NOW - age,
        )  # fmt: skip
        RecomputeChunk.objects.create(run=r, number=1, pk_from=0, pk_to=10)
        return r

    old = run(RunStatus.FINISHED, 31 * DAY)
    abandoned = run(RunStatus.ABANDONED, 40 * DAY)
    young = run(RunStatus.FINISHED, 29 * DAY)
    running = run(RunStatus.RUNNING, 0)
    RecomputeRun.objects.filter(pk=running.pk).update(queued_at=NOW - 90 * DAY)

    result = prune(now=NOW)

    assert pks(RecomputeRun) == {young.pk, running.pk}
    assert old.pk not in pks(RecomputeRun) and abandoned.pk not in pks(RecomputeRun)
    assert set(RecomputeChunk.objects.values_list("run_id", flat=True)) == {young.pk, running.pk}
    assert result.counts["voltmetrics_recomputerun"] == 2
    assert result.counts["voltmetrics_recomputechunk"] == 2


# --- photo files ----------------------------------------------------------------------------------


def test_orphan_photo_files_deleted_only_when_older_than_a_day_and_unreferenced(settings):
    photo_row(image="photos/kept.png", thumbnail="photos/thumbs/kept.png")
    kept = media_file(settings, "photos/kept.png", age=30 * DAY)
    kept_thumb = media_file(settings, "photos/thumbs/kept.png", age=30 * DAY)
    orphan = media_file(settings, "photos/gone.png", age=DAY + timedelta(minutes=1))
    orphan_thumb = media_file(settings, "photos/thumbs/gone.png", age=5 * DAY)
    fresh = media_file(settings, "photos/being-stored.png", age=timedelta(hours=23))
    elsewhere = media_file(settings, "exports/threatmap.json", age=30 * DAY)

    result = prune(now=NOW)

    assert all(os.path.exists(p) for p in (kept, kept_thumb, fresh, elsewhere))
    assert not os.path.exists(orphan) and not os.path.exists(orphan_thumb)
    assert result.counts["photo files (MEDIA_ROOT/photos)"] == 2


def test_no_photo_directory_is_fine():
    assert prune(now=NOW).counts["photo files (MEDIA_ROOT/photos)"] == 0


# --- tokens ---------------------------------------------------------------------------------------


def test_expired_tokens_go_valid_ones_stay():
    def token(jti, expires):
        return OutstandingToken.objects.create(jti=jti, token="t", expires_at=expires,
                                               created_at=NOW - 8 * DAY)  # fmt: skip

    expired = token("a", NOW - DAY)
    expired_spent = token("b", NOW - DAY)
    BlacklistedToken.objects.create(token=expired_spent)
    valid_spent = token("c", NOW + DAY)
    BlacklistedToken.objects.create(token=valid_spent)

    prune(now=NOW)

    assert pks(OutstandingToken) == {valid_spent.pk}
    assert list(BlacklistedToken.objects.values_list("token_id", flat=True)) == [valid_spent.pk]
    assert expired.pk not in pks(OutstandingToken)


# --- dry run, batches, floors ---------------------------------------------------------------------


def _mixed(settings):
    for i in range(22):
        sync_run(SyncSource.PULL, age=(100 + i) * DAY, rejections=[NOW - 99 * DAY])
    for i in range(4):
        processed_event(f"ev_{i}", age=20 * DAY)
    change("eq_1", age=9 * DAY)
    change("eq_1", age=8 * DAY)
    job("j_1", age=40 * DAY)
    webhook_event("e_1", age=40 * DAY, job_id="j_1")
    media_file(settings, "photos/orphan.png", age=3 * DAY)


MODELS = (SyncRun, RejectedRecord, ProcessedEvent, RecordChange, Job, WebhookEvent)


def test_dry_run_deletes_nothing_and_reports_what_the_real_run_deletes(settings):
    _mixed(settings)
    before = {m: m.objects.count() for m in MODELS}

    dry = prune(now=NOW, dry_run=True)

    assert {m: m.objects.count() for m in MODELS} == before
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, "photos/orphan.png"))
    real = prune(now=NOW)
    assert dry.counts == real.counts
    assert real.counts["facilities_syncrun"] == 2 and real.counts["facilities_rejectedrecord"] == 2
    assert real.total == 2 + 2 + 4 + 1 + 1 + 1 + 1
    assert {m: m.objects.count() for m in MODELS} == {
        m: before[m] - real.counts.get(m._meta.db_table, 0) for m in MODELS
    }


def test_the_command_prints_a_table_and_dry_run_says_so(settings):
    _mixed(settings)
    out = StringIO()
    call_command("prune", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "would delete" in text and "Dry run: nothing was deleted." in text
    assert any(line.split() == ["facilities_processedevent", "4"] for line in text.splitlines())
    assert ProcessedEvent.objects.count() == 4

    out = StringIO()
    call_command("prune", stdout=out)
    lines = [line.split() for line in out.getvalue().splitlines()]
    assert ["facilities_processedevent", "4"] in lines and ["total", "12"] in lines
    assert ProcessedEvent.objects.count() == 0


def test_each_table_is_logged_with_its_count(settings, caplog):
    processed_event("ev_1", age=20 * DAY)
    with caplog.at_level(logging.INFO, logger="masterbus.retention"):
        prune(now=NOW)
    messages = [r.getMessage() for r in caplog.records]
    assert "prune: facilities_processedevent deleted 1" in messages
    assert "prune: voltmetrics_job deleted 0" in messages


def test_batches_of_prune_batch_size_rows_each_one_delete(settings):
    settings.PRUNE_BATCH_SIZE = 2
    for i in range(5):
        processed_event(f"ev_{i}", age=20 * DAY)
    with CaptureQueriesContext(connection) as ctx:
        result = prune(now=NOW)
    deletes = [
        q["sql"] for q in ctx.captured_queries
        if q["sql"].startswith("DELETE") and "facilities_processedevent" in q["sql"]
    ]  # fmt: skip
    assert len(deletes) == 3
    assert result.counts["facilities_processedevent"] == 5
    assert not ProcessedEvent.objects.exists()


def test_batch_size_is_capped_at_5000(settings):
    settings.PRUNE_BATCH_SIZE = 100_000
    assert batch_size() == 5000


@pytest.mark.parametrize(
    "name, value",
    [
        ("PROCESSED_EVENT_RETENTION_DAYS", 6),
        ("SYNC_RUN_RETENTION_DAYS", 6),
        ("CHANGE_RETENTION_DAYS", 0),
        ("VOLTMETRICS_RETENTION_DAYS", 1),
        ("EVENT_RETENTION_DAYS", 1),
        ("PHOTO_ORPHAN_RETENTION_DAYS", 0),
        ("PRUNE_BATCH_SIZE", 0),
    ],
)
def test_a_setting_below_its_floor_refuses_and_deletes_nothing(settings, name, value):
    _mixed(settings)
    before = {m: m.objects.count() for m in MODELS}
    setattr(settings, name, value)

    with pytest.raises(CommandError, match=f"refusing to prune, nothing deleted: {name}={value}"):
        call_command("prune", stdout=StringIO())

    assert {m: m.objects.count() for m in MODELS} == before
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, "photos/orphan.png"))


def test_the_command_exits_non_zero_on_refusal(settings, capsys, monkeypatch):
    settings.PROCESSED_EVENT_RETENTION_DAYS = 3
    # ManagementUtility sets Django up again, which would bind the log handler to this
    # test's captured stderr; once that closes, later tests' log lines fail to write.
    monkeypatch.setattr("django.utils.log.configure_logging", lambda *args: None)
    with pytest.raises(SystemExit) as exc:
        ManagementUtility(["manage.py", "prune"]).execute()
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip()
    assert err == (
        "CommandError: refusing to prune, nothing deleted: "
        "PROCESSED_EVENT_RETENTION_DAYS=3 is below its floor of 7 days"
    )


def test_every_retention_setting_has_its_floor():
    assert retention_floors() == {
        "SYNC_RUN_RETENTION_DAYS": 7,
        "PROCESSED_EVENT_RETENTION_DAYS": 7,
        "CHANGE_RETENTION_DAYS": 1,
        "VOLTMETRICS_RETENTION_DAYS": 2,
        "EVENT_RETENTION_DAYS": 2,
        "PHOTO_ORPHAN_RETENTION_DAYS": 1,
    }


# --- the beat task --------------------------------------------------------------------------------


def test_the_nightly_schedule_exists_after_migrate():
    entry = PeriodicTask.objects.select_related("crontab").get(name="Nightly prune")
    assert entry.task == "masterbus.prune" and entry.enabled
    cron = entry.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week) == (
        "45", "3", "*", "*", "*")  # fmt: skip
    assert str(cron.timezone) == "UTC"
    assert "masterbus.prune" in app.tasks


def test_the_task_prunes():
    processed_event("ev_old", age=20 * DAY)
    young = processed_event("ev_young", age=DAY)
    result = prune_task.delay().get()
    assert result["counts"]["facilities_processedevent"] == 1
    assert result["dry_run"] is False
    assert pks(ProcessedEvent) == {young.pk}


def test_the_task_refuses_below_a_floor_logs_and_raises(settings, caplog):
    processed_event("ev_old", age=20 * DAY)
    settings.SYNC_RUN_RETENTION_DAYS = 1
    with caplog.at_level(logging.ERROR, logger="masterbus.tasks"):
        with pytest.raises(RetentionRefused):
            prune_task.delay()
    assert any("SYNC_RUN_RETENTION_DAYS=1 is below its floor of 7 days" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)  # fmt: skip
    assert ProcessedEvent.objects.count() == 1
