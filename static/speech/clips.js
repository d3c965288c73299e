// The list of your clips: play, download, reuse the settings, delete. Clips still
// being made are polled until they end, so a clip started before a reload (or
// in another tab) shows up finished.
import { apiFetch } from "/static/common/api.js";
import { el } from "/static/common/dom.js";
import { S, fmt, formatBytes, formatDuration } from "./strings.js";

const POLL_MS = 1000;

export class ClipList {
  constructor(list, empty, { voiceName, onReuse, onError }) {
    this.list = list;
    this.empty = empty;
    this.voiceName = voiceName;
    this.onReuse = onReuse;
    this.onError = onError;
    this.clips = new Map();
    this.timer = null;
  }

  render(clips) {
    this.clips.clear();
    this.list.replaceChildren();
    for (const clip of clips) this.upsert(clip, { append: true });
    this.refreshEmpty();
  }

  upsert(clip, { append = false } = {}) {
    const existing = this.list.querySelector(`[data-id="${clip.id}"]`);
    const previous = this.clips.get(clip.id);
    this.clips.set(clip.id, clip);
    // A finished clip whose player is open keeps playing: only replace on change.
    if (existing && previous && previous.status === clip.status && clip.status !== "pending") return;
    const item = this.item(clip);
    if (existing) existing.replaceWith(item);
    else if (append) this.list.append(item);
    else this.list.prepend(item);
    this.refreshEmpty();
    this.schedulePoll();
  }

  remove(id) {
    this.clips.delete(id);
    this.list.querySelector(`[data-id="${id}"]`)?.remove();
    this.refreshEmpty();
  }

  refreshEmpty() {
    this.empty.hidden = this.clips.size > 0;
  }

  item(clip) {
    const voices = clip.voices
      .map((v) => (clip.voices.length > 1 ? `${this.voiceName(v.voice_id)} ×${v.weight}` : this.voiceName(v.voice_id)))
      .join(", ");
    const meta = [
      clip.model,
      formatDuration(clip.duration_ms),
      formatBytes(clip.size_bytes),
      new Date(clip.created_at).toLocaleString(),
    ].filter(Boolean);
    const status = {
      pending: fmt(S.part_of, { done: clip.parts_done, total: clip.parts_total }),
      error: S.failed,
      done: "",
    }[clip.status];
    const item = el(
      "li",
      { class: `clip clip--${clip.status}`, dataset: { testid: "clip", id: clip.id, status: clip.status } },
      el(
        "div",
        { class: "clip-head" },
        el("p", { class: "clip-text" }, clip.excerpt),
        status ? el("span", { class: `badge status-${clip.status}` }, status) : null,
      ),
      el("p", { class: "clip-voices muted" }, voices),
      el("p", { class: "clip-meta muted" }, meta.join(" · ")),
      clip.error ? el("p", { class: "clip-error", role: "alert" }, clip.error) : null,
    );
    if (clip.status === "pending") {
      item.append(el("progress", { max: clip.parts_total, value: clip.parts_done }));
    }
    item.append(this.actions(clip, item));
    return item;
  }

  actions(clip, item) {
    const actions = el("div", { class: "clip-actions" });
    if (clip.status === "done") {
      const play = el("button", { type: "button", class: "small", dataset: { testid: "clip-play" } }, S.play);
      play.addEventListener("click", () => {
        let audio = item.querySelector("audio");
        if (!audio) {
          audio = el("audio", { controls: true, src: clip.audio_url, preload: "auto", dataset: { testid: "clip-audio" } });
          item.insertBefore(audio, actions);
        }
        audio.play().catch(() => {});
      });
      actions.append(
        play,
        el("a", { class: "button-link small", href: clip.download_url, download: "", dataset: { testid: "clip-download" } }, S.download),
      );
    }
    const reuse = el("button", { type: "button", class: "small", dataset: { testid: "clip-reuse" } }, S.reuse);
    reuse.addEventListener("click", () => this.reuse(clip.id));
    actions.append(reuse);
    if (clip.status !== "pending") {
      const remove = el("button", { type: "button", class: "small danger", dataset: { testid: "clip-delete" } }, S.delete);
      remove.addEventListener("click", () => this.delete(clip.id));
      actions.append(remove);
    }
    return actions;
  }

  async reuse(id) {
    try {
      this.onReuse(await apiFetch(`/api/speech/${id}/`));
    } catch (error) {
      this.onError(error);
    }
  }

  async delete(id) {
    if (!window.confirm(S.confirm_delete)) return;
    try {
      await apiFetch(`/api/speech/${id}/`, { method: "DELETE" });
      this.remove(id);
    } catch (error) {
      this.onError(error);
    }
  }

  schedulePoll() {
    const pending = [...this.clips.values()].some((c) => c.status === "pending");
    if (!pending || this.timer) return;
    this.timer = setTimeout(async () => {
      this.timer = null;
      await this.pollPending();
    }, POLL_MS);
  }

  async pollPending() {
    const ids = [...this.clips.values()].filter((c) => c.status === "pending").map((c) => c.id);
    for (const id of ids) {
      try {
        this.upsert(await apiFetch(`/api/speech/${id}/`));
      } catch (error) {
        if (error.status === 404) this.remove(id);
      }
    }
    this.schedulePoll();
  }
}
