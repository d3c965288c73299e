// The search box over titles and messages (GET /api/search/): results newest first,
// each a link to its message with the matching words marked (snippet.js), the
// filters the API takes, and Ctrl+K / ⌘K to focus the box.
import { apiFetch } from "../../common/api.js";
import { el } from "../../common/dom.js";
import { format } from "../../common/i18n.js";
import { renderSnippet } from "./snippet.js";

const DEBOUNCE_MS = 250;

export class SearchPanel {
  // input: the box; filters: its <form>; results: where results go; list: the list
  // (hidden while a search shows)
  constructor({ input, filters, toggle, results, list, T, lang }) {
    Object.assign(this, { input, filters, toggle, results, list, T, lang });
    this.timer = null;
    this.generation = 0;
    this.next = null;
    this.query = "";
    input.addEventListener("input", () => this.schedule());
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && input.value) {
        event.preventDefault();
        event.stopPropagation();
        input.value = "";
        this.schedule(0);
      } else if (event.key === "Enter") {
        event.preventDefault();
        this.schedule(0);
      }
    });
    filters.addEventListener("change", () => this.schedule(0));
    filters.addEventListener("submit", (event) => event.preventDefault());
    toggle.addEventListener("click", () => {
      const open = filters.hidden;
      filters.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
    });
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "k") {
        event.preventDefault();
        document.body.classList.add("sidebar-open");
        input.focus();
        input.select();
      }
    });
  }

  schedule(delay = DEBOUNCE_MS) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), delay);
  }

  params(cursor) {
    const params = new URLSearchParams({ q: this.query });
    params.set("tz", Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
    const data = new FormData(this.filters);
    for (const name of ["model", "from", "to", "archived"]) {
      const value = data.get(name);
      if (value) params.set(name, value);
    }
    for (const name of ["flagged", "reasoning"]) if (data.get(name)) params.set(name, "1");
    if (cursor) params.set("cursor", cursor);
    return params;
  }

  async run(cursor = null) {
    this.query = this.input.value.trim();
    const generation = ++this.generation;
    if (!this.query) {
      this.results.hidden = true;
      this.results.replaceChildren();
      this.list.hidden = false;
      return;
    }
    this.list.hidden = true;
    this.results.hidden = false;
    if (!cursor) this.results.replaceChildren(el("p", { class: "list-status" }, this.T.searching));
    let page;
    try {
      page = await apiFetch(`/api/search/?${this.params(cursor)}`);
    } catch (error) {
      if (generation !== this.generation) return;
      const reason = Object.values(error.errors || {}).flat()[0] || error.message;
      this.results.replaceChildren(
        el("p", { class: "search-error", role: "alert" }, format(this.T.search_failed, { reason })),
      );
      return;
    }
    if (generation !== this.generation) return; // a newer search is under way
    this.show(page, Boolean(cursor));
  }

  show(page, more) {
    const T = this.T;
    this.results.querySelector(".more-results")?.remove();
    if (!more) {
      this.results.replaceChildren();
      if (page.conversations.length) {
        this.results.append(
          el("h3", {}, T.search_titles),
          el("ul", { class: "title-results" }, page.conversations.map((hit) => this.titleHit(hit))),
        );
      }
      if (page.results.length) {
        this.results.append(el("h3", {}, T.search_messages), el("ul", { class: "message-results" }));
      }
      if (!page.conversations.length && !page.results.length) {
        this.results.append(el("p", { class: "empty", "data-testid": "no-results" }, T.no_results));
      }
    }
    const list = this.results.querySelector(".message-results");
    for (const hit of page.results) list?.append(this.messageHit(hit));
    if (page.next) {
      const button = el("button", { type: "button", class: "small more-results" }, T.loading);
      button.addEventListener("click", () => this.run(page.next));
      this.results.append(button);
      // Loads the next page when it scrolls into view, like the list.
      new IntersectionObserver((entries, observer) => {
        if (entries.some((entry) => entry.isIntersecting)) {
          observer.disconnect();
          this.run(page.next);
        }
      }).observe(button);
    }
  }

  titleHit(hit) {
    return el(
      "li",
      {},
      el(
        "a",
        { href: hit.url, class: "search-result", "data-testid": "search-result" },
        renderSnippet(el("span", { class: "title" }), hit.title, hit.highlights),
      ),
    );
  }

  messageHit(hit) {
    const T = this.T;
    const who = hit.role === "user" ? T.you : T.assistant;
    const when = new Date(hit.created_at).toLocaleDateString(this.lang, {
      year: "numeric",
      month: "short",
      day: "numeric",
    });
    return el(
      "li",
      {},
      el(
        "a",
        {
          href: hit.url,
          class: "search-result",
          "data-testid": "search-result",
          dataset: { messageId: hit.message_id },
        },
        el("span", { class: "title" }, hit.conversation_title || T.untitled),
        renderSnippet(el("span", { class: "snippet" }), hit.snippet, hit.highlights),
        el(
          "span",
          { class: "result-meta" },
          `${who}${hit.field === "reasoning" ? ` · ${T.in_reasoning}` : ""} · ${when}`,
        ),
      ),
    );
  }
}
