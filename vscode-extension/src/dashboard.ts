// `DSPex: Show Analytics`: a webview dashboard drawn with inline SVG (charts.ts).

import * as vscode from "vscode";
import type { Daemon } from "./daemon";
import { entries, renderDashboard, type DashboardData, type Fetched } from "./dashboardModel";
import type { SampleLog } from "./stats";
import { makeNonce, page } from "./webviewHtml";

export async function collectAnalytics(daemon: Daemon, samples: SampleLog, history: DashboardData["history"]): Promise<DashboardData> {
  const [providers, stats, compare, health, cost] = await Promise.all([
    daemon.optional("dspex/providers", {}),
    daemon.optional("dspex/stats", {}),
    daemon.optional("dspex/analytics/compare", {}),
    daemon.optional("dspex/analytics/health", {}),
    daemon.optional("dspex/cost", {}),
  ]);
  const names = new Set<string>(samples.providers());
  if (providers.ok) for (const [n, p] of entries(providers.value)) if (p.configured) names.add(n);
  if (stats.ok) for (const [n] of entries(stats.value)) if (!n.includes("/")) names.add(n);
  const performance: Record<string, Fetched<any>> = {};
  for (const name of names) {
    performance[name] = await daemon.optional("dspex/analytics/performance", { provider: name });
    const p = performance[name];
    if (p.ok && typeof p.value?.p50 === "number" && p.value.count > 0) {
      const h = (history[name] ??= []);
      h.push({ at: Date.now(), p50: p.value.p50, p95: p.value.p95 });
      if (h.length > 200) h.splice(0, h.length - 200);
    }
  }
  return { providers, stats, compare, health, cost, performance, samples, history, generatedAt: Date.now() };
}

export class Dashboard implements vscode.Disposable {
  static current: Dashboard | undefined;
  private readonly history: DashboardData["history"] = {};
  private readonly disposables: vscode.Disposable[] = [];
  lastData: DashboardData | undefined;
  renderedCharts = 0;

  static async show(daemon: Daemon, samples: SampleLog): Promise<Dashboard> {
    if (!Dashboard.current) {
      const panel = vscode.window.createWebviewPanel("dspex.analytics", "DSPex Analytics", vscode.ViewColumn.Active, { enableScripts: true, localResourceRoots: [] });
      Dashboard.current = new Dashboard(panel, daemon, samples);
    } else {
      Dashboard.current.panel.reveal();
    }
    await Dashboard.current.refresh();
    return Dashboard.current;
  }

  private constructor(readonly panel: vscode.WebviewPanel, private readonly daemon: Daemon, private readonly samples: SampleLog) {
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage(
      (m) => {
        if (m?.type === "refresh") void this.refresh();
        if (m?.type === "rendered") this.renderedCharts = Number(m.charts) || 0;
      },
      null,
      this.disposables,
    );
  }

  async refresh(): Promise<void> {
    const data = await collectAnalytics(this.daemon, this.samples, this.history);
    this.lastData = data;
    const nonce = makeNonce();
    this.panel.webview.html = page({
      title: "DSPex Analytics",
      cspSource: this.panel.webview.cspSource,
      nonce,
      css: DASHBOARD_CSS,
      body: renderDashboard(data),
      script: `const vscode = acquireVsCodeApi();
document.getElementById('refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
vscode.postMessage({ type: 'rendered', charts: document.querySelectorAll('svg.chart').length });`,
    });
  }

  dispose(): void {
    Dashboard.current = undefined;
    for (const d of this.disposables) d.dispose();
    this.panel.dispose();
  }
}

const DASHBOARD_CSS = `
header { display: flex; align-items: baseline; gap: 12px; }
header h1 { font-size: 1.4em; margin: 12px 0 6px; }
.banner { border-left: 3px solid var(--vscode-charts-yellow); padding-left: 8px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
section { background: var(--vscode-editorWidget-background); border: 1px solid var(--vscode-panel-border, transparent); border-radius: 4px; padding: 8px 12px; }
section h2 { font-size: 1.05em; margin: 4px 0 8px; }
figure { margin: 0 0 8px; }
figcaption { font-size: 0.85em; color: var(--vscode-descriptionForeground); }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; margin-top: 6px; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid var(--vscode-panel-border, transparent); }
svg.chart { max-width: 100%; height: auto; }
.rec { font-size: 1.05em; }
`;
