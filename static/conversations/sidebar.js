// The sidebar's frame: on a phone it folds away behind a button. The list inside it is
// history/ (mounted by main.js); these two hand it what this tab just did, before the
// live socket says so too.
import { addEntry, nameEntry } from "./history/index.js";

export function titleFrom(content) {
  return content.replace(/\s+/g, " ").trim().slice(0, 60);
}

export function addSidebarItem(data) {
  addEntry(data);
}

// A conversation without a title is named after its first message.
export function nameSidebarItem(conversation, content) {
  if (conversation && !conversation.title) {
    conversation.title = titleFrom(content);
    nameEntry(conversation, conversation.title);
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
