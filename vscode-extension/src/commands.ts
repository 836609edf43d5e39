// The commands of the command palette.

import * as vscode from "vscode";
import { ChatPanel, type ChatDeps } from "./chatPanel";
import { chatOptions } from "./config";
import { Dashboard } from "./dashboard";
import { entries } from "./dashboardModel";
import { readSettings, type Daemon } from "./daemon";
import { describeError, isMethodNotFound } from "./errors";
import type { KeyStore } from "./keys";
import type { RedactingChannel } from "./log";
import { formatPrediction, parseSignature, predictParams } from "./predictFormat";
import type { SampleLog } from "./stats";
import type { StatusBar } from "./statusBar";

export interface Ctx {
  daemon: Daemon;
  keys: KeyStore;
  log: RedactingChannel;
  samples: SampleLog;
  status: () => StatusBar | undefined;
  /** what the chat panel needs beyond the above (workspace state, secrets, extension URI) */
  chat: Pick<ChatDeps, "state" | "secrets" | "extensionUri">;
}

export function chatDeps(c: Ctx): ChatDeps {
  return { daemon: c.daemon, log: c.log, samples: c.samples, onAfterChat: () => void c.status()?.update(), ...c.chat };
}

function selectionText(): { text: string; language: string } | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const sel = editor.selection;
  const text = sel.isEmpty ? editor.document.lineAt(sel.active.line).text : editor.document.getText(sel);
  return text.trim() ? { text, language: editor.document.languageId } : undefined;
}

export function openChat(c: Ctx): ChatPanel {
  return ChatPanel.show(chatDeps(c));
}

export async function askSelection(c: Ctx, question?: string, textArg?: string): Promise<ChatPanel | undefined> {
  const sel = textArg !== undefined ? { text: textArg, language: "" } : selectionText();
  if (!sel) {
    void vscode.window.showInformationMessage("DSPex: select some text first.");
    return undefined;
  }
  const q = question ?? (await vscode.window.showInputBox({ title: "DSPex: Ask About Selection", prompt: "Your question about the selection", value: "Explain this." }));
  if (q === undefined) return undefined;
  const panel = openChat(c);
  void panel.send(`${q}\n\n\`\`\`${sel.language}\n${sel.text}\n\`\`\``);
  return panel;
}

export async function predictSelection(c: Ctx, signatureArg?: string, textArg?: string): Promise<vscode.TextDocument | undefined> {
  const sel = textArg !== undefined ? { text: textArg, language: "" } : selectionText();
  if (!sel) {
    void vscode.window.showInformationMessage("DSPex: select some text first.");
    return undefined;
  }
  let signature = signatureArg;
  if (!signature) {
    const typeOwn = "$(edit) Type a signature…";
    const sigs = vscode.workspace.getConfiguration("dspex").get<string[]>("signatures", []);
    const pick = await vscode.window.showQuickPick([...sigs, typeOwn], { title: "DSPex: Predict on Selection", placeHolder: "Signature: inputs -> outputs" });
    if (!pick) return undefined;
    signature = pick === typeOwn
      ? await vscode.window.showInputBox({ title: "Signature", prompt: "e.g. text -> sentiment, confidence: float", validateInput: (v) => (parseSignature(v) ? undefined : "Write 'inputs -> outputs', e.g. 'text -> summary'") })
      : pick;
    if (!signature) return undefined;
  }
  const options = chatOptions(readSettings());
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `DSPex: predicting ${signature}`, cancellable: true },
      (_p, token) => c.daemon.request<any>("dspex/predict", predictParams(signature!, sel.text, options), token),
    );
    const doc = await vscode.workspace.openTextDocument({ language: "markdown", content: formatPrediction(signature, sel.text, result) });
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
    // Rendered, in place of the source (the source stays open in its tab).
    await vscode.commands.executeCommand("markdown.showPreview", doc.uri).then(undefined, () => undefined);
    return doc;
  } catch (err) {
    if (isMethodNotFound(err)) {
      void vscode.window.showInformationMessage("DSPex: structured prediction (dspex/predict) is not available in this daemon yet. Update dspex.");
    } else {
      void vscode.window.showErrorMessage(`DSPex: ${describeError(err, "dspex/predict")}`);
    }
    c.log.info(`predict failed: ${describeError(err, "dspex/predict")}`);
    return undefined;
  }
}

