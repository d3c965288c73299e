// The chat page: settings, the message list, and the websocket that streams replies.
// Frames are described in docs/websocket.md. Model output is never trusted HTML:
// markdown is rendered with raw HTML off, then sanitised by DOMPurify.
import MarkdownIt from "../vendor/markdown-it/markdown-it.esm.min.js";
import DOMPurify from "../vendor/dompurify/purify.es.js";
import hljs from "../vendor/highlightjs/highlight.min.js";

const readJSON = (id) => JSON.parse(document.getElementById(id).textContent);
const T = readJSON("strings-data");
const MODELS = new Map(readJSON("models-data").map((spec) => [spec.id, spec]));
let conversation = readJSON("conversation-data");

const $ = (id) => document.getElementById(id);
const ui = {
  list: $("messages"),
  composer: $("composer"),
  composerForm: $("composer-form"),
  send: $("send"),
  stop: $("stop"),
  model: $("model-select"),
  dialectNote: $("dialect-note"),
  settings: $("settings"),
  settingsForm: $("settings-form"),
  settingsStatus: $("settings-status"),
  connection: $("connection"),
  notice: $("notice"),
  emptyChat: $("empty-chat"),
};
const field = (name) => ui.settingsForm.elements.namedItem(name);

const fmt = (template, values) =>
  template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

function newClientId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + Math.random().toString(36).slice(2);
}

// --- markdown -------------------------------------------------------------------

