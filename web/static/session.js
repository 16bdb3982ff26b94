// The signed-in session: the access token and calls to the HTTP API.
const TOKEN_KEY = "urok.token";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "network");
  }
  const reply = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = reply.error ?? {};
    throw new ApiError(
      response.status,
      error.code ?? "http_" + response.status,
      error.message ?? response.statusText,
      Number(response.headers.get("Retry-After") ?? 0),
    );
  }
  return reply;
}
