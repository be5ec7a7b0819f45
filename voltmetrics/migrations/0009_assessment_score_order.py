"""An index for the admin's list of equipment assessments (voltmetrics/admin.py): 200,000
rows at 500 facilities × 200 equipment, ordered by risk score, highest first, ties by id,
newest first. With it a page reads its 100 rows from the index; without it the database
sorts every assessment.

PostgreSQL only, built concurrently (a deployment keeps writing assessments meanwhile), like
0008: the model does not declare it, so the ORM never drops or alters it.
"""

from django.db import migrations

NAME = "assessment_score_order"
CREATE = (
    f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{NAME}" '
    'ON "voltmetrics_equipmentassessment" ("risk_score" DESC, "id" DESC)'
)
DROP = f'DROP INDEX CONCURRENTLY IF EXISTS "{NAME}"'


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [("voltmetrics", "0008_admin_list_indexes")]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)
    ]
