// The speech studio: text, model, voice mix and sliders; generate a clip and
// follow its progress; preview the mix; the list of clips and saved blends.
import { ApiError, apiFetch, csrfToken } from "/static/common/api.js";
import { el, pageData } from "/static/common/dom.js";
import { Blends } from "./blends.js";
import { ClipList } from "./clips.js";
import { VoiceMix } from "./mix.js";
import { S, fmt, numberFormat } from "./strings.js";

const POLL_MS = 700;
const catalog = pageData("speech-catalog");
const $ = (id) => document.getElementById(id);

const form = $("speech-form");
const text = $("speech-text");
const modelSelect = $("speech-model");
const emotionSelect = $("speech-emotion");
const generateButton = $("generate");
const previewButton = $("preview");
const modelsById = new Map(catalog.models.map((m) => [m.id, m]));
const voicesById = new Map(catalog.voices.map((v) => [v.id, v]));

const mix = new VoiceMix($("voice-rows"), {
  voices: catalog.voices,
  maxVoices: catalog.max_voices,
  addButton: $("add-voice"),
  note: $("mix-note"),
});
const clips = new ClipList($("clip-list"), $("clips-empty"), {
  voiceName: (id) => voicesById.get(id)?.name || id,
  onReuse: (clip) => {
    applySettings(clip);
    text.value = clip.text;
    updateCount();
    showNotice(S.reused);
    text.focus();
  },
  onError: (error) => showErrors(error),
});

// --- the controls ----------------------------------------------------------------

function buildModels() {
  const groups = { t2a_v2: [], text_to_speech: [] };
  for (const model of catalog.models) groups[model.endpoint].push(model);
  const labels = { t2a_v2: "t2a_v2", text_to_speech: "text_to_speech (legacy)" };
  for (const [endpoint, models] of Object.entries(groups)) {
    const group = el("optgroup", { label: labels[endpoint] });
    for (const model of models) {
      group.append(el("option", { value: model.id, selected: model.id === catalog.default_model }, model.label));
    }
    modelSelect.append(group);
  }
}

function currentModel() {
  return modelsById.get(modelSelect.value) || modelsById.get(catalog.default_model);
}

function onModelChange() {
  const model = currentModel();
  const chosen = emotionSelect.value;
  emotionSelect.replaceChildren(
    el("option", { value: "" }, model.emotions.length ? S.auto_emotion : S.no_emotion),
    ...model.emotions.map((e) => el("option", { value: e, selected: e === chosen }, e)),
  );
  emotionSelect.disabled = !model.emotions.length;
  $("endpoint-note").textContent = S[`endpoint_${model.endpoint}`] || "";
  mix.setEndpoint(model.endpoint);
  updateCount();
}

const sliderFormat = {
  speed: (v) => `${Number(v).toFixed(2)}×`,
  vol: (v) => Number(v).toFixed(1),
  pitch: (v) => (v > 0 ? `+${v}` : String(v)),
};

function buildSliders() {
  for (const [name, [low, high, step, initial]] of Object.entries(catalog.ranges)) {
    const input = $(`speech-${name}`);
    Object.assign(input, { min: low, max: high, step, value: initial });
    const box = input.closest(".slider");
    box.querySelector('[data-end="low"]').textContent = sliderFormat[name](low);
    box.querySelector('[data-end="high"]').textContent = sliderFormat[name](high);
    input.addEventListener("input", () => showSlider(name));
    showSlider(name);
  }
}

function showSlider(name) {
  $(`speech-${name}-value`).textContent = sliderFormat[name]($(`speech-${name}`).value);
}

function updateCount() {
  const model = currentModel();
  const count = text.value.length;
  const parts = Math.max(1, Math.ceil(count / model.part_chars));
  const over = count > catalog.max_clip_chars;
  $("char-count").textContent = `${fmt(S.chars, { count: numberFormat.format(count) })} · ${fmt(S.limit, {
    limit: numberFormat.format(model.request_limit),
  })}`;
  $("char-count").classList.toggle("over", over);
  $("parts-note").textContent = over
    ? fmt(S.too_long, { max: numberFormat.format(catalog.max_clip_chars) })
    : count > model.part_chars
      ? fmt(S.parts, { parts: parts })
      : "";
}

