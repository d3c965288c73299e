// An entry's menu (rename, pin, archive or restore, export, delete) and the confirm
// dialog before a delete. One menu element serves every entry.
import { el } from "../../common/dom.js";
import { icon } from "../../common/icons.js";

export class EntryMenu {
  // act(action, id): what a menu item does
  constructor(T, act) {
    this.T = T;
    this.act = act;
    this.node = el("div", { class: "item-menu", role: "menu", "data-testid": "entry-menu", hidden: true });
    this.opener = null;
    document.body.append(this.node);
    document.addEventListener("click", (event) => {
      if (!this.node.hidden && !this.node.contains(event.target) && !this.opener?.contains(event.target))
        this.close();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.node.hidden) {
        event.stopPropagation();
        this.close(true);
      }
    });
  }

  item(action, glyph, label, id) {
    const button = el(
      "button",
      { type: "button", role: "menuitem", "data-testid": `menu-${action}` },
      icon(glyph),
      label,
    );
    button.addEventListener("click", () => {
      this.close();
      this.act(action, id);
    });
    return button;
  }

  download(format, label, id) {
    return el(
      "a",
      {
        role: "menuitem",
        href: `/api/conversations/${id}/export?format=${format}`,
        download: "",
        "data-testid": `menu-export-${format}`,
      },
      icon("download"),
      label,
    );
  }

  open(opener, item) {
    const T = this.T;
    if (!this.node.hidden && this.opener === opener) {
      this.close(true);
      return;
    }
    this.opener = opener;
    const id = item.id;
    this.node.replaceChildren(
      this.item("rename", "pencil", T.rename, id),
      item.pinned
        ? this.item("unpin", "pin-off", T.unpin, id)
        : this.item("pin", "pin", T.pin, id),
      item.archived
        ? this.item("restore", "archive-restore", T.restore, id)
        : this.item("archive", "archive", T.archive, id),
      this.download("md", T.export_md, id),
      this.download("json", T.export_json, id),
      this.item("delete", "trash-2", T.delete, id),
    );
    this.node.hidden = false;
    opener.setAttribute("aria-expanded", "true");
    const box = opener.getBoundingClientRect();
    const width = this.node.offsetWidth;
    const height = this.node.offsetHeight;
    const left = Math.max(8, Math.min(box.right - width, innerWidth - width - 8));
    const below = box.bottom + 4;
    const top = below + height > innerHeight - 8 ? Math.max(8, box.top - height - 4) : below;
    this.node.style.left = `${left}px`;
    this.node.style.top = `${top}px`;
    this.node.querySelector("[role=menuitem]")?.focus();
  }

  close(refocus = false) {
    if (this.node.hidden) return;
    this.node.hidden = true;
    this.opener?.setAttribute("aria-expanded", "false");
    if (refocus) this.opener?.focus();
    this.opener = null;
  }
}

// Ask before deleting; resolves true for "Delete".
export function confirmDelete(T, message) {
  return new Promise((resolve) => {
    const yes = el("button", { type: "button", class: "danger", "data-testid": "confirm-delete" }, icon("trash-2"), T.delete);
    const no = el("button", { type: "button", "data-testid": "confirm-cancel" }, T.cancel);
    const dialog = el(
      "dialog",
      { class: "confirm", "data-testid": "confirm-dialog", "aria-label": T.delete },
      el("p", {}, message),
      el("div", { class: "confirm-actions" }, no, yes),
    );
    const answer = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    yes.addEventListener("click", () => answer(true));
    no.addEventListener("click", () => answer(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      answer(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}
