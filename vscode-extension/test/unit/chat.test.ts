// The chat panel's pure parts: Markdown rendering, the meta line, the session kept per
// workspace (with a fake daemon), and dspex's models as Language Model API entries.

import assert from "node:assert/strict";
import { test } from "node:test";
import { metaParts, Transcript } from "../../src/chatModel";
import { ChatSession, isUnknownSession, scrubSecrets, STATE_KEY, type SavedChat, type StateStore } from "../../src/chatSession";
import { estimateTokens, lmApiProblem, lmModels, toDspexMessages } from "../../src/lmModel";
import { page } from "../../src/webviewHtml";
import { highlightedLanguage, renderMarkdown } from "../../src/webview/markdown";

test("markdown: headings, lists and fenced code become HTML; the fence's backticks are gone", () => {
  const html = renderMarkdown("# Title\n\n- one\n- two\n\n```python\ndef f(x):\n    return x  # done\n```\n");
  assert.match(html, /<h1>Title<\/h1>/);
  assert.match(html, /<ul>\s*<li>one<\/li>\s*<li>two<\/li>\s*<\/ul>/);
  assert.match(html, /<pre class="code" data-lang="python"><code class="hljs language-python">/);
  assert.match(html, /<span class="hljs-keyword">def<\/span>/);
  assert.match(html, /<span class="hljs-comment"># done<\/span>/);
  assert.ok(!html.includes("```"));
});

test("markdown: raw HTML in an answer is text, never markup", () => {
  const html = renderMarkdown('Hi <script>alert(1)</script> <img src=x onerror="alert(2)">\n\n<div onclick="x()">block</div>');
  assert.ok(!/<script|<img|<div/i.test(html), html);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
});

test("markdown: javascript: links are not links; code in an unknown language is escaped", () => {
  assert.ok(!renderMarkdown("[x](javascript:alert(1))").includes('href="javascript:'));
  const html = renderMarkdown("```nosuchlang\n<b>&</b>\n```");
  assert.match(html, /<code class="hljs">&lt;b&gt;&amp;&lt;\/b&gt;\n<\/code>/);
  assert.equal(highlightedLanguage("py"), "py");
  assert.equal(highlightedLanguage("TypeScript {1,3}"), "typescript");
  assert.equal(highlightedLanguage("cobol"), undefined);
});

test("markdown: an unfinished fence while streaming still renders as code", () => {
  assert.match(renderMarkdown("Here:\n\n```js\nconst a = 1"), /<pre class="code" data-lang="js">/);
});

test("meta line: model, latency, tokens in/out and cost; unknown price said so", () => {
  const parts = metaParts({ provider: "openai", model: "gpt-4o-mini", latencyMs: 1534, usage: { promptTokens: 12, completionTokens: 30, totalTokens: 42 }, cost: 0.000123 });
  assert.deepEqual(parts.map((p) => p.cls), ["model", "latency", "tokens", "cost"]);
  assert.deepEqual(parts.map((p) => p.text), ["openai/gpt-4o-mini", "1.53 s", "42 tokens (12 in, 30 out)", "$0.00012"]);
  assert.equal(metaParts({ provider: "mock", cost: 0 }).at(-1)!.text, "$0.00");
  assert.equal(metaParts({ provider: "x", cost: null }).at(-1)!.text, "cost unknown");
  const t = new Transcript();
  t.addUser("q");
  t.beginAssistant();
  const turn = t.finish({ choices: [{ message: { content: "a" } }], provider: "mock", model: "mock-1", latencyMs: 6.7, usage: { promptTokens: 5, completionTokens: 5, totalTokens: 10 }, cost: { total: 0 } });
  assert.equal(turn.meta, "mock/mock-1 · 7 ms · 10 tokens (5 in, 5 out) · $0.00");
});

test("transcript: a session's history comes back as turns, with the latencies we measured", () => {
  const t = new Transcript();
  t.restore(
    [
      { role: "system", content: "be brief" },
      { role: "user", content: "hi", at: "t1" },
      { role: "assistant", content: "hello", at: "t2", model: "mock-1", usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 }, cost: { total: 0 } },
      { role: "user", content: [{ type: "text", text: "parts" }], at: "t3" },
    ],
    "mock",
    { t2: 12 },
  );
  assert.deepEqual(t.turns.map((x) => [x.role, x.content]), [["user", "hi"], ["assistant", "hello"], ["user", "parts"]]);
  assert.equal(t.turns[1].meta, "mock/mock-1 · 12 ms · 3 tokens (1 in, 2 out) · $0.00");
});

