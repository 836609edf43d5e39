// The chat transcript and how streamed chunks change it. Pure: unit-tested in Node.

export type Role = "system" | "user" | "assistant";

export interface Turn {
  role: Role;
  content: string;
  /** assistant turns: streaming until done; `stopped` when the user pressed Stop */
  state?: "streaming" | "done" | "stopped" | "error";
  /** the meta line as text: model · latency · tokens · cost (or the error) */
  meta?: string;
  /** the same, in parts the webview styles (`cls`: model, latency, tokens, cost, notice) */
  metaParts?: MetaPart[];
}

export interface MetaPart {
  cls: "model" | "latency" | "tokens" | "cost" | "notice";
  text: string;
}

export interface ChatChunkLike {
  delta?: { content?: string | null } | null;
  finishReason?: string | null;
}

export interface UsageLike {
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
}

export interface ChatResultLike {
  choices?: { message?: { content?: string | null }; finishReason?: string }[];
  usage?: UsageLike;
  provider?: string;
  model?: string;
  latencyMs?: number;
  notices?: string[] | null;
  cost?: { total?: number | null } | number | null;
}

/** One message of `dspex/session/history` (or of a session export). */
export interface SessionMessageLike {
  role: string;
  content?: unknown;
  at?: string;
  model?: string | null;
  usage?: UsageLike | null;
  cost?: { total?: number | null } | null;
}

/** What an answer's meta line shows; each part is left out when unknown. */
export interface AnswerInfo {
  provider?: string;
  model?: string;
  latencyMs?: number;
  usage?: UsageLike | null;
  /** USD; null: the daemon does not know this model's price */
  cost?: number | null;
  notices?: string[] | null;
}

export function costOf(cost: ChatResultLike["cost"] | undefined): number | null | undefined {
  if (cost === null) return null;
  if (typeof cost === "number") return cost;
  if (cost && typeof cost === "object") return typeof cost.total === "number" ? cost.total : null;
  return undefined;
}

export function formatCost(usd: number): string {
  if (usd === 0) return "$0.00";
  return `$${usd.toFixed(usd < 0.01 ? 5 : 3)}`;
}

export function formatLatency(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function metaParts(info: AnswerInfo): MetaPart[] {
  const parts: MetaPart[] = [];
  const model = [info.provider, info.model].filter(Boolean).join("/");
  if (model) parts.push({ cls: "model", text: model });
  if (typeof info.latencyMs === "number") parts.push({ cls: "latency", text: formatLatency(info.latencyMs) });
  const u = info.usage;
  if (u && typeof u.totalTokens === "number") {
    const split = typeof u.promptTokens === "number" && typeof u.completionTokens === "number" ? ` (${u.promptTokens} in, ${u.completionTokens} out)` : "";
    parts.push({ cls: "tokens", text: `${u.totalTokens} tokens${split}` });
  }
  if (typeof info.cost === "number") parts.push({ cls: "cost", text: formatCost(info.cost) });
  else if (info.cost === null) parts.push({ cls: "cost", text: "cost unknown" });
  for (const n of info.notices ?? []) parts.push({ cls: "notice", text: n });
  return parts;
}

function setMeta(turn: Turn, info: AnswerInfo): void {
  turn.metaParts = metaParts(info);
  turn.meta = turn.metaParts.map((p) => p.text).join(" · ");
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p === "object" && typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : "")).join("");
  return content == null ? "" : JSON.stringify(content);
}

export class Transcript {
  readonly turns: Turn[] = [];
  private chunks = 0;

  addUser(content: string): void {
    this.turns.push({ role: "user", content });
  }

  /** Starts the assistant's turn; returns its index. */
  beginAssistant(): number {
    this.chunks = 0;
    this.turns.push({ role: "assistant", content: "", state: "streaming" });
    return this.turns.length - 1;
  }

  get streaming(): boolean {
    return this.turns.at(-1)?.state === "streaming";
  }

  get chunkCount(): number {
    return this.chunks;
  }

  /** Applies one partial result; returns the text it added ("" if none). */
  applyChunk(chunk: ChatChunkLike): string {
    const last = this.turns.at(-1);
    const text = chunk?.delta?.content ?? "";
    if (!last || last.state !== "streaming" || !text) return "";
    last.content += text;
    this.chunks++;
    return text;
  }

  /** The final result is authoritative: it replaces what was streamed. */
  finish(result: ChatResultLike): Turn {
    const last = this.turns.at(-1)!;
    const content = result.choices?.[0]?.message?.content;
    if (typeof content === "string") last.content = content;
    last.state = "done";
    setMeta(last, { provider: result.provider, model: result.model, latencyMs: result.latencyMs, usage: result.usage, cost: costOf(result.cost), notices: result.notices });
    return last;
  }

  stop(): void {
    const last = this.turns.at(-1);
    if (last?.state === "streaming") {
      last.state = "stopped";
      last.meta = "stopped";
    }
  }

  fail(message: string): void {
    const last = this.turns.at(-1);
    if (last?.state === "streaming") {
      last.state = "error";
      last.meta = message;
    }
  }

  /** The messages sent to the daemon: every user turn and every completed assistant turn. */
  messages(system?: string): { role: Role; content: string }[] {
    const out: { role: Role; content: string }[] = system ? [{ role: "system", content: system }] : [];
    for (const t of this.turns) {
      if (t.role === "assistant" && (t.state !== "done" || !t.content)) continue;
      out.push({ role: t.role, content: t.content });
    }
    return out;
  }

  clear(): void {
    this.turns.length = 0;
  }

  /**
   * Replaces the turns with a session's history (user and assistant text only; tool
   * traffic and system prompts are not shown). `latencies` (by the message's `at`) is what
   * the extension measured: a session's history does not keep it.
   */
  restore(messages: readonly SessionMessageLike[], provider?: string, latencies: Record<string, number> = {}): void {
    this.clear();
    for (const m of messages) {
      if (m.role !== "user" && m.role !== "assistant") continue;
      const content = textOf(m.content);
      if (m.role === "user") {
        this.turns.push({ role: "user", content });
        continue;
      }
      if (!content) continue;
      const turn: Turn = { role: "assistant", content, state: "done" };
      setMeta(turn, { provider, model: m.model ?? undefined, latencyMs: m.at ? latencies[m.at] : undefined, usage: m.usage, cost: m.cost ? costOf(m.cost) : undefined });
      this.turns.push(turn);
    }
  }
}
