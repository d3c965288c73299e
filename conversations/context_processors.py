from conversations import upstream


def minimax_mode(request):
    """Tell every page whether replies come from the built-in simulator."""
    return {"minimax_offline": upstream.is_offline()}
