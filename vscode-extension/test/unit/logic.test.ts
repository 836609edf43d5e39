import assert from "node:assert/strict";
import { test } from "node:test";
import { Transcript } from "../../src/chatModel";
import { barChart, esc, histogramChart, lineChart, niceMax, tick } from "../../src/charts";
import { buildDaemonSettings, chatOptions, DEFAULT_SETTINGS, installCommand, redactPayload, resolveServerCommand, whichIn, type ExtensionSettings } from "../../src/config";
import { renderDashboard, type DashboardData } from "../../src/dashboardModel";
import { describeError, isCancelled, isMethodNotFound, needsApiKey } from "../../src/errors";
import { formatPrediction, parseSignature, predictParams } from "../../src/predictFormat";
import { Redactor } from "../../src/redact";
import { histogram, percentile, SampleLog, summarize } from "../../src/stats";
import { contentSecurityPolicy, makeNonce, page } from "../../src/webviewHtml";

const settings = (over: Partial<ExtensionSettings> = {}): ExtensionSettings => ({ ...DEFAULT_SETTINGS, ...over, daemon: { ...DEFAULT_SETTINGS.daemon, ...(over.daemon ?? {}) } });

test("daemon settings carry keys from secret storage under providers.<name>.apiKey", () => {
  const { payload, warnings } = buildDaemonSettings({ settings: settings({ provider: "openai", model: "gpt-4o-mini" }), keys: { openai: "sk-test-123456" }, knownProviders: ["openai", "mock"] });
  assert.deepEqual(payload, { dspex: { defaultProvider: "openai", providers: { openai: { apiKey: "sk-test-123456", defaultModel: "gpt-4o-mini" } } } });
  assert.deepEqual(warnings, []);
});

test("a key written in settings.json is dropped with a warning", () => {
  const { payload, warnings } = buildDaemonSettings({ settings: settings({ providerSettings: { mock: { apiKey: "leaked", latencyMs: 50 } } }), keys: {} });
  assert.deepEqual(payload.dspex.providers, { mock: { latencyMs: 50 } });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /never in settings\.json/);
  assert.ok(!warnings[0].includes("leaked"));
});

test("unknown providers are left out so that the daemon does not refuse the whole block", () => {
  const { payload, warnings } = buildDaemonSettings({ settings: settings({ provider: "nope", providerSettings: { bogus: {} } }), keys: { alsobogus: "k" }, knownProviders: ["mock"] });
  assert.deepEqual(payload.dspex, { providers: {} });
  assert.equal(warnings.length, 2);
});

test("telemetry is only sent to a daemon that has the setting", () => {
  assert.equal(buildDaemonSettings({ settings: settings({ telemetry: true }), keys: {} }).payload.dspex.telemetry, undefined);
  assert.equal(buildDaemonSettings({ settings: settings({ telemetry: true }), keys: {}, daemonHasTelemetry: true }).payload.dspex.telemetry, true);
  assert.deepEqual(buildDaemonSettings({ settings: settings({ telemetry: true }), keys: {}, daemonHasTelemetry: "object" }).payload.dspex.telemetry, { enabled: true });
});

test("redactPayload hides keys at any depth", () => {
  const out = JSON.stringify(redactPayload({ dspex: { providers: { openai: { apiKey: "sk-secret-value", baseUrl: "http://x" } } } }));
  assert.ok(!out.includes("sk-secret-value"));
  assert.match(out, /<redacted>/);
  assert.match(out, /http:\/\/x/);
});

test("the daemon command: configured command, then python -m, then dspex-server on PATH", () => {
  const none = () => undefined;
  assert.deepEqual(resolveServerCommand({ command: "/opt/d", args: ["--x"], pythonPath: "/py", env: {} }, none), { command: "/opt/d", args: ["--x"], source: "command" });
  assert.deepEqual(resolveServerCommand({ command: "", args: [], pythonPath: "/venv/bin/python", env: {} }, none), { command: "/venv/bin/python", args: ["-m", "dspex_server"], source: "python" });
  assert.deepEqual(resolveServerCommand({ command: "", args: [], pythonPath: "", env: {} }, (n) => `/usr/bin/${n}`), { command: "/usr/bin/dspex-server", args: [], source: "path" });
  assert.equal(resolveServerCommand({ command: "", args: [], pythonPath: "", env: {} }, none), undefined);
});

