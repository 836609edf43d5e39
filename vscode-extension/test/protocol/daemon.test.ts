// Protocol tests: the real Python daemon (`python -m dspex_server`) driven from Node with
// vscode-jsonrpc, the same library the extension's LanguageClient uses. Mock provider only.

import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { CancellationTokenSource, createMessageConnection, ProgressType, StreamMessageReader, StreamMessageWriter, type MessageConnection } from "vscode-jsonrpc/node";
import { ChatSession, STATE_KEY, type StateStore } from "../../src/chatSession";
import { buildDaemonSettings, DEFAULT_SETTINGS } from "../../src/config";
import { describeError, isCancelled } from "../../src/errors";

/** DSPEX_PYTHON, else the repository's .venv (found upwards from here), else python3. */
function findPython(): string {
  if (process.env.DSPEX_PYTHON) return process.env.DSPEX_PYTHON;
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "pyproject.toml")) && existsSync(join(dir, ".venv/bin/python"))) return join(dir, ".venv/bin/python");
  }
  return "python3";
}
const PYTHON = findPython();
const PROVIDER_ENV = /^(OPENAI|ANTHROPIC|GEMINI|GOOGLE|GROQ|MISTRAL|PERPLEXITY|OPENROUTER|XAI|OLLAMA|LMSTUDIO|AWS|BEDROCK|DSPEX)_/;

interface Daemon {
  conn: MessageConnection;
  proc: ChildProcessWithoutNullStreams;
  stderr: () => string;
  init: any;
  close: () => Promise<void>;
}

const running: Daemon[] = [];
after(async () => {
  for (const d of running) await d.close();
});

async function startDaemon(initializationOptions: unknown = {}, configuration?: (params: any) => unknown): Promise<Daemon> {
  const tmp = mkdtempSync(join(tmpdir(), "dspex-proto-"));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !PROVIDER_ENV.test(k)) env[k] = v;
  env.DSPEX_CONFIG = join(tmp, "config.toml");
  writeFileSync(env.DSPEX_CONFIG, ""); // a DSPEX_CONFIG naming a missing file is an error
  env.XDG_CONFIG_HOME = join(tmp, "xdg");
  env.XDG_DATA_HOME = join(tmp, "data"); // the daemon's own session store: this daemon's only
  const proc = spawn(PYTHON, ["-m", "dspex_server"], { env, stdio: "pipe" });
  let err = "";
  proc.on("exit", (code) => {
    if (code) process.stderr.write(`daemon (${PYTHON}) exited with ${code}: ${err}\n`);
  });
  proc.stderr.on("data", (b) => (err += b.toString()));
  const conn = createMessageConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin));
  if (configuration) conn.onRequest("workspace/configuration", configuration);
  conn.listen();
  const capabilities = configuration ? { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false } } } : {};
  const init = await conn.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities, initializationOptions });
  await conn.sendNotification("initialized", {});
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  const d: Daemon = {
    conn,
    proc,
    init,
    stderr: () => err,
    close: async () => {
      if (proc.exitCode !== null) return;
      try {
        await Promise.race([conn.sendRequest("shutdown"), new Promise((r) => setTimeout(r, 3000))]);
        await conn.sendNotification("exit");
      } catch {
        /* gone */
      }
      const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
      conn.dispose();
    },
  };
  running.push(d);
  return d;
}

const user = (content: string) => [{ role: "user", content }];

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail("expected the request to fail");
}

test("initialize advertises the dspex methods and providers", async () => {
  const d = await startDaemon();
  const dspex = d.init.capabilities.experimental.dspex;
  assert.ok(dspex.methods.includes("dspex/chat"));
  assert.ok(dspex.providers.includes("mock"));
  await d.close();
});

