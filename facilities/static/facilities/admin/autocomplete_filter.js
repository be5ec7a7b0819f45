'use strict';
// Autocomplete list filters (facilities/admin_autocomplete.py): choosing a record in the
// filter's select2 reloads the list with the filter's parameter set; clearing it removes the
// parameter. Every other parameter (search, other filters, ordering) is kept; the page
// number and the error flag are dropped.
{
    const $ = django.jQuery;

    function reload(select) {
        const params = new URLSearchParams(window.location.search);
        for (const name of JSON.parse(select.dataset.filterParameters || '[]')) {
            params.delete(name);
        }
        params.delete('p');
        params.delete('e');
        if (select.value) {
            params.set(select.name, select.value);
        }
        const query = params.toString();
        window.location.search = query ? '?' + query : '';
    }

    $(function() {
        $('select.autocomplete-list-filter').on('change', function() {
            reload(this);
        });
    });
}
