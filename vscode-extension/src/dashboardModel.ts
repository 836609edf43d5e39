// The analytics dashboard's content, from whatever the daemon answered. Pure: unit-tested.
//
// Each source is optional: a daemon without an analytics method answers -32601 and the
// dashboard falls back to the latencies this window measured itself.

import { barChart, esc, fmt, gauge, histogramChart, lineChart, seriesColor, type BarDatum, type Series } from "./charts";
import { histogram, summarize, type SampleLog } from "./stats";

export type Fetched<T> = { ok: true; value: T } | { ok: false; missing: boolean; error?: string };

export interface DashboardData {
  providers: Fetched<any>;
  stats: Fetched<any>;
  performance: Record<string, Fetched<any>>;
  compare: Fetched<any>;
  health: Fetched<any>;
  /** `dspex/cost`: `{total, byProvider: {name: {total, requests}}, ...}` */
  cost?: Fetched<any>;
  samples: SampleLog;
  /** earlier performance answers, for p50/p95 over time: provider → [{at, p50, p95}] */
  history: Record<string, { at: number; p50: number; p95: number }[]>;
  generatedAt: number;
}

type Obj = Record<string, any>;

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : NaN;
}

/** `[name, object]` pairs from an array of `{provider|name, ...}` or a map `{name: {...}}`. */
export function entries(x: unknown, key = "providers"): [string, Obj][] {
  if (x && typeof x === "object" && !Array.isArray(x) && key in (x as Obj)) x = (x as Obj)[key];
  if (Array.isArray(x)) {
    return x
      .filter((v) => v && typeof v === "object")
      .map((v: Obj) => [String(v.provider ?? v.name ?? v.id ?? "?") + (v.model && v.provider ? `/${v.model}` : ""), v]);
  }
  if (x && typeof x === "object") {
    return Object.entries(x as Obj).filter(([, v]) => v && typeof v === "object") as [string, Obj][];
  }
  return [];
}

function pick(o: Obj | undefined, ...names: string[]): number {
  for (const n of names) if (o && typeof o[n] === "number") return o[n];
  return NaN;
}

/** Latency distribution per provider: the daemon's samples if it returned them, else ours. */
function latencySection(d: DashboardData, names: string[]): string {
  const charts = names.map((name, i) => {
    const perf = d.performance[name];
    const theirs = perf?.ok && Array.isArray(perf.value?.samples) ? (perf.value.samples as unknown[]).map(num).filter(Number.isFinite) : [];
    const values = theirs.length ? theirs : d.samples.latencies(name);
    if (!values.length) return "";
    return `<figure>${histogramChart(`${name} latency distribution`, histogram(values, 12), "ms", seriesColor(i))}<figcaption>${esc(name)} latency (${values.length} samples)</figcaption></figure>`;
  });
  return section("Latency distribution", charts.join("") || `<p class="muted">No requests yet: start a chat.</p>`);
}

function percentilesTable(d: DashboardData, names: string[]): { rows: string; bars: BarDatum[] } {
  const bars: BarDatum[] = [];
  const rows = names.map((name, i) => {
    const perf = d.performance[name];
    const statsLatency = d.stats.ok ? new Map(entries(d.stats.value)).get(name)?.latencyMs : undefined;
    const p = perf?.ok && Number.isFinite(pick(perf.value, "p50")) ? (perf.value as Obj) : Number.isFinite(pick(statsLatency, "p50")) ? (statsLatency as Obj) : undefined;
    const local = summarize(d.samples.latencies(name));
    const src = p ? "daemon" : "this window";
    const count = p ? pick(p, "count") : local.count;
    const p50 = p ? pick(p, "p50") : local.p50;
    const p95 = p ? pick(p, "p95") : local.p95;
    const mean = p ? pick(p, "mean") : local.mean;
    const stability = p ? pick(p, "stabilityScore") : NaN;
    bars.push({ label: name, value: p50, color: seriesColor(i), note: `p95 ${fmt(p95)} ms` });
    return `<tr><td>${esc(name)}</td><td>${fmt(count)}</td><td>${fmt(mean, 1)}</td><td>${fmt(p50, 1)}</td><td>${fmt(p95, 1)}</td><td>${Number.isFinite(stability) ? fmt(stability, 2) : "–"}</td><td class="muted">${src}</td></tr>`;
  });
  return { rows: rows.join(""), bars };
}

