"""Browser-side cost of rendering one long streamed reply, before and after.

A 20,000-character markdown reply (headings, paragraphs in English and Chinese,
lists, code blocks, tables, quotes) arrives in pieces, one piece per animation frame,
in headless Chromium (Playwright). Each frame is timed from the start of the render
to the end of a forced layout. Two strategies, on the same page and the same pieces:

* before: what the page did up to 8c46a42 (static/conversations/chat.js,
  renderMarkdown + body.replaceChildren): the whole reply re-parsed, re-sanitised and
  re-highlighted on every frame. Re-implemented here with the same library calls
  (common/markdown.js renderMarkdown: markdown-it with highlighting, DOMPurify, copy
  buttons), since the old script cannot be loaded without its whole page.
* after: common/markdown.js MarkdownView, as the chat page now uses it: finished
  blocks kept, only the open block rendered again, highlighting once a block ends.

Not part of `make test`; see bench/README.md.

    .venv/bin/python -m bench.render_bench [--chars 20000] [--piece 40] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>render bench</title>
<link rel="stylesheet" href="/static/vendor/highlightjs/github.min.css">
<link rel="stylesheet" href="/static/conversations/chat.css">
<script type="module" src="/bench/page.js"></script>
</head><body class="chat-page"><ol class="messages" id="messages"></ol></body></html>
"""

# Runs in the page: window.runBench(mode, pieces) -> {frames: [ms], final: ms}.
PAGE_SCRIPT = """
import { MarkdownView, renderMarkdown } from "/static/common/markdown.js";

// The chat page's decoration of code blocks (render.js): a copy button on each.
function decorate(fragment) {
  for (const pre of fragment.querySelectorAll("pre")) {
    pre.querySelector("code")?.classList.add("hljs");
    pre.classList.add("code-block");
    const copy = document.createElement("button");
    copy.className = "copy-code small";
    copy.textContent = "Copy";
    pre.prepend(copy);
  }
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

window.runBench = async (mode, pieces) => {
  const list = document.getElementById("messages");
  list.replaceChildren();
  const message = document.createElement("li");
  message.className = "message";
  message.dataset.role = "assistant";
  const body = document.createElement("div");
  body.className = "body";
  message.append(body);
  list.append(message);
  const view = new MarkdownView(body, decorate);
  const render = (text, streaming) => {
    if (mode === "before") body.replaceChildren(renderMarkdown(text, decorate));
    else view.update(text, streaming);
    return body.offsetHeight; // style and layout inside the measurement
  };
  const frames = [];
  let text = "";
  for (const piece of pieces) {
    text += piece;
    await nextFrame();
    const start = performance.now();
    render(text, true);
    frames.push(performance.now() - start);
  }
  await nextFrame();
  const start = performance.now();
  render(text, false); // reply.done
  const final = performance.now() - start;
  return { frames, final, shown: body.textContent };
};
window.benchReady = true;
"""

PARAGRAPH_EN = (
    "Streaming replies arrive a few words at a time, and the page has to show each "
    "piece as it comes. **Rendering** should cost little per frame, whatever the "
    "length of the reply so far; see `MarkdownView` and the [docs](https://example.com)."
)
PARAGRAPH_ZH = (
    "流式回复每次只到达几个字，页面需要在每一块到达时立即显示。无论回复已经有多长，"
    "每一帧的**渲染**开销都应该很小。这一段是中文，用来检验没有空格的长行如何换行。"
)
CODE = (
    "```python\n"
    "def merge(current: str, piece: str, offset: int) -> str:\n"
    '    """Append piece at offset, skipping what is already there."""\n'
    "    overlap = len(current) - offset\n"
    "    if overlap >= len(piece):\n"
    "        return current\n"
    "    return current + piece[overlap:]\n"
    "```\n"
)
CODE_JS = (
    "```js\n"
    "const frames = [];\n"
    "for (const piece of pieces) {\n"
    "  text += piece;\n"
    "  frames.push(render(text));\n"
    "}\n"
    "```\n"
)
TABLE = (
    "| 指标 | before | after |\n|:--|--:|--:|\n"
    "| mean | 10 ms | 1 ms |\n| p95 | 20 ms | 2 ms |\n"
)