test("chat on the mock provider, and partial results stream on the token", async () => {
  const d = await startDaemon({ dspex: { providers: { mock: { chunkSize: 3 } } } });
  const text = "streaming works from node";
  const plain: any = await d.conn.sendRequest("dspex/chat", { provider: "mock", messages: user(text) });
  assert.equal(plain.choices[0].message.content, text);
  assert.equal(plain.provider, "mock");

  const chunks: any[] = [];
  const sub = d.conn.onProgress(new ProgressType<any>(), "tok-1", (v) => {
    chunks.push(v);
  });
  const result: any = await d.conn.sendRequest("dspex/chat", { provider: "mock", messages: user(text), partialResultToken: "tok-1" });
  sub.dispose();
  assert.equal(result.choices[0].message.content, text);
  assert.equal(chunks.length, Math.ceil(text.length / 3), "one partial result per 3-character chunk");
  assert.equal(chunks.map((c) => c.delta?.content ?? "").join(""), text);
  assert.ok(chunks.every((c) => c.correlationId === result.correlationId));
  await d.close();
});

test("cancelling a chat answers -32800 promptly and the daemon keeps serving", async () => {
  const d = await startDaemon({ dspex: { providers: { mock: { latencyMs: 20000 } } } });
  const source = new CancellationTokenSource();
  const t0 = Date.now();
  const pending = d.conn.sendRequest("dspex/chat", { provider: "mock", messages: user("slow"), partialResultToken: "c1" }, source.token);
  setTimeout(() => source.cancel(), 300);
  const err = await rejection(pending);
  assert.equal(err.code, -32800);
  assert.ok(isCancelled(err));
  assert.ok(Date.now() - t0 < 5000, "cancelled long before the mock's 20 s latency");
  const cfg: any = await d.conn.sendRequest("dspex/config", {});
  assert.ok(cfg.config.providers);
  await d.close();
});

test("errors: invalid params, unknown method, unconfigured provider, injected provider error", async () => {
  const d = await startDaemon({ dspex: { providers: { mock: { errors: [{ kind: "rate_limited", status: 429, retryAfterMs: 1000 }] } } } });
  const bad = await rejection(d.conn.sendRequest("dspex/chat", { messages: [] }));
  assert.equal(bad.code, -32602);
  assert.ok(Array.isArray(bad.data.errors) && bad.data.errors[0].loc[0] === "messages");
  const missing = await rejection(d.conn.sendRequest("dspex/no-such-method", {}));
  assert.equal(missing.code, -32601);
  assert.match(describeError(missing, "dspex/no-such-method"), /not available/);
  const unconfigured = await rejection(d.conn.sendRequest("dspex/chat", { provider: "openai", messages: user("hi") }));
  assert.equal(unconfigured.data.kind, "provider_not_configured");
  assert.match(describeError(unconfigured), /Set API Key/);
  const limited = await rejection(d.conn.sendRequest("dspex/chat", { provider: "mock", messages: user("hi") }));
  assert.equal(limited.data.kind, "rate_limited");
  assert.equal(limited.data.provider, "mock");
  assert.ok(!("stack" in limited.data) && !JSON.stringify(limited.data).includes("Traceback"));
  await d.close();
});

test("a key sent the extension's way (didChangeConfiguration) configures the provider and stays secret", async () => {
  const d = await startDaemon();
  const key = "sk-proto-test-0123456789abcdef";
  const before: any = await d.conn.sendRequest("dspex/providers", {});
  assert.equal(before.providers.find((p: any) => p.name === "openai").configured, false);
  const { payload } = buildDaemonSettings({ settings: { ...DEFAULT_SETTINGS, provider: "mock" }, keys: { openai: key }, knownProviders: d.init.capabilities.experimental.dspex.providers });
  await d.conn.sendNotification("workspace/didChangeConfiguration", { settings: payload });
  const after: any = await d.conn.sendRequest("dspex/providers", {});
  assert.equal(after.providers.find((p: any) => p.name === "openai").configured, true);
  assert.equal(after.defaultProvider, "mock");
  const cfg: any = await d.conn.sendRequest("dspex/config", {});
  assert.equal(cfg.config.providers.openai.apiKey, "<redacted>");
  assert.ok(!JSON.stringify(cfg).includes(key));
  await d.close();
  assert.ok(!d.stderr().includes(key), "the key never reaches the daemon's log");
});

