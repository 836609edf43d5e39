// dspex's models in VS Code's Language Model API (`vscode.lm.registerLanguageModelChatProvider`,
// final in VS Code 1.104): other extensions and the chat view can pick them, requests stream
// through `dspex/chat`. Our floor stays VS Code 1.91 (and @types/vscode 1.91), so the API is
// feature-detected and typed here with the subset we use; where it is missing, that is logged
// once and shown in the status bar's tooltip, and nothing else changes.

import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import type { Daemon } from "./daemon";
import { describeError, isCancelled } from "./errors";
import { estimateTokens, lmApiProblem, lmModels, partsText, toDspexMessages, type LmModelInfo } from "./lmModel";
import type { RedactingChannel } from "./log";

export const VENDOR = "dspex";

interface LmProvider {
  onDidChangeLanguageModelChatInformation?: vscode.Event<void>;
  provideLanguageModelChatInformation(options: { silent: boolean }, token: vscode.CancellationToken): Promise<LmModelInfo[]>;
  provideLanguageModelChatResponse(model: LmModelInfo, messages: readonly { role: number; content: unknown; name?: string }[], options: { modelOptions?: Record<string, unknown> }, progress: vscode.Progress<unknown>, token: vscode.CancellationToken): Promise<void>;
  provideTokenCount(model: LmModelInfo, text: string | { content: unknown }, token: vscode.CancellationToken): Promise<number>;
}

interface LmNamespace {
  registerLanguageModelChatProvider?: (vendor: string, provider: LmProvider) => vscode.Disposable;
}

export type LmStatus = { available: false; reason: string } | { available: true; models: number };

export class LanguageModels implements vscode.Disposable {
  status: LmStatus;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];

  constructor(private readonly daemon: Daemon, private readonly log: RedactingChannel) {
    const lm = (vscode as unknown as { lm?: LmNamespace }).lm;
    const problem = lmApiProblem(vscode as never);
    if (problem || typeof lm?.registerLanguageModelChatProvider !== "function") {
      this.status = { available: false, reason: problem ?? "Language Model API not available" };
      log.info(this.status.reason);
      return;
    }
    this.status = { available: true, models: 0 };
    try {
      this.disposables.push(lm.registerLanguageModelChatProvider(VENDOR, this.provider()));
      log.info("dspex models registered with VS Code's Language Model API (vendor 'dspex')");
    } catch (err) {
      this.status = { available: false, reason: `Language Model API refused the dspex provider: ${describeError(err)}` };
      log.info(this.status.reason);
      return;
    }
    // The model list follows the daemon (restarts) and its keys (a new key, a new provider).
    this.disposables.push(daemon.onDidChangeState((s) => s === "running" && this.changed.fire()));
  }

  /** Tells VS Code to ask for the models again (e.g. after a key was set). */
  refresh(): void {
    this.changed.fire();
  }

  private provider(): LmProvider {
    const TextPart = (vscode as unknown as { LanguageModelTextPart: new (value: string) => unknown }).LanguageModelTextPart;
    return {
      onDidChangeLanguageModelChatInformation: this.changed.event,
      provideLanguageModelChatInformation: async () => {
        try {
          const [providers, models] = await Promise.all([
            this.daemon.request<{ providers?: unknown[] }>("dspex/providers", {}),
            this.daemon.optional<{ models?: unknown[] }>("dspex/models/list", {}),
          ]);
          const list = lmModels((providers.providers ?? []) as never[], (models.ok ? models.value.models ?? [] : []) as never[]);
          this.status = { available: true, models: list.length };
          return list;
        } catch (err) {
          this.log.info(`language models: the daemon's model list is not available: ${describeError(err)}`);
          return [];
        }
      },
      provideLanguageModelChatResponse: async (model, messages, options, progress, token) => {
        const partialResultToken = `lm-${randomUUID()}`;
        const cancel = new vscode.CancellationTokenSource();
        const sub = token.onCancellationRequested(() => cancel.cancel());
        let partial: vscode.Disposable | undefined;
        let streamed = false;
        try {
          partial = await this.daemon.onPartial(partialResultToken, (chunk) => {
            const text = chunk?.delta?.content;
            if (typeof text === "string" && text) {
              streamed = true;
              progress.report(new TextPart(text));
            }
          });
          const params: Record<string, unknown> = { provider: model.dspex.provider, model: model.dspex.model, messages: toDspexMessages(messages), partialResultToken };
          const mo = options.modelOptions ?? {};
          if (typeof mo.temperature === "number") params.temperature = mo.temperature;
          if (typeof mo.maxTokens === "number" || typeof mo.max_tokens === "number") params.maxTokens = mo.maxTokens ?? mo.max_tokens;
          const result = await this.daemon.request<any>("dspex/chat", params, cancel.token);
          const text = result?.choices?.[0]?.message?.content;
          // A daemon that answered without partial results still answers.
          if (!streamed && typeof text === "string" && text) progress.report(new TextPart(text));
        } catch (err) {
          if (isCancelled(err) || token.isCancellationRequested) return;
          throw new Error(describeError(err, "dspex/chat"));
        } finally {
          partial?.dispose();
          sub.dispose();
          cancel.dispose();
        }
      },
      provideTokenCount: async (_model, text) => estimateTokens(typeof text === "string" ? text : partsText(text.content)),
    };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
