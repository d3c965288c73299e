// The conversation list beside the chat: a new conversation joins it, its title comes
// from the first message, and on a phone it folds away.
import { el } from "../common/dom.js";

const list = () => document.querySelector(".conversation-list");

export function titleFrom(content) {
  return content.replace(/\s+/g, " ").trim().slice(0, 60);
}

export function addSidebarItem(data) {
  const items = list();
  items.querySelector(".empty")?.remove();
  for (const li of items.querySelectorAll("[aria-current]")) {
    li.removeAttribute("aria-current");
    li.classList.remove("current");
  }
  const li = el(
    "li",
    { class: "current", "data-testid": "conversation", "aria-current": "page", dataset: { id: data.id } },
    el(
      "a",
      { href: data.url },
      el("span", { class: "title" }, data.title || "…"),
      el("span", { class: "item-model" }, data.model),
    ),
  );
  const firstUnpinned = [...items.children].find((item) => !item.querySelector(".pin"));
  items.insertBefore(li, firstUnpinned || null);
}

// A conversation without a title is named after its first message.
export function nameSidebarItem(conversation, content) {
  const title = document.querySelector(
    `.conversation-list li[data-id="${conversation?.id}"] .title`,
  );
  if (title && (title.textContent === "…" || !conversation.title)) {
    conversation.title = titleFrom(content);
    title.textContent = conversation.title;
  }
}

export function setUpSidebarToggle() {
  const toggle = document.getElementById("sidebar-toggle");
  const show = (open) => {
    document.body.classList.toggle("sidebar-open", open);
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", () =>
    show(!document.body.classList.contains("sidebar-open")),
  );
  // On a phone the list covers the page: a tap beside it or Escape folds it away.
  document.getElementById("chat").addEventListener("click", () => show(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") show(false);
  });
}
