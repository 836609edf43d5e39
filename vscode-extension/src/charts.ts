// Charts as inline SVG strings: no library, no remote resource, theme colours through CSS
// variables (the webview's CSP allows no external anything). Pure: unit-tested in Node.

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return "–";
  if (Math.abs(n) >= 10000) return `${(n / 1000).toFixed(1)}k`;
  return n.toFixed(digits);
}

/** An axis label: integers as such, small values with two significant digits. */
export function tick(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) < 1) return String(Number(v.toPrecision(2)));
  return fmt(v, Number.isInteger(v) ? 0 : 1);
}

const PALETTE = ["var(--vscode-charts-blue)", "var(--vscode-charts-orange)", "var(--vscode-charts-green)", "var(--vscode-charts-purple)", "var(--vscode-charts-red)", "var(--vscode-charts-yellow)"];

export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

export interface BarDatum {
  label: string;
  value: number;
  color?: string;
  note?: string;
}

const W = 360;
const H = 180;
const PAD = { left: 44, right: 10, top: 12, bottom: 34 };

function frame(title: string, body: string, width = W, height = H): string {
  return `<svg class="chart" role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">` +
    `<title>${esc(title)}</title>${body}</svg>`;
}

function axes(width: number, height: number, yMax: number, unit: string): string {
  const x0 = PAD.left;
  const y0 = height - PAD.bottom;
  const ticks = [0, 0.5, 1].map((f) => {
    const y = y0 - f * (y0 - PAD.top);
    return `<line class="grid" x1="${x0}" x2="${width - PAD.right}" y1="${y}" y2="${y}"/>` +
      `<text class="tick" x="${x0 - 4}" y="${y + 3}" text-anchor="end">${esc(tick(yMax * f))}${esc(unit)}</text>`;
  });
  return ticks.join("") + `<line class="axis" x1="${x0}" x2="${x0}" y1="${PAD.top}" y2="${y0}"/><line class="axis" x1="${x0}" x2="${width - PAD.right}" y1="${y0}" y2="${y0}"/>`;
}

/** Vertical bars, one per datum, labelled under the axis. */
export function barChart(title: string, data: readonly BarDatum[], unit = "", opts: { max?: number } = {}): string {
  if (data.length === 0) return emptyChart(title);
  const finite = data.map((d) => (Number.isFinite(d.value) ? d.value : 0));
  const yMax = opts.max ?? niceMax(Math.max(...finite, 0));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / data.length;
  const bw = Math.max(2, Math.min(48, slot * 0.7));
  const bars = data.map((d, i) => {
    const v = finite[i];
    const h = yMax > 0 ? (v / yMax) * plotH : 0;
    const x = PAD.left + i * slot + (slot - bw) / 2;
    const y = PAD.top + plotH - h;
    const label = d.label.length > 12 ? `${d.label.slice(0, 11)}…` : d.label;
    return `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${d.color ?? seriesColor(i)}"><title>${esc(d.label)}: ${esc(fmt(d.value, 2))}${esc(unit)}${d.note ? ` (${esc(d.note)})` : ""}</title></rect>` +
      (data.length <= 12 ? `<text class="label" x="${(x + bw / 2).toFixed(1)}" y="${H - PAD.bottom + 14}" text-anchor="middle">${esc(label)}</text>` : "");
  });
  return frame(title, axes(W, H, yMax, unit) + bars.join(""));
}

