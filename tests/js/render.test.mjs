// The text a message shows: stats, notes, badges, error advice, the speak link,
// the page strings' {placeholders}, the settings check and the reconnect backoff.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { format, lookup } from "../../static/common/i18n.js";
import {
  badgeFor,
  errorSummary,
  noteLines,
  speakHref,
  isThinking,
  statsLine,
  timeLabel,
  usageText,
} from "../../static/conversations/render.js";
import { checkSettings, modelFacts } from "../../static/conversations/settings.js";
import { nextWait, socketURL } from "../../static/conversations/socket.js";
import { titleFrom } from "../../static/conversations/sidebar.js";

const T = {
  stopped: "Stopped",
  interrupted: "Interrupted",
  sending: "Sending…",
  usage: "Tokens: {prompt} prompt · {completion} completion · {total} total",
  usage_total: "Tokens: {total} total",
  error_what: { rate_limit: "Rate limited.", timeout: "Timed out." },
  model_api: "API",
  model_context: "Context",
  model_context_value: "{size} tokens",
  model_output: "Longest reply",
  model_supports: "Supports",
  model_supports_none: "plain chat",
  first_token: "First token after {ms} ms",
  duration: "Total {seconds} s",
  length: "Cut short.",
  input_flagged: "Input flagged.",
  output_flagged: "Output flagged.",
  error_fallback: "The reply failed.",
  error_titles: { rate_limit: "Too many requests." },
  error_titles_en: { rate_limit: "Too many requests.", timeout: "Timed out." },
  advice: { rate_limit: "Wait, then retry.", upstream_error: "Retry.", interrupted: "Restarted." },
  range_unit: "Between 0 and 1.",
  range_tokens: "From 1 to {max}.",
  invalid_json: "Not JSON.",
};

describe("i18n", () => {
  test("format fills {placeholders} and blanks the missing ones", () => {
    assert.equal(format("{a} and {b}{c}", { a: 1, b: "two" }), "1 and two");
  });

  test("lookup follows dotted keys, with a fallback", () => {
    assert.equal(lookup(T, "advice.rate_limit"), "Wait, then retry.");
    assert.equal(lookup(T, "advice.nope", "?"), "?");
    assert.equal(lookup(T, "usage.deeper", "?"), "?");
  });
});

describe("message text", () => {
  test("the stats line shows tokens, first token and duration", () => {
    const data = {
      usage: { prompt_tokens: 12, completion_tokens: 40, total_tokens: 52 },
      first_token_ms: 310,
      duration_ms: 2250,
    };
    assert.equal(
      statsLine(data, T),
      "Tokens: 12 prompt · 40 completion · 52 total · First token after 310 ms · Total 2.3 s",
    );
    assert.equal(statsLine({ usage: null, first_token_ms: null }, T), "");
  });

  test("notes: flags and the length limit; stats only once the reply ended", () => {
    const data = { status: "streaming", finish_reason: "length", output_sensitive: true, duration_ms: 1000 };
    assert.deepEqual(noteLines(data, T), [["note", "Cut short."], ["note flag", "Output flagged."]]);
    assert.deepEqual(noteLines({ ...data, status: "complete" }, T).at(-1), ["stats", "Total 1.0 s"]);
  });

  test("badges for the statuses worth a badge", () => {
    assert.deepEqual(badgeFor("stopped", T), { className: "badge badge-stopped", text: "Stopped" });
    assert.equal(badgeFor("complete", T), null);
    assert.equal(badgeFor("streaming", T), null);
  });

  test("an error says what happened, the stored detail, and what to do: each once", () => {
    const generic = { error: { kind: "rate_limit", message: "Too many requests." } };
    const withDetail = {
      error: { kind: "rate_limit", message: "Too many requests. (rpm exceeded) [MiniMax 1002]" },
    };
    const specific = { error: { kind: "timeout", message: "No first token in 90 s." } };
    assert.deepEqual(errorSummary(generic, T), {
      kind: "rate_limit",
      title: "Rate limited.",
      detail: null,
      advice: "Wait, then retry.",
    });
    // The headline is not repeated in the detail: only what MiniMax added.
    assert.equal(errorSummary(withDetail, T).detail, "rpm exceeded [MiniMax 1002]");
    assert.equal(errorSummary(specific, T).detail, "No first token in 90 s.");
    assert.equal(errorSummary(specific, T).advice, "Retry.");
    // Nor the advice the headline carries.
    const timeout = { error: { kind: "timeout", message: "No first token in 3 s. Timed out." } };
    assert.equal(errorSummary(timeout, T).detail, "No first token in 3 s.");
    assert.equal(errorSummary({ error: null }, T).title, "The reply failed.");
  });

  test("usage shows what the dialect reports, never a dash", () => {
    assert.equal(
      usageText({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }, T),
      "Tokens: 3 prompt · 4 completion · 7 total",
    );
    // The pro API reports a total only.
    assert.equal(usageText({ prompt_tokens: null, completion_tokens: null, total_tokens: 9 }, T), "Tokens: 9 total");
    assert.equal(usageText(null, T), "");
    assert.doesNotMatch(statsLine({ usage: { total_tokens: 9 }, duration_ms: 1000 }, T), /–/);
  });

  test("a message's time: the clock today, the date before, the full date to hover", () => {
    const now = new Date("2026-03-04T15:00:00Z");
    const today = timeLabel("2026-03-04T09:05:00Z", "en-GB", now);
    assert.match(today.short, /^\d\d:05$/);
    assert.match(today.full, /2026/);
    assert.match(timeLabel("2026-01-02T09:05:00Z", "en-GB", now).short, /Jan/);
    assert.equal(timeLabel(null, "en"), null);
  });

  test("thinking: a streaming reply with nothing to show yet", () => {
    assert.equal(isThinking({ status: "streaming", content: "", reasoning: "" }), true);
    assert.equal(isThinking({ status: "streaming", content: "", reasoning: "Hm" }), false);
    assert.equal(isThinking({ status: "streaming", content: "A", reasoning: "" }), false);
    assert.equal(isThinking({ status: "error", content: "", reasoning: "" }), false);
  });

  test("the model card: API, context, longest reply, features", () => {
    const spec = {
      dialect_labels: { pro: "chatcompletion_pro" },
      context_label: "240K",
      max_output_tokens: 2048,
      features: [],
    };
    assert.deepEqual(modelFacts(spec, "pro", T), [
      ["API", "chatcompletion_pro"],
      ["Context", "240K tokens"],
      ["Longest reply", "2048 tokens"],
      ["Supports", "plain chat"],
    ]);
  });

  test("the speak link names the message", () => {
    assert.equal(speakHref(42), "/speech/?message=42");
  });

  test("a sidebar title is the first message on one line, at most 60 characters", () => {
    assert.equal(titleFrom("  Hello\n\n  there  "), "Hello there");
    assert.equal(titleFrom("x".repeat(100)).length, 60);
  });
});

