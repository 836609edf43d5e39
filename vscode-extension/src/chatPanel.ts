// `DSPex: Chat`: a webview panel whose answers stream in as partial results (with Stop),
// rendered as Markdown (src/webview/), each with its model, latency, tokens and cost. The
// conversation is a daemon session kept per workspace (src/chatSession.ts); a daemon
// without sessions gets stateless `dspex/chat` calls carrying the transcript instead.

import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import { Transcript, costOf, type ChatResultLike, type Turn } from "./chatModel";
import { ChatSession, isUnknownSession } from "./chatSession";
import { chatOptions } from "./config";
import { readSettings, type Daemon } from "./daemon";
import { describeError, isCancelled, needsApiKey } from "./errors";
import type { RedactingChannel } from "./log";
import type { SampleLog } from "./stats";
import { makeNonce, page } from "./webviewHtml";

export interface ChatDeps {
  daemon: Daemon;
  log: RedactingChannel;
  samples: SampleLog;
  onAfterChat: () => void;
  /** the workspace's state: where the conversation's session export is kept */
  state: vscode.Memento;
  /** the secrets a saved conversation is scrubbed of */
  secrets: () => readonly string[];
  extensionUri: vscode.Uri;
}

const VIEW_TYPE = "dspex.chat";
const SESSION_METHODS = ["dspex/session/start", "dspex/session/chat", "dspex/session/history", "dspex/session/export", "dspex/session/import"];

/** The text editor that had focus last (the webview takes it when its buttons are clicked). */
let lastEditor: vscode.TextEditor | undefined;

export function trackEditors(context: vscode.ExtensionContext): void {
  lastEditor = vscode.window.activeTextEditor;
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor((e) => {
      if (e && e.document.uri.scheme !== "output") lastEditor = e;
    }),
  );
}

