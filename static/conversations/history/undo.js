// Delete with an undo: the entries leave the list at once, and the DELETE is sent
// when the toast runs out (about 6 s), or at once if the page is left before then
// (pagehide, with fetch keepalive so the request outlives the page). Undo puts them
// back; nothing was sent.
import { csrfToken } from "../../common/api.js";
import { el } from "../../common/dom.js";
import { icon } from "../../common/icons.js";

export const UNDO_MS = 6000;

export function sendDelete(id, { keepalive = false } = {}) {
  return fetch(`/api/conversations/${id}/`, {
    method: "DELETE",
    headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    credentials: "same-origin",
    keepalive,
  });
}

export class UndoDeletes {
  // host: where the toast goes; hooks: hide(ids), show(ids), deleted(ids), failed(ids)
  constructor(host, T, hooks) {
    this.host = host;
    this.T = T;
    this.hooks = hooks;
    this.batches = new Set();
    // pagehide, not beforeunload: it also fires when a phone puts the tab away.
    window.addEventListener("pagehide", () => this.flush(true));
  }

  get pending() {
    return new Set([...this.batches].flatMap((batch) => batch.ids));
  }

  // Start deleting ids; message is what the toast says.
  start(ids, message) {
    const batch = { ids: [...ids], timer: null, toast: null };
    this.hooks.hide(batch.ids);
    const undo = el(
      "button",
      { type: "button", class: "small", "data-testid": "undo" },
      icon("undo-2"),
      this.T.undo,
    );
    batch.toast = el(
      "div",
      { class: "toast", "data-testid": "undo-toast", role: "status" },
      el("span", {}, message),
      undo,
    );
    undo.addEventListener("click", () => this.undo(batch));
    this.host.append(batch.toast);
    batch.timer = setTimeout(() => this.commit(batch), UNDO_MS);
    this.batches.add(batch);
    return batch;
  }

  undo(batch) {
    if (!this.batches.delete(batch)) return;
    clearTimeout(batch.timer);
    batch.toast.remove();
    this.hooks.show(batch.ids);
  }

  async commit(batch, keepalive = false) {
    if (!this.batches.delete(batch)) return;
    clearTimeout(batch.timer);
    batch.toast.remove();
    const results = await Promise.allSettled(
      batch.ids.map((id) => sendDelete(id, { keepalive })),
    );
    // 404: already gone (another tab deleted it): as good as deleted.
    const failed = batch.ids.filter((_, index) => {
      const result = results[index];
      return result.status === "rejected" || !(result.value.ok || result.value.status === 404);
    });
    const deleted = batch.ids.filter((id) => !failed.includes(id));
    if (deleted.length) this.hooks.deleted(deleted);
    if (failed.length) this.hooks.failed(failed);
  }

  flush(keepalive = false) {
    for (const batch of [...this.batches]) this.commit(batch, keepalive);
  }
}
