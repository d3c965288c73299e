// Editing a user message in place. Saving sends message.edit (docs/websocket.md):
// the server stores the edited turn beside the old one and starts a fresh reply, a
// new branch; the old turn and its replies stay, a click away on the version pager.
// Esc cancels, Ctrl (or ⌘) + Enter saves. One editor at a time (app.editor).
import { el } from "../common/dom.js";
import { icon } from "../common/icons.js";

// Whether a message may be edited (or a version chosen) now: nothing streaming,
// nothing being sent, the socket open, no edit on its way.
export function canChangeBranch(app) {
  if (app.pendingSend || app.store.streamingReply() || !app.socket?.open) return false;
  return !app.editor?.saving;
}

export function openEditor(app, view) {
  const data = view.data;
  if (!data?.id || data.role !== "user" || !canChangeBranch(app)) return;
  if (app.editor?.view === view) {
    app.editor.textarea.focus();
    return;
  }
  closeEditor(app);
  const { T } = app;
  const textarea = el("textarea", {
    class: "editor-text",
    "data-testid": "edit-text",
    "aria-label": T.edit_label,
    maxlength: "32000",
  });
  textarea.value = data.content;
  const save = el(
    "button",
    { type: "submit", class: "primary small", "data-testid": "edit-save" },
    icon("arrow-up"),
    T.edit_save,
  );
  const cancel = el("button", { type: "button", class: "small", "data-testid": "edit-cancel" }, T.edit_cancel);
  const form = el(
    "form",
    { class: "message-editor", "data-testid": "editor" },
    textarea,
    el("div", { class: "editor-actions" }, el("span", { class: "editor-hint" }, T.edit_hint), cancel, save),
  );
  const editor = { view, form, textarea, save, cancel, messageId: data.id, original: data.content, saving: false };
  app.editor = editor;
  const refresh = () => {
    save.disabled = editor.saving || !textarea.value.trim();
    cancel.disabled = editor.saving;
    textarea.readOnly = editor.saving;
  };
  editor.refresh = refresh;
  textarea.addEventListener("input", refresh);
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      // Not the page's Esc (stop a reply, close the settings): just this editor.
      event.preventDefault();
      event.stopPropagation();
      closeEditor(app, true);
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      event.preventDefault();
      saveEdit(app);
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveEdit(app);
  });
  cancel.addEventListener("click", () => closeEditor(app, true));
  view.el.classList.add("editing");
  view.parts.body.after(form);
  refresh();
  textarea.focus();
  textarea.setSelectionRange(textarea.value.length, textarea.value.length);
}

function saveEdit(app) {
  const editor = app.editor;
  if (!editor || editor.saving) return;
  const content = editor.textarea.value.trim();
  if (!content) return;
  if (content === editor.original.trim()) {
    closeEditor(app, true); // nothing changed: no new branch
    return;
  }
  if (!canChangeBranch(app)) return;
  app.showNotice("");
  editor.saving = true;
  editor.refresh();
  app.sendFrame({ type: "message.edit", message_id: editor.messageId, content });
  app.refreshControls();
}

// The server refused the edit: the text stays in the editor to try again.
export function editRefused(app) {
  if (!app.editor?.saving) return;
  app.editor.saving = false;
  app.editor.refresh();
  app.editor.textarea.focus();
}

export function closeEditor(app, focusComposer = false) {
  const editor = app.editor;
  if (!editor) return;
  app.editor = null;
  editor.form.remove();
  editor.view.el.classList.remove("editing");
  if (focusComposer) app.ui.composer.focus();
  app.refreshControls();
}
