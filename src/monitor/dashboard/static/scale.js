// The charts' axes from the data a server has: a server checked for two minutes gets two
// minutes of x axis, not an hour with its points squeezed against the right edge, and the
// y axis spans its response times rather than 0 to an arbitrary ceiling.

/** Shortest x span, seconds: one or two points still show as points, not as an edge. */
const MIN_SPAN_S = 60;

/** [start, end] in epoch seconds: from the first point (at most `windowS` back) to now. */
export function timeRange(points, now, windowS) {
  const end = now / 1000;
  const first = points.length > 0 ? points[0].t / 1000 : end - windowS;
  return [Math.max(end - windowS, Math.min(first, end - MIN_SPAN_S)), end];
}

/** [low, high] around the values uPlot found, with a tenth of headroom; never below 0. */
export function valueRange(min, max) {
  if (typeof max !== 'number' || !Number.isFinite(max)) return [0, 1];
  const low = typeof min === 'number' && Number.isFinite(min) ? min : 0;
  const pad = Math.max((max - low) * 0.1, max * 0.05, 1);
  return [Math.max(0, low - pad), max + pad];
}
