// dspex's models as VS Code Language Model API entries, and VS Code's chat messages as dspex
// messages. Pure: no vscode import (unit-tested in Node).

/** `LanguageModelChatInformation` (VS Code 1.104+), the fields dspex fills. */
export interface LmModelInfo {
  id: string;
  name: string;
  family: string;
  version: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  tooltip?: string;
  detail?: string;
  capabilities: { imageInput?: boolean; toolCalling?: boolean | number };
  /** dspex's own names, to route the request */
  dspex: { provider: string; model: string };
}

export interface ProviderLike {
  name: string;
  configured?: boolean;
  defaultModel?: string | null;
  capabilities?: string[];
}

export interface CatalogModelLike {
  provider: string;
  id: string;
  contextWindow?: number | null;
  maxOutputTokens?: number | null;
  capabilities?: string[];
  default?: boolean;
  local?: boolean;
}

const DEFAULT_WINDOW = 128_000;
const DEFAULT_OUTPUT = 4_096;

/**
 * One entry per chat model of each configured provider: the catalog's chat models, or the
 * provider's default model when the catalog lists none. Token limits from the catalog.
 */
export function lmModels(providers: readonly ProviderLike[], catalog: readonly CatalogModelLike[]): LmModelInfo[] {
  const out: LmModelInfo[] = [];
  for (const p of providers) {
    if (!p.configured) continue;
    const models = catalog.filter((m) => m.provider === p.name && (m.capabilities ?? ["chat"]).includes("chat"));
    if (!models.length && p.defaultModel) models.push({ provider: p.name, id: p.defaultModel, default: true });
    for (const m of models) {
      const output = Math.max(1, m.maxOutputTokens ?? Math.min(DEFAULT_OUTPUT, m.contextWindow ?? DEFAULT_OUTPUT));
      const window = Math.max(output + 1, m.contextWindow ?? DEFAULT_WINDOW);
      out.push({
        id: `${p.name}/${m.id}`,
        name: `${m.id} (${p.name}, dspex)`,
        family: p.name,
        version: m.id,
        maxInputTokens: window - output,
        maxOutputTokens: output,
        tooltip: `${p.name}/${m.id} through the dspex daemon${m.default || m.id === p.defaultModel ? " (the provider's default)" : ""}`,
        detail: m.local ? "local" : undefined,
        capabilities: { imageInput: false, toolCalling: false },
        dspex: { provider: p.name, model: m.id },
      });
    }
  }
  return out;
}

/**
 * Why the running VS Code cannot take dspex's models (undefined: it can). `api` is the
 * `vscode` module: the provider API is final from VS Code 1.104.
 */
export function lmApiProblem(api: { lm?: { registerLanguageModelChatProvider?: unknown }; LanguageModelTextPart?: unknown; version?: string }): string | undefined {
  if (typeof api.lm?.registerLanguageModelChatProvider === "function" && typeof api.LanguageModelTextPart === "function") return undefined;
  return `Language Model API not available in this VS Code (${api.version ?? "unknown version"}; needs 1.104 or later): dspex models are not offered to VS Code's chat`;
}

/** VS Code's LanguageModelChatMessageRole: User = 1, Assistant = 2, System = 3 (proposed). */
export function roleName(role: number): "user" | "assistant" | "system" {
  return role === 2 ? "assistant" : role === 3 ? "system" : "user";
}

/** The text of a message's content parts (text parts have `value`; other parts are skipped). */
export function partsText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((p) => (p && typeof p === "object" && typeof (p as { value?: unknown }).value === "string" ? (p as { value: string }).value : "")).join("");
}

export function toDspexMessages(messages: readonly { role: number; content: unknown; name?: string }[]): { role: string; content: string }[] {
  return messages.map((m) => ({ role: roleName(m.role), content: partsText(m.content) })).filter((m) => m.content !== "");
}

/** About four characters a token: the rule of thumb the daemon's mock uses too. */
export function estimateTokens(text: string): number {
  return text ? Math.ceil(text.length / 4) : 0;
}
