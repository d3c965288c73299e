"""What the attack tests put into the site, and how they look for it getting out.

`PAYLOADS` is the stored-XSS corpus: each item, were it ever run, would set
`window.__xss`, open a dialog, or make an element `#pwned` (or a class, id or data
attribute of that name). `find_injections(page)` reports every sign of one that got
through, and `watch_for_attacks(context)` records dialogs and CSP violations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import BrowserContext, Page

PAYLOADS = [
    # raw HTML (markdown-it has html off; DOMPurify after it)
    "<script>window.__xss=1</script>",
    '<script src="data:text/javascript,window.__xss=1"></script>',
    '<img src=x onerror="window.__xss=1">',
    "<img id=pwned src=x onerror=alert(1)>",
    '<svg onload="window.__xss=1"><circle r="1"/></svg>',
    "<svg><script>window.__xss=1</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text y="9">svg link</text></a></svg>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    '<iframe src="javascript:parent.__xss=1"></iframe>',
    '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
    '<details open ontoggle="window.__xss=1">details</details>',
    '<a href="javascript:alert(1)" id="pwned">raw link</a>',
    '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">'
    "go</button></form>",
    '<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=x">',
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>window.__xss=1</script>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    # style and CSS injection
    '<div id="pwned" style="position:fixed;inset:0;background:red">pwned</div>',
    "<style>body{display:none}</style>",
    '<link rel="stylesheet" href="data:text/css,body{display:none}">',
    # markdown links and images
    "[click](javascript:window.__xss=1)",
    "[click](JaVaScRiPt:alert(1))",
    "[tab](java\tscript:alert(1)) [entity](&#106;avascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](javascript:alert(1)) ![pixel](https://evil.example/p.png)",
    '![x](x" onerror="window.__xss=1)',
    '[t](https://example.com "x\\" onmouseover=\\"window.__xss=1")',
    "[ref link][evil]\n\n[evil]: javascript:alert(1)",
    "<javascript:alert(1)> <vbscript:msgbox(1)>",
    # HTML entities, escapes, templates
    "&lt;img src=x onerror=alert(1)&gt;",
    "&#60;script&#62;window.__xss=1&#60;/script&#62;",
    "{{ 7*7 }} ${window.__xss=1} {% csrf_token %} `${alert(1)}`",
    '```"><img src=x onerror=alert(1)>\n<script>window.__xss=1</script>\n```',
    "```html\n<img src=x onerror=alert(1)>\n```",
    # KaTeX (trust: false)
    "$\\href{javascript:alert(1)}{click}$",
    "$\\url{javascript:alert(1)}$",
    "$\\htmlClass{pwned}{x}$ $\\htmlId{pwned}{y}$",
    "$\\htmlStyle{position:fixed;inset:0}{z}$ $\\htmlData{pwned=1}{w}$",
    "$$\\includegraphics{https://evil.example/x.png}$$",
    "$\\frac{<img src=x onerror=alert(1)>$",
    # unicode tricks
    "[ctl](java\u0008script:alert(1)) [ls](javascript\u2028:alert(1))",
    "\u202egnp.exe <b>\u202d \ufeff<img\u200b src=x onerror=alert(1)>",
    "\uff1cscript\uff1ewindow.__xss=1\uff1c/script\uff1e",
    '<img src=x o\u000bnerror=alert(1)> <a href="\u0001javascript:alert(1)">c</a>',
]

# (No NUL characters: the site refuses them in every field, a 400 or a bad_frame.)

# Short ones, for fields with a small limit (bot and user names: 64 characters).
SHORT_PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</script><script>alert(1)</script>",
    "javascript:alert(1)",
    "<b id=pwned>x</b>",
    "{{7*7}}${alert(1)}'-alert(1)-'",
]


def marker(number: int) -> str:
    return f"XSS{number:02d}"


def corpus(payloads: list[str] = PAYLOADS) -> str:
    """Return every payload, each after its marker, as one markdown text."""
    return "\n\n".join(f"{marker(n)} {p}" for n, p in enumerate(payloads))


# Run in the page: every sign of an injection, as a list of strings ([] is clean).
FIND_INJECTIONS = r"""() => {
    const found = [];
    if (window.__xss) found.push("window.__xss is set");
    if (document.getElementById("pwned")) found.push("#pwned exists");
    const urlAttrs = ["href", "src", "action", "formaction", "xlink:href", "data",
        "srcdoc", "poster", "background"];
    // What the browser would load or run: the URL as it resolves it.
    const scheme = (value) => {
        try { return new URL(value, location.href).protocol; } catch { return ""; }
    };
    const icon = (node) => node.tagName === "LINK" && node.rel === "icon";
    for (const node of document.querySelectorAll("*")) {
        for (const attr of node.attributes) {
            const name = attr.name.toLowerCase();
            if (name.startsWith("on")) found.push(`${node.tagName} has ${name}`);
            const run = ["javascript:", "vbscript:"].includes(scheme(attr.value))
                || (scheme(attr.value) === "data:" && !icon(node));
            if (urlAttrs.includes(name) && run)
                found.push(`${node.tagName} ${name}=${attr.value.slice(0, 40)}`);
            // Attributes that hold text (a title in a tooltip or an accessible
            // name) may carry a payload's words; only markup would run them.
            const text = ["title", "aria-label", "alt", "placeholder", "value"]
                .includes(name);
            if (!text && /pwned/i.test(`${name}=${attr.value}`))
                found.push(`${node.tagName} ${name}=${attr.value.slice(0, 40)}`);
        }
        const tag = node.tagName.toLowerCase();
        if (["iframe", "frame", "object", "embed", "base", "applet"].includes(tag))
            found.push(`<${tag}>`);
        if (tag === "meta" && node.getAttribute("http-equiv"))
            found.push("<meta http-equiv>");
        const own = node.src && new URL(node.src).origin === location.origin;
        if (tag === "script" && !own && node.type !== "application/json")
            found.push(`<script> ${node.outerHTML.slice(0, 60)}`);
        if (tag === "link" && node.rel === "stylesheet"
            && new URL(node.href, location.href).origin !== location.origin)
            found.push(`<link> ${node.href.slice(0, 40)}`);
    }
    // Text that came from a user or a model: no markup of its own beyond what
    // the markdown renderer makes (no images, no styles, no forms).
    const content = '[data-testid="message"] .body, [data-testid="reasoning"],'
        + ' [data-testid="conversation"], [data-testid="clip"], .review-turn-text,'
        + ' .readonly, #result_list, .review-raw, .overview';
    for (const box of document.querySelectorAll(content)) {
        for (const node of box.querySelectorAll(
            "img, style, form, input[formaction], [style], svg a, math [href]"))
            found.push(`in ${box.className || box.id}: ${node.outerHTML.slice(0, 60)}`);
    }
    if (document.styleSheets.length) {
        for (const sheet of document.styleSheets) {
            if (sheet.href && new URL(sheet.href).origin !== location.origin)
                found.push(`stylesheet ${sheet.href}`);
            if (!sheet.href) found.push("an inline stylesheet");
        }
    }
    return found;
}"""

# Installed in every page before its scripts: CSP violations are remembered.
WATCH_CSP = """() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (event) => {
        window.__csp.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
}"""


@dataclass
class AttackWatch:
    """Dialogs opened and CSP violations seen in a browser context."""

    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def csp_errors(self) -> list[str]:
        return [
            line
            for line in self.console
            if "Content Security Policy" in line or "Content-Security-Policy" in line
        ]


def watch_for_attacks(context: BrowserContext) -> AttackWatch:
    """Record every dialog (and dismiss it) and every console CSP error."""
    watch = AttackWatch()
    context.add_init_script(f"({WATCH_CSP})()")

    def on_page(page: Page) -> None:
        page.on("console", lambda msg: watch.console.append(f"{page.url} {msg.text}"))

        def on_dialog(dialog) -> None:
            watch.dialogs.append(f"{page.url} {dialog.type} {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)

    context.on("page", on_page)
    return watch


def find_injections(page: Page) -> list[str]:
    """Return every injection the page shows, and the CSP violations it recorded."""
    found = page.evaluate(FIND_INJECTIONS)
    found += [f"CSP: {v}" for v in page.evaluate("() => window.__csp || []")]
    return found


def csrf_headers(context: BrowserContext) -> dict[str, str]:
    token = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token}


def api(page: Page, method: str, url: str, data=None) -> dict:
    """Call the site's JSON API as the page's user; return the JSON answer."""
    response = page.request.fetch(
        url,
        method=method,
        headers={**csrf_headers(page.context), "Content-Type": "application/json"},
        data=data,
    )
    assert response.ok, f"{method} {url}: {response.status} {response.text()[:300]}"
    return response.json() if response.status != 204 else {}
