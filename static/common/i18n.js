// The page's interface text: translated by Django, handed over with
// {{ strings_data|json_script:"strings-data" }}. Placeholders are written {name}.
import { pageData } from "./dom.js";

// Replace each {name} in template with values[name] (missing values become "").
export function format(template, values = {}) {
  return String(template).replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}

// Look up a dotted key ("advice.auth") in strings; the fallback when it is missing.
export function lookup(strings, key, fallback = "") {
  let value = strings;
  for (const part of key.split(".")) {
    if (value === null || typeof value !== "object" || !(part in value)) return fallback;
    value = value[part];
  }
  return value ?? fallback;
}

// The page's strings (the json_script with that id), or {} when there is none.
export function loadStrings(id = "strings-data") {
  return pageData(id) || {};
}