function settings() {
  const number = (name) => Number($(`speech-${name}`).value);
  return {
    text: text.value,
    model: modelSelect.value,
    voices: mix.value(),
    speed: number("speed"),
    vol: number("vol"),
    pitch: Math.round(number("pitch")),
    emotion: emotionSelect.value || null,
  };
}

function applySettings(source) {
  if (modelsById.has(source.model)) modelSelect.value = source.model;
  onModelChange();
  emotionSelect.value = source.emotion || "";
  for (const name of ["speed", "vol", "pitch"]) {
    if (source[name] != null) $(`speech-${name}`).value = source[name];
    showSlider(name);
  }
  mix.setRows(source.voices || []);
}

// --- errors ----------------------------------------------------------------

function clearErrors() {
  for (const node of document.querySelectorAll("[data-error-for]")) node.textContent = "";
  $("blend-status").textContent = "";
}

function showErrors(error) {
  clearErrors();
  if (error instanceof ApiError && error.errors) {
    for (const [field, messages] of Object.entries(error.errors)) {
      const target = document.querySelector(`[data-error-for="${field}"]`) ||
        document.querySelector('[data-error-for="__all__"]');
      target.textContent = messages.join(" ");
    }
    return;
  }
  const message = error instanceof ApiError ? error.message : S.network;
  document.querySelector('[data-error-for="__all__"]').textContent = message;
}

function showNotice(message) {
  $("blend-status").textContent = message;
}

// --- generating --------------------------------------------------------------

const result = {
  section: $("result"),
  progress: $("progress"),
  bar: $("progress-bar"),
  label: $("progress-text"),
  error: $("result-error"),
  player: $("player"),
  audio: $("speech-audio"),
  download: $("download"),
};

function showProgress(clip) {
  result.section.hidden = false;
  result.error.hidden = true;
  result.player.hidden = true;
  result.progress.hidden = false;
  const { parts_done: done, parts_total: total } = clip;
  result.bar.max = total;
  result.bar.value = done;
  result.label.textContent =
    done === 0 ? S.starting : done >= total ? S.joining : fmt(S.part_of, { done: done + 1, total });
}

function showOutcome(clip) {
  result.progress.hidden = true;
  if (clip.status === "done") {
    result.audio.src = clip.audio_url;
    result.download.href = clip.download_url;
    result.download.setAttribute("download", "");
    result.player.hidden = false;
  } else {
    result.error.textContent = clip.error;
    result.error.hidden = false;
  }
}

async function follow(clip) {
  while (clip.status === "pending") {
    showProgress(clip);
    clips.upsert(clip);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    clip = await apiFetch(`/api/speech/${clip.id}/`);
  }
  clips.upsert(clip);
  showOutcome(clip);
}

async function generate(event) {
  event.preventDefault();
  clearErrors();
  generateButton.disabled = true;
  try {
    const clip = await apiFetch("/api/speech/", { method: "POST", json: settings() });
    await follow(clip);
  } catch (error) {
    showErrors(error);
  } finally {
    generateButton.disabled = false;
  }
}

async function preview() {
  clearErrors();
  previewButton.disabled = true;
  showNotice(S.previewing);
  try {
    const response = await fetch("/api/speech/preview/", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "audio/mpeg" },
      body: JSON.stringify(settings()),
      credentials: "same-origin",
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new ApiError(response.status, data.error || response.statusText, data.errors);
    }
    const audio = $("preview-audio");
    if (audio.src) URL.revokeObjectURL(audio.src);
    audio.src = URL.createObjectURL(await response.blob());
    result.section.hidden = false;
    audio.hidden = false;
    showNotice("");
    audio.play().catch(() => {});
  } catch (error) {
    showErrors(error);
  } finally {
    previewButton.disabled = false;
  }
}

// --- start ---------------------------------------------------------------------

buildModels();
buildSliders();
mix.setRows([{ voice_id: catalog.voices[0].id, weight: 1 }]);
onModelChange();
modelSelect.addEventListener("change", onModelChange);
text.addEventListener("input", updateCount);
$("voice-search").addEventListener("input", (event) => mix.filter(event.target.value));
form.addEventListener("submit", generate);
previewButton.addEventListener("click", preview);
new Blends(
  {
    select: $("blend-select"),
    name: $("blend-name"),
    save: $("blend-save"),
    remove: $("blend-delete"),
    status: $("blend-status"),
  },
  pageData("speech-blends") || [],
  { settings, apply: applySettings, showErrors },
);
clips.render(pageData("speech-clips") || []);
updateCount();