function overTime(d: DashboardData, names: string[]): string {
  const series: Series[] = [];
  names.forEach((name, i) => {
    // The daemon's snapshots once there are a few; until then this window's rolling percentiles.
    const hist = (d.history[name]?.length ?? 0) >= 3 ? d.history[name] : d.samples.rollingPercentiles(name);
    if (!hist.length) return;
    series.push({ name: `${name} p50`, color: seriesColor(i), points: hist.map((h) => ({ x: h.at, y: h.p50 })) });
    series.push({ name: `${name} p95`, color: seriesColor(i), dashed: true, points: hist.map((h) => ({ x: h.at, y: h.p95 })) });
  });
  return lineChart("p50 and p95 latency over time", series, "ms");
}

/** Success rate per provider: daemon stats when present, else this window's requests. */
function successRates(d: DashboardData, names: string[]): BarDatum[] {
  const stats = d.stats.ok ? entries(d.stats.value) : [];
  const byName = new Map(stats);
  return names.map((name, i) => {
    const s = byName.get(name);
    const made = pick(s, "requestsMade", "requests", "total");
    const ok = pick(s, "requestsSuccessful", "successes", "ok");
    const perf = d.performance[name];
    const rate = Number.isFinite(pick(s, "successRate")) ? pick(s, "successRate") : perf?.ok ? pick(perf.value, "successRate") : NaN;
    const value = Number.isFinite(rate) ? rate : made > 0 && Number.isFinite(ok) ? ok / made : d.samples.successRate(name);
    return { label: name, value, color: seriesColor(i) };
  });
}

function costs(d: DashboardData, names: string[]): BarDatum[] {
  const stats = d.stats.ok ? new Map(entries(d.stats.value)) : new Map<string, Obj>();
  const byProvider: Obj = d.cost?.ok ? (d.cost.value as Obj)?.byProvider ?? {} : {};
  return names.map((name, i) => {
    let value = pick(byProvider[name], "total");
    if (!Number.isFinite(value)) value = pick(stats.get(name), "costUsd", "totalCost", "cost");
    if (!Number.isFinite(value)) {
      const mine = d.samples.all().filter((s) => s.provider === name && typeof s.cost === "number");
      value = mine.length ? mine.reduce((a, s) => a + (s.cost ?? 0), 0) : 0;
    }
    return { label: name, value, color: seriesColor(i) };
  });
}

function healthSection(d: DashboardData, names: string[], rates: BarDatum[]): string {
  const health = d.health.ok ? new Map(entries(d.health.value)) : new Map<string, Obj>();
  const rows = names.map((name, i) => {
    const h = health.get(name);
    const score = pick(h, "score", "healthScore", "health");
    const status = h ? String(h.status ?? (h.healthy === false ? "unhealthy" : h.healthy === true ? "healthy" : "")) : "";
    const anomalies = Array.isArray(h?.anomalies) ? h!.anomalies.length : NaN;
    const circuit = d.stats.ok ? new Map(entries(d.stats.value)).get(name)?.circuit?.state : h?.breaker;
    const active = Array.isArray(h?.active) && h!.active.length ? ` (${h!.active.join(", ")})` : "";
    const value = status === "unknown" ? NaN : Number.isFinite(score) ? (score > 1 ? score / 100 : score) : rates[i]?.value ?? NaN;
    return `<tr><td>${esc(name)}</td><td>${gauge(`${name} health`, value)}</td><td>${esc((status || (Number.isFinite(value) ? "from success rate" : "unknown")) + active)}</td><td>${esc(circuit ?? "–")}</td><td>${Number.isFinite(anomalies) ? anomalies : "–"}</td></tr>`;
  });
  const note = d.health.ok ? "" : `<p class="muted">${d.health.missing ? "The daemon has no health analytics yet (dspex/analytics/health); showing the success rate." : esc(d.health.error ?? "")}</p>`;
  return section("Health", `<table><thead><tr><th>provider</th><th>health</th><th>status</th><th>circuit</th><th>anomalies</th></tr></thead><tbody>${rows.join("")}</tbody></table>${note}`);
}

