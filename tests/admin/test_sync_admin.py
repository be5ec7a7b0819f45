"""Sync bookkeeping is read-only; rejected records can be re-run from the admin."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from . import factories as f

pytestmark = pytest.mark.django_db


def rerun(client, ids):
    return client.post(
        reverse("admin:facilities_rejectedrecord_changelist"),
        {"action": "rerun_selected", "_selected_action": [str(i) for i in ids], "index": "0"},
    )


def test_rerun_action_reports_counts(admin_client, monkeypatch):
    run = f.sync_run()
    r1, r2 = f.rejection(run), f.rejection(run, record_id="eq_other")
    f.rejection(run, record_id="eq_not_selected")
    calls = []

    def rerun_rejected(ids):
        calls.append(sorted(ids))
        return {"accepted": 1, "rejected": 1}

    monkeypatch.setattr("condoit.ingest.rerun_rejected", rerun_rejected)
    response = rerun(admin_client, [r1.pk, r2.pk])
    assert response.status_code == 302
    assert calls == [sorted([r1.pk, r2.pk])]
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == ["Re-ran 2 rejected record(s) — accepted: 1, rejected: 1."]


def test_rerun_for_real_lands_a_record_whose_parent_arrived(admin_client):
    from condoit.ingest import Ingestor
    from facilities.models import RejectedRecord
    from tests import factories as rf

    fac = rf.facility(id="fac_rerun")
    eq = rf.equipment("fac_rerun", id="eq_rerun")
    ing = Ingestor(source="file", missing_parent="reject")
    ing.add("equipment", eq)
    ing.finish()
    rejected = RejectedRecord.objects.get(record_id="eq_rerun")
    ing = Ingestor(source="file")
    ing.add("facility", fac)
    ing.finish()
    response = rerun(admin_client, [rejected.pk])
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages[0].startswith("Re-ran 1 rejected record(s) — created: 1,")
    rejected.refresh_from_db()
    assert rejected.rerun_outcome.startswith("created")


def test_rerun_failure_is_a_message_not_a_500(admin_client, monkeypatch):
    run = f.sync_run()
    r1 = f.rejection(run)
    def boom(ids):
        raise RuntimeError("mapping table locked")

    monkeypatch.setattr("condoit.ingest.rerun_rejected", boom)
    response = rerun(admin_client, [r1.pk])
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == ["Re-run failed: mapping table locked"]


def test_sync_bookkeeping_is_read_only(admin_client):
    run = f.sync_run()
    rej = f.rejection(run)
    for name, pk in (("syncrun", run.pk), ("rejectedrecord", rej.pk)):
        change = reverse(f"admin:facilities_{name}_change", args=[pk])
        response = admin_client.get(change)
        assert response.status_code == 200
        assert not response.context["has_change_permission"]
        assert "_save" not in response.text
        response = admin_client.post(change, {"label": "hacked"})
        assert response.status_code == 403
        assert admin_client.get(reverse(f"admin:facilities_{name}_add")).status_code == 403
    run.refresh_from_db()
    assert run.label == "export.json"


def test_rejected_list_links_back_to_run(admin_client):
    run = f.sync_run()
    rej = f.rejection(run)
    other = f.rejection(f.sync_run())
    response = admin_client.get(
        reverse("admin:facilities_rejectedrecord_changelist") + f"?sync_run__exact={run.pk}"
    )
    assert {r.pk for r in response.context["cl"].result_list} == {rej.pk}
    assert other.pk != rej.pk
    assert reverse("admin:facilities_syncrun_change", args=[run.pk]) in response.text
