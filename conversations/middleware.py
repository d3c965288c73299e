"""Bad input that reaches code we do not own answers 400, not 500.

Some values only fail deep inside Django: a date filter of year 99999999999 in the
admin's change lists overflows a C integer, a lone surrogate cannot be encoded for
the database. They are the visitor's mistake, so they get a 400 saying so; the
log still records them (at warning level, with the path).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

logger = logging.getLogger(__name__)

# Raised by out-of-range numbers and undecodable text in a request's values.
BAD_INPUT_ERRORS = (OverflowError, UnicodeEncodeError, RecursionError)


class BadInputMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not isinstance(exception, BAD_INPUT_ERRORS):
            return None
        logger.warning("Bad input on %s: %s", request.path, type(exception).__name__)
        message = "A value in the request is out of range or not valid text."
        if request.path.startswith("/api/"):
            return JsonResponse({"error": message}, status=400)
        return HttpResponseBadRequest(message)
