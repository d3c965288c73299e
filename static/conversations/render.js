// One message's DOM: header (sender, badges), reasoning, the "thinking" wait, body,
// notes, and the toolbar (copy, edit, regenerate, speak, the version pager
// "‹ 2 / 3 ›" of a turn with several versions, time).
// renderMessage() is called at most once per animation frame per message (main.js
// batches); the body's markdown is incremental (MarkdownView, common/markdown.js).
// The helpers that only compute text are exported for tests/js/.
import { el } from "../common/dom.js";
import { format } from "../common/i18n.js";
import { icon } from "../common/icons.js";
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

// Usage as the dialect reports it: the pro API reports a total only, so a count
// that is missing is left out rather than shown as a dash.
export function usageText(usage, T) {
  if (!usage) return "";
  const { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total } = usage;
  if (prompt != null && completion != null) {
    return format(T.usage, { prompt, completion, total: total ?? prompt + completion });
  }
  if (total != null) return format(T.usage_total, { total });
  return "";
}

export function statsLine(data, T) {
  const parts = [];
  const usage = usageText(data.usage, T);
  if (usage) parts.push(usage);
  if (data.first_token_ms != null) parts.push(format(T.first_token, { ms: data.first_token_ms }));
  if (data.duration_ms != null) {
    parts.push(format(T.duration, { seconds: (data.duration_ms / 1000).toFixed(1) }));
  }
  return parts.join(" · ");
}

// The message's time, short ("14:05", or with the date when not today) and in full
// (the tooltip). null for a message not stored yet.
export function timeLabel(iso, lang, now = new Date()) {
  if (!iso) return null;
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return null;
  const sameDay = when.toDateString() === now.toDateString();
  const short = new Intl.DateTimeFormat(lang, {
    ...(sameDay ? {} : { month: "short", day: "numeric" }),
    hour: "2-digit",
    minute: "2-digit",
  }).format(when);
  const full = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "medium" }).format(when);
  return { short, full };
}

// The pager's label and the ids its buttons switch to (null at either end), or
// null for a turn with one version.
export function versionPager(data) {
  const ids = data.sibling_ids || [];
  if (!data.id || ids.length < 2) return null;
  const index = ids.indexOf(data.id);
  if (index < 0) return null;
  return {
    label: `${index + 1} / ${ids.length}`,
    prev: index > 0 ? ids[index - 1] : null,
    next: index < ids.length - 1 ? ids[index + 1] : null,
  };
}

// Waiting for the first token: a reply that streams and has shown nothing yet.
export function isThinking(data) {
  return data.status === "streaming" && !data.content && !data.reasoning;
}

// The stored message starts with its kind's headline (in the language of the process
// that ran the reply): what follows it, MiniMax's own words and code, is the detail.
function errorDetail(message, kind, T) {
  if (!message) return null;
  let rest = message;
  for (const headline of [T.error_titles?.[kind], T.error_titles_en?.[kind]]) {
    if (headline && rest.startsWith(headline)) {
      rest = rest.slice(headline.length);
      break;
    }
  }
  rest = rest.trim().replace(/^\((.*)\)(\s*\[.*\])?$/, "$1$2").trim();
  // A sentence the headline or the advice already says ("Retry in a moment.") goes.
  const said = [T.error_titles?.[kind], T.error_titles_en?.[kind], T.advice?.[kind]].filter(Boolean);
  const sentences = rest.split(/(?<=[.!?。！？])\s+/);
  rest = sentences.filter((sentence) => !said.some((text) => text.includes(sentence))).join(" ");
  return rest || null;
}

