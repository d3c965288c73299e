// The settings panel: model, API dialect, prompt, sampling, JSON schema; pin and
// archive. checkSettings() is the same check the server makes, without the DOM.
// The panel is a column beside the messages on a wide screen and a full-screen sheet
// on a phone (chat.css); opening it never hides the messages on a desktop.
import { apiFetch } from "../common/api.js";
import { el } from "../common/dom.js";
import { format } from "../common/i18n.js";

const FIELDS = [
  "model", "dialect", "system_prompt", "bot_name", "user_name",
  "temperature", "top_p", "max_tokens", "json_schema",
];

// raw: the form's strings by field name; spec: the model's catalog entry.
// Returns {values (what the API takes), errors ({field: [messages]})}.
export function checkSettings(raw, spec, T) {
  const errors = {};
  const unit = (name) => {
    const text = (raw[name] ?? "").trim();
    if (!text) return null;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0 || value > 1) errors[name] = [T.range_unit];
    return value;
  };
  const values = {
    model: spec.id,
    dialect: raw.dialect || spec.default_dialect,
    system_prompt: raw.system_prompt ?? "",
    bot_name: (raw.bot_name ?? "").trim(),
    user_name: (raw.user_name ?? "").trim(),
    temperature: unit("temperature"),
    top_p: unit("top_p"),
    max_tokens: null,
    json_schema: null,
  };
  const rawMax = (raw.max_tokens ?? "").trim();
  if (rawMax) {
    const value = Number(rawMax);
    if (!Number.isInteger(value) || value < 1 || value > spec.max_output_tokens) {
      errors.max_tokens = [format(T.range_tokens, { max: spec.max_output_tokens })];
    }
    values.max_tokens = value;
  }
  const rawSchema = spec.supports_json_schema ? (raw.json_schema ?? "").trim() : "";
  if (rawSchema) {
    try {
      values.json_schema = JSON.parse(rawSchema);
    } catch {
      errors.json_schema = [T.invalid_json];
    }
  }
  return { values, errors };
}

// The model card's rows, [term, description], for a model spoken to in `dialect`.
export function modelFacts(spec, dialect, T) {
  const features = spec.features?.length ? spec.features.join(", ") : T.model_supports_none;
  return [
    [T.model_api, spec.dialect_labels[dialect] || dialect],
    [T.model_context, format(T.model_context_value, { size: spec.context_label })],
    [T.model_output, format(T.model_context_value, { size: spec.max_output_tokens })],
    [T.model_supports, features],
  ];
}

// --- the DOM -------------------------------------------------------------------

const PANEL_KEY = "settings-panel-open";
const narrow = () => window.matchMedia("(max-width: 760px)").matches;

