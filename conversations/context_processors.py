from django.conf import settings


def minimax_mode(request):
    """Tell every page whether replies come from the built-in simulator."""
    return {"minimax_offline": not settings.MINIMAX_API_KEY}
