// JSON calls to the site's own API, with Django's CSRF token from its cookie.
// Every page's script uses these; none builds fetch() options by hand.

export class ApiError extends Error {
  constructor(status, message, errors = null) {
    super(message);
    this.status = status;
    // {field: [messages]} for a form that did not validate (HTTP 400).
    this.errors = errors;
  }
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// Call `url`; `json` is sent as the body, `body` (FormData) as it is.
// Resolves with the parsed JSON (null for 204), rejects with ApiError.
export async function apiFetch(url, { method = "GET", json, body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const response = await fetch(url, {
    method,
    headers,
    body,
    signal,
    credentials: "same-origin",
  });
  const type = response.headers.get("Content-Type") || "";
  const data =
    response.status === 204
      ? null
      : type.includes("application/json")
        ? await response.json()
        : await response.text();
  if (!response.ok) {
    const message =
      (data && typeof data === "object" && (data.error || data.detail)) ||
      (typeof data === "string" && data) ||
      response.statusText;
    throw new ApiError(response.status, message, data && data.errors);
  }
  return data;
}
