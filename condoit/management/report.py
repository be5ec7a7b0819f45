"""What ``import_condoit`` and ``sync_condoit`` print about the sync run they made."""

SHOWN_REJECTIONS = 20


def write_run_summary(command, run) -> None:
    """The run's counts, its warnings and its first rejected records, on the command's
    stdout (a rejection is named by its line in a file, else by its record id)."""
    out, style = command.stdout, command.style
    out.write(
        f"Sync run #{run.pk} ({run.status}): created {run.created}, updated {run.updated}, "
        f"unchanged {run.unchanged}, rejected {run.rejected}, deleted {run.deleted}"
    )
    for w in run.warnings:
        out.write(style.WARNING(f"  warning: {w['message']} (x{w.get('count', 1)})"))
    for rej in run.rejections.all()[:SHOWN_REJECTIONS]:
        where = f"line {rej.line}" if rej.line else (rej.record_id or "?")
        out.write(style.ERROR(f"  rejected {where}: {rej.field} {rej.reason}"))
    if run.rejected > SHOWN_REJECTIONS:
        out.write(f"  … and {run.rejected - SHOWN_REJECTIONS} more rejected (see the admin)")
