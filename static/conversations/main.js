// The chat page's entry point: reads the page data, builds the app object the modules
// share, and turns what store.js says a frame did into renders. Frames are described
// in docs/websocket.md.
import { apiFetch } from "../common/api.js";
import { pageData } from "../common/dom.js";
import { loadStrings } from "../common/i18n.js";
import { failPendingSend, refreshControls, setUpComposer, submitMessage } from "./composer.js";
import { canChangeBranch, closeEditor, editRefused, openEditor } from "./editor.js";
import { createMessageView, renderMessage } from "./render.js";
import { SettingsPanel } from "./settings.js";
import { setUpShortcuts } from "./shortcuts.js";
import { mountHistory } from "./history/index.js";
import { nameSidebarItem, setUpSidebarToggle } from "./sidebar.js";
import { ChatSocket, socketURL } from "./socket.js";
import { MessageStore } from "./store.js";

// How often the page looks for a streaming reply gone quiet (store.quietReplies).
const QUIET_CHECK_MS = 1000;

const $ = (id) => document.getElementById(id);

const ui = {
  list: $("messages"),
  composer: $("composer"),
  composerForm: $("composer-form"),
  send: $("send"),
  stop: $("stop"),
  model: $("model-select"),
  dialectNote: $("dialect-note"),
  settingsForm: $("settings-form"),
  settingsStatus: $("settings-status"),
  connection: $("connection"),
  notice: $("notice"),
  welcome: $("welcome"),
};

const T = loadStrings();

const app = {
  T,
  ui,
  models: new Map((pageData("models-data") || []).map((spec) => [spec.id, spec])),
  conversation: pageData("conversation-data"),
  store: new MessageStore(),
  views: new Map(), // the same keys as the store: each message's DOM (render.js)
  socket: null,
  pendingSend: null, // {clientId, content} until the reply starts or is refused
  editor: null, // the open message editor (editor.js), if any
  creating: false,
  settings: null,

  refreshControls: () => refreshControls(app),
  showNotice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = !text;
  },
  sendFrame(frame) {
    app.socket?.send(frame);
  },
  scrollToBottom,
  addMessage(data, key = data.id) {
    app.store.upsert(data, key);
    scheduleRender(key);
  },
  removeMessage(key) {
    app.store.remove(key);
    app.views.get(key)?.el.remove();
    app.views.delete(key);
    app.refreshControls();
  },
  // Edit the last user message on screen (Arrow-Up in an empty composer).
  editLastMessage() {
    const view = app.views.get(app.store.lastUserKey());
    if (!view) return false;
    openEditor(app, view);
    view.el.scrollIntoView({ block: "nearest" });
    return app.editor?.view === view;
  },
  onSchemaChange() {
    for (const key of app.store.keys()) scheduleRender(key);
  },
  startSocket,
};

const renderContext = {
  T,
  lang: document.documentElement.lang || undefined,
  jsonMode: () => Boolean(app.conversation?.json_schema),
};

// The tab's title follows the conversation's.
function showTitle() {
  const title = app.conversation?.title;
  document.title = title ? `${title} · ${T.site_name}` : T.site_name;
}

// --- rendering: at most once per animation frame --------------------------------

const dirty = new Set();
let frameRequested = false;

function scheduleRender(key) {
  dirty.add(key);
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(renderDirty);
}

function renderDirty() {
  frameRequested = false;
  const stick = nearBottom();
  for (const key of dirty) {
    const data = app.store.get(key);
    if (data) renderMessage(viewFor(key), data, renderContext);
  }
  dirty.clear();
  if (stick) scrollToBottom();
  app.refreshControls();
}

function viewFor(key) {
  let view = app.views.get(key);
  if (!view) {
    view = createMessageView(renderContext);
    app.views.set(key, view);
    ui.list.append(view.el);
    ui.welcome?.remove();
  }
  return view;
}

