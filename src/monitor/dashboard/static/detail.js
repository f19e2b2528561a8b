// One server's view, opened from its name: a chart over a chosen range (the last hour from
// the results the page holds; 24 h to 90 days from the history API's buckets), a heartbeat
// bar of the last 50 checks (a tick each, the error on hover), and the latest results.
// The chart's time axis spans the data there is, not the whole range.
/* global uPlot */
import { milliseconds } from './format.js';
import { timeRange, valueRange } from './scale.js';

const WINDOW_S = 3600;
const RESULTS = 15;
const BEATS = 50;
export const RANGES = ['1h', '24h', '7d', '30d', '90d'];

export class Detail {
  #window = [0, 1];
  #plot = null;
  /** Results fetched on open (the last 50), merged with the live ones the page holds. */
  #fetched = [];
  #live = [];
  #range = '1h';
  #history = null;
  #request = 0;

  /** `load(path)`: the session's GET of an API path, resolving to its JSON. */
  constructor(dialog, load) {
    this.dialog = dialog;
    this.load = load;
    this.serverId = null;
    for (const button of dialog.querySelectorAll('[data-range]')) {
      button.addEventListener('click', () => this.setRange(button.dataset.range));
    }
  }

  get open() {
    return this.dialog.open && this.serverId !== null;
  }

  show(server, points, now = Date.now()) {
    const changed = this.serverId !== server.id;
    this.serverId = server.id;
    this.dialog.querySelector('h2').textContent = server.name;
    if (!this.dialog.open) this.dialog.showModal();
    this.#plot ??= this.#create();
    if (changed) {
      this.#fetched = [];
      this.#history = null;
      this.#range = '1h';
    }
    this.#markRange();
    this.update(points, now);
    this.#fetchRecent(server.id);
    if (this.#range !== '1h') void this.setRange(this.#range);
  }

  close() {
    this.serverId = null;
    if (this.dialog.open) this.dialog.close();
  }

  async setRange(range) {
    if (!RANGES.includes(range) || this.serverId === null) return;
    this.#range = range;
    this.#markRange();
    const id = this.serverId;
    const request = ++this.#request;
    if (range === '1h') {
      this.#history = null;
      return this.#draw();
    }
    this.dialog.dataset.loading = 'true';
    try {
      const body = await this.load(`servers/${id}/history/?range=${range}`);
      if (request !== this.#request || id !== this.serverId) return;
      this.#history = body;
      this.#draw();
    } catch {
      // The chart keeps what it shows; the next choice tries again.
    } finally {
      if (request === this.#request) delete this.dialog.dataset.loading;
    }
  }

  #markRange() {
    this.dialog.dataset.range = this.#range;
    for (const button of this.dialog.querySelectorAll('[data-range]')) {
      button.setAttribute('aria-pressed', String(button.dataset.range === this.#range));
    }
  }

  async #fetchRecent(id) {
    try {
      const body = await this.load(`ping-results/?server_id=${id}&page_size=${BEATS}`);
      if (id !== this.serverId) return;
      this.#fetched = body.results.map((p) => ({
        id: p.id,
        t: Date.parse(p.check_timestamp),
        ms: p.status === 'success' ? p.response_time : null,
        status: p.status,
        error: p.error_message,
      }));
      this.#drawBeats();
    } catch {
      // The live results alone fill the bar.
    }
  }

  #create() {
    const chart = this.dialog.querySelector('.detail-chart');
    const width = Math.max(280, Math.min(640, chart.clientWidth || 640));
    return new uPlot(
      {
        width,
        height: 200,
        cursor: { drag: { x: false, y: false } },
        legend: { show: true },
        scales: {
          x: { time: true, range: () => this.#window },
          y: { range: (_u, min, max) => valueRange(min, max) },
        },
        axes: [{}, { values: (_u, ticks) => ticks.map((t) => milliseconds(t)), size: 60 }],
        series: [
          {},
          {
            label: 'Response',
            stroke: '#2f6fdf',
            fill: 'rgba(47, 111, 223, 0.12)',
            width: 1.5,
            spanGaps: false,
            value: (_u, v) => milliseconds(v),
          },
          { label: 'p95', stroke: '#7c3aed', width: 1, dash: [4, 3], spanGaps: false, value: (_u, v) => milliseconds(v) },
          {
            label: 'Failed',
            stroke: '#c62828',
            width: 0,
            points: { show: true, size: 5, stroke: '#c62828', fill: '#c62828' },
            value: (_u, v) => (v === null ? '' : 'yes'),
          },
        ],
      },
      [[], [], [], []],
      chart,
    );
  }

