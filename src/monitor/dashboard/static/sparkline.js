// A row's "last hour": response times as a uPlot line over the last hour (or less, when the
// server has less data), so gaps (failures, pauses) show where they happened. uPlot styles
// its elements through the CSSOM, which the page's CSP (style-src 'self') allows; it sets
// no style attributes.
/* global uPlot */
import { timeRange, valueRange } from './scale.js';

const WINDOW_S = 3600;
const WIDTH = 140;
const HEIGHT = 32;

export class Sparkline {
  #window = [0, 1];

  constructor(parent) {
    this.plot = new uPlot(
      {
        width: WIDTH,
        height: HEIGHT,
        pxAlign: false,
        cursor: { show: false },
        legend: { show: false },
        select: { show: false },
        padding: [2, 0, 2, 0],
        scales: {
          x: { time: false, range: () => this.#window },
          y: { range: (_u, min, max) => valueRange(min, max) },
        },
        axes: [{ show: false }, { show: false }],
        series: [
          {},
          { stroke: '#2f6fdf', fill: 'rgba(47, 111, 223, 0.12)', width: 1.25, points: { show: false }, spanGaps: false },
          // Failed checks: red dots on the baseline.
          { stroke: '#c62828', width: 0, points: { show: true, size: 4, stroke: '#c62828', fill: '#c62828' } },
        ],
      },
      [[], [], []],
      parent,
    );
  }

  /** `points`: [{t: epoch ms, ms: response time, null for a failed check}] oldest first. */
  update(points, now = Date.now()) {
    this.#window = timeRange(points, now, WINDOW_S);
    this.plot.setData([points.map((p) => p.t / 1000), points.map((p) => p.ms), points.map((p) => (p.ms === null ? 0 : null))]);
  }

  destroy() {
    this.plot.destroy();
  }
}