def sample_reply(chars: int) -> str:
    """Return `chars` characters of varied markdown (cut where the count ends)."""
    blocks: list[str] = []
    section = 0
    while sum(len(block) + 2 for block in blocks) < chars:
        section += 1
        blocks += [
            f"## {section}. Section {section} 第{section}节",
            PARAGRAPH_EN,
            PARAGRAPH_ZH,
            "\n".join(f"- item {n}: {PARAGRAPH_EN[:50]}" for n in range(1, 5)),
            CODE if section % 2 else CODE_JS,
            "\n".join(f"{n}. 第{n}步：{PARAGRAPH_ZH[:30]}" for n in range(1, 4)),
            f"> {PARAGRAPH_EN[:120]}",
        ]
        if section % 3 == 0:
            blocks.append(TABLE)
    return "\n\n".join(blocks)[:chars]


def split_pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "mean": statistics.fmean(ordered),
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max": ordered[-1],
        "total": sum(ordered),
    }


class QuietHandler(SimpleHTTPRequestHandler):
    """Serve the repository's static/ folder and the bench page; log nothing."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
    }

    def do_GET(self) -> None:
        generated = {
            "/": (PAGE, "text/html"),
            "/bench/page.js": (PAGE_SCRIPT, "text/javascript"),
        }
        if self.path in generated:
            content, kind = generated[self.path]
            data = content.encode()
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path.startswith("/static/"):
            super().do_GET()
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


def measure(pieces: list[str], runs: int) -> dict[str, dict[str, list[float]]]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(QuietHandler, directory=str(ROOT))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    results: dict[str, dict[str, list[float]]] = {
        mode: {"frames": [], "final": [], "totals": [], "shown": []}
        for mode in ("before", "after")
    }
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            page.wait_for_function("window.benchReady === true")
            # One warm-up run each (the JIT, the first highlight.js grammars), then
            # the runs alternate so that neither mode gets a quieter machine.
            for mode in ("before", "after"):
                page.evaluate("([m, p]) => window.runBench(m, p)", [mode, pieces[:100]])
            for _ in range(runs):
                for mode in ("before", "after"):
                    run = page.evaluate(
                        "([m, p]) => window.runBench(m, p)", [mode, pieces]
                    )
                    results[mode]["frames"] += run["frames"]
                    results[mode]["final"].append(run["final"])
                    results[mode]["totals"].append(sum(run["frames"]) + run["final"])
                    results[mode]["shown"].append(run["shown"])
            browser.close()
    finally:
        server.shutdown()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", type=int, default=20_000, help="reply length")
    parser.add_argument("--piece", type=int, default=40, help="characters per frame")
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode")
    args = parser.parse_args(argv)
    text = sample_reply(args.chars)
    pieces = split_pieces(text, args.piece)
    print(
        f"reply: {len(text)} characters, {text.count('```') // 2} code blocks, "
        f"{len(pieces)} frames of {args.piece} characters; {args.runs} runs of each "
        "mode in headless Chromium"
    )
    results = measure(pieces, args.runs)
    header = (
        f"{'strategy':<8} | {'mean ms/frame':>13} | {'p95 ms':>8} | {'max ms':>8} "
        f"| {'final ms':>8} | {'total ms/reply':>14}"
    )
    print(header)
    print("-" * len(header))
    for mode in ("before", "after"):
        frames = summary(results[mode]["frames"])
        final = statistics.median(results[mode]["final"])
        total = statistics.median(results[mode]["totals"])
        print(
            f"{mode:<8} | {frames['mean']:>13.2f} | {frames['p95']:>8.2f} | "
            f"{frames['max']:>8.2f} | {final:>8.2f} | {total:>14.0f}"
        )
    same = set(results["before"]["shown"]) == set(results["after"]["shown"])
    print(f"both strategies end showing the same text: {'yes' if same else 'NO'}")
    print(
        "ms per frame: from the start of the render to the end of a forced layout; "
        "final: the render at reply.done; total: all frames plus the final one "
        "(median of the runs)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