describe("checkSettings", () => {
  const spec = {
    id: "MiniMax-Text-01",
    default_dialect: "v2",
    max_output_tokens: 2048,
    supports_json_schema: true,
  };

  test("empty fields take the defaults", () => {
    const { values, errors } = checkSettings({}, spec, T);
    assert.deepEqual(errors, {});
    assert.equal(values.dialect, "v2");
    assert.equal(values.temperature, null);
    assert.equal(values.max_tokens, null);
  });

  test("out of range and unparsable fields are errors, as the server says", () => {
    const { errors } = checkSettings(
      { temperature: "0", top_p: "1.5", max_tokens: "4096", json_schema: "{nope" },
      spec,
      T,
    );
    assert.deepEqual(errors, {
      temperature: ["Between 0 and 1."],
      top_p: ["Between 0 and 1."],
      max_tokens: ["From 1 to 2048."],
      json_schema: ["Not JSON."],
    });
  });

  test("valid values are converted", () => {
    const { values } = checkSettings(
      { temperature: "0.7", max_tokens: "100", json_schema: '{"name": "x"}', bot_name: " Bo " },
      spec,
      T,
    );
    assert.equal(values.temperature, 0.7);
    assert.equal(values.max_tokens, 100);
    assert.deepEqual(values.json_schema, { name: "x" });
    assert.equal(values.bot_name, "Bo");
  });

  test("a model without JSON schema ignores the field", () => {
    const { values, errors } = checkSettings(
      { json_schema: "{nope" },
      { ...spec, supports_json_schema: false },
      T,
    );
    assert.deepEqual(errors, {});
    assert.equal(values.json_schema, null);
  });
});

describe("socket", () => {
  test("the URL follows the page's scheme", () => {
    assert.equal(socketURL({ protocol: "https:", host: "chat.example" }, 5), "wss://chat.example/ws/conversations/5/");
    assert.equal(socketURL({ protocol: "http:", host: "127.0.0.1:8000" }, 5), "ws://127.0.0.1:8000/ws/conversations/5/");
  });

  test("the reconnect wait doubles to at most 15 s, with jitter around it", () => {
    assert.deepEqual(nextWait(500, () => 0.5), { wait: 500, backoff: 1000 });
    assert.equal(nextWait(500, () => 0).wait, 375);
    assert.equal(nextWait(12_000, () => 1).backoff, 15_000);
  });
});