/** A fake daemon that keeps sessions in a map, and can forget them (a restart). */
function fakeDaemon() {
  const sessions = new Map<string, { provider: string; model: string; messages: any[] }>();
  const calls: string[] = [];
  let n = 0;
  const unknown = () => Object.assign(new Error("unknown sessionId"), { code: -32602, data: { errors: [{ loc: ["sessionId"], type: "unknown_session" }] } });
  const request = async <T>(method: string, p: any): Promise<T> => {
    calls.push(method);
    const s = sessions.get(p.sessionId);
    switch (method) {
      case "dspex/session/start": {
        const id = `s-${++n}`;
        sessions.set(id, { provider: p.provider ?? "mock", model: p.model ?? "mock-1", messages: [] });
        return { sessionId: id, provider: p.provider ?? "mock", model: p.model ?? "mock-1" } as T;
      }
      case "dspex/session/chat":
        if (!s) throw unknown();
        s.messages.push({ role: "user", content: p.content, at: `m${s.messages.length}` });
        s.messages.push({ role: "assistant", content: `echo ${p.content}`, at: `m${s.messages.length}`, model: "mock-1" });
        return { choices: [{ message: { content: `echo ${p.content}` } }], latencyMs: 5 } as T;
      case "dspex/session/history":
        if (!s) throw unknown();
        return { messages: s.messages } as T;
      case "dspex/session/export":
        if (!s) throw unknown();
        return { version: 1, sessions: [{ sessionId: p.sessionId, provider: s.provider, model: s.model, messages: s.messages, note: "key sk-live-123456789 here", apiKey: "sk-live-123456789" }] } as T;
      case "dspex/session/import": {
        const d = p.data.sessions[0];
        sessions.set(d.sessionId, { provider: d.provider, model: d.model, messages: d.messages });
        return { sessionIds: [d.sessionId] } as T;
      }
      case "dspex/session/end":
        sessions.delete(p.sessionId);
        return { ended: true } as T;
    }
    throw new Error(`unexpected ${method}`);
  };
  return { request, sessions, calls };
}

function memento(): StateStore & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return { data, get: <T>(k: string) => data.get(k) as T | undefined, update: async (k: string, v: unknown) => void (v === undefined ? data.delete(k) : data.set(k, JSON.parse(JSON.stringify(v)))) };
}

test("session: started on the first turn, saved after it, re-attached by id on reopening", async () => {
  const daemon = fakeDaemon();
  const state = memento();
  const first = new ChatSession(daemon.request, state, () => ["sk-live-123456789"]);
  assert.equal(await first.restore(), undefined);
  const id = await first.ensure({ provider: "mock" });
  await daemon.request("dspex/session/chat", { sessionId: id, content: "hello" });
  await first.save(42);
  const saved = state.data.get(STATE_KEY) as SavedChat;
  assert.equal(saved.sessionId, id);
  assert.deepEqual(saved.latencies, { m1: 42 });
  assert.ok(!JSON.stringify(saved).includes("sk-live-123456789"), "no secret is stored in the workspace state");
  const again = await new ChatSession(daemon.request, state, () => []).restore();
  assert.equal(again?.how, "attached");
  assert.deepEqual(again?.messages.map((m) => m.content), ["hello", "echo hello"]);
});

test("session: a restarted daemon gets the saved export back; New chat forgets it", async () => {
  const daemon = fakeDaemon();
  const state = memento();
  const s = new ChatSession(daemon.request, state, () => []);
  const id = await s.ensure({});
  await daemon.request("dspex/session/chat", { sessionId: id, content: "remember 42" });
  await s.save(7);
  daemon.sessions.clear(); // the daemon restarted
  const back = await new ChatSession(daemon.request, state, () => []).restore();
  assert.equal(back?.how, "imported");
  assert.deepEqual(back?.messages.map((m) => m.content), ["remember 42", "echo remember 42"]);
  assert.ok(daemon.calls.includes("dspex/session/import"));
  await s.reset();
  assert.equal(state.data.get(STATE_KEY), undefined);
  assert.equal(daemon.sessions.size, 0);
});