  /** `points`: [{t, ms, status, error}] oldest first, the live results of the last hour. */
  update(points, now = Date.now()) {
    if (!this.#plot) return;
    this.#live = points;
    this.#now = now;
    if (this.#range === '1h') this.#draw();
    this.#drawBeats();
    this.#drawResults();
  }

  #now = Date.now();

  #draw() {
    const chart = this.dialog.querySelector('.detail-chart');
    const end = this.#now / 1000;
    let data;
    if (this.#range === '1h' || !this.#history) {
      const points = this.#live;
      // Scaled to the data there is: a server checked for ten minutes shows ten minutes.
      this.#window = timeRange(points, this.#now, WINDOW_S);
      data = [
        points.map((p) => p.t / 1000),
        points.map((p) => p.ms),
        points.map(() => null),
        points.map((p) => (p.ms === null ? 0 : null)),
      ];
    } else {
      const buckets = this.#history.buckets;
      const size = this.#history.bucket_seconds;
      const first = buckets.length > 0 ? Date.parse(buckets[0].start) / 1000 : end - size;
      this.#window = [first, Math.max(end, first + size)];
      data = [
        buckets.map((b) => Date.parse(b.start) / 1000),
        buckets.map((b) => b.avg_response_time),
        buckets.map((b) => b.p95_response_time),
        buckets.map((b) => (b.uptime !== null && b.uptime < 100 ? 0 : null)),
      ];
    }
    this.#plot.setData(data);
    chart.dataset.points = String(data[0].length);
    chart.dataset.from = new Date(this.#window[0] * 1000).toISOString();
  }

  /** The last 50 checks: fetched on open, then the live ones as they come. */
  #beats() {
    const byKey = new Map();
    for (const p of [...this.#fetched, ...this.#live]) byKey.set(p.id ?? `${p.t}`, p);
    return [...byKey.values()].sort((a, b) => a.t - b.t).slice(-BEATS);
  }

  #drawBeats() {
    const ticks = this.#beats().map((p) => {
      const tick = document.createElement('span');
      tick.className = `tick tick-${p.status}`;
      const when = new Date(p.t).toLocaleString();
      const what =
        p.status === 'success' ? (p.ms === null ? 'success' : milliseconds(p.ms)) : `${p.status}${p.error ? `: ${p.error}` : ''}`;
      tick.title = `${when} — ${what}`;
      tick.setAttribute('role', 'listitem');
      tick.setAttribute('aria-label', tick.title);
      return tick;
    });
    this.dialog.querySelector('.heartbeat').replaceChildren(...ticks);
  }

  #drawResults() {
    const rows = this.#live
      .slice(-RESULTS)
      .reverse()
      .map((p) => {
        const tr = document.createElement('tr');
        tr.dataset.status = p.status;
        for (const [text, className] of [
          [new Date(p.t).toLocaleTimeString(), ''],
          [p.status, `result-${p.status}`],
          [p.ms === null ? '—' : milliseconds(p.ms), 'num'],
          [p.error ?? '', 'error'],
        ]) {
          const td = document.createElement('td');
          td.textContent = text;
          if (className) td.className = className;
          tr.append(td);
        }
        return tr;
      });
    this.dialog.querySelector('.detail-results tbody').replaceChildren(...rows);
    this.dialog.querySelector('.detail-empty').hidden = rows.length > 0;
  }
}