test("whichIn finds the first executable on PATH", () => {
  const exe = new Set(["/b/dspex-server", "/c/dspex-server"]);
  assert.equal(whichIn("dspex-server", "/a:/b:/c", (f) => exe.has(f), "linux"), "/b/dspex-server");
  assert.equal(whichIn("dspex-server", "/a", (f) => exe.has(f), "linux"), undefined);
  assert.equal(whichIn("dspex-server", undefined, () => true, "linux"), undefined);
});

test("install command quotes odd interpreter paths", () => {
  assert.equal(installCommand(undefined), "python3 -m pip install -U dspex");
  assert.equal(installCommand("/my venv/bin/python"), "'/my venv/bin/python' -m pip install -U dspex");
});

test("chat options come from settings; empty values are left to the daemon", () => {
  assert.deepEqual(chatOptions(settings()), {});
  assert.deepEqual(chatOptions(settings({ provider: "mock", model: "m", temperature: 0.2 })), { provider: "mock", model: "m", temperature: 0.2 });
});

test("errors: method not found, cancellation, dspex kinds", () => {
  assert.ok(isMethodNotFound({ code: -32601, message: "x" }));
  assert.match(describeError({ code: -32601 }, "dspex/predict"), /dspex\/predict is not available/);
  assert.ok(isCancelled({ code: -32800 }));
  assert.ok(isCancelled({ code: -32001, data: { kind: "cancelled" } }));
  const err = { code: -32008, message: "m", data: { kind: "provider_not_configured", provider: "openai", message: "openai has no API key" } };
  assert.equal(describeError(err), "openai: openai has no API key (run 'DSPex: Set API Key')");
  assert.ok(needsApiKey(err));
  assert.match(describeError({ code: -32602, message: "dspex/chat: invalid params: messages" }), /^Invalid request/);
});

test("the redactor removes known secrets and key-shaped values", () => {
  const r = new Redactor();
  r.add("sk-abcdef123456");
  assert.equal(r.redact("using sk-abcdef123456 now"), "using <redacted> now");
  assert.equal(r.redact('{"apiKey":"other-secret-xyz"}'), '{"apiKey":"<redacted>"}');
  assert.equal(r.redact("apiKey=<redacted>"), "apiKey=<redacted>");
});

test("percentiles interpolate linearly like NumPy's default", () => {
  const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(v, 50), 5.5);
  assert.ok(Math.abs(percentile(v, 95) - 9.55) < 1e-9);
  assert.ok(Number.isNaN(percentile([], 50)));
  const s = summarize([10, 20, 30]);
  assert.deepEqual([s.count, s.mean, s.min, s.max, s.p50], [3, 20, 10, 30, 20]);
});

test("histogram bins cover every value", () => {
  const bins = histogram([1, 2, 2, 3, 10], 3);
  assert.equal(bins.length, 3);
  assert.equal(bins.reduce((a, b) => a + b.count, 0), 5);
  assert.equal(bins[2].count, 1);
  assert.deepEqual(histogram([4, 4], 5), [{ lo: 4, hi: 4, count: 2 }]);
});

test("the sample log stays bounded and computes success rate and rolling percentiles", () => {
  const log = new SampleLog(3);
  for (let i = 0; i < 5; i++) log.add({ at: i, provider: "mock", model: "m", latencyMs: 10 * (i + 1), ok: i !== 4 });
  assert.equal(log.all().length, 3);
  assert.deepEqual(log.latencies("mock"), [30, 40]);
  assert.ok(Math.abs(log.successRate("mock") - 2 / 3) < 1e-9);
  assert.equal(log.rollingPercentiles("mock").length, 2);
});

