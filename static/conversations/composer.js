// Writing and sending: the composer, send and stop, and which controls are usable.
// The first message of a new chat creates the conversation (POST) before it is sent.
import { apiFetch } from "../common/api.js";
import { canChangeBranch } from "./editor.js";
import { pendingKey } from "./store.js";
import { addSidebarItem } from "./sidebar.js";

function newClientId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + Math.random().toString(36).slice(2);
}

export function canSend(app) {
  if (app.creating || app.pendingSend || app.store.streamingReply()) return false;
  return !app.conversation || Boolean(app.socket?.open);
}

export function refreshControls(app) {
  const { ui, store } = app;
  const possible = canSend(app);
  const reenabled = possible && ui.composer.disabled;
  ui.composer.disabled = !possible;
  // Disabling dropped the focus: give it back when the reply is in.
  if (reenabled && document.activeElement === document.body) ui.composer.focus();
  ui.send.disabled = !possible || !ui.composer.value.trim();
  const streaming = store.streamingReply();
  ui.stop.hidden = !streaming;
  const lastKey = store.lastAssistantKey();
  const branchable = canChangeBranch(app);
  for (const [key, view] of app.views) {
    const tools = view.parts.tools;
    if (!tools) continue;
    const status = store.get(key)?.status;
    const finished = status !== "streaming" && status !== "error";
    if (tools.regenerate) {
      tools.regenerate.hidden = key !== lastKey || !finished || Boolean(streaming) || !app.socket?.open;
    }
    // Editing and paging change the branch: not while a reply streams.
    if (tools.edit) tools.edit.disabled = !branchable;
    tools.prev.disabled = !branchable || tools.prev.dataset.end === "true";
    tools.next.disabled = !branchable || tools.next.dataset.end === "true";
  }
}

// The server refused (or never got) the message: give the text back to the user.
export function failPendingSend(app) {
  const { clientId, content } = app.pendingSend;
  app.pendingSend = null;
  const key = pendingKey(clientId);
  if (app.store.get(key)) {
    app.removeMessage(key);
    if (!app.ui.composer.value.trim()) app.ui.composer.value = content;
  }
  app.refreshControls();
}

export async function submitMessage(app) {
  const { ui } = app;
  const content = ui.composer.value.trim();
  if (!content || !canSend(app)) return;
  app.showNotice("");
  if (!app.conversation && !(await createConversation(app))) return;
  const clientId = newClientId();
  app.pendingSend = { clientId, content };
  app.addMessage(
    { id: null, role: "user", content, reasoning: "", status: "sending" },
    pendingKey(clientId),
  );
  ui.composer.value = "";
  app.sendFrame({ type: "message.send", content, client_id: clientId });
  app.refreshControls();
  app.scrollToBottom();
}

async function createConversation(app) {
  const values = app.settings.read();
  if (!values) {
    app.settings.open(false);
    return false;
  }
  app.creating = true;
  app.refreshControls();
  try {
    const data = await apiFetch("/api/conversations/", { method: "POST", json: values });
    app.conversation = data;
    history.replaceState(null, "", data.url);
    addSidebarItem(data);
    document.getElementById("conversation-actions").hidden = false;
    app.startSocket();
    return true;
  } catch (error) {
    if (error.errors) app.settings.showErrors(error.errors);
    app.showNotice(app.T.create_failed);
    return false;
  } finally {
    app.creating = false;
    app.refreshControls();
  }
}

export function setUpComposer(app) {
  const { ui } = app;
  ui.composerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitMessage(app);
  });
  ui.composer.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitMessage(app);
    } else if (
      event.key === "ArrowUp" &&
      !ui.composer.value &&
      !(event.shiftKey || event.ctrlKey || event.metaKey || event.altKey || event.isComposing)
    ) {
      // An empty composer: Arrow-Up edits the last message sent (as in Slack).
      if (app.editLastMessage()) event.preventDefault();
    }
  });
  ui.composer.addEventListener("input", () => app.refreshControls());
  ui.stop.addEventListener("click", () => stopReply(app));
}

export function stopReply(app) {
  if (app.store.streamingReply()) app.sendFrame({ type: "reply.stop" });
}
