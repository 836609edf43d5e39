// Starting, restarting and talking to the dspex daemon through vscode-languageclient.

import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  ProgressType,
  RevealOutputChannelOn,
  State,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import { buildDaemonSettings, installCommand, redactPayload, resolveServerCommand, whichIn, type ExtensionSettings, type ServerCommand } from "./config";
import { isMethodNotFound } from "./errors";
import type { RedactingChannel } from "./log";
import type { Redactor } from "./redact";
import type { KeyStore } from "./keys";

export type DaemonState = "stopped" | "starting" | "running" | "not-installed" | "failed";

const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 3 * 60_000;

export function readSettings(): ExtensionSettings {
  const c = vscode.workspace.getConfiguration("dspex");
  return {
    provider: c.get<string>("provider", ""),
    model: c.get<string>("model", ""),
    temperature: c.get<number | null>("temperature", null),
    telemetry: c.get<boolean>("telemetry", false),
    providerSettings: c.get<Record<string, unknown>>("providerSettings", {}),
    daemon: {
      command: c.get<string>("daemon.command", ""),
      args: c.get<string[]>("daemon.args", []),
      pythonPath: c.get<string>("daemon.pythonPath", ""),
      env: c.get<Record<string, string>>("daemon.env", {}),
    },
  };
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The documents inline completion serves (and that are synced to the daemon for it). */
export function inlineDocumentSelector(enabled: boolean): { scheme: string }[] {
  return enabled ? [{ scheme: "file" }, { scheme: "untitled" }] : [];
}

export class Daemon implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private restarts: number[] = [];
  private payload: { dspex: Record<string, unknown> } = { dspex: {} };
  private readonly stateEmitter = new vscode.EventEmitter<DaemonState>();
  readonly onDidChangeState = this.stateEmitter.event;
  state: DaemonState = "stopped";
  /** How the daemon's config spells `telemetry`, learnt from `dspex/config` (absent: don't send). */
  private telemetryShape: boolean | "object" = false;
  private installTerminal: vscode.Terminal | undefined;
  private disposables: vscode.Disposable[] = [];

  constructor(
    private readonly log: RedactingChannel,
    private readonly redactor: Redactor,
    private readonly keys: KeyStore,
  ) {
    this.disposables.push(
      vscode.window.onDidCloseTerminal((t) => {
        if (t === this.installTerminal) {
          this.installTerminal = undefined;
          void this.start();
        }
      }),
    );
  }

  private setState(s: DaemonState): void {
    this.state = s;
    this.stateEmitter.fire(s);
  }

  /** The methods the daemon advertised in `capabilities.experimental.dspex.methods`. */
  methods(): string[] {
    const dspex = this.client?.initializeResult?.capabilities?.experimental?.dspex;
    return Array.isArray(dspex?.methods) ? dspex.methods : [];
  }

  knownProviders(): string[] | undefined {
    const dspex = this.client?.initializeResult?.capabilities?.experimental?.dspex;
    return Array.isArray(dspex?.providers) ? dspex.providers : undefined;
  }

  /** False only when the daemon told us its method list and `method` is not in it. */
  has(method: string): boolean {
    const m = this.methods();
    return m.length === 0 || m.includes(method);
  }

  async rebuildPayload(): Promise<void> {
    const keys = await this.keys.all();
    for (const k of Object.values(keys)) this.redactor.add(k);
    const { payload, warnings } = buildDaemonSettings({ settings: readSettings(), keys, knownProviders: this.knownProviders(), daemonHasTelemetry: this.telemetryShape });
    for (const w of warnings) this.log.info(`settings: ${w}`);
    this.payload = payload;
  }

  /** Sends the current settings (and keys) to the running daemon. */
  async pushSettings(): Promise<void> {
    if (this.client?.state === State.Running && this.has("dspex/config")) {
      try {
        const cfg = await this.client.sendRequest<any>("dspex/config", {});
        const t = cfg?.config?.telemetry;
        this.telemetryShape = typeof t === "boolean" ? true : t && typeof t === "object" && "enabled" in t ? "object" : false;
      } catch {
        /* keep the previous guess */
      }
    }
    await this.rebuildPayload();
    if (this.client?.state === State.Running) {
      this.log.info(`settings sent to the daemon: ${JSON.stringify(redactPayload(this.payload))}`);
      await this.client.sendNotification(DidChangeConfigurationNotification.type, { settings: this.payload });
    }
  }

  private async preflight(cmd: ServerCommand | undefined): Promise<string | undefined> {
    if (!cmd) return "The dspex daemon (dspex-server) was not found on PATH.";
    if (cmd.source === "python") {
      const result = await new Promise<{ code: number | null; err?: string }>((resolve) => {
        const p = spawn(cmd.command, ["-c", "import dspex_server"], { stdio: "ignore", env: { ...process.env, ...readSettings().daemon.env } });
        const timer = setTimeout(() => p.kill(), 20_000);
        p.on("error", (e) => {
          clearTimeout(timer);
          resolve({ code: null, err: e.message });
        });
        p.on("exit", (code) => {
          clearTimeout(timer);
          resolve({ code });
        });
      });
      if (result.err) return `Python was not found at '${cmd.command}' (${result.err}).`;
      if (result.code !== 0) return `dspex is not installed in ${cmd.command}.`;
      return undefined;
    }
    const file = cmd.command.includes("/") || cmd.command.includes("\\") ? (isExecutable(cmd.command) ? cmd.command : undefined) : whichIn(cmd.command, process.env.PATH, isExecutable);
    return file ? undefined : `The daemon command '${cmd.command}' was not found.`;
  }

  private startChain: Promise<void> = Promise.resolve();

  /** (Re)starts the daemon; calls made while a start is under way run after it, in order. */
  start(): Promise<void> {
    this.startChain = this.startChain.then(() => this.startNow()).catch((err) => this.log.error(`start: ${(err as Error)?.message ?? err}`));
    return this.startChain;
  }

  private async startNow(): Promise<void> {
    await this.stop();
    this.setState("starting");
    const settings = readSettings();
    const cmd = resolveServerCommand(settings.daemon, (n) => whichIn(n, process.env.PATH, isExecutable));
    const problem = await this.preflight(cmd);
    if (problem) {
      this.log.info(problem);
      this.setState("not-installed");
      void this.offerInstall(problem, settings.daemon.pythonPath || (cmd?.source === "python" ? cmd.command : undefined));
      return;
    }
    await this.rebuildPayload();
    this.log.info(`starting the daemon: ${cmd!.command} ${cmd!.args.join(" ")} (${cmd!.source})`);
    const serverOptions: ServerOptions = {
      command: cmd!.command,
      args: cmd!.args,
      options: { env: { ...process.env, ...settings.daemon.env } },
    };
    const inline = vscode.workspace.getConfiguration("dspex").get<boolean>("inlineCompletion.enabled", false);
    const clientOptions: LanguageClientOptions = {
      // Documents are synced to the daemon only for inline completion (the client registers
      // its textDocument/inlineCompletion provider for this selector), and only when on.
      documentSelector: inlineDocumentSelector(inline),
      outputChannel: this.log,
      traceOutputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => this.payload,
      middleware: {
        workspace: {
          // The daemon pulls `workspace/configuration` for section "dspex" when a change
          // notification has no settings: answer with the same block (keys included).
          configuration: (params, token, next) => {
            if (params.items.every((i) => i.section === "dspex")) return params.items.map(() => this.payload.dspex);
            return next(params, token);
          },
        },
      },
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
          const now = Date.now();
          this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
          this.restarts.push(now);
          if (this.restarts.length > MAX_RESTARTS) {
            this.log.info(`the daemon stopped ${MAX_RESTARTS} times in 3 minutes; not restarting it`);
            this.setState("failed");
            void vscode.window.showErrorMessage("DSPex: the daemon keeps stopping. See the log.", "Show Log", "Restart").then((a) => {
              if (a === "Show Log") this.log.show(true);
              if (a === "Restart") void this.start();
            });
            return { action: CloseAction.DoNotRestart, handled: true };
          }
          this.log.info("the daemon stopped; restarting it");
          this.setState("starting");
          return { action: CloseAction.Restart, handled: true };
        },
      },
    };
    const client = new LanguageClient("dspex", "DSPex", serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((e) => {
      if (client !== this.client) return;
      if (e.newState === State.Running) {
        this.setState("running");
        // The provider list is known now: resend settings filtered to it.
        void this.pushSettings();
      }
    });
    try {
      await client.start();
      const info = client.initializeResult?.serverInfo;
      this.log.info(`daemon running: ${info?.name ?? "dspex"} ${info?.version ?? ""}; methods: ${this.methods().join(", ")}`);
      this.setState("running");
    } catch (err) {
      this.log.info(`the daemon failed to start: ${(err as Error)?.message ?? err}`);
      this.setState("failed");
      void vscode.window.showErrorMessage("DSPex: the daemon failed to start.", "Show Log", "Open Settings").then((a) => {
        if (a === "Show Log") this.log.show(true);
        if (a === "Open Settings") void vscode.commands.executeCommand("workbench.action.openSettings", "dspex.daemon");
      });
    }
  }

  private async offerInstall(problem: string, python: string | undefined): Promise<void> {
    const install = "Install with pip";
    const settings = "Open Settings";
    const choice = await vscode.window.showErrorMessage(`DSPex: ${problem} Install dspex, or set dspex.daemon.pythonPath / dspex.daemon.command.`, install, settings, "Retry");
    if (choice === install) {
      const term = vscode.window.createTerminal({ name: "DSPex: install" });
      this.installTerminal = term;
      term.show();
      term.sendText(`${installCommand(python)} && exit`);
    } else if (choice === settings) {
      await vscode.commands.executeCommand("workbench.action.openSettings", "dspex.daemon");
    } else if (choice === "Retry") {
      await this.start();
    }
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) {
      try {
        await c.stop(5000);
      } catch {
        /* already gone */
      }
      await c.dispose().catch(() => undefined);
    }
    this.setState("stopped");
  }

  async ready(timeoutMs = 30_000): Promise<LanguageClient> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      if (this.client && this.client.state === State.Running && this.state === "running") return this.client;
      if (this.state === "not-installed" || this.state === "failed") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(this.state === "not-installed" ? "the dspex daemon is not installed" : "the dspex daemon is not running");
  }

  async request<T = any>(method: string, params: unknown, token?: vscode.CancellationToken): Promise<T> {
    const client = await this.ready();
    return token ? client.sendRequest<T>(method, params, token) : client.sendRequest<T>(method, params);
  }

  /** A request whose -32601 (method not in this daemon) is an answer, not an error. */
  async optional<T = any>(method: string, params: unknown): Promise<{ ok: true; value: T } | { ok: false; missing: boolean; error?: string }> {
    if (!this.has(method)) return { ok: false, missing: true };
    try {
      return { ok: true, value: await this.request<T>(method, params) };
    } catch (err) {
      if (isMethodNotFound(err)) return { ok: false, missing: true };
      return { ok: false, missing: false, error: (err as Error)?.message ?? String(err) };
    }
  }

  /** Partial results on `token` go to `handler` until the returned disposable is disposed. */
  async onPartial(token: string, handler: (value: any) => void): Promise<vscode.Disposable> {
    const client = await this.ready();
    return client.onProgress(new ProgressType<any>(), token, handler);
  }

  dispose(): void {
    void this.stop();
    for (const d of this.disposables) d.dispose();
    this.stateEmitter.dispose();
  }
}