interface ProviderItem extends vscode.QuickPickItem {
  name: string;
  defaultModel?: string;
}

async function pickProvider(c: Ctx, title: string): Promise<ProviderItem | undefined> {
  const res = await c.daemon.request<any>("dspex/providers", {});
  const items: ProviderItem[] = entries(res).map(([name, p]) => ({
    name,
    label: `${p.configured ? "$(check)" : "$(circle-outline)"} ${name}`,
    description: p.configured ? "configured" : "not configured",
    detail: [p.defaultModel ? `default model ${p.defaultModel}` : "", p.wireFormat ?? ""].filter(Boolean).join(" · "),
    defaultModel: p.defaultModel ?? undefined,
  }));
  return vscode.window.showQuickPick(items, { title, matchOnDescription: true, matchOnDetail: true });
}

export async function selectModel(c: Ctx, providerArg?: string, modelArg?: string): Promise<void> {
  let provider = providerArg;
  let defaultModel: string | undefined;
  if (!provider) {
    const item = await pickProvider(c, "DSPex: Select Provider");
    if (!item) return;
    provider = item.name;
    defaultModel = item.defaultModel;
  }
  let model = modelArg;
  if (model === undefined) {
    const listed = await c.daemon.optional<any>("dspex/models/list", { provider });
    const models = listed.ok ? (Array.isArray(listed.value) ? listed.value : listed.value?.models ?? []) : [];
    if (models.length) {
      const items = models.map((m: any) =>
        typeof m === "string"
          ? { label: m }
          : {
              label: String(m.id ?? m.name ?? m.model),
              description: [m.default ? "default" : "", m.contextWindow ? `${m.contextWindow.toLocaleString()} tokens context` : "", m.pricing?.inputPerMtok !== undefined ? `$${m.pricing.inputPerMtok}/$${m.pricing.outputPerMtok ?? 0} per Mtok` : "", m.local ? "local" : ""].filter(Boolean).join(" · "),
              detail: Array.isArray(m.capabilities) && m.capabilities.length ? m.capabilities.join(", ") : undefined,
            },
      );
      const pick = await vscode.window.showQuickPick([{ label: "(provider default)", description: defaultModel ?? "" }, ...items], { title: `DSPex: Select Model for ${provider}` });
      if (!pick) return;
      model = pick.label === "(provider default)" ? "" : pick.label;
    } else {
      model = await vscode.window.showInputBox({ title: `DSPex: Model for ${provider}`, prompt: "Model id (empty: the provider's default)", value: defaultModel ?? "" });
      if (model === undefined) return;
      if (model === defaultModel) model = "";
    }
  }
  const cfg = vscode.workspace.getConfiguration("dspex");
  const target = cfg.inspect("provider")?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await cfg.update("provider", provider, target);
  await cfg.update("model", model, target);
  // onDidChangeConfiguration pushes the settings to the daemon.
}

export async function setApiKey(c: Ctx, providerArg?: string, keyArg?: string): Promise<boolean> {
  let provider = providerArg;
  if (!provider) {
    const item = await pickProvider(c, "DSPex: Set API Key for…");
    if (!item) return false;
    provider = item.name;
  }
  const key = keyArg ?? (await vscode.window.showInputBox({ title: `DSPex: API key for ${provider}`, prompt: "Stored in VS Code's secret storage, never in settings.json", password: true, ignoreFocusOut: true }));
  if (!key) return false;
  await c.keys.set(provider, key.trim());
  await c.daemon.pushSettings();
  c.log.info(`API key for ${provider} saved in secret storage and sent to the daemon`);
  const res = await c.daemon.optional<any>("dspex/providers", {});
  const configured = res.ok ? entries(res.value).find(([n]) => n === provider)?.[1]?.configured : undefined;
  if (configured === false) void vscode.window.showWarningMessage(`DSPex: the daemon does not report ${provider} as configured. See the log.`);
  else void vscode.window.showInformationMessage(`DSPex: API key for ${provider} saved.`);
  void c.status()?.update();
  return configured !== false;
}

