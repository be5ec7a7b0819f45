"""Admin widgets for long or repeated dropdowns, and the scheduler's crontab page using one.

The stock select renders one template per option: fine for a handful, slow for a list of
editable rows (a select per row) or for the ~600 time zones of a crontab schedule (about
200 ms a page). ``PlainSelect`` renders the same HTML in Python.
"""

from django import forms
from django.contrib import admin
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import CrontabSchedule


class PlainSelect(forms.Select):
    """A select (without option groups) rendered in Python instead of a template per option."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (o["value"], " selected" if o["selected"] else "", o["label"])
                for _group, group_options, _index in widget["optgroups"]
                for o in group_options
            ),
        )
        return format_html(
            '<select name="{}"{}>{}</select>', widget["name"], flatatt(widget["attrs"]), options
        )


class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin):
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "timezone":
            kwargs["widget"] = PlainSelect
        return super().formfield_for_dbfield(db_field, request, **kwargs)


admin.site.unregister(CrontabSchedule)
admin.site.register(CrontabSchedule, CrontabScheduleAdmin)
