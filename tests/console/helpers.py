"""Builders and HTML readers of the dashboard tests."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from facilities.choices import SyncStatus
from facilities.models import SyncRun
from tests import factories as f


def portfolio_records(n: int, per: int = 2, *, start: int = 0) -> dict:
    """Facilities ``start`` … ``start + n - 1`` of ``per`` equipment each (ages, loads and
    maintenance spread, so ratings differ). Facility 0's first equipment has a class no mapping
    knows ("Gizmo Box"), facility 1's last a conductor material code none knows ("XQ")."""
    facilities, equipment, maintenance = [], [], []
    for i in range(start, start + n):
        fid = f"fac_{i:03d}"
        address = {"street": f"{i} Main St", "city": "Springfield", "state": "IL", "zip": "62701"}
        facilities.append(f.facility(id=fid, name=f"Site {i:03d}", address=address))
        for j in range(per):
            eid = f"eq_{i:03d}_{j}"
            over = {
                "installDate": f"{1965 + (i * 7 + j * 13) % 58}-01-01",
                "loadPercent": (i * 11 + j * 17) % 100,
            }
            if (i, j) == (0, 0):
                over["equipmentClass"] = "Gizmo Box"
            if (i, j) == (1, per - 1):
                over["conductors"] = [
                    {"id": f"cd_{eid}", "material": "XQ", "size": "2", "connectionType": "lug"}
                ]
            equipment.append(f.equipment(fid, id=eid, name=f"Panel {i}-{j}", **over))
            performed = f"{2015 + (i + j) % 10}-06-01T09:00:00Z"
            maintenance.append(f.maintenance(eid, performedAt=performed))
    return {"facilities": facilities, "equipment": equipment, "maintenance": maintenance}


def sync_run(source, status=SyncStatus.SUCCEEDED, *, age=timedelta(minutes=5), **over):
    started = timezone.now() - age
    run = SyncRun.objects.create(source=source, status=status, label=f"{source} run", **over)
    SyncRun.objects.filter(pk=run.pk).update(
        started_at=started, finished_at=started + timedelta(seconds=30)
    )
    run.refresh_from_db()
    return run


def dashboard_html(response) -> str:
    """The dashboard's part of the index page."""
    text = response.content.decode()
    start = text.index('id="console-dashboard"')
    return text[start : text.index('id="console-apps"')]


def row_classes(html: str, row_id: str) -> set[str]:
    m = re.search(rf'<tr class="([^"]*)" id="{re.escape(row_id)}"', html)
    assert m, f"no row {row_id}"
    return set(m.group(1).split())


def links_in(html: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', html)]