export class SettingsPanel {
  // app: {T, models, conversation, ui, onSchemaChange()}
  constructor(app) {
    this.app = app;
    this.form = app.ui.settingsForm;
    this.panel = document.getElementById("settings-panel");
    this.toggle = document.getElementById("settings-toggle");
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  // remember: a desktop keeps the panel open across pages when it was left open.
  open(focus = true) {
    this.panel.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    document.body.classList.add("settings-open");
    if (!narrow()) this.remember(true);
    if (focus) this.panel.querySelector("select, input, textarea, button")?.focus();
  }

  close() {
    this.panel.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
    document.body.classList.remove("settings-open");
    if (!narrow()) this.remember(false);
  }

  remember(open) {
    try {
      localStorage.setItem(PANEL_KEY, open ? "1" : "");
    } catch {
      // Not remembered: the panel starts closed next time.
    }
  }

  wasOpen() {
    try {
      return localStorage.getItem(PANEL_KEY) === "1";
    } catch {
      return false;
    }
  }

  showModelCard(spec, dialect) {
    const rows = modelFacts(spec, dialect, this.app.T).flatMap(([term, text]) => [
      el("dt", {}, term),
      el("dd", {}, text),
    ]);
    document.getElementById("model-card").replaceChildren(...rows);
  }

  field(name) {
    return this.form.elements.namedItem(name);
  }

  section(name) {
    return this.form.querySelector(`[data-field="${name}"]`);
  }

  currentSpec() {
    return this.app.models.get(this.app.ui.model.value);
  }

  showModelFields(spec, dialect) {
    const { T } = this.app;
    this.field("dialect").replaceChildren(
      ...spec.dialects.map((d) => new Option(spec.dialect_labels[d], d, false, d === dialect)),
    );
    this.section("dialect").hidden = spec.dialects.length < 2;
    this.showDialectFields(dialect);
    const maxTokens = this.field("max_tokens");
    maxTokens.max = spec.max_output_tokens;
    maxTokens.placeholder = format(T.default_value, { value: spec.default_max_tokens });
    document.getElementById("max-tokens-range").textContent = `[1, ${spec.max_output_tokens}]`;
    this.field("temperature").placeholder = format(T.default_value, {
      value: spec.default_temperature,
    });
    this.field("top_p").placeholder = format(T.default_value, { value: spec.default_top_p });
    this.section("json_schema").hidden = !spec.supports_json_schema;
  }

  showDialectFields(dialect) {
    const { T, ui } = this.app;
    const pro = dialect === "pro";
    this.section("names").hidden = !pro;
    document.getElementById("system-prompt-label").textContent = pro
      ? T.bot_setting
      : T.system_prompt;
    ui.dialectNote.textContent = this.currentSpec().dialect_labels[dialect] || "";
    this.showModelCard(this.currentSpec(), dialect);
  }

  fill(values) {
    const spec = this.app.models.get(values.model) || this.currentSpec();
    this.app.ui.model.value = spec.id;
    this.showModelFields(spec, values.dialect || spec.default_dialect);
    for (const name of ["system_prompt", "bot_name", "user_name"]) {
      this.field(name).value = values[name] || "";
    }
    for (const name of ["temperature", "top_p", "max_tokens"]) {
      this.field(name).value = values[name] ?? "";
    }
    this.field("json_schema").value = values.json_schema
      ? JSON.stringify(values.json_schema, null, 2)
      : "";
  }

  // The settings as the API takes them; null (errors shown) when invalid.
  read() {
    const raw = {};
    for (const name of FIELDS) raw[name] = this.field(name)?.value ?? "";
    const { values, errors } = checkSettings(raw, this.currentSpec(), this.app.T);
    this.showErrors(errors);
    return Object.keys(errors).length ? null : values;
  }

  showErrors(errors) {
    for (const box of document.querySelectorAll("[data-error-for]")) {
      const messagesFor = errors[box.dataset.errorFor] || [];
      box.textContent = messagesFor.join(" ");
      const input = this.field(box.dataset.errorFor);
      if (input?.setAttribute) input.setAttribute("aria-invalid", String(messagesFor.length > 0));
    }
    if (Object.keys(errors).some((name) => name !== "model")) this.open(false);
  }

  // PATCH the conversation; its fresh state, or null when refused (errors shown).
  async patch(values) {
    const { app } = this;
    try {
      const data = await apiFetch(`/api/conversations/${app.conversation.id}/`, {
        method: "PATCH",
        json: values,
      });
      app.conversation = { ...app.conversation, ...data };
      return app.conversation;
    } catch (error) {
      if (error.errors) this.showErrors(error.errors);
      return null;
    }
  }

  async save(values) {
    const { app } = this;
    app.ui.settingsStatus.textContent = "";
    const hadSchema = Boolean(app.conversation.json_schema);
    if (!(await this.patch(values))) {
      app.ui.settingsStatus.textContent = app.T.save_failed;
      return false;
    }
    this.showErrors({});
    this.fill(app.conversation);
    app.ui.settingsStatus.textContent = app.T.saved;
    if (hadSchema !== Boolean(app.conversation.json_schema)) app.onSchemaChange();
    return true;
  }

  setUp() {
    const { app } = this;
    app.ui.model.addEventListener("change", async () => {
      const spec = this.currentSpec();
      this.showModelFields(spec, spec.default_dialect);
      if (!app.conversation) return;
      if (!(await this.save({ model: spec.id }))) this.fill(app.conversation);
    });
    this.field("dialect").addEventListener("change", () =>
      this.showDialectFields(this.field("dialect").value),
    );
    const pin = document.getElementById("pin-toggle");
    pin.addEventListener("click", async () => {
      const fresh = await this.patch({ pinned: !app.conversation.pinned });
      if (!fresh) return;
      const label = fresh.pinned ? app.T.unpin : app.T.pin;
      pin.setAttribute("aria-label", label);
      pin.title = label;
      pin.querySelector(".icon").className = `icon ${fresh.pinned ? "icon-pin-off" : "icon-pin"}`;
      pin.setAttribute("aria-pressed", String(fresh.pinned));
    });
    // An archived conversation leaves the list; the page goes back to a new chat.
    document.getElementById("archive").addEventListener("click", async () => {
      if (await this.patch({ archived: true })) location.assign("/");
    });
    this.toggle.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    document.getElementById("settings-close").addEventListener("click", () => {
      this.close();
      this.toggle.focus();
    });
    if (this.wasOpen() && !narrow()) this.open(false);
    this.form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = this.read();
      if (values && app.conversation) await this.save(values);
    });
  }
}