export class ChatPanel implements vscode.Disposable {
  static current: ChatPanel | undefined;
  readonly transcript = new Transcript();
  readonly session: ChatSession;
  /** "session" once the daemon is known to have sessions; "stateless" otherwise. */
  mode: "session" | "stateless" | undefined;
  private cancel: vscode.CancellationTokenSource | undefined;
  private running: Promise<void> | undefined;
  /** What the webview reports it shows for the last assistant turn (for tests). */
  rendered = { text: "", html: "", meta: "", turns: 0, updates: 0 };
  /** Resolves when the saved conversation is back in the panel (or there was none). */
  readonly restored: Promise<void>;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  static show(deps: ChatDeps): ChatPanel {
    if (ChatPanel.current) {
      ChatPanel.current.panel.reveal(undefined, true);
      return ChatPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, "DSPex Chat", { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, ChatPanel.options(deps));
    ChatPanel.current = new ChatPanel(panel, deps);
    return ChatPanel.current;
  }

  /** Reopens the panel VS Code restores after a reload (registerWebviewPanelSerializer). */
  static revive(panel: vscode.WebviewPanel, deps: ChatDeps): ChatPanel {
    ChatPanel.current?.dispose();
    panel.webview.options = ChatPanel.options(deps);
    ChatPanel.current = new ChatPanel(panel, deps);
    return ChatPanel.current;
  }

  private static options(deps: ChatDeps): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [vscode.Uri.joinPath(deps.extensionUri, "dist", "webview")] };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly deps: ChatDeps,
  ) {
    this.session = new ChatSession((method, params, token) => deps.daemon.request(method, params, token as vscode.CancellationToken | undefined), deps.state, deps.secrets);
    panel.webview.html = this.html();
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((m) => this.onMessage(m), null, this.disposables);
    this.restored = this.restore();
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  private post(message: unknown): void {
    void this.panel.webview.postMessage(message);
  }

  private postTurns(): void {
    this.post({ type: "reset", turns: this.transcript.turns, busy: this.busy });
  }

  private async sessionsAvailable(): Promise<boolean> {
    if (this.mode) return this.mode === "session";
    await this.deps.daemon.ready();
    const methods = this.deps.daemon.methods();
    this.mode = SESSION_METHODS.every((m) => methods.includes(m)) ? "session" : "stateless";
    if (this.mode === "stateless") this.deps.log.info("chat: this daemon has no sessions; the conversation is not kept across reloads");
    return this.mode === "session";
  }

  private async restore(): Promise<void> {
    try {
      if (!this.session.id || !(await this.sessionsAvailable())) return;
      const back = await this.session.restore();
      if (!back || this.transcript.turns.length) return;
      this.transcript.restore(back.messages, back.provider, back.latencies);
      this.deps.log.info(`chat: conversation ${back.sessionId} restored (${back.how}, ${back.messages.length} messages)`);
      this.postTurns();
    } catch (err) {
      this.deps.log.info(`chat: the saved conversation could not be restored: ${describeError(err)}`);
    } finally {
      this.changed.fire();
    }
  }

  private onMessage(m: any): void {
    if (m?.type === "send" && typeof m.text === "string") void this.send(m.text);
    else if (m?.type === "stop") this.stop();
    else if (m?.type === "new" || m?.type === "clear") void this.newChat();
    else if (m?.type === "insert" && typeof m.code === "string") void this.insertAtCursor(m.code);
    else if (m?.type === "copy" && typeof m.code === "string") void vscode.env.clipboard.writeText(m.code);
    else if (m?.type === "rendered") {
      this.rendered = { text: String(m.text ?? ""), html: String(m.html ?? ""), meta: String(m.meta ?? ""), turns: Number(m.turns ?? 0), updates: this.rendered.updates + 1 };
      this.changed.fire();
    } else if (m?.type === "ready") this.postTurns();
  }

  /** "New chat": stops any answer, ends the session, forgets it for this workspace. */
  async newChat(): Promise<void> {
    this.stop();
    await this.running;
    await this.session.reset();
    this.transcript.clear();
    this.postTurns();
    this.changed.fire();
  }

  /** Inserts `code` at the cursor(s) of the editor that had focus last, and focuses it. */
  async insertAtCursor(code: string): Promise<boolean> {
    const editor = lastEditor && !lastEditor.document.isClosed ? lastEditor : vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme !== "output");
    if (!editor) {
      void vscode.window.showInformationMessage("DSPex: open an editor to insert the code into.");
      return false;
    }
    const shown = await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, preserveFocus: false });
    const selections = shown.selections;
    const ok = await shown.edit((b) => {
      for (const s of selections) b.replace(s, code);
    });
    if (!ok) this.deps.log.info("chat: the editor refused the insertion");
    return ok;
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
    await this.restored;
    this.transcript.addUser(text);
    const messages = this.transcript.messages();
    this.transcript.beginAssistant();
    this.postTurns();
    const settings = readSettings();
    const token = `chat-${randomUUID()}`;
    const cancel = new vscode.CancellationTokenSource();
    this.cancel = cancel;
    const t0 = Date.now();
    let partial: vscode.Disposable | undefined;
    const options = chatOptions(settings);
    try {
      partial = await this.deps.daemon.onPartial(token, (chunk) => {
        const added = this.transcript.applyChunk(chunk);
        if (added) this.post({ type: "delta", text: added });
      });
      const useSession = await this.sessionsAvailable();
      const result = useSession ? await this.sessionTurn(text, options, token, cancel.token) : await this.deps.daemon.request<ChatResultLike>("dspex/chat", { messages, ...options, partialResultToken: token }, cancel.token);
      const turn = this.transcript.finish(result);
      this.post({ type: "final", turn });
      this.deps.samples.add({ at: Date.now(), provider: result.provider ?? String(options.provider ?? "?"), model: result.model ?? "", latencyMs: result.latencyMs ?? Date.now() - t0, ok: true, cost: costOf(result.cost) ?? undefined });
      if (useSession) await this.session.save(result.latencyMs ?? Date.now() - t0).catch((err) => this.deps.log.info(`chat: the conversation could not be saved: ${describeError(err)}`));
    } catch (err) {
      if (isCancelled(err)) {
        this.transcript.stop();
        this.deps.log.info("chat: stopped by the user");
      } else {
        const message = describeError(err, "dspex/chat");
        this.transcript.fail(message);
        this.deps.log.info(`chat failed: ${message}`);
        const data = (err as any)?.data;
        this.deps.samples.add({ at: Date.now(), provider: data?.provider ?? String(options.provider ?? "?"), model: data?.model ?? "", latencyMs: Date.now() - t0, ok: false });
        if (needsApiKey(err)) {
          void vscode.window.showWarningMessage(`DSPex: ${message}`, "Set API Key").then((a) => {
            if (a) void vscode.commands.executeCommand("dspex.setApiKey", data?.provider);
          });
        }
      }
      this.post({ type: "final", turn: this.transcript.turns.at(-1) as Turn });
    } finally {
      partial?.dispose();
      cancel.dispose();
      this.cancel = undefined;
      this.deps.onAfterChat();
    }
  }

  /** One turn in the workspace's session; a session the daemon lost is put back first. */
  private async sessionTurn(text: string, options: Record<string, unknown>, partialResultToken: string, token: vscode.CancellationToken): Promise<ChatResultLike> {
    const { provider, model, temperature } = options as { provider?: string; model?: string; temperature?: number };
    const title = vscode.workspace.name ? `VS Code: ${vscode.workspace.name}` : "VS Code chat";
    if (this.session.differsFrom(provider, model)) {
      this.deps.log.info(`chat: the conversation goes on with ${[provider, model].filter(Boolean).join("/")}`);
      await this.session.retarget({ provider, model, title }).catch((err) => this.deps.log.info(`chat: could not switch the conversation's model: ${describeError(err)}`));
    }
    const turn = async () => {
      const sessionId = await this.session.ensure({ provider, model, title });
      return this.deps.daemon.request<ChatResultLike>("dspex/session/chat", { sessionId, content: text, partialResultToken, ...(temperature !== undefined ? { temperature } : {}) }, token);
    };
    try {
      return await turn();
    } catch (err) {
      if (!isUnknownSession(err)) throw err;
      this.deps.log.info("chat: the daemon no longer has this conversation; importing the saved copy");
      await this.session.reimport().catch(() => this.session.reset());
      return turn();
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
    const script = this.panel.webview.asWebviewUri(vscode.Uri.joinPath(this.deps.extensionUri, "dist", "webview", "chat.js"));
    return page({
      title: "DSPex Chat",
      cspSource: this.panel.webview.cspSource,
      nonce,
      css: CHAT_CSS,
      body: `<main id="log" aria-live="polite"></main>
<form id="form"><textarea id="input" rows="3" placeholder="Ask anything… (Ctrl+Enter to send)"></textarea>
<div class="buttons"><button id="send" type="submit">Send</button><button id="stop" type="button" class="secondary" disabled>Stop</button><button id="new" type="button" class="secondary" title="End this conversation and start a new one">New Chat</button></div></form>`,
      scriptSrc: script.toString(),
    });
  }

  dispose(): void {
    this.stop();
    if (ChatPanel.current === this) ChatPanel.current = undefined;
    for (const d of this.disposables) d.dispose();
    this.changed.dispose();
    this.panel.dispose();
  }
}

