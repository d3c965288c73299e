"""A strict Content-Security-Policy header on every response.

Django 5.2 has none built in, and the policy is one constant string, so a few lines
here instead of a dependency. Scripts and styles come from this site only (the pages
load /static/ files; data reaches the scripts through |json_script, which is JSON,
not script); no inline script, no inline event handler, no style attribute in markup
(a script may still set element.style, which CSP allows). The websocket is
same-origin: `connect-src 'self'` covers ws:/wss: to this host and port in current
browsers (CSP Level 3), which the browser tests check in chromium.
"""

from django.conf import settings
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"

DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # data: for the page's empty favicon (<link rel="icon" href="data:,">).
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "media-src": "'self' blob:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}

POLICY = "; ".join(f"{name} {value}" for name, value in DIRECTIVES.items())


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Add POLICY to each response that does not set a policy of its own."""

    def process_response(self, request, response):
        # Django's debug error pages (DEBUG on: a developer's machine only) are built
        # with inline <style> and <script>; under the policy they would be unreadable.
        if settings.DEBUG and response.status_code >= 400:
            return response
        response.headers.setdefault(HEADER, POLICY)
        return response