// What the error block says: {kind, title (what happened), detail (or null), advice
// (what to do)}: each once. The headline texts of error_titles say both, so the title
// is the shorter "what happened" (error_what) when the page has one.
export function errorSummary(data, T) {
  const error = data.error || { kind: "upstream_error", message: T.error_fallback };
  const title =
    T.error_what?.[error.kind] || T.error_titles?.[error.kind] || error.message || T.error_fallback;
  const detail = errorDetail(error.message, error.kind, T);
  return {
    kind: error.kind,
    title,
    detail: detail && detail !== title ? detail : null,
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

// ctx: {T, jsonMode(): bool, lang}
export function createMessageView(ctx) {
  const sender = el("span", { class: "sender" });
  const badges = el("span", { class: "badges" });
  const header = el("header", { class: "message-header" }, sender, badges);
  const body = el("div", { class: "body" });
  const notes = el("div", { class: "notes" });
  const actions = el("div", { class: "message-actions", role: "toolbar", "aria-label": ctx.T.message_actions });
  const root = el("li", { class: "message", "data-testid": "message" }, header, body, notes, actions);
  return {
    el: root,
    parts: { sender, badges, header, body, notes, actions, tools: null, thinking: null },
    markdown: new MarkdownView(body, (fragment) => decorateCodeBlocks(fragment, ctx.T)),
    bodyMode: null, // "text", "json" or "markdown": what the body shows now
    reasoning: null, // {details, text node}
    wasStreaming: false,
    data: null, // the message as last rendered (the copy button copies its content)
  };
}

export function renderMessage(view, data, ctx) {
  const { T } = ctx;
  const { el: root, parts } = view;
  const isUser = data.role === "user";
  view.data = data;
  root.dataset.role = data.role;
  root.dataset.status = data.status;
  // Screen readers wait for the whole reply instead of reading every frame.
  root.setAttribute("aria-busy", String(data.status === "streaming"));
  if (data.id) root.dataset.id = data.id;
  parts.sender.textContent = isUser ? T.you : data.sender_name || T.assistant;
  renderBadge(parts.badges, data, T);
  if (!isUser) renderReasoning(view, data, T);
  if (!isUser) renderThinking(view, data, T);
  renderBody(view, data, ctx);
  renderNotes(parts.notes, data, T);
  renderToolbar(view, data, ctx);
}

function renderBadge(box, data, T) {
  const badge = badgeFor(data.status, T);
  box.replaceChildren(...(badge ? [el("span", { class: badge.className }, badge.text)] : []));
}

function iconButton(name, label, { class: extra = "", ...attrs } = {}) {
  return el(
    "button",
    { type: "button", class: `icon-button ${extra}`.trim(), "aria-label": label, title: label, ...attrs },
    icon(name),
  );
}

// The toolbar under a message, built once: copy (Markdown), regenerate and speak (a
// reply), the slot for edit and versions, the time. Its buttons are shown when usable.
function renderToolbar(view, data, ctx) {
  const { T } = ctx;
  const { parts } = view;
  if (!parts.tools) {
    const isUser = data.role === "user";
    const copy = iconButton("copy", T.copy_message, { "data-testid": "copy-message", dataset: { action: "copy-message" } });
    const edit = isUser
      ? iconButton("pencil", T.edit, { class: "edit", "data-testid": "edit", dataset: { action: "edit" } })
      : null;
    const regenerate = isUser
      ? null
      : iconButton("refresh-cw", T.regenerate, { class: "regenerate", dataset: { action: "regenerate" } });
    // The reply, read aloud on the speech page.
    const speak = isUser
      ? null
      : el("a", { class: "icon-button speak", "data-testid": "speak", "aria-label": T.speak, title: T.speak }, icon("volume-2"));
    // The versions of this turn (an edit, a regenerate): "‹ 2 / 3 ›".
    const prev = iconButton("chevron-left", T.version_prev, {
      class: "version-prev",
      "data-testid": "version-prev",
      dataset: { action: "switch" },
    });
    const next = iconButton("chevron-right", T.version_next, {
      class: "version-next",
      "data-testid": "version-next",
      dataset: { action: "switch" },
    });
    const label = el("span", { class: "version-label", "data-testid": "version-label", "aria-live": "polite" });
    const versions = el("span", { class: "versions", role: "group", "aria-label": T.versions }, prev, label, next);
    const time = el("time", { class: "message-time" });
    parts.actions.append(...[copy, edit, regenerate, speak, versions, time].filter(Boolean));
    parts.tools = { copy, edit, regenerate, speak, versions, prev, next, label, time };
  }
  const { copy, edit, speak, time } = parts.tools;
  const finished = data.status !== "streaming" && data.status !== "sending";
  copy.hidden = !data.content || !finished;
  if (edit) edit.hidden = !data.id || !finished;
  renderPager(view, data);
  if (speak) {
    const shown = Boolean(data.id && data.content && finished);
    speak.hidden = !shown;
    if (shown) speak.href = speakHref(data.id);
  }
  const label = timeLabel(data.created_at, ctx.lang);
  time.hidden = !label;
  if (label && time.dateTime !== data.created_at) {
    time.dateTime = data.created_at;
    time.textContent = label.short;
    time.title = label.full;
  }
}

function renderPager(view, data) {
  const { versions, prev, next, label } = view.parts.tools;
  const pager = versionPager(data);
  versions.hidden = !pager;
  view.el.toggleAttribute("data-versions", Boolean(pager));
  if (!pager) return;
  label.textContent = pager.label;
  prev.dataset.target = pager.prev ?? "";
  next.dataset.target = pager.next ?? "";
  // Disabled at either end here; refreshControls also disables both while busy.
  prev.dataset.end = String(pager.prev === null);
  next.dataset.end = String(pager.next === null);
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

// While the first token is awaited: "Thinking… 3 s", counted from when the page first
// saw the reply (the server's clock may differ from this one).
const thinkingViews = new Map(); // view -> T
let thinkingTimer = null;

function thinkingText(view, T) {
  const seconds = Math.floor((Date.now() - view.thinkingSince) / 1000);
  return format(T.thinking, { seconds });
}

function tickThinking() {
  for (const [view, T] of thinkingViews) view.parts.thinking.lastChild.data = thinkingText(view, T);
  if (!thinkingViews.size) {
    clearInterval(thinkingTimer);
    thinkingTimer = null;
  }
}

function renderThinking(view, data, T) {
  const { parts } = view;
  if (!isThinking(data)) {
    if (parts.thinking) {
      parts.thinking.remove();
      parts.thinking = null;
      thinkingViews.delete(view);
    }
    return;
  }
  if (parts.thinking) return;
  view.thinkingSince ??= Date.now();
  parts.thinking = el(
    "p",
    { class: "thinking", "data-testid": "thinking", role: "status" },
    el("span", { class: "thinking-dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
    thinkingText(view, T),
  );
  parts.body.before(parts.thinking);
  thinkingViews.set(view, T);
  thinkingTimer ??= setInterval(tickThinking, 1000);
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
}

function errorBlock(data, T) {
  const summary = errorSummary(data, T);
  return el(
    "div",
    { class: "error", "data-testid": "error", role: "alert", dataset: { kind: summary.kind } },
    el("p", { class: "error-message" }, summary.title),
    summary.detail && el("p", { class: "error-detail" }, summary.detail),
    el("p", { class: "error-advice" }, summary.advice),
    el(
      "button",
      { type: "button", class: "retry small", dataset: { action: "regenerate" } },
      icon("refresh-cw"),
      T.retry,
    ),
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
  pre.prepend(iconButton("copy", T.copy, { class: "copy-code" }));
}
