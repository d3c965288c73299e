// The voice mix: one to four rows, each a grouped, searchable voice picker and a
// whole-number weight, with each voice's share of the mix as a percentage.
import { el } from "/static/common/dom.js";
import { S, fmt } from "./strings.js";

export class VoiceMix {
  constructor(list, { voices, maxVoices, addButton, note, onChange }) {
    this.list = list;
    this.voices = voices;
    this.maxVoices = maxVoices;
    this.addButton = addButton;
    this.onChange = onChange || (() => {});
    this.endpoint = "t2a_v2";
    this.query = "";
    this.byLanguage = groupBy(voices, (voice) => voice.language_name);
    note.textContent = fmt(S.max_voices, { max: maxVoices });
    addButton.addEventListener("click", () => {
      // The next voice not in the mix yet, preferring those the search shows.
      const used = new Set(this.value().map((v) => v.voice_id));
      const free = this.voices.filter((v) => !used.has(v.id) && this.allowed(v));
      const next = free.find((v) => this.matches(v)) || free[0];
      this.addRow(next ? next.id : this.voices[0].id, 1);
      this.rows().at(-1)?.querySelector("select")?.focus();
    });
  }

  rows() {
    return [...this.list.querySelectorAll('[data-testid="voice"]')];
  }

  // [{voice_id, weight}] as the API takes it; weights as typed (checked by the server).
  value() {
    return this.rows().map((row) => ({
      voice_id: row.querySelector("select").value,
      weight: Number(row.querySelector('[data-testid="voice-weight"]').value),
    }));
  }

  setRows(items) {
    this.list.replaceChildren();
    for (const item of items.length ? items : [{ voice_id: this.voices[0].id, weight: 1 }])
      this.addRow(item.voice_id, item.weight);
  }

  addRow(voiceId, weight) {
    if (this.rows().length >= this.maxVoices) return;
    const number = this.rows().length + 1;
    const select = el("select", { class: "voice-picker", "aria-label": fmt(S.voice_n, { n: number }) });
    this.fillPicker(select, voiceId);
    const weightInput = el("input", {
      type: "number",
      min: 1,
      max: 100,
      step: 1,
      value: weight,
      inputmode: "numeric",
      class: "weight",
      "aria-label": S.weight,
      dataset: { testid: "voice-weight" },
    });
    const bar = el("span", { class: "share-fill" });
    const row = el(
      "li",
      { class: "voice-row", dataset: { testid: "voice" } },
      select,
      el("span", { class: "weight-box" }, weightInput),
      el(
        "span",
        { class: "share" },
        el("span", { class: "share-bar", "aria-hidden": "true" }, bar),
        el("span", { class: "share-text", dataset: { testid: "voice-share" } }),
      ),
      el(
        "button",
        { type: "button", class: "small remove-voice", "aria-label": S.remove_voice, title: S.remove_voice },
        "×",
      ),
    );
    row.querySelector(".remove-voice").addEventListener("click", () => {
      row.remove();
      this.update();
    });
    select.addEventListener("change", () => this.update());
    weightInput.addEventListener("input", () => this.update());
    this.list.append(row);
    this.update();
  }

  fillPicker(select, selectedId) {
    select.replaceChildren();
    for (const [language, voices] of this.byLanguage) {
      const group = el("optgroup", { label: language });
      for (const voice of voices) {
        const legacyNote = voice.legacy ? "" : ` (${S.current_only})`;
        group.append(
          el(
            "option",
            {
              value: voice.id,
              selected: voice.id === selectedId,
              dataset: {
                search: `${voice.name} ${voice.id} ${voice.language_name} ${voice.gender_name}`.toLowerCase(),
              },
            },
            `${voice.name} · ${voice.gender_name}${legacyNote}`,
          ),
        );
      }
      select.append(group);
    }
    if (selectedId && !this.voices.some((v) => v.id === selectedId)) {
      // A cloned or newer voice id from a saved clip: keep it choosable.
      select.prepend(el("option", { value: selectedId, selected: true }, selectedId));
    }
    this.applyRules(select);
  }

  matches(voice) {
    const haystack = `${voice.name} ${voice.id} ${voice.language_name} ${voice.gender_name}`;
    return !this.query || haystack.toLowerCase().includes(this.query);
  }

  allowed(voice) {
    return this.endpoint === "t2a_v2" || voice.legacy;
  }

  setEndpoint(endpoint) {
    this.endpoint = endpoint;
    this.rows().forEach((row) => this.applyRules(row.querySelector("select")));
    this.update();
  }

  filter(query) {
    this.query = query.trim().toLowerCase();
    this.rows().forEach((row) => this.applyRules(row.querySelector("select")));
  }

  // Hide voices the search does not match and disable those the endpoint lacks;
  // the chosen voice always stays visible.
  applyRules(select) {
    for (const option of select.options) {
      const voice = this.voices.find((v) => v.id === option.value);
      const matches = !this.query || (option.dataset.search || "").includes(this.query);
      option.hidden = !matches && !option.selected;
      option.disabled = voice ? !this.allowed(voice) : false;
    }
    for (const group of select.querySelectorAll("optgroup")) {
      group.hidden = [...group.children].every((option) => option.hidden);
    }
  }

  update() {
    const rows = this.rows();
    const weights = rows.map((row) => {
      const value = Number(row.querySelector('[data-testid="voice-weight"]').value);
      return Number.isInteger(value) && value >= 1 && value <= 100 ? value : 0;
    });
    const total = weights.reduce((sum, w) => sum + w, 0);
    rows.forEach((row, index) => {
      const share = total ? Math.round((weights[index] / total) * 100) : 0;
      row.querySelector(".share-text").textContent = `${share}%`;
      row.querySelector(".share").title = fmt(S.share, { share });
      row.querySelector(".share-fill").style.width = `${share}%`;
      row.querySelector('[data-testid="voice-weight"]').setAttribute("aria-invalid", weights[index] ? "false" : "true");
      row.querySelector(".remove-voice").hidden = rows.length === 1;
      row.querySelector("select").setAttribute("aria-label", fmt(S.voice_n, { n: index + 1 }));
    });
    this.addButton.disabled = rows.length >= this.maxVoices;
    this.onChange();
  }
}

function groupBy(items, key) {
  const groups = new Map();
  for (const item of items) {
    const name = key(item);
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(item);
  }
  return groups;
}