export async function clearApiKey(c: Ctx, providerArg?: string): Promise<void> {
  const provider = providerArg ?? (await vscode.window.showQuickPick(c.keys.providers(), { title: "DSPex: Clear API Key" }));
  if (!provider) return;
  await c.keys.delete(provider);
  // The key also sits in the daemon's initializationOptions layer: restart it without.
  c.log.info(`API key for ${provider} removed; restarting the daemon without it`);
  await c.daemon.start();
}

export async function showSessions(c: Ctx, sessionIdArg?: string): Promise<vscode.TextDocument | undefined> {
  const res = await c.daemon.optional<any>("dspex/session/list", {});
  if (!res.ok) {
    void vscode.window.showInformationMessage(res.missing ? "DSPex: sessions (dspex/session/list) are not available in this daemon yet." : `DSPex: ${res.error}`);
    return undefined;
  }
  const sessions: any[] = Array.isArray(res.value) ? res.value : res.value?.sessions ?? [];
  if (!sessions.length) {
    void vscode.window.showInformationMessage("DSPex: no sessions.");
    return undefined;
  }
  const items = sessions.map((s) => {
    const tokens = s.usage?.totalTokens ?? s.totalTokens;
    const cost = s.cost?.total ?? s.costUsd;
    return {
      label: String(s.title ?? s.name ?? s.sessionId ?? s.id),
      id: String(s.sessionId ?? s.id),
      description: [s.provider, s.model].filter(Boolean).join("/") + (s.busy ? " · busy" : ""),
      detail: [s.messageCount !== undefined ? `${s.messageCount} messages` : "", tokens !== undefined ? `${tokens} tokens` : "", typeof cost === "number" ? `$${cost.toFixed(4)}` : "", s.lastActiveAt ? `last active ${new Date(s.lastActiveAt).toLocaleString()}` : ""].filter(Boolean).join(" · "),
    };
  });
  const pick = sessionIdArg ? items.find((i) => i.id === sessionIdArg) : await vscode.window.showQuickPick(items, { title: "DSPex: Sessions" });
  if (!pick) return undefined;
  const hist = await c.daemon.optional<any>("dspex/session/history", { sessionId: pick.id });
  const messages: any[] = hist.ok ? hist.value?.messages ?? [] : [];
  const body = messages
    .map((m) => `**${m.role}**${m.at ? ` _${new Date(m.at).toLocaleString()}_` : ""}\n\n${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}\n`)
    .join("\n");
  const doc = await vscode.workspace.openTextDocument({ language: "markdown", content: `# Session ${pick.label}\n\n${pick.description}${pick.detail ? ` · ${pick.detail}` : ""}\n\n${body || "_no history available_"}` });
  await vscode.window.showTextDocument(doc, { preview: true });
  return doc;
}

export function register(ctx: vscode.ExtensionContext, c: Ctx): void {
  const reg = (id: string, fn: (...args: any[]) => unknown) =>
    ctx.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: any[]) => {
        try {
          return await fn(...args);
        } catch (err) {
          const msg = describeError(err);
          c.log.info(`${id} failed: ${msg}`);
          void vscode.window.showErrorMessage(`DSPex: ${msg}`);
          return undefined;
        }
      }),
    );
  reg("dspex.chat.open", () => openChat(c));
  reg("dspex.chat.new", async () => {
    const panel = openChat(c);
    await panel.restored;
    await panel.newChat();
    return panel;
  });
  reg("dspex.askSelection", (q?: string, t?: string) => askSelection(c, q, t));
  reg("dspex.predictSelection", (s?: string, t?: string) => predictSelection(c, s, t));
  reg("dspex.selectModel", (p?: string, m?: string) => selectModel(c, p, m));
  reg("dspex.setApiKey", (p?: string, k?: string) => setApiKey(c, typeof p === "string" ? p : undefined, k));
  reg("dspex.clearApiKey", (p?: string) => clearApiKey(c, p));
  reg("dspex.showAnalytics", () => Dashboard.show(c.daemon, c.samples));
  reg("dspex.showSessions", (id?: string) => showSessions(c, typeof id === "string" ? id : undefined));
  reg("dspex.restartDaemon", () => c.daemon.start());
  reg("dspex.showLog", () => c.log.show(true));
}
