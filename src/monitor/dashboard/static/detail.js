// One server's last hour, opened from its name: response times with axes, failed checks
// as red dots, and the latest results with their errors. Drawn from the results the
// page already holds (no extra request).
/* global uPlot */
import { milliseconds } from './format.js';
import { timeRange, valueRange } from './scale.js';

const WINDOW_S = 3600;
const RESULTS = 15;

export class Detail {
  #window = [0, 1];
  #plot = null;

  constructor(dialog) {
    this.dialog = dialog;
    this.serverId = null;
  }

  get open() {
    return this.dialog.open && this.serverId !== null;
  }

  show(server, points, now = Date.now()) {
    this.serverId = server.id;
    this.dialog.querySelector('h2').textContent = server.name;
    if (!this.dialog.open) this.dialog.showModal();
    this.#plot ??= this.#create();
    this.update(points, now);
  }

  close() {
    this.serverId = null;
    if (this.dialog.open) this.dialog.close();
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
          {
            label: 'Failed',
            stroke: '#c62828',
            width: 0,
            points: { show: true, size: 5, stroke: '#c62828', fill: '#c62828' },
            value: (_u, v) => (v === null ? '' : 'yes'),
          },
        ],
      },
      [[], [], []],
      chart,
    );
  }

  /** `points`: [{t, ms, status, error}] oldest first. */
  update(points, now = Date.now()) {
    if (!this.#plot) return;
    this.#window = timeRange(points, now, WINDOW_S);
    this.#plot.setData([points.map((p) => p.t / 1000), points.map((p) => p.ms), points.map((p) => (p.ms === null ? 0 : null))]);
    const rows = points
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