const CHAT_CSS = `
body { display: flex; flex-direction: column; height: 100vh; box-sizing: border-box; padding-bottom: 8px; }
#log { flex: 1; overflow-y: auto; padding: 8px 0; }
.turn { margin: 6px 0; padding: 8px 10px; border-radius: 4px; word-wrap: break-word; }
.turn .plain { white-space: pre-wrap; }
.turn.user { background: var(--vscode-textBlockQuote-background); border-left: 3px solid var(--vscode-textLink-foreground); }
.turn.assistant { background: var(--vscode-editorWidget-background); border-left: 3px solid var(--vscode-charts-green); }
.turn.assistant.streaming .text::after { content: "▍"; animation: blink 1s steps(2) infinite; }
.turn.stopped { border-left-color: var(--vscode-charts-yellow); }
.turn.error { border-left-color: var(--vscode-errorForeground); }
.role { font-size: 0.85em; font-weight: 600; color: var(--vscode-descriptionForeground); margin-bottom: 2px; }
.meta { font-size: 0.85em; color: var(--vscode-descriptionForeground); margin-top: 4px; }
.meta .model { font-weight: 600; }
.turn.error .meta { color: var(--vscode-errorForeground); }
#form { display: flex; flex-direction: column; gap: 6px; }
#input { width: 100%; box-sizing: border-box; resize: vertical; padding: 6px; }
.buttons { display: flex; gap: 6px; }
@keyframes blink { 50% { opacity: 0; } }
.markdown > :first-child { margin-top: 0; }
.markdown > :last-child { margin-bottom: 0; }
.markdown p, .markdown ul, .markdown ol { margin: 4px 0; }
.markdown h1, .markdown h2, .markdown h3, .markdown h4 { margin: 8px 0 4px; font-weight: 600; }
.markdown h1 { font-size: 1.3em; } .markdown h2 { font-size: 1.15em; } .markdown h3 { font-size: 1.05em; }
.markdown a { color: var(--vscode-textLink-foreground); }
.markdown blockquote { margin: 4px 0; padding-left: 8px; border-left: 3px solid var(--vscode-textBlockQuote-border); color: var(--vscode-descriptionForeground); }
.markdown table { border-collapse: collapse; margin: 4px 0; }
.markdown th, .markdown td { border: 1px solid var(--vscode-panel-border); padding: 2px 6px; }
.markdown :not(pre) > code { background: var(--vscode-textCodeBlock-background); padding: 0 3px; border-radius: 3px; }
.code-block { margin: 6px 0; border: 1px solid var(--vscode-panel-border); border-radius: 4px; overflow: hidden; }
.code-actions { display: flex; gap: 4px; align-items: center; padding: 2px 4px; background: var(--vscode-editorGroupHeader-tabsBackground); font-size: 0.85em; }
.code-actions .lang { flex: 1; color: var(--vscode-descriptionForeground); }
button.small { padding: 1px 8px; font-size: 0.95em; }
.code-block pre { margin: 0; padding: 8px; overflow-x: auto; background: var(--vscode-textCodeBlock-background); }
.hljs-keyword, .hljs-selector-tag, .hljs-literal, .hljs-built_in { color: var(--vscode-symbolIcon-keywordForeground, #569cd6); }
.hljs-string, .hljs-regexp, .hljs-char.escape_ { color: var(--vscode-debugTokenExpression-string, #ce9178); }
.hljs-number { color: var(--vscode-debugTokenExpression-number, #b5cea8); }
.hljs-comment, .hljs-quote { color: var(--vscode-descriptionForeground); font-style: italic; }
.hljs-title, .hljs-section { color: var(--vscode-symbolIcon-functionForeground, #dcdcaa); }
.hljs-type, .hljs-title.class_ { color: var(--vscode-symbolIcon-classForeground, #4ec9b0); }
.hljs-variable, .hljs-params, .hljs-attr, .hljs-property { color: var(--vscode-symbolIcon-variableForeground, #9cdcfe); }
.hljs-meta, .hljs-symbol { color: var(--vscode-symbolIcon-constantForeground, #4fc1ff); }
.hljs-addition { color: var(--vscode-gitDecoration-addedResourceForeground); }
.hljs-deletion { color: var(--vscode-gitDecoration-deletedResourceForeground); }
.hljs-emphasis { font-style: italic; } .hljs-strong { font-weight: 600; }
`;
