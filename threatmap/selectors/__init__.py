"""Read payloads of the ThreatMap API (threatmap-api.md), built from stored assessments.

No engine runs here: every figure comes from the rows ``voltmetrics.services`` stored
(EquipmentAssessment — the *served* row for scores, the *local* row for compliance and the
descriptive outputs —, FacilityAssessment(local) and PortfolioAssessment(local)). Every
selector runs a fixed number of queries, whatever the page size or a facility's equipment
count (pinned in tests/threatmap/test_queries.py).

Each selector returns ``(payload, last_modified)``; payloads hold only JSON-ready values
(dates ``YYYY-MM-DD``, timestamps ISO 8601 UTC with ``Z``). Photo URLs are placeholders that
``threatmap.photo_refs.finalize`` signs per response.

The modules: ``formatting`` (JSON-ready values), ``paging`` (the lists' one search, sort and
paging), ``facility_rows`` and ``equipment_rows`` (querysets and items several payloads
share), then one per payload: ``facility_payloads`` (list, detail), ``equipment_payloads``
(a facility's list, detail), ``compliance``, ``risks``, ``portfolio``.
"""

from .compliance import facility_compliance
from .equipment_payloads import equipment_detail, equipment_facility_id, facility_equipment_list
from .facility_payloads import facility_detail, facility_list
from .facility_rows import facility_exists
from .portfolio import portfolio_list, portfolio_summary
from .risks import facility_risks

__all__ = [
    "equipment_detail",
    "equipment_facility_id",
    "facility_compliance",
    "facility_detail",
    "facility_equipment_list",
    "facility_exists",
    "facility_list",
    "facility_risks",
    "portfolio_list",
    "portfolio_summary",
]
