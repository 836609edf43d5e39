// Entry point: the output channel, the daemon, the commands, the status bar.

import * as vscode from "vscode";
import { ChatPanel, trackEditors } from "./chatPanel";
import { chatDeps, register, type Ctx } from "./commands";
import { Daemon } from "./daemon";
import { Dashboard } from "./dashboard";
import { KeyStore } from "./keys";
import { LanguageModels } from "./languageModels";
import { RedactingChannel } from "./log";
import { Redactor } from "./redact";
import { SampleLog } from "./stats";
import { StatusBar } from "./statusBar";

export interface DspexApi {
  daemon: Daemon;
  log: RedactingChannel;
  samples: SampleLog;
  status: StatusBar;
  languageModels: LanguageModels;
  chatPanel(): ChatPanel | undefined;
  dashboard(): Dashboard | undefined;
}

export async function activate(context: vscode.ExtensionContext): Promise<DspexApi> {
  const redactor = new Redactor();
  const log = new RedactingChannel(vscode.window.createOutputChannel("DSPex", { log: true }), redactor);
  const traceSetting = () => vscode.workspace.getConfiguration("dspex").get<string>("trace.server", "off") !== "off";
  log.setTrace(traceSetting());
  const keys = new KeyStore(context.secrets, context.globalState);
  const daemon = new Daemon(log, redactor, keys);
  const samples = new SampleLog();
  let status: StatusBar | undefined;
  const c: Ctx = { daemon, keys, log, samples, status: () => status, chat: { state: context.workspaceState, secrets: () => redactor.known(), extensionUri: context.extensionUri } };
  register(context, c);
  trackEditors(context);
  // After a reload VS Code reopens the chat panel; it comes back with the workspace's conversation.
  context.subscriptions.push(vscode.window.registerWebviewPanelSerializer("dspex.chat", { deserializeWebviewPanel: async (panel) => void ChatPanel.revive(panel, chatDeps(c)) }));
  const languageModels = new LanguageModels(daemon, log);
  status = new StatusBar(daemon, samples, () => languageModels.status);
  context.subscriptions.push(log, daemon, status, languageModels);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("dspex.trace.server")) log.setTrace(traceSetting());
      if (e.affectsConfiguration("dspex.daemon") || e.affectsConfiguration("dspex.inlineCompletion.enabled")) {
        log.info("daemon or inline completion settings changed; restarting the daemon");
        void daemon.start();
      } else if (e.affectsConfiguration("dspex")) {
        void daemon.pushSettings().then(() => status?.update());
      }
    }),
    context.secrets.onDidChange(() => void daemon.pushSettings().then(() => languageModels.refresh())),
  );
  log.info("DSPex activated");
  void daemon.start();
  return { daemon, log, samples, status, languageModels, chatPanel: () => ChatPanel.current, dashboard: () => Dashboard.current };
}

export function deactivate(): Thenable<void> | undefined {
  return undefined;
}
