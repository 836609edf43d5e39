// `DSPex: Chat`: a webview panel whose answers stream in as partial results, with Stop.

import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import { Transcript, type ChatResultLike } from "./chatModel";
import { chatOptions } from "./config";
import { readSettings, type Daemon } from "./daemon";
import { describeError, isCancelled, needsApiKey } from "./errors";
import type { RedactingChannel } from "./log";
import type { SampleLog } from "./stats";
import { makeNonce, page } from "./webviewHtml";

export class ChatPanel implements vscode.Disposable {
  static current: ChatPanel | undefined;
  readonly transcript = new Transcript();
  private cancel: vscode.CancellationTokenSource | undefined;
  private running: Promise<void> | undefined;
  /** What the webview reports it shows for the last assistant turn (for tests). */
  rendered = { text: "", updates: 0 };
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  static show(daemon: Daemon, log: RedactingChannel, samples: SampleLog, onAfterChat: () => void): ChatPanel {
    if (ChatPanel.current) {
      ChatPanel.current.panel.reveal(undefined, true);
      return ChatPanel.current;
    }
    const panel = vscode.window.createWebviewPanel("dspex.chat", "DSPex Chat", { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [],
    });
    ChatPanel.current = new ChatPanel(panel, daemon, log, samples, onAfterChat);
    return ChatPanel.current;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly daemon: Daemon,
    private readonly log: RedactingChannel,
    private readonly samples: SampleLog,
    private readonly onAfterChat: () => void,
  ) {
    panel.webview.html = this.html();
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((m) => this.onMessage(m), null, this.disposables);
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  private post(message: unknown): void {
    void this.panel.webview.postMessage(message);
  }

  private onMessage(m: any): void {
    if (m?.type === "send" && typeof m.text === "string") void this.send(m.text);
    else if (m?.type === "stop") this.stop();
    else if (m?.type === "clear") {
      this.stop();
      this.transcript.clear();
      this.post({ type: "reset", turns: [] });
    } else if (m?.type === "rendered") {
      this.rendered = { text: String(m.text ?? ""), updates: this.rendered.updates + 1 };
      this.changed.fire();
    } else if (m?.type === "ready") {
      this.post({ type: "reset", turns: this.transcript.turns, busy: this.busy });
    }
  }

  /** Sends `text` as the next user message and streams the answer into the panel. */
  send(text: string): Promise<void> {
    if (this.running || !text.trim()) return this.running ?? Promise.resolve();
    this.running = this.run(text).finally(() => {
      this.running = undefined;
      this.post({ type: "busy", busy: false });
      this.changed.fire();
    });
    return this.running;
  }

  private async run(text: string): Promise<void> {
    this.transcript.addUser(text);
    const messages = this.transcript.messages();
    this.transcript.beginAssistant();
    this.post({ type: "reset", turns: this.transcript.turns, busy: true });
    const settings = readSettings();
    const token = `chat-${randomUUID()}`;
    const cancel = new vscode.CancellationTokenSource();
    this.cancel = cancel;
    const t0 = Date.now();
    let partial: vscode.Disposable | undefined;
    const options = chatOptions(settings);
    try {
      partial = await this.daemon.onPartial(token, (chunk) => {
        const added = this.transcript.applyChunk(chunk);
        if (added) this.post({ type: "delta", text: added });
      });
      const result = await this.daemon.request<ChatResultLike>("dspex/chat", { messages, ...options, partialResultToken: token }, cancel.token);
      const turn = this.transcript.finish(result);
      this.post({ type: "final", turn });
      this.samples.add({ at: Date.now(), provider: result.provider ?? String(options.provider ?? "?"), model: result.model ?? "", latencyMs: result.latencyMs ?? Date.now() - t0, ok: true, cost: costOf(result) });
    } catch (err) {
      if (isCancelled(err)) {
        this.transcript.stop();
        this.log.info("chat: stopped by the user");
      } else {
        const message = describeError(err, "dspex/chat");
        this.transcript.fail(message);
        this.log.info(`chat failed: ${message}`);
        const data = (err as any)?.data;
        this.samples.add({ at: Date.now(), provider: data?.provider ?? String(options.provider ?? "?"), model: data?.model ?? "", latencyMs: Date.now() - t0, ok: false });
        if (needsApiKey(err)) {
          void vscode.window.showWarningMessage(`DSPex: ${message}`, "Set API Key").then((a) => {
            if (a) void vscode.commands.executeCommand("dspex.setApiKey", data?.provider);
          });
        }
      }
      this.post({ type: "final", turn: this.transcript.turns.at(-1) });
    } finally {
      partial?.dispose();
      cancel.dispose();
      this.cancel = undefined;
      this.onAfterChat();
    }
  }

  /** The Stop button: cancels the request (the daemon gets $/cancelRequest). */
  stop(): void {
    this.cancel?.cancel();
  }

  /** Resolves when no chat is running. */
  async idle(): Promise<void> {
    await this.running;
  }

  private html(): string {
    const nonce = makeNonce();
    return page({
      title: "DSPex Chat",
      cspSource: this.panel.webview.cspSource,
      nonce,
      css: CHAT_CSS,
      body: `<main id="log" aria-live="polite"></main>
<form id="form"><textarea id="input" rows="3" placeholder="Ask anything… (Ctrl+Enter to send)"></textarea>
<div class="buttons"><button id="send" type="submit">Send</button><button id="stop" type="button" class="secondary" disabled>Stop</button><button id="clear" type="button" class="secondary">Clear</button></div></form>`,
      script: CHAT_SCRIPT,
    });
  }

  dispose(): void {
    this.stop();
    ChatPanel.current = undefined;
    for (const d of this.disposables) d.dispose();
    this.changed.dispose();
    this.panel.dispose();
  }
}

const CHAT_CSS = `
body { display: flex; flex-direction: column; height: 100vh; box-sizing: border-box; padding-bottom: 8px; }
#log { flex: 1; overflow-y: auto; padding: 8px 0; }
.turn { margin: 6px 0; padding: 8px 10px; border-radius: 4px; white-space: pre-wrap; word-wrap: break-word; }
.turn.user { background: var(--vscode-textBlockQuote-background); border-left: 3px solid var(--vscode-textLink-foreground); }
.turn.assistant { background: var(--vscode-editorWidget-background); border-left: 3px solid var(--vscode-charts-green); }
.turn.assistant.streaming .text::after { content: "▍"; animation: blink 1s steps(2) infinite; }
.turn.stopped { border-left-color: var(--vscode-charts-yellow); }
.turn.error { border-left-color: var(--vscode-errorForeground); }
.role { font-size: 0.85em; font-weight: 600; color: var(--vscode-descriptionForeground); margin-bottom: 2px; }
.meta { font-size: 0.85em; color: var(--vscode-descriptionForeground); margin-top: 4px; }
.turn.error .meta { color: var(--vscode-errorForeground); }
#form { display: flex; flex-direction: column; gap: 6px; }
#input { width: 100%; box-sizing: border-box; resize: vertical; padding: 6px; }
.buttons { display: flex; gap: 6px; }
@keyframes blink { 50% { opacity: 0; } }
`;

// Runs in the webview (no remote resources; nonce'd). Text is set with textContent only.
const CHAT_SCRIPT = `
const vscode = acquireVsCodeApi();
const log = document.getElementById('log');
const input = document.getElementById('input');
const send = document.getElementById('send');
const stop = document.getElementById('stop');
let last = null;
function turnEl(t) {
  const div = document.createElement('div');
  div.className = 'turn ' + t.role + (t.state ? ' ' + t.state : '');
  const role = document.createElement('div'); role.className = 'role'; role.textContent = t.role === 'user' ? 'You' : 'DSPex';
  const text = document.createElement('div'); text.className = 'text'; text.textContent = t.content || '';
  const meta = document.createElement('div'); meta.className = 'meta'; meta.textContent = t.meta || (t.state === 'stopped' ? 'stopped' : '');
  div.append(role, text, meta);
  return div;
}
function report() {
  const t = log.querySelector('.turn.assistant:last-of-type .text');
  const turns = log.querySelectorAll('.turn');
  const lastTurn = turns[turns.length - 1];
  vscode.postMessage({ type: 'rendered', text: lastTurn && lastTurn.classList.contains('assistant') ? lastTurn.querySelector('.text').textContent : '', state: lastTurn ? lastTurn.className : '' });
}
function setBusy(b) { send.disabled = b; stop.disabled = !b; }
window.addEventListener('message', (e) => {
  const m = e.data;
  if (m.type === 'reset') {
    log.replaceChildren(...m.turns.map(turnEl));
    last = log.lastElementChild;
    if (m.busy !== undefined) setBusy(m.busy);
  } else if (m.type === 'delta' && last) {
    last.querySelector('.text').textContent += m.text;
  } else if (m.type === 'final' && m.turn) {
    const el = turnEl(m.turn);
    if (last) last.replaceWith(el); else log.append(el);
    last = el;
  } else if (m.type === 'busy') { setBusy(m.busy); }
  log.scrollTop = log.scrollHeight;
  report();
});
document.getElementById('form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  vscode.postMessage({ type: 'send', text });
});
input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); document.getElementById('form').requestSubmit(); } });
stop.addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
document.getElementById('clear').addEventListener('click', () => vscode.postMessage({ type: 'clear' }));
vscode.postMessage({ type: 'ready' });
`;

/** A chat result's cost in USD: `cost: {total}` (null when the price is unknown). */
function costOf(result: unknown): number | undefined {
  const c = (result as { cost?: unknown } | null)?.cost;
  if (typeof c === "number") return c;
  const total = (c as { total?: unknown } | null)?.total;
  return typeof total === "number" ? total : undefined;
}
