// One message's DOM: header (sender, badges, the speak link), reasoning, body, notes.
// renderMessage() is called at most once per animation frame per message (main.js
// batches); the body's markdown is incremental (MarkdownView, common/markdown.js).
// The helpers that only compute text are exported for tests/js/.
import { el } from "../common/dom.js";
import { format } from "../common/i18n.js";
import { MarkdownView, highlightJSON } from "../common/markdown.js";

const BADGE_STATUSES = ["stopped", "interrupted", "sending"];

// {className, text} of the status badge, or null for a status that has none.
export function badgeFor(status, T) {
  if (!BADGE_STATUSES.includes(status)) return null;
  return { className: `badge badge-${status}`, text: T[status] };
}

// Link to the speech page for a reply.
export function speakHref(messageId) {
  return `/speech/?message=${encodeURIComponent(messageId)}`;
}

export function statsLine(data, T) {
  const parts = [];
  if (data.usage) {
    parts.push(
      format(T.usage, {
        prompt: data.usage.prompt_tokens ?? "–",
        completion: data.usage.completion_tokens ?? "–",
        total: data.usage.total_tokens ?? "–",
      }),
    );
  }
  if (data.first_token_ms != null) parts.push(format(T.first_token, { ms: data.first_token_ms }));
  if (data.duration_ms != null) {
    parts.push(format(T.duration, { seconds: (data.duration_ms / 1000).toFixed(1) }));
  }
  return parts.join(" · ");
}

// What the error block says: {kind, title, detail (or null), advice}.
export function errorSummary(data, T) {
  const error = data.error || { kind: "upstream_error", message: T.error_fallback };
  const title = T.error_titles?.[error.kind] || error.message || T.error_fallback;
  // The stored message names a field or a timeout: worth showing when it says more.
  const saysMore = error.message && error.message !== T.error_titles_en?.[error.kind];
  return {
    kind: error.kind,
    title,
    detail: saysMore ? error.message : null,
    advice: T.advice?.[error.kind] || T.advice?.upstream_error || "",
  };
}

// The short notes under a reply, as [className, text], in the order they show.
export function noteLines(data, T) {
  const lines = [];
  if (data.status === "interrupted") lines.push(["note", T.advice.interrupted]);
  if (data.finish_reason === "length") lines.push(["note", T.length]);
  if (data.input_sensitive) lines.push(["note flag", T.input_flagged]);
  if (data.output_sensitive) lines.push(["note flag", T.output_flagged]);
  if (data.status !== "streaming") {
    const stats = statsLine(data, T);
    if (stats) lines.push(["stats", stats]);
  }
  return lines;
}

// --- the DOM -------------------------------------------------------------------

// ctx: {T, jsonMode(): bool, speakLabel}
export function createMessageView(ctx) {
  const sender = el("span", { class: "sender" });
  const badges = el("span", { class: "badges" });
  const header = el("header", { class: "message-header" }, sender, badges);
  const body = el("div", { class: "body" });
  const notes = el("div", { class: "notes" });
  const root = el("li", { class: "message", "data-testid": "message" }, header, body, notes);
  return {
    el: root,
    parts: { sender, badges, header, body, notes, speak: null },
    markdown: new MarkdownView(body, (fragment) => decorateCodeBlocks(fragment, ctx.T)),
    bodyMode: null, // "text", "json" or "markdown": what the body shows now
    reasoning: null, // {details, text node}
    wasStreaming: false,
  };
}

export function renderMessage(view, data, ctx) {
  const { T } = ctx;
  const { el: root, parts } = view;
  const isUser = data.role === "user";
  root.dataset.role = data.role;
  root.dataset.status = data.status;
  // Screen readers wait for the whole reply instead of reading every frame.
  root.setAttribute("aria-busy", String(data.status === "streaming"));
  if (data.id) root.dataset.id = data.id;
  parts.sender.textContent = isUser ? T.you : data.sender_name || T.assistant;
  renderBadge(parts.badges, data, T);
  if (!isUser) renderSpeak(parts, data, ctx);
  if (!isUser) renderReasoning(view, data, T);
  renderBody(view, data, ctx);
  renderNotes(parts.notes, data, T);
}

function renderBadge(box, data, T) {
  const badge = badgeFor(data.status, T);
  box.replaceChildren(...(badge ? [el("span", { class: badge.className }, badge.text)] : []));
}

