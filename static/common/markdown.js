// Markdown for model output, which is never trusted HTML: markdown-it renders with raw
// HTML off (a "<script>" in a reply is text), then DOMPurify sanitises what it made.
// Code is highlighted with highlight.js (classes only, never style attributes).
//
// Streaming replies (MarkdownView): rendering the whole reply again on every frame is
// quadratic in its length (a 20,000-character reply re-parsed, re-sanitised and
// re-highlighted hundreds of times). Instead a view keeps the top-level blocks that are
// finished as DOM nodes it never touches again, and re-renders only the last, open block.
// A block is finished once the first line of another top-level block after it is
// complete: markdown's block structure is decided line by line from what comes before,
// so text appended later cannot change it
// (the one exception, a link reference defined after its use, is rare in model output;
// the definitions seen so far are kept in `env` and apply to later blocks). Each frame
// parses only the text after the finished blocks, so the work per frame is bounded by
// the open block, not the reply. The open block is rendered without highlighting (a
// code block that is still growing is plain text); a block is highlighted once, when it
// is finished. At most one render per animation frame is the caller's job (render.js).
import MarkdownIt from "../vendor/markdown-it/markdown-it.esm.min.js";
import DOMPurify from "../vendor/dompurify/purify.es.js";
import hljs from "../vendor/highlightjs/highlight.min.js";
import { mathPlugin } from "./math.js";

function highlight(code, lang) {
  if (lang && hljs.getLanguage(lang)) {
    return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
  }
  return ""; // markdown-it escapes it
}

export function highlightJSON(text) {
  return hljs.highlight(text, { language: "json" }).value;
}

const markdown = new MarkdownIt({ html: false, linkify: true, highlight });
// Formulas (KaTeX, as MathML), task lists, tables that scroll: see math.js.
markdown.use(mathPlugin);

// The CSP refuses style attributes (even in the HTML DOMPurify parses), and markdown-it
// aligns table cells with style="text-align:…": make that a class (chat.css) instead.
const ALIGNMENT = /^text-align:\s*(left|right|center)$/;
markdown.core.ruler.push("alignment_classes", (state) => {
  for (const token of state.tokens) {
    if (token.type !== "th_open" && token.type !== "td_open") continue;
    const align = ALIGNMENT.exec(token.attrGet("style") || "");
    token.attrs = (token.attrs || []).filter(([name]) => name !== "style");
    if (align) token.attrJoin("class", `align-${align[1]}`);
  }
});
const PLAIN_OPTIONS = { ...markdown.options, highlight: null };

// Render tokens from parseBlocks() to an HTML string (not yet sanitised).
export function renderTokens(tokens, env, { highlighted = true } = {}) {
  return markdown.renderer.render(
    tokens,
    highlighted ? markdown.options : PLAIN_OPTIONS,
    env,
  );
}

// Render a whole markdown text to an HTML string (not yet sanitised).
export function markdownToHTML(text, { highlighted = true } = {}) {
  return renderTokens(markdown.parse(text, {}), {}, { highlighted });
}

// Index in source (UTF-16 units) where line number `line` starts (markdown-it counts
// \r\n, \r and \n as one line break each).
export function lineStart(source, line) {
  const breaks = /\r\n?|\n/g;
  for (let seen = 0; seen < line; seen++) {
    if (!breaks.exec(source)) return source.length;
  }
  return line === 0 ? 0 : breaks.lastIndex;
}

// Parse source; split its tokens into finished top-level blocks and the open ones.
// `cut` is where the open part starts in source: source.slice(0, cut) is the text of
// the finished blocks (with the blank lines after them). A block is finished when the
// next block's first line is complete: until its line break, "2" may still become
// "2. item" and continue the list before it.
export function parseBlocks(source, env = {}) {
  const tokens = markdown.parse(source, env);
  // A top-level block starts with an opening token (nesting 1) or is a single one (a
  // fence, a rule); closing tokens (nesting -1) end one.
  const starts = [];
  tokens.forEach((token, index) => {
    if (token.level === 0 && token.nesting !== -1 && token.map) starts.push(index);
  });
  let split = starts.length - 1;
  if (split > 0 && !/\r|\n/.test(source.slice(lineStart(source, tokens[starts[split]].map[0])))) {
    split -= 1;
  }
  if (split < 1) return { finished: [], open: tokens, cut: 0 };
  const at = starts[split];
  return {
    finished: tokens.slice(0, at),
    open: tokens.slice(at),
    cut: lineStart(source, tokens[at].map[0]),
  };
}