test("charts are SVG with escaped labels and theme colours", () => {
  const svg = barChart("t", [{ label: "<b>x</b>", value: 3 }], "ms");
  assert.match(svg, /^<svg class="chart"/);
  assert.ok(svg.includes("&lt;b&gt;x&lt;/b&gt;"));
  assert.ok(!svg.includes("<b>"));
  assert.match(svg, /var\(--vscode-charts-blue\)/);
  assert.match(histogramChart("h", histogram([1, 2, 3])), /<rect class="bar"/g);
  assert.match(lineChart("l", [{ name: "p50", points: [{ x: 1, y: 2 }, { x: 2, y: 3 }] }]), /<path class="line" d="M/);
  assert.match(lineChart("l", []), /no data yet/);
  assert.equal(esc(`"&'`), "&quot;&amp;&#39;");
  assert.deepEqual([niceMax(0), niceMax(3), niceMax(120), niceMax(1000)], [1, 5, 200, 1000]);
  assert.deepEqual([tick(0), tick(0.05), tick(2.5), tick(100), tick(25000)], ["0", "0.05", "2.5", "100", "25.0k"]);
});

function data(over: Partial<DashboardData> = {}): DashboardData {
  const samples = new SampleLog();
  for (let i = 0; i < 20; i++) samples.add({ at: i * 1000, provider: "mock", model: "mock-1", latencyMs: 100 + i, ok: i % 10 !== 0 });
  return {
    providers: { ok: true, value: { providers: [{ name: "mock", configured: true }, { name: "openai", configured: false }], defaultProvider: "mock" } },
    stats: { ok: false, missing: true },
    performance: { mock: { ok: false, missing: true } },
    compare: { ok: false, missing: true },
    health: { ok: false, missing: true },
    samples,
    history: {},
    generatedAt: 0,
    ...over,
  };
}

test("the dashboard draws charts from this window's samples when analytics are missing", () => {
  const html = renderDashboard(data());
  assert.ok((html.match(/<svg class="chart"/g) ?? []).length >= 5, "five charts or more");
  assert.match(html, /Not in this daemon yet: analytics\/performance, stats, analytics\/compare, analytics\/health/);
  assert.match(html, /Fastest here by median latency: <b>mock<\/b>/);
  assert.ok(!html.includes("openai<"), "unconfigured providers without data are not shown");
  assert.ok(!/https?:\/\//.test(html), "no remote resources");
});

test("the dashboard uses the daemon's analytics when present", () => {
  // The shapes of the analytics, stats and cost branches' wire models.
  const html = renderDashboard(
    data({
      performance: { mock: { ok: true, value: { source: "window", provider: "mock", count: 42, mean: 12, p50: 11, p95: 30, p99: 40, stabilityScore: 0.9, successRate: 0.95, backend: "numpy" } } },
      compare: {
        ok: true,
        value: {
          pairs: [{ a: "mock", b: "openai", latency: { verdict: "a_better", reason: "Welch p<0.01" }, success: { verdict: "no_significant_difference", reason: "" }, cost: { verdict: "insufficient_data", reason: "" } }],
          rankings: [{ rank: 1, name: "mock", samples: 42, sufficient: true, meanLatencyMs: 12 }, { rank: 2, name: "openai", samples: 40, sufficient: true, meanLatencyMs: 300 }],
          recommendation: "mock",
          reason: "lowest mean latency",
          confident: true,
        },
      },
      health: { ok: true, value: { providers: [{ provider: "mock", configured: true, status: "healthy", score: 0.99, requests: 42, active: [], anomalies: [] }], autoSwitch: false, anomalyThreshold: 3 } },
      stats: { ok: true, value: { totals: {}, providers: [{ provider: "mock", requestsMade: 10, requestsSuccessful: 9, circuit: { state: "closed" }, latencyMs: { count: 9, p50: 10, p95: 20 } }], models: [], sessions: [] } },
      cost: { ok: true, value: { total: { total: 0.5 }, byProvider: { mock: { total: 0.25, requests: 10 } } } },
    }),
  );
  assert.match(html, /Recommended: <b>mock — lowest mean latency<\/b>/);
  assert.match(html, /Statistically confident/);
  assert.match(html, /mock vs openai<\/td><td[^>]*>mock better/);
  assert.match(html, /<td>42<\/td>/);
  assert.match(html, /healthy/);
  assert.match(html, /<td>closed<\/td>/);
  assert.match(html, /aria-label="mock health 99.0%"/);
  assert.match(html, /mock: 0.25/, "the cost bar carries dspex\/cost's total");
  assert.match(html, /mock: 95.00%/, "success rate from analytics/performance");
  assert.ok(!html.includes("Not in this daemon yet"));
});

test("transcript: chunks stream into the assistant turn; the final result wins; stop and fail", () => {
  const t = new Transcript();
  t.addUser("hi");
  t.beginAssistant();
  assert.equal(t.applyChunk({ delta: { content: "Hel" } }), "Hel");
  assert.equal(t.applyChunk({ delta: { content: "lo" } }), "lo");
  assert.equal(t.applyChunk({ delta: {} }), "");
  assert.equal(t.turns[1].content, "Hello");
  assert.equal(t.chunkCount, 2);
  assert.deepEqual(t.messages(), [{ role: "user", content: "hi" }], "a streaming turn is not sent back");
  const turn = t.finish({ choices: [{ message: { content: "Hello!" } }], provider: "mock", model: "m", latencyMs: 12.4, usage: { totalTokens: 3 }, cost: { total: 0.00012 } });
  assert.equal(turn.content, "Hello!");
  assert.equal(turn.meta, "mock/m · 12 ms · 3 tokens · $0.00012");
  assert.equal(t.messages().length, 2);
  t.addUser("again");
  t.beginAssistant();
  t.applyChunk({ delta: { content: "par" } });
  t.stop();
  assert.equal(t.turns.at(-1)!.state, "stopped");
  assert.equal(t.applyChunk({ delta: { content: "late" } }), "", "chunks after Stop are ignored");
  assert.equal(t.messages().length, 3, "a stopped answer is not sent back");
  t.addUser("x");
  t.beginAssistant();
  t.fail("boom");
  assert.equal(t.turns.at(-1)!.meta, "boom");
});

test("signatures: inputs and typed outputs; bad ones refused", () => {
  assert.deepEqual(parseSignature("text, context -> sentiment, confidence: float, tags: list[str]"), {
    inputs: ["text", "context"],
    outputs: [{ name: "sentiment", type: undefined }, { name: "confidence", type: "float" }, { name: "tags", type: "list[str]" }],
  });
  assert.equal(parseSignature("no arrow"), undefined);
  assert.equal(parseSignature("a b -> c"), undefined);
  assert.deepEqual(predictParams("question -> answer", "why?", { provider: "mock" }), { provider: "mock", signature: "question -> answer", inputs: { question: "why?" } });
});

test("the prediction document shows outputs, usage and cost", () => {
  const md = formatPrediction("text -> sentiment, confidence: float", "I love it ```", { outputs: { sentiment: "positive", confidence: 0.9 }, attempts: 1, usage: { totalTokens: 20 }, cost: 0.0001, provider: "mock", model: "m" });
  assert.match(md, /### sentiment\n\npositive/);
  assert.match(md, /```json\n0\.9\n```/);
  assert.match(md, /attempts: 1 · tokens: 20 · cost: \$0\.000100/);
  assert.match(md, /````\nI love it ```\n````/, "the fence is longer than any backtick run in the input");
});

test("webview pages: strict CSP with a nonce, no remote sources", () => {
  const nonce = makeNonce();
  assert.match(nonce, /^[A-Za-z0-9]{16,}$/);
  const csp = contentSecurityPolicy("vscode-webview://abc", nonce);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'`));
  assert.ok(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval") && !csp.includes("https:"));
  const html = page({ title: "t", cspSource: "vscode-webview://abc", nonce, body: "<p>x</p>", script: "1" });
  assert.ok(html.includes(`<script nonce="${nonce}">1</script>`));
  assert.ok(html.includes(`<style nonce="${nonce}">`));
});
