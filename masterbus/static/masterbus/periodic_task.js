/* The periodic task form of django-celery-beat (templates/admin/djcelery/): the crontab's
   help shows its reading in words, and the read-only translation field is hidden. The same
   behaviour as the package's inline script, from a file, since the admin's
   Content-Security-Policy (masterbus/csp.py) runs no inline script. */
'use strict';
{
    const data = document.getElementById('readable-crontabs');
    const help = document.querySelector('.field-crontab .help');
    const select = document.getElementById('id_crontab');
    if (data && help && select) {
        const readable = JSON.parse(data.textContent);
        const original = help.textContent.trim();
        const update = function() {
            help.textContent = original;
            help.appendChild(document.createElement('br'));
            help.appendChild(document.createTextNode(
                'Translation: ' + (readable[select.value] || '')));
        };
        django.jQuery('.field-crontab_translation').hide();
        select.addEventListener('change', update);
    }
}
