// The sidebar's history: the live, grouped, endlessly scrolling list (list.js, live.js),
// rename, pin, archive, restore, delete with undo (undo.js), select several, search
// (search.js), export and import; the archived banner; and the jump to a message
// from a search result (#message-<id>). Mounted by main.js with mountHistory(app).
import { apiFetch } from "../../common/api.js";
import { el, pageData } from "../../common/dom.js";
import { format } from "../../common/i18n.js";
import { HistoryList } from "./list.js";
import { connectLive } from "./live.js";
import { confirmDelete, EntryMenu } from "./menu.js";
import { SearchPanel } from "./search.js";
import { UndoDeletes } from "./undo.js";

const $ = (id) => document.getElementById(id);

let history = null;

export function mountHistory(app) {
  const T = app.T.history || {};
  const lang = document.documentElement.lang || undefined;
  const list = new HistoryList({
    root: $("history-list"),
    T,
    lang,
    current: app.conversation?.id ?? null,
    first: pageData("history-data"),
  });
  const toasts = el("div", { class: "toasts", "aria-live": "polite" });
  document.body.append(toasts);
  const showError = (reason) => app.showNotice(format(T.action_failed, { reason }));

  // --- the writes -----------------------------------------------------------------

  async function patch(id, values) {
    try {
      const fresh = await apiFetch(`/api/conversations/${id}/`, { method: "PATCH", json: values });
      const known = list.get(id);
      if (known || fresh.archived === (list.view === "archived")) {
        list.upsert({ ...known, ...fresh });
      } else {
        list.drop(id);
      }
      onCurrentChanged(fresh);
      return true;
    } catch (error) {
      showError(Object.values(error.errors || {}).flat()[0] || error.message);
      return false;
    }
  }

  const undo = new UndoDeletes(toasts, T, {
    hide(ids) {
      for (const id of ids) list.hidden.add(id);
      list.render();
    },
    show(ids) {
      for (const id of ids) list.hidden.delete(id);
      list.render();
    },
    deleted(ids) {
      for (const id of ids) {
        list.hidden.delete(id);
        list.drop(id);
      }
      // The open conversation is gone: back to a new chat.
      if (ids.includes(app.conversation?.id)) location.assign("/");
    },
    failed(ids) {
      for (const id of ids) list.hidden.delete(id);
      list.render();
      showError(T.delete);
    },
  });

  async function remove(ids) {
    const first = list.get(ids[0]);
    const message =
      ids.length === 1
        ? format(T.confirm_delete_one, { title: first?.title || T.untitled })
        : format(T.confirm_delete_many, { count: ids.length });
    if (!(await confirmDelete(T, message))) return false;
    undo.start(
      ids,
      ids.length === 1 ? T.deleted_one : format(T.deleted_many, { count: ids.length }),
    );
    return true;
  }

  const act = (action, id) => {
    if (action === "rename") list.startRename(id, (key, title) => patch(key, { title }));
    else if (action === "pin") patch(id, { pinned: true });
    else if (action === "unpin") patch(id, { pinned: false });
    else if (action === "archive") patch(id, { archived: true });
    else if (action === "restore") patch(id, { archived: false });
    else if (action === "delete") remove([id]);
  };
  const menu = new EntryMenu(T, act);

  // --- the list's clicks ----------------------------------------------------------

  const root = $("history-list");
  root.addEventListener("click", (event) => {
    const opener = event.target.closest(".item-menu-button");
    if (opener) {
      const item = list.get(Number(opener.dataset.id));
      if (item) menu.open(opener, item);
      return;
    }
    const box = event.target.closest(".select-box");
    if (box) list.toggleSelected(Number(box.dataset.id), box.checked);
  });
  root.addEventListener("dblclick", (event) => {
    const entry = event.target.closest('[data-testid="conversation"]');
    if (!entry || event.target.closest("input, button")) return;
    event.preventDefault();
    act("rename", Number(entry.dataset.id));
  });
  // The open conversation's entry does not load the page again, so double-clicking
  // it renames it (another entry's first click opens that conversation; its menu
  // renames it).
  root.addEventListener("click", (event) => {
    const link = event.target.closest(".conversation-link");
    const entry = link?.closest('[data-testid="conversation"]');
    if (!entry || Number(entry.dataset.id) !== list.current) return;
    if (event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
  });

  // --- recent or archived, select several -----------------------------------------

  const tabs = document.querySelectorAll(".history-tabs [data-view]");
  for (const tab of tabs) {
    tab.addEventListener("click", async () => {
      const view = tab.dataset.view;
      try {
        await list.reload(view);
      } catch (error) {
        showError(error.message);
        return;
      }
      for (const other of tabs) other.setAttribute("aria-pressed", String(other === tab));
      bar.querySelector('[data-bulk="archive"]').hidden = view === "archived";
      bar.querySelector('[data-bulk="restore"]').hidden = view !== "archived";
    });
  }

  const selectMode = $("select-mode");
  const bar = $("selection-bar");
  selectMode.addEventListener("click", () => {
    const on = !list.selecting;
    selectMode.setAttribute("aria-pressed", String(on));
    list.setSelecting(on);
  });
  list.onSelection = () => {
    bar.hidden = !list.selecting;
    $("selection-count").textContent = format(T.selected, { count: list.selected.size });
    for (const button of bar.querySelectorAll("button")) button.disabled = !list.selected.size;
  };
  bar.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-bulk]");
    const ids = [...list.selected];
    if (!button || !ids.length) return;
    const action = button.dataset.bulk;
    if (action === "delete") {
      if (!(await remove(ids))) return;
    } else {
      const archived = action === "archive";
      for (const id of ids) await patch(id, { archived });
    }
    selectMode.setAttribute("aria-pressed", "false");
    list.setSelecting(false);
  });

  // --- live: every tab ------------------------------------------------------------

  connectLive({
    changed(item) {
      list.upsert(item);
      onCurrentChanged(item);
    },
    removed(id) {
      list.drop(id);
      if (id === app.conversation?.id && !undo.pending.has(id)) location.assign("/");
    },
    reconnected() {
      list.reload().catch(() => {});
    },
  });

  // The open conversation changed (here or in another tab): its banner and buttons.
  // (The tab's title stays main.js's business.)
  function onCurrentChanged(item) {
    if (!app.conversation || item.id !== app.conversation.id) return;
    Object.assign(app.conversation, {
      title: item.title,
      pinned: item.pinned,
      archived: item.archived,
      model: item.model,
    });
    $("archived-banner").hidden = !item.archived;
    const archive = $("archive");
    if (archive) archive.hidden = item.archived;
    const pin = $("pin-toggle");
    if (pin) {
      const label = item.pinned ? app.T.unpin : app.T.pin;
      pin.setAttribute("aria-label", label);
      pin.title = label;
      pin.setAttribute("aria-pressed", String(item.pinned));
      pin.querySelector(".icon").className = `icon ${item.pinned ? "icon-pin-off" : "icon-pin"}`;
    }
  }

  $("archived-restore")?.addEventListener("click", () => {
    if (app.conversation) patch(app.conversation.id, { archived: false });
  });

  // --- search ---------------------------------------------------------------------

  new SearchPanel({
    input: $("history-search"),
    filters: $("search-filters"),
    toggle: $("search-filters-toggle"),
    results: $("search-results"),
    list: root,
    T,
    lang,
  });

  // --- import ---------------------------------------------------------------------

  const file = $("import-file");
  const status = $("import-status");
  $("import-button").addEventListener("click", () => file.click());
  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    const body = new FormData();
    body.append("file", chosen);
    status.hidden = false;
    status.className = "import-status";
    status.textContent = T.importing;
    try {
      const result = await apiFetch("/api/import/", { method: "POST", body });
      status.textContent = format(T.import_done, {
        count: result.imported.length,
        skipped: result.skipped,
      });
      await list.reload();
    } catch (error) {
      const reason = Object.values(error.errors || {}).flat()[0] || error.message;
      status.className = "import-status failed";
      status.textContent = format(T.import_failed, { reason });
    } finally {
      file.value = "";
    }
  });

  // --- #message-<id>: scroll to it and highlight it -------------------------------

  window.addEventListener("hashchange", () => showLinkedMessage());
  showLinkedMessage();

  history = { list, app };
  return history;
}

// The message a search result links to: scrolled into view and highlighted, once the
// page has drawn it.
export function showLinkedMessage(tries = 120) {
  const match = /^#message-(\d+)$/.exec(location.hash);
  if (!match) return;
  const target = document.querySelector(`[data-testid="message"][data-id="${match[1]}"]`);
  if (!target) {
    if (tries > 0) requestAnimationFrame(() => showLinkedMessage(tries - 1));
    return;
  }
  // After main.js's own first scroll to the bottom.
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      for (const old of document.querySelectorAll(".message.highlighted")) {
        old.classList.remove("highlighted");
      }
      target.classList.add("highlighted");
      target.scrollIntoView({ block: "center" });
    }),
  );
}

// For the composer and main.js (through sidebar.js): a conversation just made here,
// and its title from the first message, shown before the live frame arrives.
export function addEntry(data) {
  if (!history) return;
  history.list.current = data.id;
  history.list.upsert({
    updated_at: new Date().toISOString(),
    created_at: new Date().toISOString(),
    ...data,
  });
}

export function nameEntry(conversation, title) {
  const item = history?.list.get(conversation?.id);
  if (item && !item.title) history.list.upsert({ ...item, title });
}
