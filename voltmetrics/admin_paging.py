"""A changelist paginator for long lists sorted through joins.

Sorting 100,000 equipment by a joined column makes the database carry every row's columns
through the join and the sort. This paginator asks for the page's primary keys first (a
narrow query with the list's filters and ordering), then reads those rows alone (with their
``select_related`` and prefetches), in the same order: two queries whatever the page size.
"""

from django.core.paginator import Paginator
from django.db.models import QuerySet


class KeysFirstPaginator(Paginator):
    def _get_page(self, object_list, number, paginator):
        if isinstance(object_list, QuerySet) and isinstance(self.object_list, QuerySet):
            pks = list(object_list.prefetch_related(None).values_list("pk", flat=True))
            rows = {}
            if pks:
                rows = {o.pk: o for o in self.object_list.order_by().filter(pk__in=pks)}
            object_list = [rows[pk] for pk in pks if pk in rows]
        return super()._get_page(object_list, number, paginator)
