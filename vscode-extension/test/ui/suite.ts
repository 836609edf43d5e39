// Integration tests inside the real VS Code workbench (code-server), run by test/ui/run.sh.
// The same contract as @vscode/test-electron: `run()` resolves when every test passed.
// UI steps (typing into the chat, clicking Stop, screenshots) are asked of the Playwright
// runner through files in <workspace>/.ui/ (see test/ui/runner.js).

import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import type { DspexApi } from "../../src/extension";

const KEY = "sk-ui-test-4f7c2a9e1b3d5f60";
let seq = 0;

function uiDir(): string | undefined {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const dir = ws ? join(ws, ".ui") : undefined;
  return dir && existsSync(dir) ? dir : undefined;
}

/** Asks the Playwright runner to do something in the page; resolves with its answer. */
async function ui(action: Record<string, unknown>, timeoutMs = 20_000): Promise<any> {
  const dir = uiDir();
  if (!dir) return { skipped: true };
  const id = ++seq;
  writeFileSync(join(dir, `req-${id}.tmp`), JSON.stringify(action));
  renameSync(join(dir, `req-${id}.tmp`), join(dir, `req-${id}.json`));
  const res = join(dir, `res-${id}.json`);
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (existsSync(res)) {
      const answer = JSON.parse(readFileSync(res, "utf8"));
      if (answer.error) throw new Error(`ui ${JSON.stringify(action)}: ${answer.error}`);
      return answer;
    }
    await sleep(100);
  }
  throw new Error(`ui ${JSON.stringify(action)}: no answer from the runner`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const v = await fn();
    if (v) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

let theApi: DspexApi;

/** Changes the mock provider's settings and waits until the daemon has them. */
async function setMock(settings: Record<string, unknown>): Promise<void> {
  const cfg = vscode.workspace.getConfiguration("dspex");
  await cfg.update("providerSettings", { mock: settings }, vscode.ConfigurationTarget.Workspace);
  await theApi.daemon.pushSettings();
  await until("the daemon to have the mock settings", async () => {
    const c = await theApi.daemon.request<any>("dspex/config", {});
    const mock = c.config.providers?.mock ?? {};
    return Object.entries(settings).every(([k, v]) => JSON.stringify(mock[k]) === JSON.stringify(v));
  }, 10_000);
}

type Test = [string, (api: DspexApi) => Promise<void>];

const tests: Test[] = [
  ["the extension activates and the daemon starts", async (api) => {
    await api.daemon.ready(30_000);
    assert.ok(api.daemon.methods().includes("dspex/chat"));
    const cmds = await vscode.commands.getCommands(true);
    for (const id of ["dspex.chat.open", "dspex.askSelection", "dspex.predictSelection", "dspex.selectModel", "dspex.setApiKey", "dspex.showAnalytics", "dspex.showSessions"]) {
      assert.ok(cmds.includes(id), `${id} registered`);
    }
    await until("the status bar to show the provider", () => api.status.item.text.includes("mock"));
  }],

  ["a chat typed into the panel streams into it", async (api) => {
    await setMock({ mode: "fixed", reply: STREAMED_REPLY, chunkSize: 4, latencyMs: 300 });
    // The built-in chat view would share the screenshot; close it.
    await vscode.commands.executeCommand("workbench.action.closeAuxiliaryBar").then(undefined, () => undefined);
    const panel = (await vscode.commands.executeCommand("dspex.chat.open")) as any;
    await until("the chat webview", () => panel.rendered.updates > 0 || uiDir() === undefined, 15_000).catch(() => undefined);
    const typed = await ui({ action: "type", frame: "DSPex Chat", selector: "#input", text: "Tell me about dspex." });
    const clicked = typed.skipped ? undefined : await ui({ action: "click", frame: "DSPex Chat", selector: "#send" });
    if (!clicked) void panel.send("Tell me about dspex.");
    await until("the answer to start streaming", () => panel.busy || panel.transcript.turns.length >= 2);
    await panel.idle();
    const last = panel.transcript.turns.at(-1);
    assert.equal(last.state, "done", `assistant turn ${JSON.stringify(last)}`);
    assert.equal(last.content, STREAMED_REPLY);
    assert.ok(panel.transcript.chunkCount > 10, `streamed in ${panel.transcript.chunkCount} chunks`);
    await until("the webview to show the whole answer", () => panel.rendered.text === STREAMED_REPLY);
    assert.ok(panel.rendered.updates > 3, `the webview re-rendered ${panel.rendered.updates} times while streaming`);
    await ui({ action: "screenshot", name: "vscode-chat.png" });
  }],

  ["Stop cancels the request", async (api) => {
    await setMock({ mode: "fixed", reply: "never shown", latencyMs: 15_000 });
    const panel = api.chatPanel() as any;
    void panel.send("This will be stopped.");
    await until("the request to be in flight", () => panel.busy);
    await sleep(300);
    const clicked = await ui({ action: "click", frame: "DSPex Chat", selector: "#stop" });
    if (clicked.skipped) panel.stop();
    const t0 = Date.now();
    await panel.idle();
    assert.ok(Date.now() - t0 < 5000, "stopped well before the mock's 15 s latency");
    assert.equal(panel.transcript.turns.at(-1).state, "stopped");
    await until("the webview to show it stopped", () => panel.rendered.text === "" || panel.rendered.updates > 0);
    assert.ok(api.log.text().includes("stopped by the user"));
  }],

  ["Ask About Selection sends the selection to the chat", async (api) => {
    await setMock({ mode: "echo", chunkSize: 16 });
    const doc = await vscode.workspace.openTextDocument({ language: "python", content: "def add(a, b):\n    return a + b\n" });
    const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
    editor.selection = new vscode.Selection(0, 0, 1, 16);
    const panel = (await vscode.commands.executeCommand("dspex.askSelection", "What does this do?")) as any;
    assert.ok(panel, "the chat panel opened");
    await until("the answer", () => !panel.busy && panel.transcript.turns.at(-1)?.state === "done");
    assert.match(panel.transcript.turns.at(-1).content, /What does this do\?[\s\S]*return a \+ b/);
  }],

  ["a key set with the command reaches the daemon and never the log", async (api) => {
    // With the client's verbose trace on, every message (the settings with the key too)
    // is written to the output channel: the redactor must catch it.
    await vscode.workspace.getConfiguration("dspex").update("trace.server", "verbose", vscode.ConfigurationTarget.Workspace);
    await sleep(300);
    const ok = await vscode.commands.executeCommand("dspex.setApiKey", "openai", KEY);
    assert.equal(ok, true);
    const cfg = await api.daemon.request<any>("dspex/config", {});
    assert.equal(cfg.config.providers.openai.apiKey, "<redacted>");
    const providers = await api.daemon.request<any>("dspex/providers", {});
    assert.equal(providers.providers.find((p: any) => p.name === "openai").configured, true);
    const settingsJson = vscode.workspace.workspaceFolders ? readFileSync(join(vscode.workspace.workspaceFolders[0].uri.fsPath, ".vscode/settings.json"), "utf8") : "";
    assert.ok(!settingsJson.includes(KEY), "not in settings.json");
    assert.ok(api.log.text().length > 0);
    await until("the trace of the settings notification", () => api.log.text().includes("workspace/didChangeConfiguration"), 5000);
    assert.match(api.log.text(), /"apiKey": ?"<redacted>"/, "the traced settings show the key redacted");
    assert.ok(!api.log.text().includes(KEY), "not in the output channel");
    await vscode.workspace.getConfiguration("dspex").update("trace.server", undefined, vscode.ConfigurationTarget.Workspace);
    // A daemon restart gets the key again through initializationOptions.
  }],

  ["Select Provider and Model updates the settings and the status bar", async (api) => {
    await vscode.commands.executeCommand("dspex.selectModel", "mock", "mock-large");
    assert.equal(vscode.workspace.getConfiguration("dspex").get("model"), "mock-large");
    await api.status.update();
    assert.match(api.status.item.text, /mock\/mock-large/);
    await vscode.commands.executeCommand("dspex.selectModel", "mock", "");
  }],

  ["Predict on Selection answers or says it is not available", async (api) => {
    await setMock({ mode: "fixed", reply: '{"sentiment": "positive"}', chunkSize: 8 });
    const doc = (await vscode.commands.executeCommand("dspex.predictSelection", "text -> sentiment", "I love this editor")) as vscode.TextDocument | undefined;
    if (api.daemon.has("dspex/predict") && api.daemon.methods().includes("dspex/predict")) {
      assert.ok(doc, `a result document (log: ${api.log.text().split("\n").filter((l) => l.includes("predict")).slice(-2).join(" | ")})`);
      assert.match(doc!.getText(), /### sentiment\n\npositive/);
      await vscode.commands.executeCommand("workbench.action.closeSidebar");
      await ui({ action: "screenshot", name: "vscode-predict.png", waitMs: 3000 });
    } else {
      assert.equal(doc, undefined);
      assert.match(api.log.text(), /predict failed: .*not available/);
    }
  }],

  ["Show Sessions lists the daemon's sessions and opens one's history", async (api) => {
    if (!api.daemon.methods().includes("dspex/session/start")) {
      assert.equal(await vscode.commands.executeCommand("dspex.showSessions"), undefined);
      return;
    }
    await setMock({ mode: "echo", chunkSize: 8 });
    const started = await api.daemon.request<any>("dspex/session/start", { provider: "mock", title: "ui test session" });
    await api.daemon.request<any>("dspex/session/chat", { sessionId: started.sessionId, content: "remember the number 42" });
    const doc = (await vscode.commands.executeCommand("dspex.showSessions", started.sessionId)) as vscode.TextDocument | undefined;
    assert.ok(doc, "the session's history opened");
    assert.match(doc!.getText(), /# Session ui test session/);
    assert.match(doc!.getText(), /remember the number 42/);
  }],

  ["the daemon is restarted when it dies, with the key", async (api) => {
    const client = await api.daemon.ready();
    await client.sendNotification("exit");
    await until("the daemon to stop", () => api.daemon.state !== "running", 10_000);
    await until("the daemon to be back", () => api.daemon.state === "running", 30_000);
    await setMock({ mode: "fixed", reply: "back again", chunkSize: 4 });
    const res = await api.daemon.request<any>("dspex/chat", { provider: "mock", messages: [{ role: "user", content: "hi" }] });
    assert.equal(res.choices[0].message.content, "back again");
    const cfg = await api.daemon.request<any>("dspex/config", {});
    assert.equal(cfg.config.providers.openai?.apiKey, "<redacted>", "the key came back with the restart");
    assert.match(api.log.text(), /restarting it/);
  }],

  ["Clear API Key removes the key from the daemon", async (api) => {
    await vscode.commands.executeCommand("dspex.clearApiKey", "openai");
    await api.daemon.ready(30_000);
    const providers = await api.daemon.request<any>("dspex/providers", {});
    assert.equal(providers.providers.find((p: any) => p.name === "openai").configured, false);
    const cfg = await api.daemon.request<any>("dspex/config", {});
    assert.ok(!cfg.config.providers.openai?.apiKey, "no key left in any layer");
  }],

  ["a missing daemon gets a clear message with a fix-it action", async (api) => {
    const cfg = vscode.workspace.getConfiguration("dspex");
    const python = cfg.get<string>("daemon.pythonPath");
    await cfg.update("daemon.pythonPath", "/nonexistent/bin/python3", vscode.ConfigurationTarget.Workspace);
    try {
      await until("the not-installed state", () => api.daemon.state === "not-installed", 20_000);
      await until("the status bar to say so", () => api.status.item.text.includes("not installed"), 5000);
      // Toasts may go straight to the notification centre in a test window: open it.
      await vscode.commands.executeCommand("notifications.showList");
      const seen = await ui({ action: "find", text: "Install with pip" });
      assert.ok(seen.skipped || seen.ok, "the notification offers 'Install with pip'");
      await ui({ action: "screenshot", name: "vscode-not-installed.png" });
      await vscode.commands.executeCommand("notifications.clearAll");
      await vscode.commands.executeCommand("notifications.hideList");
    } finally {
      await cfg.update("daemon.pythonPath", python, vscode.ConfigurationTarget.Workspace);
    }
    await until("the daemon to be back", () => api.daemon.state === "running", 30_000);
  }],

  ["the analytics dashboard draws charts", async (api) => {
    // Three batches at different mock latencies, so that the distribution has a shape.
    for (const latencyMs of [30, 90, 50]) {
      await setMock({ mode: "fixed", reply: "ok", chunkSize: 4, latencyMs });
      for (let i = 0; i < 8; i++) {
        const t0 = Date.now();
        const r = await api.daemon.request<any>("dspex/chat", { provider: "mock", messages: [{ role: "user", content: `q${i}` }] });
        api.samples.add({ at: Date.now(), provider: "mock", model: r.model, latencyMs: r.latencyMs ?? Date.now() - t0, ok: true });
      }
    }
    await vscode.commands.executeCommand("workbench.action.closeSidebar");
    const dash = (await vscode.commands.executeCommand("dspex.showAnalytics")) as any;
    assert.ok(dash?.lastData, "the dashboard collected data");
    await until("the dashboard charts", () => dash.renderedCharts >= 5, 15_000);
    await ui({ action: "screenshot", name: "vscode-dashboard.png" });
  }],
];

const STREAMED_REPLY =
  "dspex is a daemon that speaks JSON-RPC over stdio. This answer arrives a few characters at a time as LSP partial results, and the Stop button cancels the request.";

export async function run(): Promise<void> {
  const ext = vscode.extensions.getExtension<DspexApi>("dspex.dspex");
  assert.ok(ext, "the extension is installed in the development host");
  const api = await ext.activate();
  theApi = api;
  let failed = 0;
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    try {
      await Promise.race([fn(api), sleep(60_000).then(() => Promise.reject(new Error("test timed out after 60 s")))]);
      console.log(`ok - ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      failed++;
      console.log(`not ok - ${name}: ${(err as Error)?.stack ?? err}`);
    }
  }
  console.log(`ui: ${tests.length - failed} passed, ${failed} failed`);
  const dir = uiDir();
  if (dir) writeFileSync(join(dir, "summary.json"), JSON.stringify({ passed: tests.length - failed, failed }));
  if (failed) throw new Error(`${failed} UI test(s) failed`);
}