/** The comparison/recommendation: the daemon's when present, else the fastest by p50 here. */
function comparison(d: DashboardData, bars: BarDatum[]): string {
  if (d.compare.ok) {
    const c = d.compare.value as Obj;
    const rec = c.recommendation ?? c.recommended ?? c.best ?? c.winner;
    const reason = rec && typeof rec === "object" ? rec.reason : c.reason;
    const recName = rec && typeof rec === "object" ? rec.provider ?? rec.name ?? JSON.stringify(rec) : rec;
    const recText = recName ? `${recName}${reason ? ` — ${reason}` : ""}` : `none${reason ? ` — ${reason}` : ""}`;
    const ranked = entries(c.rankings ?? c.ranking ?? c.providers ?? c.results ?? [], "");
    const rankBars = ranked.map(([name, v], i) => ({ label: name, value: pick(v, "meanLatencyMs", "p50", "meanMs", "mean", "score"), color: seriesColor(i), note: v.sufficient === false ? "not enough samples" : undefined }));
    const confident = typeof c.confident === "boolean" ? `<p class="muted">${c.confident ? "Statistically confident." : "Not confident yet (too few samples or no significant difference)."}</p>` : "";
    const pairs = Array.isArray(c.pairs) && c.pairs.length
      ? `<table><thead><tr><th>pair</th><th>latency</th><th>success</th><th>cost</th></tr></thead><tbody>${c.pairs.slice(0, 10).map((p: Obj) => `<tr><td>${esc(p.a)} vs ${esc(p.b)}</td><td title="${esc(p.latency?.reason ?? "")}">${esc(verdict(p.latency?.verdict, p.a, p.b))}</td><td title="${esc(p.success?.reason ?? "")}">${esc(verdict(p.success?.verdict, p.a, p.b))}</td><td title="${esc(p.cost?.reason ?? "")}">${esc(verdict(p.cost?.verdict, p.a, p.b))}</td></tr>`).join("")}</tbody></table>`
      : "";
    return section("Comparison", `<p class="rec">Recommended: <b>${esc(recText)}</b></p>${confident}${rankBars.length ? barChart("mean latency by rank (ms)", rankBars, "ms") : ""}${pairs}`);
  }
  const ranked = bars.filter((b) => Number.isFinite(b.value)).sort((a, b) => a.value - b.value);
  const text = ranked.length ? `Fastest here by median latency: <b>${esc(ranked[0].label)}</b> (${fmt(ranked[0].value, 1)} ms)` : "Not enough data to compare yet.";
  const note = d.compare.missing ? `<p class="muted">The daemon's statistical comparison (dspex/analytics/compare) is not available; this ranking is by the median of this window's requests.</p>` : "";
  return section("Comparison", `<p class="rec">${text}</p>${note}`);
}

function verdict(v: unknown, a: string, b: string): string {
  if (v === "a_better") return `${a} better`;
  if (v === "b_better") return `${b} better`;
  if (v === "no_significant_difference") return "no significant difference";
  if (v === "insufficient_data") return "not enough data";
  return v ? String(v) : "–";
}

function section(title: string, body: string): string {
  return `<section><h2>${esc(title)}</h2>${body}</section>`;
}

/** Providers worth showing: configured ones, those with stats or samples. */
export function providerNames(d: DashboardData): string[] {
  const names = new Set<string>();
  if (d.providers.ok) for (const [name, p] of entries(d.providers.value)) if (p.configured) names.add(name);
  if (d.stats.ok) for (const [name] of entries(d.stats.value)) if (!name.includes("/")) names.add(name);
  for (const name of d.samples.providers()) names.add(name);
  for (const name of Object.keys(d.performance)) if (d.performance[name].ok) names.add(name);
  return [...names].sort();
}

export function renderDashboard(d: DashboardData): string {
  const names = providerNames(d);
  const { rows, bars } = percentilesTable(d, names);
  const rates = successRates(d, names);
  const missing = ["stats", "compare", "health"].filter((k) => {
    const f = d[k as "stats" | "compare" | "health"];
    return !f.ok && f.missing;
  });
  const perfMissing = Object.values(d.performance).some((f) => !f.ok && f.missing);
  const banner = missing.length || perfMissing
    ? `<p class="muted banner">Not in this daemon yet: ${[...(perfMissing ? ["analytics/performance"] : []), ...missing.map((m) => (m === "stats" ? "stats" : `analytics/${m}`))].map(esc).join(", ")}. Charts use this window's own measurements where needed.</p>`
    : "";
  return `<header><h1>DSPex analytics</h1><span class="muted">updated ${esc(new Date(d.generatedAt).toLocaleTimeString())}</span> <button id="refresh">Refresh</button></header>${banner}` +
    `<div class="grid">` +
    section("Latency percentiles", `${barChart("median latency per provider", bars, "ms")}<table><thead><tr><th>provider</th><th>n</th><th>mean</th><th>p50</th><th>p95</th><th>stability</th><th>source</th></tr></thead><tbody>${rows}</tbody></table>`) +
    section("p50 / p95 over time", overTime(d, names)) +
    latencySection(d, names) +
    section("Success rate", barChart("success rate per provider", rates.map((r) => ({ ...r, value: Number.isFinite(r.value) ? r.value * 100 : NaN })), "%", { max: 100 })) +
    section("Cost (USD)", barChart("cost per provider (USD)", costs(d, names), "")) +
    healthSection(d, names, rates) +
    comparison(d, bars) +
    `</div>`;
}
