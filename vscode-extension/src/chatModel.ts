// The chat transcript and how streamed chunks change it. Pure: unit-tested in Node.

export type Role = "system" | "user" | "assistant";

export interface Turn {
  role: Role;
  content: string;
  /** assistant turns: streaming until done; `stopped` when the user pressed Stop */
  state?: "streaming" | "done" | "stopped" | "error";
  meta?: string;
}

export interface ChatChunkLike {
  delta?: { content?: string | null } | null;
  finishReason?: string | null;
}

export interface ChatResultLike {
  choices?: { message?: { content?: string | null }; finishReason?: string }[];
  usage?: { promptTokens?: number; completionTokens?: number; totalTokens?: number };
  provider?: string;
  model?: string;
  latencyMs?: number;
  notices?: string[] | null;
  cost?: { total?: number } | number | null;
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
    const parts = [[result.provider, result.model].filter(Boolean).join("/")];
    if (typeof result.latencyMs === "number") parts.push(`${Math.round(result.latencyMs)} ms`);
    if (result.usage?.totalTokens !== undefined) parts.push(`${result.usage.totalTokens} tokens`);
    const cost = typeof result.cost === "number" ? result.cost : result.cost?.total;
    if (typeof cost === "number" && cost > 0) parts.push(`$${cost.toFixed(cost < 0.01 ? 5 : 3)}`);
    if (result.notices?.length) parts.push(...result.notices);
    last.meta = parts.filter(Boolean).join(" · ");
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
}
