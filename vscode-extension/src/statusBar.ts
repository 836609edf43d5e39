// The status bar item: provider/model and health; click opens the dashboard.

import * as vscode from "vscode";
import { readSettings, type Daemon } from "./daemon";
import { entries } from "./dashboardModel";
import type { LmStatus } from "./languageModels";
import type { SampleLog } from "./stats";

export class StatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem("dspex.status", vscode.StatusBarAlignment.Right, 100);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly daemon: Daemon,
    private readonly samples: SampleLog,
    private readonly lm: () => LmStatus | undefined = () => undefined,
  ) {
    this.item.name = "DSPex";
    this.item.command = "dspex.showAnalytics";
    this.item.show();
    daemon.onDidChangeState(() => void this.update());
    this.timer = setInterval(() => void this.update(), 60_000);
    void this.update();
  }

  private seq = 0;

  async update(): Promise<void> {
    const seq = ++this.seq;
    const s = this.daemon.state;
    if (s === "starting") return this.set("$(sync~spin) DSPex", "DSPex: starting the daemon…");
    if (s === "not-installed") return this.set("$(error) DSPex: not installed", "The dspex daemon is not installed. Click for details.", "dspex.restartDaemon");
    if (s === "failed" || s === "stopped") return this.set("$(error) DSPex", "The dspex daemon is not running. Click to restart.", "dspex.restartDaemon");
    const settings = readSettings();
    let provider = settings.provider;
    let model = settings.model;
    let configured: boolean | undefined;
    const providers = await this.daemon.optional<any>("dspex/providers", {});
    if (providers.ok) {
      provider ||= providers.value.defaultProvider ?? "";
      const info = entries(providers.value).find(([n]) => n === provider)?.[1];
      model ||= info?.defaultModel ?? "";
      configured = info?.configured;
    }
    let health = "";
    let tip = "";
    const h = await this.daemon.optional<any>("dspex/analytics/health", { provider });
    const mine = h.ok ? entries(h.value).find(([n]) => n === provider)?.[1] ?? h.value : undefined;
    const status = String(mine?.status ?? (mine?.healthy === false ? "unhealthy" : mine?.healthy === true ? "healthy" : ""));
    if (status) {
      health = /healthy|ok|up/i.test(status) && !/un/i.test(status) ? "$(pass)" : "$(warning)";
      tip = `health: ${status}`;
    } else {
      const rate = this.samples.successRate(provider);
      if (Number.isFinite(rate)) {
        health = rate >= 0.9 ? "$(pass)" : "$(warning)";
        tip = `success rate in this window: ${(rate * 100).toFixed(0)}%`;
      }
    }
    if (configured === false) {
      health = "$(key)";
      tip = "no API key: run 'DSPex: Set API Key'";
    }
    // The daemon may have stopped (or a newer update started) while we waited for it: the
    // newer update has the last word, else a stale "provider/model" hides "not installed".
    if (seq !== this.seq || this.daemon.state !== "running") return;
    const lm = this.lm();
    const lmLine = !lm ? "" : lm.available ? `\nLanguage Model API: dspex models offered to VS Code (${lm.models})` : `\n${lm.reason}`;
    this.set(`$(hubot) ${provider || "dspex"}${model ? `/${model}` : ""} ${health}`.trim(), `DSPex: ${provider || "default provider"}${model ? ` / ${model}` : ""}${tip ? `\n${tip}` : ""}${lmLine}\nClick to open the analytics dashboard.`);
  }

  private set(text: string, tooltip: string, command = "dspex.showAnalytics"): void {
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.command = command;
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.item.dispose();
  }
}
