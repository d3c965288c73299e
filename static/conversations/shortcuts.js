// Keyboard shortcuts (the list is the page's <dialog id="shortcuts">, shown by "?").
// Ctrl (or ⌘) + Shift + O: new chat; Shift + Esc: the message box; Esc: stop the
// reply; Ctrl + .: the settings panel; Arrow-Up in the empty message box: edit the
// last message (composer.js; Esc and Ctrl + Enter in the editor: editor.js).
import { stopReply } from "./composer.js";

const typing = (target) =>
  target instanceof HTMLElement &&
  (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

export function setUpShortcuts(app) {
  const dialog = document.getElementById("shortcuts");
  const showList = () => {
    if (!dialog.open) dialog.showModal();
  };
  document.getElementById("shortcuts-button").addEventListener("click", showList);
  document.getElementById("shortcuts-close").addEventListener("click", () => dialog.close());

  document.addEventListener("keydown", (event) => {
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.shiftKey && event.key.toLowerCase() === "o") {
      event.preventDefault();
      location.assign("/");
    } else if (event.key === "Escape" && event.shiftKey) {
      event.preventDefault();
      app.ui.composer.focus();
    } else if (event.key === "Escape" && !dialog.open && app.store.streamingReply()) {
      stopReply(app);
    } else if (event.key === "Escape" && app.settings.isOpen && !dialog.open) {
      app.settings.close();
    } else if (mod && event.key === ".") {
      event.preventDefault();
      if (app.settings.isOpen) app.settings.close();
      else app.settings.open();
    } else if (event.key === "?" && !mod && !typing(event.target)) {
      event.preventDefault();
      showList();
    }
  });
}
