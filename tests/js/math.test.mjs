// Math, task lists and wide tables in model output (common/math.js via markdown.js).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { markdownToHTML } from "../../static/common/markdown.js";

const formulas = (html) => html.match(/data-testid="math"/g)?.length ?? 0;

describe("math", () => {
  test("each delimiter renders a formula as MathML", () => {
    for (const text of ["$x^2$", "\\(x^2\\)", "$$x^2$$", "\\[x^2\\]", "$$\nx^2\n$$", "\\[\nx^2\n\\]"]) {
      const html = markdownToHTML(text);
      assert.equal(formulas(html), 1, text);
      assert.match(html, /<math[^>]*><mrow><msup><mi>x<\/mi><mn>2<\/mn><\/msup>/, text);
      // No TeX source left behind, no style attribute for the CSP to refuse.
      assert.doesNotMatch(html, /annotation|style=/, text);
    }
  });

  test("a display block is a block, inline math stays in its paragraph", () => {
    assert.match(markdownToHTML("$$\n\\frac{a}{b}\n$$"), /^<div class="math math-display"/);
    assert.match(markdownToHTML("so $a$ is"), /^<p>so <span class="math"/);
  });

  test("prices and lone dollars stay text", () => {
    for (const text of ["It costs $5 and $10.", "a $ b", "$ x$", "US$"]) {
      assert.equal(formulas(markdownToHTML(text)), 0, text);
    }
  });

  test("an unclosed display block stays text (a reply still streaming)", () => {
    assert.equal(formulas(markdownToHTML("$$\nx^2")), 0);
  });

  test("code keeps its dollars", () => {
    assert.equal(formulas(markdownToHTML("`$x$`\n\n```\n$$y$$\n```")), 0);
  });

  test("hostile commands render inert: no link, no class, no style, no image", () => {
    const hostile = [
      "\\href{javascript:alert(1)}{x}",
      "\\url{javascript:alert(1)}",
      "\\htmlClass{evil}{x}",
      "\\htmlId{evil}{x}",
      "\\htmlStyle{background:red}{x}",
      "\\htmlData{foo=bar}{x}",
      "\\includegraphics{https://example.com/x.png}",
    ];
    for (const tex of hostile) {
      const html = markdownToHTML(`$${tex}$`);
      assert.doesNotMatch(html, /href=|javascript:|evil|style=|<img|data-foo/, tex);
    }
  });

  test("a broken formula shows its source as text, with a class and no style", () => {
    for (const [text, tex] of [
      ["$\\frac{1$", "\\frac{1"],
      ["$$\n\\begin{matrix}\n$$", "\\begin{matrix}"],
      ["\\(\\left( x\\)", "\\left( x"],
    ]) {
      const html = markdownToHTML(text);
      // The strict CSP (style-src without 'unsafe-inline') refuses style attributes.
      assert.doesNotMatch(html, /style=/, text);
      assert.match(html, /class="math math-error[^"]*" data-testid="math-error">/, text);
      assert.ok(html.includes(`data-testid="math-error">${tex}</`), text);
      assert.doesNotMatch(html, /title=|katex-error/, text);
    }
  });

  test("a broken formula's source is escaped, never markup", () => {
    const html = markdownToHTML('$\\frac{<img src=x onerror="alert(1)">$');
    assert.doesNotMatch(html, /<img|style=/);
    assert.match(html, /\\frac\{&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;</);
  });
});

describe("task lists and tables", () => {
  test("task items get a box", () => {
    const html = markdownToHTML("- [ ] todo\n- [x] done");
    assert.match(html, /<li class="task-item"><span class="task-box" data-done="false">☐<\/span> todo/);
    assert.match(html, /data-done="true">☑<\/span> done/);
  });

  test("a table sits in a scrolling wrapper", () => {
    assert.match(markdownToHTML("| a |\n|---|\n| 1 |"), /^<div class="table-wrap"><table>/);
  });
});