test("session: another model picked in the settings carries the conversation over", async () => {
  const daemon = fakeDaemon();
  const state = memento();
  const s = new ChatSession(daemon.request, state, () => []);
  const first = await s.ensure({ provider: "mock" });
  await daemon.request("dspex/session/chat", { sessionId: first, content: "keep me" });
  await s.save(3);
  assert.equal(s.differsFrom("mock", ""), false, "an empty model means the provider's default: no change");
  assert.equal(s.differsFrom("", "mock-1"), false);
  assert.equal(s.differsFrom("mock", "mock-large"), true);
  await s.retarget({ provider: "mock", model: "mock-large" });
  assert.notEqual(s.id, first);
  assert.equal(daemon.sessions.has(first), false, "the old session ended");
  const moved = daemon.sessions.get(s.id!)!;
  assert.equal(moved.model, "mock-large");
  assert.deepEqual(moved.messages.map((m) => m.content), ["keep me", "echo keep me"]);
  assert.equal((state.data.get(STATE_KEY) as SavedChat).model, "mock-large");
  assert.deepEqual((state.data.get(STATE_KEY) as SavedChat).latencies, { m1: 3 });
});

test("session: secrets are scrubbed by name and by value; unknown-session errors recognised", () => {
  assert.deepEqual(scrubSecrets({ a: "x sk-abcdefgh1234 y", apiKey: "k", n: [1, "sk-abcdefgh1234"] }, ["sk-abcdefgh1234"]), { a: "x <redacted> y", n: [1, "<redacted>"] });
  assert.equal(isUnknownSession({ code: -32602, data: { errors: [{ type: "unknown_session" }] } }), true);
  assert.equal(isUnknownSession({ code: -32602, data: { errors: [{ type: "missing" }] } }), false);
  assert.equal(isUnknownSession(new Error("x")), false);
});

test("language models: configured providers' chat models, limits from the catalog", () => {
  const models = lmModels(
    [
      { name: "mock", configured: true, defaultModel: "mock-1" },
      { name: "openai", configured: false, defaultModel: "gpt-4o-mini" },
      { name: "ollama", configured: true, defaultModel: "llama3.2" },
    ],
    [
      { provider: "mock", id: "mock-1", contextWindow: 32768, maxOutputTokens: 4096, capabilities: ["chat", "streaming"], local: true },
      { provider: "mock", id: "mock-embed", contextWindow: 8192, capabilities: ["embeddings"] },
      { provider: "openai", id: "gpt-4o-mini", contextWindow: 128000, capabilities: ["chat"] },
    ],
  );
  assert.deepEqual(models.map((m) => m.id), ["mock/mock-1", "ollama/llama3.2"]);
  assert.equal(models[0].maxInputTokens, 32768 - 4096);
  assert.equal(models[0].maxOutputTokens, 4096);
  assert.equal(models[0].family, "mock");
  assert.deepEqual(models[1].dspex, { provider: "ollama", model: "llama3.2" });
  assert.ok(models[1].maxInputTokens > 0 && models[1].maxOutputTokens > 0);
});

test("language models: VS Code's messages as dspex messages; a token estimate", () => {
  assert.deepEqual(
    toDspexMessages([
      { role: 1, content: [{ value: "Hi " }, { value: "there" }] },
      { role: 2, content: [{ value: "Hello" }, { callId: "c", name: "tool", input: {} }] },
      { role: 1, content: [{ mimeType: "image/png", data: new Uint8Array(1) }] },
    ]),
    [{ role: "user", content: "Hi there" }, { role: "assistant", content: "Hello" }],
  );
  assert.equal(estimateTokens(""), 0);
  assert.equal(estimateTokens("12345678"), 2);
  assert.equal(estimateTokens("123456789"), 3);
});

test("language models: an older VS Code without the provider API is told apart, with its version", () => {
  class TextPart {}
  assert.equal(lmApiProblem({ version: "1.139.1", lm: { registerLanguageModelChatProvider: () => undefined }, LanguageModelTextPart: TextPart }), undefined);
  assert.match(lmApiProblem({ version: "1.91.0", lm: {} })!, /^Language Model API not available in this VS Code \(1\.91\.0; needs 1\.104/);
  assert.match(lmApiProblem({ version: "1.80.0" })!, /not available/);
});

test("webview pages: a bundled script is loaded with the page's nonce", () => {
  const html = page({ title: "t", cspSource: "vscode-webview://abc", nonce: "N0nce", body: "", scriptSrc: "https://file+.vscode-resource.vscode-cdn.net/x/chat.js" });
  assert.ok(html.includes('<script nonce="N0nce" src="https://file+.vscode-resource.vscode-cdn.net/x/chat.js"></script>'));
  assert.match(html, /script-src 'nonce-N0nce'(;|$)/);
});