// --- the DOM side (browser only) -----------------------------------------------

const PURIFY_OPTIONS = {
  // MathML: the formulas math.js renders (KaTeX's MathML output).
  USE_PROFILES: { html: true, mathMl: true },
  // Images would let a reply load any URL (and leak the conversation into it).
  FORBID_TAGS: ["img", "style", "form", "input", "button", "textarea", "select"],
  // Never a style attribute (the CSP refuses them; see alignment_classes above).
  FORBID_ATTR: ["style"],
  RETURN_DOM_FRAGMENT: true,
};
let purifierReady = false;

function setUpPurifier() {
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  });
  purifierReady = true;
}

// Sanitise an HTML string into a DocumentFragment safe to insert.
export function sanitize(html) {
  if (!purifierReady) setUpPurifier();
  return DOMPurify.sanitize(html, PURIFY_OPTIONS);
}

// A fragment of the whole text, rendered in one go (a reply that is not streaming).
export function renderMarkdown(text, decorate = () => {}) {
  const fragment = sanitize(markdownToHTML(text));
  decorate(fragment);
  return fragment;
}

// The bookkeeping of a growing text (see the top of this file), without the DOM.
// update() says what to show: {reset, finishedHTML, openHTML}, or null for "as it is".
// finishedHTML is appended after the blocks already shown and never changes again;
// openHTML replaces the previous open block (null: no open block, all is finished).
export class StreamingMarkdown {
  constructor() {
    this.reset();
  }

  reset() {
    this.finishedText = ""; // the source of the blocks that are never rendered again
    this.env = { references: {} }; // link reference definitions of the finished blocks
    this.openText = null; // the source of the open block shown; null when there is none
  }

  // text: all of it so far; streaming: whether it may still grow. A text that does not
  // start with the finished blocks (a snapshot replaced it) starts over.
  update(text, streaming) {
    const reset = !text.startsWith(this.finishedText);
    if (reset) this.reset();
    const rest = text.slice(this.finishedText.length);
    if (!streaming) {
      if (!reset && !rest && this.openText === null) return null;
      this.finishedText = text;
      this.openText = null;
      const env = { references: { ...this.env.references } };
      const lastHTML = renderTokens(markdown.parse(rest, env), env);
      return { reset, finishedHTML: "", openHTML: null, lastHTML };
    }
    if (!reset && rest === this.openText) return null;
    // A copy: a definition in the open block may still be half written.
    const env = { references: { ...this.env.references } };
    const { finished, open, cut } = parseBlocks(rest, env);
    const finishedHTML = finished.length ? renderTokens(finished, env) : "";
    if (cut) {
      // Keep the definitions of the finished blocks (parsing them again costs once).
      markdown.parse(rest.slice(0, cut), this.env);
      this.finishedText += rest.slice(0, cut);
    }
    this.openText = rest.slice(cut);
    const openHTML = renderTokens(open, env, { highlighted: false });
    return { reset, finishedHTML, openHTML, lastHTML: "" };
  }
}

// Shows one markdown text in `container` as it grows, with StreamingMarkdown.
// decorate(fragment) is called on every fragment before it is inserted.
export class MarkdownView {
  constructor(container, decorate = () => {}) {
    this.container = container;
    this.decorate = decorate;
    this.stream = new StreamingMarkdown();
    this.openNodes = [];
  }

  reset() {
    this.stream.reset();
    this.container.replaceChildren();
    this.openNodes = [];
  }

  update(text, streaming) {
    const change = this.stream.update(text, streaming);
    if (!change) return;
    if (change.reset) this.container.replaceChildren();
    for (const node of this.openNodes) node.remove();
    this.openNodes = [];
    // Finished blocks: appended once, highlighted, never rendered again.
    const finished = change.finishedHTML + change.lastHTML;
    if (finished) this.container.append(this.fragment(finished));
    if (change.openHTML) {
      const open = this.fragment(change.openHTML);
      this.openNodes = [...open.childNodes];
      this.container.append(open);
    }
  }

  fragment(html) {
    const fragment = sanitize(html);
    this.decorate(fragment);
    return fragment;
  }
}
