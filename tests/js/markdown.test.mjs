// Markdown for model output, and the incremental rendering of a streaming reply.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  StreamingMarkdown,
  lineStart,
  markdownToHTML,
  parseBlocks,
} from "../../static/common/markdown.js";

const REPLY = [
  "# 标题 Title",
  "",
  "A paragraph with **bold**, `code` and a link https://example.com.",
  "It goes on for a second line.",
  "",
  "- one",
  "- two",
  "  - nested",
  "",
  "1. first",
  "",
  "2. second (a loose list)",
  "",
  "```python",
  "def answer():",
  "    return 42",
  "```",
  "",
  "| left | right |",
  "|:-----|------:|",
  "| 一 | 二 |",
  "",
  "> quoted",
  "",
  "Setext heading",
  "--------------",
  "",
  "中文段落，没有空格也能换行。最后一段。",
].join("\n");

// Feed text in pieces of `size` the way frames arrive; return the HTML a page ends with.
function streamed(text, size) {
  const stream = new StreamingMarkdown();
  let finished = "";
  let open = "";
  const apply = (change) => {
    if (!change) return;
    if (change.reset) finished = "";
    finished += change.finishedHTML + change.lastHTML;
    open = change.openHTML ?? "";
  };
  for (let end = size; end < text.length + size; end += size) {
    apply(stream.update(text.slice(0, end), true));
  }
  apply(stream.update(text, false));
  return { html: finished + open, open };
}

describe("markdownToHTML", () => {
  test("raw HTML in a reply is text, not markup", () => {
    const html = markdownToHTML('<img src=x onerror="alert(1)"><script>alert(2)</script>');
    assert.ok(!html.includes("<img"), html);
    assert.ok(!html.includes("<script"), html);
    assert.ok(html.includes("&lt;script&gt;"), html);
  });

  test("a closed code block is highlighted, unless asked not to be", () => {
    const source = "```python\ndef f():\n    pass\n```\n";
    assert.match(markdownToHTML(source), /<span class="hljs-keyword">def<\/span>/);
    assert.doesNotMatch(markdownToHTML(source, { highlighted: false }), /hljs-/);
  });
});

describe("parseBlocks", () => {
  test("everything before the last top-level block is finished", () => {
    const source = "# Title\n\nSome text\n\n- a\n- b";
    const { finished, open, cut } = parseBlocks(source);
    assert.equal(source.slice(cut), "- a\n- b");
    assert.equal(finished[0].type, "heading_open");
    assert.equal(open[0].type, "bullet_list_open");
  });

  test("a single block is all open", () => {
    const { finished, cut } = parseBlocks("Just one paragraph\nstill going");
    assert.equal(finished.length, 0);
    assert.equal(cut, 0);
  });

  test("an unclosed code block stays open however long it is", () => {
    const source = "Intro\n\n```js\nconst a = 1;\n\n\nconst b = 2;\n";
    assert.equal(source.slice(parseBlocks(source).cut), "```js\nconst a = 1;\n\n\nconst b = 2;\n");
  });

  test("a list with blank lines between items is one block until something follows", () => {
    const source = "- a\n\n- b\n\n";
    assert.equal(parseBlocks(source).cut, 0);
    assert.equal(parseBlocks(`${source}After.\n`).cut, source.length);
  });

  test("a block's first line must be complete before the block before it is finished", () => {
    // "2" may yet become "2. second", an item of the list above it.
    assert.equal(parseBlocks("1. first\n\n2").cut, 0);
    assert.equal(parseBlocks("1. first\n\n2. second\n\nNext").cut, 0);
    assert.equal(parseBlocks("Intro\n\n1. first\n\nNext").cut, "Intro\n\n".length);
  });
});

test("lineStart counts \\r\\n, \\r and \\n as one break each", () => {
  const source = "a\r\nb\rc\nd";
  assert.deepEqual([0, 1, 2, 3].map((line) => source[lineStart(source, line)]), ["a", "b", "c", "d"]);
  assert.equal(lineStart(source, 9), source.length);
});

describe("StreamingMarkdown", () => {
  for (const size of [1, 7, 40, 500]) {
    test(`streamed in pieces of ${size} it ends as the whole text rendered at once`, () => {
      assert.equal(streamed(REPLY, size).html, markdownToHTML(REPLY));
    });
  }

  test("each frame renders the open block only", () => {
    const stream = new StreamingMarkdown();
    stream.update("# Title\n\nFirst paragraph.\n\nSecond\n", true);
    const change = stream.update("# Title\n\nFirst paragraph.\n\nSecond\nparagraph", true);
    assert.equal(change.finishedHTML, "");
    assert.equal(change.openHTML, "<p>Second\nparagraph</p>\n");
  });

  test("a block is rendered once, when the next one starts, and highlighted then", () => {
    const stream = new StreamingMarkdown();
    const open = stream.update("```python\ndef f(): pass\n```\n", true);
    const next = stream.update("```python\ndef f(): pass\n```\n\nDone.\n", true);
    assert.doesNotMatch(open.openHTML, /hljs-keyword/);
    assert.match(next.finishedHTML, /hljs-keyword/);
    assert.equal(next.openHTML, "<p>Done.</p>\n");
    assert.equal(stream.update("```python\ndef f(): pass\n```\n\nDone.\n", true), null);
  });

  test("a snapshot that rewrites the text starts over", () => {
    const stream = new StreamingMarkdown();
    stream.update("One.\n\nTwo.\n\nThree", true);
    const change = stream.update("Uno.\n\nDos", true);
    assert.equal(change.reset, true);
    assert.equal(change.finishedHTML + change.openHTML, markdownToHTML("Uno.\n\nDos"));
  });

  test("a reply that is not streaming renders once and then not again", () => {
    const stream = new StreamingMarkdown();
    assert.equal(stream.update("Hello *world*", false).lastHTML, "<p>Hello <em>world</em></p>\n");
    assert.equal(stream.update("Hello *world*", false), null);
  });

  test("link references defined earlier still apply to later blocks", () => {
    const text = "[docs]: https://example.com/docs\n\nSee [the docs][docs].\n\nMore";
    assert.equal(streamed(text, 5).html, markdownToHTML(text));
  });
});

test("table alignment is a class, never a style attribute (the CSP refuses those)", () => {
  const html = markdownToHTML("| l | c | r |\n|:--|:-:|--:|\n| 1 | 2 | 3 |");
  assert.doesNotMatch(html, /style=/);
  assert.match(html, /<th class="align-left">l<\/th>/);
  assert.match(html, /<td class="align-center">2<\/td>/);
  assert.match(html, /<td class="align-right">3<\/td>/);
});
