// Math in model output: $...$, \(...\) inline; $$...$$, \[...\] as a display block.
// KaTeX renders it as MathML, which Chromium (109+), Firefox and Safari draw natively.
// Why MathML and not KaTeX's HTML output: the HTML output positions every glyph with
// inline style attributes, and the page's CSP (style-src 'self') refuses style
// attributes in markup parsed from a string, so those formulas would fall apart.
// MathML needs no style attribute, no KaTeX stylesheet and no KaTeX fonts.
// trust: false keeps \href, \url, \htmlClass, \includegraphics... inert (shown as red
// source text); the HTML still goes through DOMPurify after this (markdown.js).
// A formula KaTeX cannot parse: with throwOnError: false KaTeX would answer a span with
// style="color:#cc0000" (which the CSP refuses, and which DOMPurify would have to strip),
// so it throws instead and the TeX is shown as escaped text in a span.math-error.
import katex from "../vendor/katex/katex.js";

const KATEX_OPTIONS = {
  output: "mathml",
  throwOnError: true,
  trust: false,
  strict: "ignore",
  maxSize: 20,
  maxExpand: 500,
};

// DOMPurify's MathML profile refuses <semantics> and <annotation> (the TeX source
// KaTeX appends for copy-paste): drop them here, keeping the formula itself.
function withoutAnnotation(html) {
  return html
    .replace(/<annotation\b[^>]*>[\s\S]*?<\/annotation>/g, "")
    .replace(/<\/?semantics>/g, "");
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHTML = (text) => text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]);

export function renderMath(tex, display) {
  const tag = display ? "div" : "span";
  let html;
  try {
    html = katex.renderToString(tex, { ...KATEX_OPTIONS, displayMode: display });
  } catch (error) {
    if (!(error instanceof katex.ParseError)) throw error;
    const opener = `<${tag} class="math math-error${display ? " math-display" : ""}" data-testid="math-error">`;
    return `${opener}${escapeHTML(tex)}</${tag}>`;
  }
  return `<${tag} class="math${display ? " math-display" : ""}" data-testid="math">${withoutAnnotation(html)}</${tag}>`;
}

// --- markdown-it rules ------------------------------------------------------------

const isSpace = (ch) => ch === " " || ch === "\t" || ch === "\n" || ch === "\r";

// The end of an inline formula that starts at `start` (after its opener), or -1.
function closingDollar(src, start, max) {
  if (start >= max || isSpace(src[start])) return -1;
  for (let at = src.indexOf("$", start); at !== -1 && at < max; at = src.indexOf("$", at + 1)) {
    if (src[at - 1] === "\\") continue;
    // "$5 and $10": a closing $ follows no space and precedes no digit.
    if (isSpace(src[at - 1]) || /\d/.test(src[at + 1] || "")) continue;
    return at;
  }
  return -1;
}

const INLINE_PAIRS = [
  ["$$", "$$", true],
  ["\\[", "\\]", true],
  ["\\(", "\\)", false],
];

function mathInline(state, silent) {
  const { src, pos, posMax } = state;
  if (src[pos] !== "$" && src[pos] !== "\\") return false;
  let content = null;
  let end = -1;
  let display = false;
  for (const [open, close, isDisplay] of INLINE_PAIRS) {
    if (!src.startsWith(open, pos)) continue;
    const at = src.indexOf(close, pos + open.length);
    if (at === -1 || at + close.length > posMax || at === pos + open.length) return false;
    content = src.slice(pos + open.length, at);
    end = at + close.length;
    display = isDisplay;
    break;
  }
  if (content === null && src[pos] === "$") {
    const at = closingDollar(src, pos + 1, posMax);
    if (at === -1) return false;
    content = src.slice(pos + 1, at);
    end = at + 1;
  }
  if (content === null) return false;
  if (!silent) {
    const token = state.push("math_inline", "math", 0);
    token.content = content;
    token.meta = { display };
  }
  state.pos = end;
  return true;
}

const BLOCK_PAIRS = [
  ["$$", "$$"],
  ["\\[", "\\]"],
];

function mathBlock(state, startLine, endLine, silent) {
  if (state.sCount[startLine] - state.blkIndent >= 4) return false;
  const lineText = (line) => state.src.slice(state.bMarks[line] + state.tShift[line], state.eMarks[line]);
  const first = lineText(startLine);
  const pair = BLOCK_PAIRS.find(([open]) => first.startsWith(open));
  if (!pair) return false;
  const [open, close] = pair;
  const rest = first.slice(open.length);
  let content;
  let last = startLine;
  if (rest.trimEnd().endsWith(close) && rest.trim().length > close.length) {
    content = rest.trimEnd().slice(0, -close.length);
  } else if (rest.includes(close)) {
    return false; // "$$a$$ and more": an inline formula in a paragraph
  } else {
    const lines = [rest];
    for (last = startLine + 1; last < endLine; last++) {
      const text = lineText(last);
      if (state.sCount[last] < state.blkIndent && text) return false;
      if (text.trimEnd().endsWith(close)) {
        lines.push(text.trimEnd().slice(0, -close.length));
        break;
      }
      lines.push(text);
    }
    // Not closed (yet: a streaming reply): the lines stay a paragraph for now.
    if (last >= endLine) return false;
    content = lines.join("\n");
  }
  if (silent) return true;
  state.line = last + 1;
  const token = state.push("math_block", "math", 0);
  token.block = true;
  token.content = content.trim();
  token.map = [startLine, state.line];
  token.markup = open;
  return true;
}

// "- [ ] todo" / "- [x] done": a box before the item's text (no <input>: DOMPurify
// refuses form controls in model output).
const TASK = /^\[([ xX])\]\s+/;

function taskLists(state) {
  const tokens = state.tokens;
  for (let i = 2; i < tokens.length; i++) {
    const token = tokens[i];
    if (token.type !== "inline" || tokens[i - 1].type !== "paragraph_open") continue;
    if (tokens[i - 2].type !== "list_item_open") continue;
    const head = token.children?.[0];
    const match = head?.type === "text" && TASK.exec(head.content);
    if (!match) continue;
    head.content = head.content.slice(match[0].length);
    const box = new state.Token("task_box", "span", 0);
    box.meta = { done: match[1] !== " " };
    token.children.unshift(box);
    tokens[i - 2].attrJoin("class", "task-item");
  }
}

export function mathPlugin(md) {
  md.inline.ruler.before("escape", "math_inline", mathInline);
  md.block.ruler.before("fence", "math_block", mathBlock, {
    alt: ["paragraph", "reference", "blockquote", "list"],
  });
  md.core.ruler.push("task_lists", taskLists);
  md.renderer.rules.math_inline = (tokens, idx) =>
    renderMath(tokens[idx].content, tokens[idx].meta.display);
  md.renderer.rules.math_block = (tokens, idx) => `${renderMath(tokens[idx].content, true)}\n`;
  md.renderer.rules.task_box = (tokens, idx) =>
    `<span class="task-box" data-done="${tokens[idx].meta.done}">${tokens[idx].meta.done ? "☑" : "☐"}</span> `;
  // Wide tables scroll inside the message instead of stretching the page.
  md.renderer.rules.table_open = () => '<div class="table-wrap"><table>\n';
  md.renderer.rules.table_close = () => "</table></div>\n";
}
