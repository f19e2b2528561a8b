// The REST API on the same origin, next to the page: /monitor/ → /api/ (or <prefix>/api/ when mounted under a prefix).
const BASE = new URL('../api/', document.baseURI);
// The tokens live in sessionStorage: this tab only, gone when it closes, kept across a reload.
const STORE = 'monitor.session';
// Renew the access token this long before it expires (it lives 5 minutes by default).
const EARLY_MS = 60_000;

/** An API URL (for what fetch does not do: the EventSource of the live updates). */
export function apiUrl(path) {
  return new URL(path, BASE);
}

/** A failed API answer: its status and its DRF-shaped body (`{detail}` or `{field: [messages]}`). */
export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body?.detail === 'string' ? body.detail : `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.body = body ?? {};
  }
}

/** Seconds an access token is valid for, from its own claims (exp − iat: immune to a skewed clock). */
function lifetimeOf(token) {
  try {
    const part = token.split('.')[1].replaceAll('-', '+').replaceAll('_', '/');
    const claims = JSON.parse(atob(part));
    const seconds = Number(claims.exp) - Number(claims.iat);
    return Number.isFinite(seconds) && seconds > 0 ? seconds : 300;
  } catch {
    return 300;
  }
}

async function readJson(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: `The monitor answered ${response.status} ${response.statusText}`.trim() };
  }
}

async function post(path, body) {
  return fetch(new URL(path, BASE), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
    credentials: 'omit',
  });
}

/**
 * A logged-in session: keeps the tokens, renews the access token before it expires,
 * and ends (calling `onEnd`) when the API no longer accepts them.
 */
export class Session {
  #access = null;
  #refresh = null;
  #expiresAt = 0;
  #timer = 0;
  #renewing = null;

  constructor(onEnd) {
    this.onEnd = onEnd;
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE) ?? 'null');
      if (saved && typeof saved.access === 'string' && typeof saved.refresh === 'string') {
        this.#set(saved.access, saved.refresh, Number(saved.expiresAt) || 0);
      }
    } catch {
      sessionStorage.removeItem(STORE);
    }
  }

  get active() {
    return this.#refresh !== null;
  }

  #set(access, refresh, expiresAt) {
    this.#access = access;
    this.#refresh = refresh;
    this.#expiresAt = expiresAt;
    sessionStorage.setItem(STORE, JSON.stringify({ access, refresh, expiresAt }));
    clearTimeout(this.#timer);
    const delay = Math.max(1000, expiresAt - Date.now() - Math.min(EARLY_MS, (expiresAt - Date.now()) / 5));
    this.#timer = setTimeout(() => this.renew().catch(() => {}), delay);
  }

  /** The access token, renewed first when it is about to expire; null when logged out. */
  async token() {
    if (!this.active) return null;
    if (Date.now() >= this.#expiresAt - 5000) await this.renew();
    return this.#access;
  }

  /** Logs in; throws ApiError (401 bad credentials, 400 field errors, 429 throttled). */
  async login(username, password) {
    const response = await post('auth/token/', { username, password });
    const body = await readJson(response);
    if (!response.ok) throw new ApiError(response.status, body);
    this.#set(body.access, body.refresh, Date.now() + lifetimeOf(body.access) * 1000);
  }

  /** Forgets the tokens; `reason` is shown on the login form. */
  end(reason) {
    const was = this.active;
    clearTimeout(this.#timer);
    this.#access = this.#refresh = null;
    sessionStorage.removeItem(STORE);
    if (was) this.onEnd(reason);
  }

  /** A new access token from the refresh token; ends the session when the API refuses it. */
  renew() {
    this.#renewing ??= (async () => {
      try {
        const refresh = this.#refresh;
        if (refresh === null) return false;
        const response = await post('auth/token/refresh/', { refresh });
        const body = await readJson(response);
        if (response.status === 401 || response.status === 400) {
          this.end('Your session has ended: log in again.');
          return false;
        }
        if (!response.ok) throw new ApiError(response.status, body);
        this.#set(body.access, body.refresh ?? refresh, Date.now() + lifetimeOf(body.access) * 1000);
        return true;
      } finally {
        this.#renewing = null;
      }
    })();
    return this.#renewing;
  }

  async #send(method, path, body) {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${this.#access}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(new URL(path, BASE), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  }

  /**
   * Calls the API: resolves to the body of a 2xx answer (null for 204), throws ApiError
   * otherwise. A 401 gets one renewal and one retry; then the session ends.
   */
  async request(method, path, body) {
    if (!this.active) throw new ApiError(401, { detail: 'Not logged in.' });
    if (Date.now() >= this.#expiresAt - 5000) await this.renew();
    let response = await this.#send(method, path, body);
    if (response.status === 401 && (await this.renew())) response = await this.#send(method, path, body);
    const data = await readJson(response);
    if (response.status === 401) this.end('Your session has ended: log in again.');
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** Every page of a list (page_size 500), up to `maxPages` pages. */
  async all(path, params = {}, maxPages = 20) {
    const results = [];
    for (let page = 1; page <= maxPages; page++) {
      const query = new URLSearchParams({ ...params, page_size: '500' });
      if (page > 1) query.set('page', String(page));
      const body = await this.request('GET', `${path}?${query}`);
      results.push(...body.results);
      if (!body.next || results.length >= body.count) break;
    }
    return results;
  }
}
