// Live updates: the monitor's SSE stream (../api/events/status/) through the browser's
// EventSource. EventSource cannot send headers, so the access token goes in `?token=`.
// It reconnects by itself after a dropped connection (sending Last-Event-ID, and the
// server replays what was missed), but gives up on an error answer: most often a 401
// because the token in its URL has expired by then. Then a new EventSource is opened
// with a renewed token and `&last_event_id=`, which a new EventSource cannot send as a header.
// The server also ends a stream when its token expires (or the user loses access), with an
// `unauthorized` event first: then the token is renewed and the stream reopened at once,
// without waiting `retry:` for a reconnect the expired token would get refused.
import { apiUrl } from './api.js';

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

export class LiveStream {
  #source = null;
  #lastId = null;
  #timer = 0;
  #delay = FIRST_RETRY_MS;
  #closed = false;

  /**
   * `handlers`: `status(data)` and `ping(data)` (an array in the first events of a stream,
   * one object after), `server({action, server})` (a server created, changed or removed,
   * by anyone), `state('connecting' | 'open')`.
   */
  constructor(session, handlers) {
    this.session = session;
    this.handlers = handlers;
  }

  start() {
    this.#closed = false;
    this.#open();
  }

  close() {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#source?.close();
    this.#source = null;
  }

  async #open() {
    let token;
    try {
      token = await this.session.token();
    } catch {
      return this.#retry();
    }
    if (this.#closed || token === null) return;
    const url = apiUrl('events/status/');
    url.searchParams.set('token', token);
    if (this.#lastId !== null) url.searchParams.set('last_event_id', this.#lastId);
    const source = new EventSource(url);
    this.#source = source;
    this.handlers.state('connecting');
    source.addEventListener('open', () => {
      this.#delay = FIRST_RETRY_MS;
      this.handlers.state('open');
    });
    const take = (handler) => (message) => {
      if (source !== this.#source) return;
      if (message.lastEventId) this.#lastId = message.lastEventId;
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      handler(data);
    };
    source.addEventListener(
      'status',
      take((data) => this.handlers.status(data)),
    );
    source.addEventListener(
      'ping',
      take((data) => this.handlers.ping(data)),
    );
    source.addEventListener(
      'server',
      take((data) => this.handlers.server(data)),
    );
    // The server drains: the stream ends, and EventSource reconnects by itself after `retry:`.
    source.addEventListener('shutdown', () => this.handlers.state('connecting'));
    // The token expired, or the user lost access: renew now (a refused refresh ends the session).
    source.addEventListener('unauthorized', () => {
      if (source !== this.#source) return;
      source.close();
      this.#source = null;
      this.handlers.state('connecting');
      this.#retry(0);
    });
    source.addEventListener('error', () => {
      if (source !== this.#source) return;
      this.handlers.state('connecting');
      if (source.readyState !== EventSource.CLOSED) return; // reconnecting by itself
      source.close();
      this.#source = null;
      this.#retry();
    });
  }

  /**
   * After an error answer: renew the token (a refused refresh token ends the session), then
   * a new EventSource, after a growing delay (or `delay`).
   */
  #retry(delay) {
    clearTimeout(this.#timer);
    if (delay === undefined) {
      delay = this.#delay;
      this.#delay = Math.min(this.#delay * 2, MAX_RETRY_MS);
    }
    this.#timer = setTimeout(async () => {
      if (this.#closed) return;
      try {
        if (!(await this.session.renew())) return;
      } catch {
        return this.#retry();
      }
      if (!this.#closed) this.#open();
    }, delay);
  }
}