const markdown = new MarkdownIt({
  html: false,
  linkify: true,
  highlight(code, lang) {
    if (lang && hljs.getLanguage(lang)) {
      return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
    }
    return ""; // markdown-it escapes it
  },
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

const PURIFY_OPTIONS = {
  USE_PROFILES: { html: true },
  // Images would let a reply load any URL (and leak the conversation into it).
  FORBID_TAGS: ["img", "style", "form", "input", "button", "textarea", "select"],
  RETURN_DOM_FRAGMENT: true,
};

function renderMarkdown(text) {
  const fragment = DOMPurify.sanitize(markdown.render(text), PURIFY_OPTIONS);
  for (const pre of fragment.querySelectorAll("pre")) decorateCodeBlock(pre);
  return fragment;
}

function decorateCodeBlock(pre) {
  const code = pre.querySelector("code");
  if (code) code.classList.add("hljs");
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy-code small";
  copy.textContent = T.copy;
  pre.classList.add("code-block");
  pre.prepend(copy);
}

function renderJSON(text) {
  const pre = document.createElement("pre");
  const code = document.createElement("code");
  code.className = "language-json hljs";
  let pretty = text;
  try {
    pretty = JSON.stringify(JSON.parse(text), null, 2);
    code.innerHTML = hljs.highlight(pretty, { language: "json" }).value;
  } catch {
    code.textContent = text;
  }
  pre.append(code);
  decorateCodeBlock(pre);
  return pre;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Plain-HTTP intranet: no async clipboard; fall back to a selection.
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

// --- messages ------------------------------------------------------------------

// key (message id, or "client:<id>" for a user message not yet stored) -> {data, el}
const messages = new Map();
const dirty = new Set();
let frameRequested = false;
const resyncAsked = new Set();

function scheduleRender(key) {
  dirty.add(key);
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    const stick = nearBottom();
    for (const k of dirty) {
      const entry = messages.get(k);
      if (entry) renderMessage(entry);
    }
    dirty.clear();
    if (stick) scrollToBottom();
    refreshControls();
  });
}

function nearBottom() {
  const el = document.scrollingElement;
  const list = ui.list;
  const scroller = list.scrollHeight > list.clientHeight + 2 ? list : el;
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

function scrollToBottom() {
  ui.list.scrollTop = ui.list.scrollHeight;
  document.scrollingElement.scrollTop = document.scrollingElement.scrollHeight;
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function createMessageElement() {
  const li = element("li", "message");
  li.setAttribute("data-testid", "message");
  const header = element("header", "message-header");
  header.append(element("span", "sender"), element("span", "badges"));
  li.append(header, element("div", "body"), element("div", "notes"));
  return li;
}

function upsert(data, key = data.id) {
  let entry = messages.get(key);
  if (!entry) {
    entry = { data, el: createMessageElement(), wasStreaming: false };
    messages.set(key, entry);
    ui.list.append(entry.el);
    ui.emptyChat?.remove();
  } else {
    entry.data = data;
  }
  resyncAsked.delete(data.id);
  scheduleRender(key);
  return entry;
}

function removeMessage(key) {
  const entry = messages.get(key);
  if (!entry) return;
  entry.el.remove();
  messages.delete(key);
  refreshControls();
}

function renderMessage(entry) {
  const { data, el } = entry;
  const isUser = data.role === "user";
  el.dataset.role = data.role;
  el.dataset.status = data.status;
  // Screen readers wait for the whole reply instead of reading every frame.
  el.setAttribute("aria-busy", String(data.status === "streaming"));
  if (data.id) el.dataset.id = data.id;
  el.querySelector(".sender").textContent = isUser
    ? T.you
    : data.sender_name || T.assistant;
  renderBadges(el.querySelector(".badges"), data);
  if (!isUser) renderReasoning(entry);
  renderBody(el.querySelector(".body"), data);
  renderNotes(el.querySelector(".notes"), data);
}

function renderBadges(box, data) {
  box.replaceChildren();
  const labels = { stopped: T.stopped, interrupted: T.interrupted, sending: T.sending };
  if (labels[data.status]) {
    box.append(element("span", `badge badge-${data.status}`, labels[data.status]));
  }
}

function renderReasoning(entry) {
  const { data, el } = entry;
  let details = el.querySelector("details.reasoning");
  if (!data.reasoning) {
    details?.remove();
    return;
  }
  const streaming = data.status === "streaming";
  if (!details) {
    details = element("details", "reasoning");
    details.setAttribute("data-testid", "reasoning");
    details.append(element("summary", "", T.reasoning), element("div", "reasoning-body"));
    details.open = streaming;
    el.querySelector(".message-header").after(details);
  }
  // Open while the model thinks; fold it away once the answer is in.
  if (streaming) entry.wasStreaming = true;
  else if (entry.wasStreaming) {
    details.open = false;
    entry.wasStreaming = false;
  }
  details.querySelector(".reasoning-body").textContent = data.reasoning;
}

function renderBody(body, data) {
  if (data.role === "user") {
    body.textContent = data.content;
    return;
  }
  if (conversation?.json_schema && data.content) {
    body.replaceChildren(renderJSON(data.content));
    return;
  }
  body.replaceChildren(renderMarkdown(data.content));
}

function renderNotes(notes, data) {
  notes.replaceChildren();
  if (data.role !== "assistant") return;
  if (data.status === "error") notes.append(errorBlock(data));
  if (data.json_valid !== null && data.json_valid !== undefined) {
    const mark = element(
      "p",
      `json-mark ${data.json_valid ? "valid" : "invalid"}`,
      `${data.json_valid ? "✓" : "✗"} ${data.json_valid ? T.json_valid : T.json_invalid}`,
    );
    mark.dataset.jsonValid = String(data.json_valid);
    notes.append(mark);
  }
  if (data.status === "interrupted") {
    notes.append(element("p", "note", T.advice.interrupted));
  }
  if (data.finish_reason === "length") notes.append(element("p", "note", T.length));
  if (data.input_sensitive) notes.append(element("p", "note flag", T.input_flagged));
  if (data.output_sensitive) notes.append(element("p", "note flag", T.output_flagged));
  if (data.status !== "streaming") {
    const stats = statsLine(data);
    if (stats) notes.append(element("p", "stats", stats));
  }
  if (data.status !== "streaming" && data.status !== "error") {
    const regenerate = element("button", "regenerate small", T.regenerate);
    regenerate.type = "button";
    regenerate.dataset.action = "regenerate";
    notes.append(regenerate);
  }
}

function errorBlock(data) {
  const error = data.error || { kind: "upstream_error", message: T.error_fallback };
  const box = element("div", "error");
  box.setAttribute("data-testid", "error");
  box.setAttribute("role", "alert");
  box.dataset.kind = error.kind;
  const title = T.error_titles[error.kind] || error.message || T.error_fallback;
  box.append(element("p", "error-message", title));
  // The stored message names a field or a timeout: worth showing when it says more.
  if (error.message && error.message !== T.error_titles_en[error.kind]) {
    box.append(element("p", "error-detail", error.message));
  }
  const advice = T.advice[error.kind] || T.advice.upstream_error;
  box.append(element("p", "error-advice", advice));
  const retry = element("button", "retry small", T.retry);
  retry.type = "button";
  retry.dataset.action = "regenerate";
  box.append(retry);
  return box;
}

function statsLine(data) {
  const parts = [];
  if (data.usage) {
    parts.push(
      fmt(T.usage, {
        prompt: data.usage.prompt_tokens ?? "–",
        completion: data.usage.completion_tokens ?? "–",
        total: data.usage.total_tokens ?? "–",
      }),
    );
  }
  if (data.first_token_ms != null) parts.push(fmt(T.first_token, { ms: data.first_token_ms }));
  if (data.duration_ms != null) {
    parts.push(fmt(T.duration, { seconds: (data.duration_ms / 1000).toFixed(1) }));
  }
  return parts.join(" · ");
}

// Append a streamed piece whose start is at `offset` in the full text.
function applyPiece(current, piece, offset) {
  if (!piece) return { text: current, gap: false };
  if (offset > current.length) return { text: current, gap: true };
  const overlap = current.length - offset;
  if (overlap >= piece.length) return { text: current, gap: false };
  return { text: current + piece.slice(overlap), gap: false };
}

function applyDelta(frame) {
  const entry = messages.get(frame.message_id);
  if (!entry || entry.data.status !== "streaming") {
    if (!entry) askResync(frame.message_id);
    return;
  }
  const text = applyPiece(entry.data.content, frame.text, frame.text_offset ?? 0);
  const reasoning = applyPiece(
    entry.data.reasoning,
    frame.reasoning,
    frame.reasoning_offset ?? 0,
  );
  if (text.gap || reasoning.gap) {
    askResync(frame.message_id);
    return;
  }
  entry.data = { ...entry.data, content: text.text, reasoning: reasoning.text };
  scheduleRender(frame.message_id);
}

function askResync(messageId) {
  if (resyncAsked.has(messageId)) return;
  resyncAsked.add(messageId);
  sendFrame({ type: "reply.resync" });
}

function streamingReply() {
  for (const { data } of messages.values()) {
    if (data.role === "assistant" && data.status === "streaming") return data;
  }
  return null;
}

function lastAssistantKey() {
  let last = null;
  for (const [key, { data }] of messages) if (data.role === "assistant") last = key;
  return last;
}

// --- the websocket -------------------------------------------------------------

let socket = null;
let connectedOnce = false;
let backoff = 500;
const outbox = [];
let pendingSend = null; // {clientId, content} until the reply starts or is refused

function socketOpen() {
  return socket?.readyState === WebSocket.OPEN;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/conversations/${conversation.id}/`);
  socket.addEventListener("open", () => {
    backoff = 500;
    ui.connection.hidden = true;
    if (connectedOnce) reload();
    connectedOnce = true;
    while (outbox.length && socketOpen()) socket.send(JSON.stringify(outbox.shift()));
    refreshControls();
  });
  socket.addEventListener("message", (event) => handleFrame(JSON.parse(event.data)));
  socket.addEventListener("close", () => {
    socket = null;
    if (pendingSend && !outbox.length) failPendingSend();
    ui.connection.textContent = connectedOnce ? T.reconnecting : T.connecting;
    ui.connection.hidden = false;
    refreshControls();
    const wait = backoff * (0.75 + Math.random() / 2);
    backoff = Math.min(backoff * 2, 15000);
    setTimeout(connect, wait);
  });
}

function sendFrame(frame) {
  if (socketOpen()) socket.send(JSON.stringify(frame));
  else outbox.push(frame);
}

function handleFrame(frame) {
  switch (frame.type) {
    case "message.created":
      onCreated(frame);
      break;
    case "reply.delta":
      applyDelta(frame);
      break;
    case "reply.snapshot":
    case "reply.done":
      upsert(frame.message);
      break;
    case "message.deleted":
      removeMessage(frame.message_id);
      break;
    case "error":
      onFrameError(frame);
      break;
  }
}

function onCreated(frame) {
  const data = frame.message;
  const pendingKey = frame.client_id ? `client:${frame.client_id}` : null;
  if (pendingKey && messages.has(pendingKey)) {
    // The stored version of the message we showed while sending.
    const entry = messages.get(pendingKey);
    messages.delete(pendingKey);
    messages.set(data.id, entry);
    upsert(data);
    nameSidebarItem(data.content);
    return;
  }
  upsert(data);
  if (data.role === "assistant") pendingSend = null;
  if (data.role === "user") nameSidebarItem(data.content);
}

function onFrameError(frame) {
  showNotice(T.frame_errors[frame.code] || frame.message);
  if (pendingSend && frame.code !== "nothing_to_regenerate") failPendingSend();
  refreshControls();
}

// The server refused (or never got) the message: give the text back to the user.
function failPendingSend() {
  const { clientId, content } = pendingSend;
  pendingSend = null;
  const key = `client:${clientId}`;
  if (messages.has(key)) {
    removeMessage(key);
    if (!ui.composer.value.trim()) ui.composer.value = content;
  }
  refreshControls();
}

// After a reconnect: catch up with what happened while the socket was down.
async function reload() {
  const response = await fetch(`/api/conversations/${conversation.id}/`, {
    headers: { Accept: "application/json" },
  });
  if (!response.ok) return;
  const fresh = await response.json();
  const seen = new Set();
  for (const data of fresh.messages) {
    seen.add(data.id);
    const current = messages.get(data.id);
    // A streaming reply is the socket's business (it sends a snapshot on connect).
    if (current && current.data.status === "streaming" && data.status === "streaming") continue;
    upsert(data);
  }
  for (const key of [...messages.keys()]) {
    if (typeof key === "number" && !seen.has(key)) removeMessage(key);
  }
}

// --- composing and sending ------------------------------------------------------

let creating = false;

function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = !text;
}

function canSend() {
  if (creating || pendingSend || streamingReply()) return false;
  return !conversation || socketOpen();
}

function refreshControls() {
  const possible = canSend();
  const reenabled = possible && ui.composer.disabled;
  ui.composer.disabled = !possible;
  // Disabling dropped the focus: give it back when the reply is in.
  if (reenabled && document.activeElement === document.body) ui.composer.focus();
  ui.send.disabled = !possible || !ui.composer.value.trim();
  const streaming = streamingReply();
  ui.stop.hidden = !streaming;
  const lastKey = lastAssistantKey();
  for (const [key, { el }] of messages) {
    const button = el.querySelector("button.regenerate");
    if (button) button.hidden = key !== lastKey || Boolean(streaming) || !socketOpen();
  }
}

async function submitMessage() {
  const content = ui.composer.value.trim();
  if (!content || !canSend()) return;
  showNotice("");
  if (!conversation) {
    const created = await createConversation();
    if (!created) return;
  }
  const clientId = newClientId();
  pendingSend = { clientId, content };
  upsert(
    { id: null, role: "user", content, reasoning: "", status: "sending" },
    `client:${clientId}`,
  );
  ui.composer.value = "";
  sendFrame({ type: "message.send", content, client_id: clientId });
  refreshControls();
  scrollToBottom();
}

async function createConversation() {
  const values = readSettings();
  if (!values) {
    ui.settings.open = true;
    return false;
  }
  creating = true;
  refreshControls();
  try {
    const response = await api("POST", "/api/conversations/", values);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      showFieldErrors(data.errors || {});
      showNotice(T.create_failed);
      return false;
    }
    conversation = data;
    history.replaceState(null, "", data.url);
    addSidebarItem(data);
    $("conversation-actions").hidden = false;
    connect();
    return true;
  } catch {
    showNotice(T.create_failed);
    return false;
  } finally {
    creating = false;
    refreshControls();
  }
}

function api(method, url, body) {
  return fetch(url, {
    method,
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
    },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
}

// --- the conversation list ------------------------------------------------------

function addSidebarItem(data) {
  const list = document.querySelector(".conversation-list");
  list.querySelector(".empty")?.remove();
  for (const li of list.querySelectorAll("[aria-current]")) {
    li.removeAttribute("aria-current");
    li.classList.remove("current");
  }
  const li = element("li", "current");
  li.setAttribute("data-testid", "conversation");
  li.setAttribute("aria-current", "page");
  li.dataset.id = data.id;
  const link = element("a");
  link.href = data.url;
  link.append(
    element("span", "title", data.title || "…"),
    element("span", "item-model", data.model),
  );
  li.append(link);
  const firstUnpinned = [...list.children].find((item) => !item.querySelector(".pin"));
  list.insertBefore(li, firstUnpinned || null);
}

function nameSidebarItem(content) {
  const item = document.querySelector(
    `.conversation-list li[data-id="${conversation?.id}"] .title`,
  );
  if (item && (item.textContent === "…" || !conversation.title)) {
    conversation.title = content.replace(/\s+/g, " ").slice(0, 60);
    item.textContent = conversation.title;
  }
}

// --- settings -------------------------------------------------------------------

function currentSpec() {
  return MODELS.get(ui.model.value);
}

function showModelFields(spec, dialect) {
  const dialectSelect = field("dialect");
  dialectSelect.replaceChildren(
    ...spec.dialects.map((d) => new Option(spec.dialect_labels[d], d, false, d === dialect)),
  );
  ui.settingsForm.querySelector('[data-field="dialect"]').hidden = spec.dialects.length < 2;
  ui.dialectNote.textContent = spec.dialect_labels[dialect];
  showDialectFields(dialect);
  const maxTokens = field("max_tokens");
  maxTokens.max = spec.max_output_tokens;
  maxTokens.placeholder = fmt(T.default_value, { value: spec.default_max_tokens });
  $("max-tokens-range").textContent = `[1, ${spec.max_output_tokens}]`;
  field("temperature").placeholder = fmt(T.default_value, { value: spec.default_temperature });
  field("top_p").placeholder = fmt(T.default_value, { value: spec.default_top_p });
  ui.settingsForm.querySelector('[data-field="json_schema"]').hidden = !spec.supports_json_schema;
}

function showDialectFields(dialect) {
  const pro = dialect === "pro";
  ui.settingsForm.querySelector('[data-field="names"]').hidden = !pro;
  $("system-prompt-label").textContent = pro ? T.bot_setting : T.system_prompt;
  ui.dialectNote.textContent = currentSpec().dialect_labels[dialect] || "";
}

function fillSettings(values) {
  const spec = MODELS.get(values.model) || currentSpec();
  ui.model.value = spec.id;
  showModelFields(spec, values.dialect || spec.default_dialect);
  field("system_prompt").value = values.system_prompt || "";
  field("bot_name").value = values.bot_name || "";
  field("user_name").value = values.user_name || "";
  field("temperature").value = values.temperature ?? "";
  field("top_p").value = values.top_p ?? "";
  field("max_tokens").value = values.max_tokens ?? "";
  field("json_schema").value = values.json_schema
    ? JSON.stringify(values.json_schema, null, 2)
    : "";
}

// Read and check the settings as the server will; null (errors shown) when invalid.
function readSettings() {
  const spec = currentSpec();
  const errors = {};
  const unit = (name) => {
    const raw = field(name).value.trim();
    if (!raw) return null;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0 || value > 1) errors[name] = [T.range_unit];
    return value;
  };
  const values = {
    model: spec.id,
    dialect: field("dialect").value || spec.default_dialect,
    system_prompt: field("system_prompt").value,
    bot_name: field("bot_name").value.trim(),
    user_name: field("user_name").value.trim(),
    temperature: unit("temperature"),
    top_p: unit("top_p"),
    max_tokens: null,
    json_schema: null,
  };
  const rawMax = field("max_tokens").value.trim();
  if (rawMax) {
    const value = Number(rawMax);
    if (!Number.isInteger(value) || value < 1 || value > spec.max_output_tokens) {
      errors.max_tokens = [fmt(T.range_tokens, { max: spec.max_output_tokens })];
    }
    values.max_tokens = value;
  }
  const rawSchema = spec.supports_json_schema ? field("json_schema").value.trim() : "";
  if (rawSchema) {
    try {
      values.json_schema = JSON.parse(rawSchema);
    } catch {
      errors.json_schema = [T.invalid_json];
    }
  }
  showFieldErrors(errors);
  return Object.keys(errors).length ? null : values;
}

function showFieldErrors(errors) {
  for (const box of document.querySelectorAll("[data-error-for]")) {
    const messagesFor = errors[box.dataset.errorFor] || [];
    box.textContent = messagesFor.join(" ");
    const input = field(box.dataset.errorFor);
    if (input?.setAttribute) input.setAttribute("aria-invalid", String(messagesFor.length > 0));
  }
  if (Object.keys(errors).some((name) => name !== "model")) ui.settings.open = true;
}

async function saveSettings(values) {
  ui.settingsStatus.textContent = "";
  const response = await api("PATCH", `/api/conversations/${conversation.id}/`, values);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    showFieldErrors(data.errors || {});
    ui.settingsStatus.textContent = T.save_failed;
    return false;
  }
  showFieldErrors({});
  const hadSchema = Boolean(conversation.json_schema);
  conversation = { ...conversation, ...data };
  fillSettings(conversation);
  ui.settingsStatus.textContent = T.saved;
  if (hadSchema !== Boolean(conversation.json_schema)) {
    for (const key of messages.keys()) scheduleRender(key);
  }
  return true;
}

ui.model.addEventListener("change", async () => {
  const spec = currentSpec();
  showModelFields(spec, spec.default_dialect);
  if (!conversation) return;
  const saved = await saveSettings({ model: spec.id });
  if (!saved) fillSettings(conversation);
});

field("dialect").addEventListener("change", () => showDialectFields(field("dialect").value));

const pinToggle = $("pin-toggle");
pinToggle.addEventListener("click", async () => {
  const response = await api("PATCH", `/api/conversations/${conversation.id}/`, {
    pinned: !conversation.pinned,
  });
  if (!response.ok) return;
  conversation = { ...conversation, ...(await response.json()) };
  pinToggle.textContent = conversation.pinned ? T.unpin : T.pin;
  pinToggle.setAttribute("aria-pressed", String(conversation.pinned));
});

// An archived conversation leaves the list; the page goes back to a new chat.
$("archive").addEventListener("click", async () => {
  const response = await api("PATCH", `/api/conversations/${conversation.id}/`, {
    archived: true,
  });
  if (response.ok) location.assign("/");
});

ui.settingsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = readSettings();
  if (!values) return;
  if (conversation) await saveSettings(values);
});

// --- wiring ---------------------------------------------------------------------

ui.composerForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitMessage();
});

ui.composer.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitMessage();
  }
});
ui.composer.addEventListener("input", refreshControls);

ui.stop.addEventListener("click", () => sendFrame({ type: "reply.stop" }));

ui.list.addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.action === "regenerate") {
    showNotice("");
    sendFrame({ type: "reply.regenerate" });
  } else if (button.classList.contains("copy-code")) {
    const code = button.parentElement.querySelector("code");
    if (await copyText(code ? code.textContent : "")) {
      button.textContent = T.copied;
      setTimeout(() => (button.textContent = T.copy), 1500);
    }
  }
});

const sidebarToggle = $("sidebar-toggle");
function toggleSidebar(open) {
  document.body.classList.toggle("sidebar-open", open);
  sidebarToggle.setAttribute("aria-expanded", String(open));
}
sidebarToggle.addEventListener("click", () =>
  toggleSidebar(!document.body.classList.contains("sidebar-open")),
);
// On a phone the list covers the page: a tap beside it or Escape folds it away.
$("chat").addEventListener("click", () => toggleSidebar(false));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") toggleSidebar(false);
});

document.getElementById("language-select")?.addEventListener("change", (event) => {
  event.target.form.submit();
});

function start() {
  for (const data of readJSON("messages-data")) upsert(data);
  if (conversation) {
    fillSettings(conversation);
    ui.connection.textContent = T.connecting;
    connect();
  } else {
    const spec = currentSpec();
    fillSettings({ model: spec.id, dialect: spec.default_dialect });
  }
  refreshControls();
  requestAnimationFrame(scrollToBottom);
}

start();