/** A histogram: bins as adjacent bars, x labels at both ends. */
export function histogramChart(title: string, bins: readonly { lo: number; hi: number; count: number }[], unit = "ms", color = seriesColor(0)): string {
  if (bins.length === 0) return emptyChart(title);
  const yMax = niceMax(Math.max(...bins.map((b) => b.count)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = plotW / bins.length;
  const bars = bins.map((b, i) => {
    const h = yMax > 0 ? (b.count / yMax) * plotH : 0;
    return `<rect class="bar" x="${(PAD.left + i * bw + 0.5).toFixed(1)}" y="${(PAD.top + plotH - h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${esc(fmt(b.lo))}–${esc(fmt(b.hi))}${esc(unit)}: ${b.count}</title></rect>`;
  });
  const first = bins[0].lo;
  const last = bins[bins.length - 1].hi;
  const labels = `<text class="label" x="${PAD.left}" y="${H - PAD.bottom + 14}">${esc(fmt(first))}${esc(unit)}</text>` +
    `<text class="label" x="${W - PAD.right}" y="${H - PAD.bottom + 14}" text-anchor="end">${esc(fmt(last))}${esc(unit)}</text>`;
  return frame(title, axes(W, H, yMax, "") + bars.join("") + labels);
}

export interface Series {
  name: string;
  points: readonly { x: number; y: number }[];
  color?: string;
  dashed?: boolean;
}

/** Lines over a shared x range (e.g. time), with a legend. */
export function lineChart(title: string, series: readonly Series[], unit = "ms"): string {
  const pts = series.flatMap((s) => s.points.filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x)));
  if (pts.length === 0) return emptyChart(title);
  const xMin = Math.min(...pts.map((p) => p.x));
  const xMax = Math.max(...pts.map((p) => p.x));
  const yMax = niceMax(Math.max(...pts.map((p) => p.y)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + (xMax === xMin ? plotW / 2 : ((x - xMin) / (xMax - xMin)) * plotW);
  const sy = (y: number) => PAD.top + plotH - (yMax > 0 ? (y / yMax) * plotH : 0);
  const lines = series.map((s, i) => {
    const color = s.color ?? seriesColor(i);
    const p = s.points.filter((q) => Number.isFinite(q.y) && Number.isFinite(q.x));
    if (p.length === 0) return "";
    const d = p.map((q, j) => `${j ? "L" : "M"}${sx(q.x).toFixed(1)},${sy(q.y).toFixed(1)}`).join("");
    const dots = p.length === 1 ? `<circle cx="${sx(p[0].x).toFixed(1)}" cy="${sy(p[0].y).toFixed(1)}" r="3" fill="${color}"/>` : "";
    return `<path class="line" d="${d}" stroke="${color}" fill="none" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ""}><title>${esc(s.name)}</title></path>${dots}`;
  });
  const legend = series.map((s, i) => `<g transform="translate(${PAD.left + i * 110},${H - 8})"><rect width="10" height="3" y="-4" fill="${s.color ?? seriesColor(i)}"/><text class="label" x="14" y="0">${esc(s.name.length > 14 ? `${s.name.slice(0, 13)}…` : s.name)}</text></g>`);
  return frame(title, axes(W, H, yMax, unit) + lines.join("") + legend.join(""));
}

/** A horizontal gauge 0..1 (success rate, health score). */
export function gauge(label: string, value: number, good = 0.95, warn = 0.8): string {
  const v = Number.isFinite(value) ? Math.max(0, Math.min(1, value)) : 0;
  const color = !Number.isFinite(value) ? "var(--vscode-disabledForeground)" : v >= good ? "var(--vscode-charts-green)" : v >= warn ? "var(--vscode-charts-yellow)" : "var(--vscode-charts-red)";
  const text = Number.isFinite(value) ? `${(v * 100).toFixed(1)}%` : "–";
  return `<svg class="gauge" role="img" aria-label="${esc(label)} ${esc(text)}" viewBox="0 0 140 22" width="140" height="22">` +
    `<rect class="track" x="0" y="4" width="90" height="14" rx="3"/><rect x="0" y="4" width="${(90 * v).toFixed(1)}" height="14" rx="3" fill="${color}"/>` +
    `<text class="label" x="96" y="16">${esc(text)}</text></svg>`;
}

export function emptyChart(title: string): string {
  return frame(title, `<text class="empty" x="${W / 2}" y="${H / 2}" text-anchor="middle">no data yet</text>`);
}

/** A round axis maximum above `v` (1, 2, 5 × 10^k). */
export function niceMax(v: number): number {
  if (!Number.isFinite(v) || v <= 0) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * exp) return m * exp;
  return 10 * exp;
}