function nearBottom() {
  const page = document.scrollingElement;
  const scroller = ui.list.scrollHeight > ui.list.clientHeight + 2 ? ui.list : page;
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

function scrollToBottom() {
  ui.list.scrollTop = ui.list.scrollHeight;
  document.scrollingElement.scrollTop = document.scrollingElement.scrollHeight;
}

// --- frames -----------------------------------------------------------------------

function apply(effects) {
  if (effects.rekeyed) {
    const [oldKey, newKey] = effects.rekeyed;
    const view = app.views.get(oldKey);
    app.views.delete(oldKey);
    if (view) app.views.set(newKey, view);
    if (dirty.delete(oldKey)) dirty.add(newKey);
  }
  if (effects.branchChanged) closeEditor(app);
  for (const key of effects.changed) scheduleRender(key);
  for (const key of effects.removed) app.removeMessage(key);
  if (effects.order) showInOrder(effects.order);
  if (effects.refetch) catchUp();
  if (effects.resync) app.sendFrame({ type: "reply.resync" });
  if (effects.userStored) {
    nameSidebarItem(app.conversation, effects.userStored.content);
    showTitle();
  }
  if (effects.replyStarted) app.pendingSend = null;
  if (effects.error) onFrameError(effects.error);
}

// The list shows the branch in its order: views are created as needed and moved.
function showInOrder(keys) {
  for (const key of keys) ui.list.append(viewFor(key).el);
}

function onFrameError(frame) {
  app.showNotice(T.frame_errors?.[frame.code] || frame.message);
  editRefused(app);
  if (app.pendingSend && frame.code !== "nothing_to_regenerate") failPendingSend(app);
  app.refreshControls();
}

function startSocket() {
  app.socket = new ChatSocket(socketURL(location, app.conversation.id), {
    onOpen(reconnected) {
      ui.connection.hidden = true;
      if (reconnected) {
        // A reply that streamed on while the socket was down: its state now.
        if (app.store.reconnected()) app.sendFrame({ type: "reply.resync" });
        catchUp();
      }
      app.refreshControls();
    },
    onFrame: (frame) => apply(app.store.receive(frame)),
    onClose() {
      if (app.pendingSend && !app.socket.queued) failPendingSend(app);
      ui.connection.textContent = app.socket.connectedOnce ? T.reconnecting : T.connecting;
      ui.connection.hidden = false;
      app.refreshControls();
    },
  });
  app.socket.connect();
  // A missed reply.done (or a last delta lost) leaves a reply streaming here for
  // ever: a reply we hear nothing of for a while is asked for its state.
  setInterval(() => {
    if (app.socket.open && app.store.quietReplies().length) {
      app.sendFrame({ type: "reply.resync" });
    }
  }, QUIET_CHECK_MS);
}

// After a reconnect: catch up with what happened while the socket was down.
async function catchUp() {
  try {
    const fresh = await apiFetch(`/api/conversations/${app.conversation.id}/`);
    apply(app.store.merge(fresh.messages));
  } catch {
    // The next reconnect tries again; the socket's snapshot covers a streaming reply.
  }
}

// --- the message list's buttons ---------------------------------------------------

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

// A button's icon and label say "Copied" for a moment.
function flashCopied(button, label) {
  const glyph = button.querySelector(".icon");
  glyph?.classList.replace("icon-copy", "icon-check");
  button.setAttribute("aria-label", T.copied);
  button.classList.add("copied");
  setTimeout(() => {
    glyph?.classList.replace("icon-check", "icon-copy");
    button.setAttribute("aria-label", label);
    button.classList.remove("copied");
  }, 1500);
}

function messageViewOf(button) {
  const item = button.closest('[data-testid="message"]');
  for (const view of app.views.values()) if (view.el === item) return view;
  return null;
}

function messageDataOf(button) {
  return messageViewOf(button)?.data ?? null;
}

ui.list.addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.action === "regenerate") {
    app.showNotice("");
    app.sendFrame({ type: "reply.regenerate" });
  } else if (button.dataset.action === "edit") {
    const view = messageViewOf(button);
    if (view) openEditor(app, view);
  } else if (button.dataset.action === "switch") {
    const target = Number(button.dataset.target);
    if (target && canChangeBranch(app)) {
      app.showNotice("");
      app.sendFrame({ type: "branch.switch", message_id: target });
    }
  } else if (button.dataset.action === "copy-message") {
    // The message as its author wrote it: Markdown, not the rendered text.
    const data = messageDataOf(button);
    if (data && (await copyText(data.content))) flashCopied(button, T.copy_message);
  } else if (button.classList.contains("copy-code")) {
    const code = button.parentElement.querySelector("code");
    if (await copyText(code ? code.textContent : "")) flashCopied(button, T.copy);
  }
});

// A suggestion on the welcome view is sent as it reads.
ui.welcome?.addEventListener("click", (event) => {
  const button = event.target.closest("button.suggestion");
  if (!button) return;
  ui.composer.value = button.dataset.prompt;
  submitMessage(app);
});

// No inline handlers (the CSP forbids them): the language menu submits from here.
$("language-select")?.addEventListener("change", (event) => event.target.form.submit());

function start() {
  app.settings = new SettingsPanel(app);
  app.settings.setUp();
  setUpComposer(app);
  setUpSidebarToggle();
  mountHistory(app);
  setUpShortcuts(app);
  for (const data of pageData("messages-data") || []) app.addMessage(data);
  if (app.conversation) {
    app.settings.fill(app.conversation);
    ui.connection.textContent = T.connecting;
    startSocket();
  } else {
    const spec = app.settings.currentSpec();
    app.settings.fill({ model: spec.id, dialect: spec.default_dialect });
  }
  app.refreshControls();
  requestAnimationFrame(scrollToBottom);
}

start();