// The reply, read aloud on the speech page: offered once there is a whole reply.
function renderSpeak(parts, data, ctx) {
  if (!parts.speak) {
    parts.speak = el("a", { class: "speak", "data-testid": "speak" }, ctx.speakLabel);
    parts.header.append(parts.speak);
  }
  const shown = Boolean(data.id && data.content && data.status !== "streaming");
  parts.speak.hidden = !shown;
  if (shown) parts.speak.href = speakHref(data.id);
}

function renderReasoning(view, data, T) {
  if (!data.reasoning) {
    view.reasoning?.details.remove();
    view.reasoning = null;
    return;
  }
  const streaming = data.status === "streaming";
  if (!view.reasoning) {
    const text = document.createTextNode("");
    const details = el(
      "details",
      { class: "reasoning", "data-testid": "reasoning" },
      el("summary", {}, T.reasoning),
      el("div", { class: "reasoning-body" }, text),
    );
    details.open = streaming;
    view.parts.header.after(details);
    view.reasoning = { details, text };
  }
  // Open while the model thinks; fold it away once the answer is in.
  if (streaming) view.wasStreaming = true;
  else if (view.wasStreaming) {
    view.reasoning.details.open = false;
    view.wasStreaming = false;
  }
  // Growing text: append the new part instead of replacing the whole node.
  const node = view.reasoning.text;
  if (data.reasoning.startsWith(node.data)) node.appendData(data.reasoning.slice(node.data.length));
  else node.data = data.reasoning;
}

function renderBody(view, data, ctx) {
  const body = view.parts.body;
  const mode = data.role === "user" ? "text" : ctx.jsonMode() && data.content ? "json" : "markdown";
  if (mode !== view.bodyMode) {
    view.markdown.reset();
    view.bodyMode = mode;
  }
  if (mode === "text") body.textContent = data.content;
  else if (mode === "json") body.replaceChildren(renderJSON(data.content, ctx.T));
  else view.markdown.update(data.content, data.status === "streaming");
}

function renderNotes(notes, data, T) {
  notes.replaceChildren();
  if (data.role !== "assistant") return;
  if (data.status === "error") notes.append(errorBlock(data, T));
  if (data.json_valid !== null && data.json_valid !== undefined) {
    const valid = data.json_valid;
    const mark = el(
      "p",
      { class: `json-mark ${valid ? "valid" : "invalid"}`, dataset: { jsonValid: String(valid) } },
      `${valid ? "✓" : "✗"} ${valid ? T.json_valid : T.json_invalid}`,
    );
    notes.append(mark);
  }
  for (const [className, text] of noteLines(data, T)) {
    notes.append(el("p", { class: className }, text));
  }
  if (data.status !== "streaming" && data.status !== "error") {
    notes.append(
      el(
        "button",
        { type: "button", class: "regenerate small", dataset: { action: "regenerate" } },
        T.regenerate,
      ),
    );
  }
}

function errorBlock(data, T) {
  const summary = errorSummary(data, T);
  return el(
    "div",
    { class: "error", "data-testid": "error", role: "alert", dataset: { kind: summary.kind } },
    el("p", { class: "error-message" }, summary.title),
    summary.detail && el("p", { class: "error-detail" }, summary.detail),
    el("p", { class: "error-advice" }, summary.advice),
    el("button", { type: "button", class: "retry small", dataset: { action: "regenerate" } }, T.retry),
  );
}

function renderJSON(text, T) {
  const code = el("code", { class: "language-json hljs" });
  try {
    // highlight.js escapes the text it wraps in its spans.
    code.innerHTML = highlightJSON(JSON.stringify(JSON.parse(text), null, 2));
  } catch {
    code.textContent = text; // not (yet) JSON: shown as it is
  }
  const pre = el("pre", {}, code);
  decorateCodeBlock(pre, T);
  return pre;
}

function decorateCodeBlocks(fragment, T) {
  for (const pre of fragment.querySelectorAll("pre")) decorateCodeBlock(pre, T);
}

function decorateCodeBlock(pre, T) {
  pre.querySelector("code")?.classList.add("hljs");
  pre.classList.add("code-block");
  pre.prepend(el("button", { type: "button", class: "copy-code small" }, T.copy));
}
