// Saved voice blends: a named mix with its settings, to reuse from a list.
import { apiFetch } from "/static/common/api.js";
import { el } from "/static/common/dom.js";
import { S, fmt } from "./strings.js";

export class Blends {
  constructor({ select, name, save, remove, status }, blends, { settings, apply, showErrors }) {
    Object.assign(this, { select, name, save, remove, status, settings, apply, showErrors });
    this.blends = blends;
    this.render();
    select.addEventListener("change", () => this.use());
    save.addEventListener("click", () => this.saveCurrent());
    remove.addEventListener("click", () => this.deleteSelected());
  }

  render(selectedId = null) {
    const placeholder = this.blends.length ? S.choose_blend : S.no_blends;
    this.select.replaceChildren(el("option", { value: "" }, placeholder));
    for (const blend of this.blends) {
      this.select.append(el("option", { value: blend.id, selected: blend.id === selectedId }, blend.name));
    }
    this.select.disabled = !this.blends.length;
    this.remove.disabled = !selectedId;
  }

  selected() {
    return this.blends.find((b) => String(b.id) === this.select.value);
  }

  use() {
    const blend = this.selected();
    this.remove.disabled = !blend;
    if (!blend) return;
    this.apply(blend);
    this.name.value = blend.name;
    this.status.textContent = fmt(S.blend_used, { name: blend.name });
  }

  async saveCurrent() {
    const { text, ...settings } = this.settings();
    try {
      const blend = await apiFetch("/api/speech/blends/", {
        method: "POST",
        json: { ...settings, name: this.name.value },
      });
      this.blends = [...this.blends.filter((b) => b.id !== blend.id), blend].sort((a, b) =>
        a.name.localeCompare(b.name),
      );
      this.render(blend.id);
      this.status.textContent = fmt(S.blend_saved, { name: blend.name });
    } catch (error) {
      this.showErrors(error);
    }
  }

  async deleteSelected() {
    const blend = this.selected();
    if (!blend) return;
    try {
      await apiFetch(`/api/speech/blends/${blend.id}/`, { method: "DELETE" });
      this.blends = this.blends.filter((b) => b.id !== blend.id);
      this.render();
      this.status.textContent = S.blend_deleted;
    } catch (error) {
      this.showErrors(error);
    }
  }
}
