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
    // The running VS Code decides whether the Language Model API is there; either way it is said.
    const lm = api.languageModels.status;
    if (!lm.available) assert.match(api.log.text(), /Language Model API not available in this VS Code/);
    else assert.match(api.log.text(), /registered with VS Code's Language Model API/);
  }],

  ["a chat typed into the panel streams into it", async (api) => {
    // A delta every 20 ms: the panel re-renders the Markdown as it arrives, throttled.
    await setMock({ mode: "fixed", reply: STREAMED_REPLY, chunkSize: 4, latencyMs: 300, chunkDelayMs: 20 });
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
    assert.ok(panel.rendered.updates < panel.transcript.chunkCount, `throttled: ${panel.rendered.updates} renders for ${panel.transcript.chunkCount} chunks`);
    assert.match(panel.rendered.meta, /^mock\/mock-1 · (\d+ ms|\d+\.\d+ s) · \d+ tokens \(\d+ in, \d+ out\) · \$0\.00$/, `the meta line: model, latency, tokens, cost: ${panel.rendered.meta}`);
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

  ["answers are rendered Markdown: highlighted code, headings, lists, no script; a meta line", async (api) => {
    // The mock echoes the prompt: the answer is the Markdown we send.
    await setMock({ mode: "echo", chunkSize: 16, latencyMs: 50 });
    const panel = (await vscode.commands.executeCommand("dspex.chat.new")) as any;
    assert.equal(panel.transcript.turns.length, 0, "New Chat starts empty");
    const typed = await ui({ action: "type", selector: "#input", text: MARKDOWN_PROMPT });
    if (!typed.skipped) await ui({ action: "click", selector: "#send" });
    else void panel.send(MARKDOWN_PROMPT);
    await until("the answer", () => panel.transcript.turns.at(-1)?.state === "done" && !panel.busy);
    assert.equal(panel.transcript.turns.at(-1).content, MARKDOWN_PROMPT);
    await until("the webview to render it", () => panel.rendered.html.includes("hljs-keyword"));
    const html: string = panel.rendered.html;
    assert.match(html, /<h1>Plan<\/h1>/);
    assert.match(html, /<li>first item<\/li>/);
    assert.match(html, /<pre class="code" data-lang="python"><code class="hljs language-python"><span class="hljs-keyword">def<\/span>/);
    assert.ok(!html.includes("```"), "no literal backticks");
    assert.ok(!/<script/i.test(html), "the answer's script tag is not an element");
    assert.match(panel.rendered.meta, /^mock\/mock-1 · \d+ ms · \d+ tokens \(\d+ in, \d+ out\) · \$0\.00$/);
    const within = "#log";
    const code = await ui({ action: "query", within, selector: ".turn.assistant:last-child pre code .hljs-keyword" });
    if (!code.skipped) {
      assert.ok(code.count >= 2, `highlighted keywords in the page: ${code.count}`);
      assert.equal((await ui({ action: "query", within, selector: ".turn.assistant:last-child script" })).count, 0);
      const h1 = await ui({ action: "query", within, selector: ".turn.assistant:last-child h1" });
      assert.equal(h1.text, "Plan");
      assert.equal(h1.pwned, null, "the script never ran");
      assert.equal((await ui({ action: "query", within, selector: ".turn.assistant:last-child .code-block button[data-action=insert]" })).count, 1);
      const meta = await ui({ action: "query", within, selector: ".turn.assistant:last-child .meta .cost" });
      assert.equal(meta.text, "$0.00");
    }
    await ui({ action: "screenshot", name: "vscode-chat-markdown.png" });
  }],

  ["a code block's Insert at Cursor and Copy buttons", async (api) => {
    const panel = api.chatPanel() as any;
    const file = join(workspaceDir(), "insert_here.py");
    writeFileSync(file, "# the chat's code goes below\n");
    const doc = await vscode.workspace.openTextDocument(file);
    // Beside the chat, so that both stay visible.
    const column = panel.panel.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One;
    const editor = await vscode.window.showTextDocument(doc, column);
    editor.selection = new vscode.Selection(1, 0, 1, 0);
    const clicked = await ui({ action: "click", selector: ".turn.assistant:last-child .code-block button[data-action=insert]" });
    if (clicked.skipped) await panel.insertAtCursor(GREET_CODE);
    await until("the code in the editor", () => doc.getText().includes("def greet"));
    assert.equal(doc.getText(), `# the chat's code goes below\n${GREET_CODE}`);
    await vscode.env.clipboard.writeText("");
    const copied = await ui({ action: "click", selector: ".turn.assistant:last-child .code-block button[data-action=copy]" });
    if (!copied.skipped) await until("the code on the clipboard", async () => (await vscode.env.clipboard.readText()) === GREET_CODE, 5000);
    await vscode.commands.executeCommand("workbench.action.files.revert");
  }],

  ["the conversation comes back when the panel reopens, also after a daemon restart; New Chat starts over", async (api) => {
    const panel = api.chatPanel() as any;
    const turns = (p: any) => p.transcript.turns.map((t: any) => [t.role, t.content]);
    const expected = [["user", MARKDOWN_PROMPT], ["assistant", MARKDOWN_PROMPT]];
    assert.deepEqual(turns(panel), expected);
    const sessionId = panel.session.id;
    assert.ok(sessionId, "the panel's conversation is a daemon session");
    panel.panel.dispose();
    const reopened = (await vscode.commands.executeCommand("dspex.chat.open")) as any;
    assert.notEqual(reopened, panel);
    await reopened.restored;
    assert.deepEqual(turns(reopened), expected);
    assert.match(reopened.transcript.turns[1].meta, /^mock\/mock-1 · \d+ ms · \d+ tokens/, "the meta line, latency included, comes back too");
    await until("the webview to show it", () => reopened.rendered.turns === 2 && reopened.rendered.html.includes("hljs-keyword"));
    assert.match(api.log.text(), new RegExp(`conversation ${sessionId} restored \\(attached`));
    // A daemon restart: the conversation is there again (the daemon's own store, or our copy).
    const client = await api.daemon.ready();
    await client.sendNotification("exit");
    await until("the daemon to stop", () => api.daemon.state !== "running", 10_000);
    await until("the daemon to be back", () => api.daemon.state === "running", 30_000);
    reopened.panel.dispose();
    const afterRestart = (await vscode.commands.executeCommand("dspex.chat.open")) as any;
    await afterRestart.restored;
    assert.deepEqual(turns(afterRestart), expected);
    // A daemon that lost the session (here: ended behind the panel's back) gets the
    // workspace's saved export back through dspex/session/import.
    await api.daemon.request("dspex/session/end", { sessionId });
    afterRestart.panel.dispose();
    const again = (await vscode.commands.executeCommand("dspex.chat.open")) as any;
    await again.restored;
    assert.deepEqual(turns(again), expected);
    assert.match(api.log.text(), new RegExp(`conversation ${sessionId} restored \\(imported`));
    await until("the webview to show it", () => again.rendered.turns === 2);
    await ui({ action: "screenshot", name: "vscode-chat-restored.png" });
    // The restored session goes on: the daemon has its history.
    await setMock({ mode: "echo", chunkSize: 16 });
    await again.send("and one more");
    const history = await api.daemon.request<any>("dspex/session/history", { sessionId });
    assert.equal(history.messages.length, 4);
    const clicked = await ui({ action: "click", selector: "#new" });
    if (clicked.skipped) await again.newChat();
    await until("an empty chat", () => again.transcript.turns.length === 0 && again.session.id === undefined && again.rendered.turns === 0);
    const listed = await api.daemon.request<any>("dspex/session/list", {});
    assert.ok(!listed.sessions.some((s: any) => s.sessionId === sessionId), "the old session ended");
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

  ["dspex models are offered through VS Code's Language Model API, or its absence is said", async (api) => {
    const lm = (vscode as any).lm;
    if (typeof lm?.registerLanguageModelChatProvider !== "function") {
      assert.equal(api.languageModels.status.available, false);
      assert.match(api.status.item.tooltip as string, /Language Model API not available/);
      return;
    }
    await setMock({ mode: "echo", chunkSize: 4 });
    const models: any[] = await until("dspex's models in vscode.lm", async () => {
      const found = await lm.selectChatModels({ vendor: "dspex" });
      return found.length ? found : undefined;
    }, 15_000);
    const mock = models.find((m) => m.id === "mock/mock-1");
    assert.ok(mock, `mock/mock-1 among ${models.map((m) => m.id).join(", ")}`);
    assert.equal(mock.vendor, "dspex");
    assert.equal(mock.maxInputTokens, 32768 - 4096);
    const response = await mock.sendRequest([(vscode as any).LanguageModelChatMessage.User("hello through the Language Model API")], {}, new vscode.CancellationTokenSource().token);
    let text = "";
    let parts = 0;
    for await (const piece of response.text) {
      text += piece;
      parts++;
    }
    assert.equal(text, "hello through the Language Model API");
    assert.ok(parts > 1, `streamed in ${parts} parts`);
    assert.equal(await mock.countTokens("twelve chars"), 3);
    await api.status.update();
    assert.match(api.status.item.tooltip as string, /Language Model API: dspex models offered/);
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

  ["an inline completion appears as ghost text in an editor and Tab accepts it", async (api) => {
    const cfg = vscode.workspace.getConfiguration("dspex");
    const before = await api.daemon.ready();
    await cfg.update("inlineCompletion.enabled", true, vscode.ConfigurationTarget.Workspace);
    try {
      // Turning it on restarts the daemon with documents synced for completion.
      await until("the daemon restarted for inline completion", async () => api.daemon.state === "running" && (await api.daemon.ready()) !== before, 30_000);
      await setMock({ mode: "fixed", reply: INLINE_REPLY, chunkSize: 8 });
      await vscode.commands.executeCommand("workbench.action.closeAllEditors");
      const file = join(workspaceDir(), "calc.py");
      writeFileSync(file, "def mul(a, b):\n    ");
      const doc = await vscode.workspace.openTextDocument(file);
      const editor = await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, preview: false });
      editor.selection = new vscode.Selection(1, 4, 1, 4);
      // Clicked into the editor, the cursor put at the end of the file, then typed.
      const typed = await ui({ action: "keys", click: ".editor-instance .monaco-editor .view-lines", before: ["Control+End"], text: "return " });
      if (typed.skipped) {
        await editor.edit((b) => b.insert(new vscode.Position(1, 4), "return "));
        await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
        await sleep(1500);
        await vscode.commands.executeCommand("editor.action.inlineSuggest.commit");
      } else {
        const ghost = await ui({ action: "wait", selector: ".ghost-text-decoration, .ghost-text", timeoutMs: 15_000 });
        // The editor draws spaces in ghost text as no-break spaces.
        assert.equal(String(ghost.text).replace(/\u00a0/g, " "), INLINE_REPLY, "the ghost text");
        await ui({ action: "screenshot", name: "vscode-inline-completion.png", waitMs: 200 });
        const typedLine = doc.lineAt(1).text;
        assert.equal(typedLine, "    return ", "what was typed");
        await ui({ action: "keys", press: ["Tab"] });
      }
      const expected = `def mul(a, b):\n    return ${INLINE_REPLY}`;
      await until("the completion in the document", () => doc.getText() === expected, 10_000).catch(() => assert.equal(doc.getText(), expected, "the accepted completion"));
      const stats = await until("the daemon to count the acceptance", async () => {
        const s = await api.daemon.request<any>("dspex/analytics/inlineCompletion", {});
        return s.total.accepted >= 1 ? s : undefined;
      }, 5000);
      assert.ok(stats.byLanguage.python.offered >= 1);
      await vscode.commands.executeCommand("workbench.action.files.save");
    } finally {
      const running = await api.daemon.ready().catch(() => undefined);
      await cfg.update("inlineCompletion.enabled", undefined, vscode.ConfigurationTarget.Workspace);
      await until("the daemon restarted without it", async () => api.daemon.state === "running" && (await api.daemon.ready()) !== running, 30_000);
    }
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

const GREET_CODE = 'def greet(name):\n    return f"hi {name}"  # say hello\n';
const MARKDOWN_PROMPT = `# Plan\n\n- first item\n- second item\n\n\`\`\`python\n${GREET_CODE}\`\`\`\n\nDone. <script>document.body.dataset.pwned = "1"</script>`;
const INLINE_REPLY = "a * b  # from dspex";

function workspaceDir(): string {
  return vscode.workspace.workspaceFolders![0].uri.fsPath;
}

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
