// The control API as the dashboard calls it. The session is an HttpOnly cookie set by
// POST /v1/login, so scripts never see it: the browser sends it on every same-origin fetch,
// and the only sign that it is missing or expired is a 401, which is turned into one
// "unauthorized" event that app.js answers by going back to login.html.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;  // the parsed answer when there was one (validate/apply carry errors)
  }
}

const listeners = new Set();

// fn() runs whenever an answer is 401, whichever call got it.
export function onUnauthorized(fn) {
  listeners.add(fn);
}

// One call; resolves to the parsed JSON body, rejects with ApiError. `body` is sent as
// JSON unless it is a string (the config endpoints take the YAML text as it is).
export async function call(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {}, cache: 'no-store' };
  if (body !== undefined) {
    if (typeof body === 'string') {
      init.body = body;
      init.headers['Content-Type'] = 'application/yaml';
    } else {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `shoald unreachable: ${e.message}`);
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;  // not JSON: a proxy's page, say; the status tells the rest
    }
  }
  if (response.status === 401 && path !== '/v1/login') {
    for (const fn of listeners) fn();
  }
  if (!response.ok) {
    const message = data && typeof data.error === 'string'
      ? data.error
      : `HTTP ${response.status} ${response.statusText}`.trim();
    throw new ApiError(response.status, message, data);
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);

export function backendPath(service, backend, op) {
  return `/v1/services/${encodeURIComponent(service)}/backends/${encodeURIComponent(backend)}/${op}`;
}
