from rest_framework.views import APIView


class CondoitEventsView(APIView):
    """Placeholder until the push door lands."""
