// The conversation list: its state (one view, recent or archived, loaded a page at a
// time), drawn grouped by day with DOM calls only. Entries are kept as nodes and moved,
// so an entry being renamed keeps its input while the list changes around it.
import { apiFetch } from "../../common/api.js";
import { el } from "../../common/dom.js";
import { format } from "../../common/i18n.js";
import { icon } from "../../common/icons.js";
import { groupItems, groupLabel } from "./groups.js";

export class HistoryList {
  // root: the list's container; T: strings.history; current: the open conversation id
  constructor({ root, T, lang, current, first }) {
    this.root = root;
    this.T = T;
    this.lang = lang;
    this.current = current;
    this.view = "active";
    this.items = new Map();
    this.nodes = new Map();
    this.hidden = new Set(); // deleted, waiting for the undo to run out
    this.selected = new Set();
    this.selecting = false;
    this.editing = null;
    this.next = null;
    this.loading = null;
    this.failed = false;
    this.onSelection = () => {};
    this.sentinel = el("div", { class: "list-sentinel", "data-testid": "list-sentinel" });
    this.status = el("p", { class: "list-status", role: "status" });
    this.renderRequested = false;
    if (first) this.takePage(first);
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) this.loadMore();
      },
      { root: root.closest(".sidebar"), rootMargin: "200px" },
    );
    this.render();
    this.observer.observe(this.sentinel);
  }

  // --- data -----------------------------------------------------------------------

  takePage(page) {
    for (const item of page.conversations) this.items.set(item.id, item);
    this.next = page.next;
  }

  async loadMore() {
    if (!this.next || this.loading) return this.loading;
    const params = new URLSearchParams({ cursor: this.next, limit: "40" });
    if (this.view === "archived") params.set("archived", "1");
    this.loading = apiFetch(`/api/conversations/?${params}`)
      .then((page) => {
        this.failed = false;
        this.takePage(page);
      })
      .catch(() => {
        this.failed = true;
      })
      .finally(() => {
        this.loading = null;
        this.render();
      });
    return this.loading;
  }

  // Load the first page again (another view, or after the live socket reconnected).
  async reload(view = this.view) {
    const params = new URLSearchParams({ limit: "40" });
    if (view === "archived") params.set("archived", "1");
    const page = await apiFetch(`/api/conversations/?${params}`);
    if (view !== this.view) {
      this.view = view;
      this.selected.clear();
    }
    this.items.clear();
    this.takePage(page);
    this.render();
    this.onSelection();
  }

  // The list API's entry, or a change of it from the live socket or a PATCH.
  upsert(item) {
    const belongs = item.archived === (this.view === "archived");
    if (!belongs) {
      this.drop(item.id);
      return;
    }
    // Below the last loaded entry, a new one is the next pages' business.
    const known = this.items.has(item.id);
    if (!known && this.next && !this.beforeEnd(item)) return;
    this.items.set(item.id, { ...this.items.get(item.id), ...item });
    this.scheduleRender();
  }

  drop(id) {
    this.items.delete(id);
    this.selected.delete(id);
    this.nodes.get(id)?.remove();
    this.nodes.delete(id);
    this.scheduleRender();
    this.onSelection();
  }

  beforeEnd(item) {
    const loaded = [...this.items.values()];
    if (!loaded.length) return true;
    const last = groupItems(loaded).at(-1).items.at(-1);
    if (item.pinned !== last.pinned) return item.pinned;
    return Date.parse(item.updated_at) >= Date.parse(last.updated_at);
  }

  get(id) {
    return this.items.get(id);
  }

  visibleItems() {
    return [...this.items.values()].filter((item) => !this.hidden.has(item.id));
  }

  // --- drawing --------------------------------------------------------------------

  scheduleRender() {
    if (this.renderRequested) return;
    this.renderRequested = true;
    requestAnimationFrame(() => {
      this.renderRequested = false;
      this.render();
    });
  }

  render() {
    const groups = groupItems(this.visibleItems());
    const sections = groups.map((group) =>
      el(
        "section",
        { class: "history-group", dataset: { group: group.key } },
        el("h3", {}, groupLabel(group.key, this.T.groups, this.lang)),
        el("ul", {}, group.items.map((item) => this.nodeFor(item))),
      ),
    );
    this.status.textContent = this.failed ? this.T.load_failed : this.next ? this.T.loading : "";
    this.status.hidden = !this.status.textContent;
    const empty = !groups.length && !this.next;
    this.root.replaceChildren(
      ...sections,
      empty
        ? el("p", { class: "empty" }, this.view === "archived" ? this.T.empty_archived : this.T.empty)
        : "",
      this.status,
      this.sentinel,
    );
    // A short first page leaves the sentinel in view: nothing would scroll it in.
    if (this.next && !this.loading && !this.failed) {
      const box = this.root.closest(".sidebar");
      if (box && box.scrollHeight <= box.clientHeight + 200) this.loadMore();
    }
  }

  nodeFor(item) {
    let node = this.nodes.get(item.id);
    if (!node) {
      node = el("li", { "data-testid": "conversation", dataset: { id: item.id } });
      this.nodes.set(item.id, node);
    }
    if (this.editing !== item.id) this.fill(node, item);
    return node;
  }

  fill(node, item) {
    const T = this.T;
    const title = item.title || T.untitled;
    const current = item.id === this.current;
    node.className = `conversation-item${current ? " current" : ""}`;
    if (current) node.setAttribute("aria-current", "page");
    else node.removeAttribute("aria-current");
    node.dataset.pinned = String(item.pinned);
    node.dataset.archived = String(item.archived);
    const check = this.selecting
      ? el("input", {
          type: "checkbox",
          class: "select-box",
          "data-testid": "select-conversation",
          "aria-label": title,
          checked: this.selected.has(item.id),
          dataset: { id: item.id },
        })
      : "";
    node.replaceChildren(
      check,
      el(
        "a",
        { class: "conversation-link", href: item.url, title },
        el("span", { class: "title" }, title),
        el("span", { class: "item-model" }, item.model),
      ),
      item.pinned
        ? el("span", { class: "pin-mark", "data-testid": "pinned", title: T.groups.pinned }, icon("pin"))
        : "",
      el(
        "button",
        {
          type: "button",
          class: "icon-button item-menu-button",
          "data-testid": "conversation-menu",
          "aria-haspopup": "menu",
          "aria-label": format(T.actions_for, { title }),
          title: format(T.actions_for, { title }),
          dataset: { id: item.id },
        },
        icon("ellipsis"),
      ),
    );
  }

  // --- select several -------------------------------------------------------------

  setSelecting(on) {
    this.selecting = on;
    this.selected.clear();
    for (const [id, node] of this.nodes) {
      const item = this.items.get(id);
      if (item) this.fill(node, item);
    }
    this.onSelection();
  }

  toggleSelected(id, on) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.onSelection();
  }

  // --- rename in place ------------------------------------------------------------

  startRename(id, save) {
    const node = this.nodes.get(id);
    const item = this.items.get(id);
    if (!node || !item || this.editing === id) return;
    this.editing = id;
    const input = el("input", {
      class: "rename-input",
      "data-testid": "rename-input",
      "aria-label": this.T.rename_label,
      maxlength: "200",
    });
    input.value = item.title;
    let done = false;
    const finish = async (keep) => {
      if (done) return;
      done = true;
      const title = input.value.replace(/\s+/g, " ").trim();
      if (keep && title && title !== item.title) {
        const ok = await save(id, title);
        if (!ok) {
          done = false;
          input.focus();
          return;
        }
      }
      this.editing = null;
      const fresh = this.items.get(id);
      if (fresh) this.fill(node, fresh);
      this.scheduleRender();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
    node.querySelector(".conversation-link")?.replaceWith(input);
    input.focus();
    input.select();
  }
}
