"""Two indexes for the admin's lists of 100,000 equipment (voltmetrics/admin_risk.py):

- ``served_rating_score``: the equipment list filtered by risk rating and sorted by risk score
  (highest first, not computed last) reads its page in the order of the index instead of
  sorting every served assessment of that rating;
- ``local_70b_status``: the NFPA 70B filters (equipment by status, facilities with overdue
  equipment) read the built-in assessments of one status from the index alone.

PostgreSQL only: SQLite cannot declare NULLS LAST in an index (and the embedded default has
no portfolio of that size). Built concurrently, so a deployment keeps writing assessments
while they are built. The model does not declare them, so the ORM never drops or alters them.
"""

from django.db import migrations

TABLE = '"voltmetrics_equipmentassessment"'
INDEXES = {
    "served_rating_score": '("rating", "risk_score" DESC NULLS LAST, "equipment_id" DESC) '
    'WHERE "served"',
    "local_70b_status": '("maintenance_status", "equipment_id") WHERE "source" = \'local\'',
}


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


CREATE = [
    f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON {TABLE} {definition}'
    for name, definition in INDEXES.items()
]
DROP = [f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"' for name in INDEXES]


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [("voltmetrics", "0007_audit_history")]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)
    ]