test("the daemon's workspace/configuration pull gets the extension's block (the LanguageClient middleware's answer)", async () => {
  const key = "sk-pull-test-abcdef0123456789";
  const { payload } = buildDaemonSettings({ settings: { ...DEFAULT_SETTINGS, provider: "mock", providerSettings: { mock: { chunkSize: 5 } } }, keys: { openai: key } });
  const asked: any[] = [];
  const d = await startDaemon({}, (params) => {
    asked.push(params);
    return params.items.map((i: any) => (i.section === "dspex" ? payload.dspex : null));
  });
  let providers: any;
  for (let i = 0; i < 50; i++) {
    providers = await d.conn.sendRequest("dspex/providers", {});
    if (providers.providers.find((p: any) => p.name === "openai")?.configured) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (asked.length === 0) {
    // A daemon that does not pull after `initialized` (older main): nothing more to check.
    await d.close();
    return;
  }
  assert.equal(asked[0].items[0].section, "dspex");
  assert.equal(providers.providers.find((p: any) => p.name === "openai").configured, true);
  assert.equal(providers.defaultProvider, "mock");
  const cfg: any = await d.conn.sendRequest("dspex/config", {});
  assert.equal(cfg.config.providers.mock.chunkSize, 5);
  assert.equal(cfg.config.providers.openai.apiKey, "<redacted>");
  await d.close();
  assert.ok(!d.stderr().includes(key));
});

test("the chat panel's session, saved the extension's way, comes back in a fresh daemon", async () => {
  const data = new Map<string, unknown>();
  const state: StateStore = { get: <T>(k: string) => data.get(k) as T | undefined, update: async (k: string, v: unknown) => void data.set(k, JSON.parse(JSON.stringify(v ?? null))) };
  const key = "sk-session-test-0123456789abcdef";
  const first = await startDaemon({ dspex: { defaultProvider: "mock", providers: { openai: { apiKey: key } } } });
  const request = (d: Daemon) => <T>(method: string, params: unknown) => d.conn.sendRequest(method, params) as Promise<T>;
  const a = new ChatSession(request(first), state, () => [key]);
  const id = await a.ensure({ provider: "mock" });
  const chunks: string[] = [];
  const sub = first.conn.onProgress(new ProgressType<any>(), "s1", (v) => void chunks.push(v.delta?.content ?? ""));
  const answer: any = await first.conn.sendRequest("dspex/session/chat", { sessionId: id, content: `# Title\nmy key is ${key}`, partialResultToken: "s1" });
  sub.dispose();
  assert.equal(chunks.join(""), answer.choices[0].message.content, "session turns stream too");
  await a.save(answer.latencyMs);
  assert.ok(!JSON.stringify(data.get(STATE_KEY)).includes(key), "the workspace state never holds a key");
  await first.close();

  const second = await startDaemon({ dspex: { defaultProvider: "mock" } });
  const b = new ChatSession(request(second), state, () => []);
  const back = await b.restore();
  assert.equal(back?.how, "imported");
  assert.equal(back?.sessionId, id);
  assert.deepEqual(back?.messages.map((m) => m.role), ["user", "assistant"]);
  assert.equal(Object.keys(back!.latencies).length, 1, "the measured latency of the answer is kept");
  const more: any = await second.conn.sendRequest("dspex/session/chat", { sessionId: id, content: "again" });
  assert.equal(more.choices[0].message.content, "again");
  // Another model picked in the settings: the conversation moves to a session on it.
  await b.retarget({ provider: "mock", model: "mock-large" });
  const moved: any = await second.conn.sendRequest("dspex/session/chat", { sessionId: b.id, content: "on the new model" });
  assert.equal(moved.model, "mock-large");
  const history: any = await second.conn.sendRequest("dspex/session/history", { sessionId: b.id });
  assert.equal(history.messages.length, 6);
  const old = await rejection(second.conn.sendRequest("dspex/session/history", { sessionId: id }));
  assert.equal(old.code, -32602, "the old session ended");
  await second.close();
});
