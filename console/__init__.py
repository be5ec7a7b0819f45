"""The staff console: the Django admin site of MasterBus, whose index is the operations
dashboard (``console.sites``, ``console.dashboard``). The top layer: it may import every app,
and none imports it."""
