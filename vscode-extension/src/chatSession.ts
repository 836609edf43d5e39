// The chat panel's conversation as a daemon session, kept per workspace. The daemon holds
// the session in memory; after each answer its export (`dspex/session/export`: no secrets
// by the daemon's contract, and scrubbed again here against the keys we know) is saved in
// the workspace's state, so that a reload re-attaches to the live session by id, and a
// restarted daemon gets it back through `dspex/session/import`. Pure: no vscode import
// (unit-tested in Node with a fake daemon).

import { errorCode, errorData, INVALID_PARAMS } from "./errors";
import type { SessionMessageLike } from "./chatModel";

export const STATE_KEY = "dspex.chat.session";

/** The subset of vscode.Memento used here. */
export interface StateStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

export type Requester = <T>(method: string, params: unknown, token?: unknown) => Promise<T>;

export interface SessionExportLike {
  version: number;
  exportedAt?: string;
  sessions: { sessionId: string; provider?: string; model?: string; messages?: SessionMessageLike[]; [k: string]: unknown }[];
}

export interface SavedChat {
  version: 1;
  sessionId: string;
  provider?: string;
  model?: string;
  export?: SessionExportLike;
  /** measured latency of each answer, by the answer's `at` (a history does not keep it) */
  latencies: Record<string, number>;
}

export interface Restored {
  sessionId: string;
  provider?: string;
  model?: string;
  messages: SessionMessageLike[];
  latencies: Record<string, number>;
  /** how it came back: the daemon still had it, or it was imported from the saved export */
  how: "attached" | "imported";
}

const SECRET_FIELDS = new Set(["apiKey", "api_key", "awsSecretAccessKey", "awsSessionToken", "token", "password", "secret"]);

/** `value` without secret-named fields and with every known secret replaced. */
export function scrubSecrets<T>(value: T, secrets: readonly string[]): T {
  const known = secrets.filter((s) => s.length >= 8);
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return known.reduce((s, k) => s.split(k).join("<redacted>"), v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (!SECRET_FIELDS.has(k)) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

/** The daemon does not know this session (it restarted, or evicted it). */
export function isUnknownSession(err: unknown): boolean {
  if (errorCode(err) !== INVALID_PARAMS) return false;
  const errors = (errorData(err) as { errors?: { type?: string }[] } | undefined)?.errors;
  return Array.isArray(errors) && errors.some((e) => e?.type === "unknown_session");
}

export class ChatSession {
  private saved: SavedChat | undefined;

  constructor(
    private readonly request: Requester,
    private readonly state: StateStore,
    private readonly secrets: () => readonly string[],
  ) {
    this.saved = state.get<SavedChat>(STATE_KEY);
  }

  get id(): string | undefined {
    return this.saved?.sessionId;
  }

  get provider(): string | undefined {
    return this.saved?.provider;
  }

  /** The saved conversation, re-attached or re-imported; undefined when there is none. */
  async restore(): Promise<Restored | undefined> {
    const saved = this.saved;
    if (!saved) return undefined;
    let how: Restored["how"] = "attached";
    let history: { messages: SessionMessageLike[] };
    try {
      history = await this.request("dspex/session/history", { sessionId: saved.sessionId });
    } catch (err) {
      if (!isUnknownSession(err) || !saved.export) throw err;
      await this.reimport();
      how = "imported";
      history = await this.request("dspex/session/history", { sessionId: saved.sessionId });
    }
    return { sessionId: saved.sessionId, provider: saved.provider, model: saved.model, messages: history.messages ?? [], latencies: saved.latencies, how };
  }

  /** Puts the saved export back into the daemon under the same id. */
  async reimport(): Promise<void> {
    const saved = this.saved;
    if (!saved?.export) throw new Error("no saved session to import");
    const res = await this.request<{ sessionIds: string[] }>("dspex/session/import", { data: saved.export, onConflict: "replace" });
    const id = res.sessionIds?.[0];
    if (id && id !== saved.sessionId) saved.sessionId = id;
  }

  /** The session id, starting a session when there is none yet. */
  async ensure(options: { provider?: string; model?: string; temperature?: number; title?: string }): Promise<string> {
    if (this.saved) return this.saved.sessionId;
    const started = await this.request<{ sessionId: string; provider?: string; model?: string }>("dspex/session/start", options);
    this.saved = { version: 1, sessionId: started.sessionId, provider: started.provider, model: started.model, latencies: {} };
    await this.persist();
    return started.sessionId;
  }

  /** Whether the settings now name another provider or model than the session's. */
  differsFrom(provider?: string, model?: string): boolean {
    const s = this.saved;
    return !!s && ((!!provider && provider !== s.provider) || (!!model && model !== s.model));
  }

  /**
   * The conversation goes on with another provider or model (the user picked one): a new
   * session, started with them, gets the old one's history; the old one ends.
   */
  async retarget(options: { provider?: string; model?: string; title?: string }): Promise<void> {
    const saved = this.saved;
    if (!saved) return;
    const exported = await this.request<SessionExportLike>("dspex/session/export", { sessionId: saved.sessionId });
    const started = await this.request<{ sessionId: string; provider: string; model: string }>("dspex/session/start", options);
    const old = exported.sessions[0];
    const moved: SessionExportLike = { ...exported, sessions: [{ ...old, sessionId: started.sessionId, provider: started.provider, model: started.model }] };
    await this.request("dspex/session/import", { data: moved, onConflict: "replace" });
    await this.request("dspex/session/end", { sessionId: saved.sessionId }).catch(() => undefined);
    this.saved = { version: 1, sessionId: started.sessionId, provider: started.provider, model: started.model, export: scrubSecrets(moved, this.secrets()), latencies: saved.latencies };
    await this.persist();
  }

  /** After an answer: the session's export saved, with the answer's measured latency. */
  async save(latencyMs?: number): Promise<void> {
    const saved = this.saved;
    if (!saved) return;
    const exported = await this.request<SessionExportLike>("dspex/session/export", { sessionId: saved.sessionId });
    saved.export = scrubSecrets(exported, this.secrets());
    const messages = saved.export.sessions[0]?.messages ?? [];
    const answer = [...messages].reverse().find((m) => m.role === "assistant");
    if (latencyMs !== undefined && answer?.at) saved.latencies[answer.at] = latencyMs;
    const kept = new Set(messages.map((m) => m.at));
    for (const at of Object.keys(saved.latencies)) if (!kept.has(at)) delete saved.latencies[at];
    await this.persist();
  }

  /** "New chat": the daemon's session ends and the workspace forgets it. */
  async reset(): Promise<void> {
    const id = this.saved?.sessionId;
    this.saved = undefined;
    await this.state.update(STATE_KEY, undefined);
    if (id) await this.request("dspex/session/end", { sessionId: id }).catch(() => undefined);
  }

  private persist(): Thenable<void> {
    return this.state.update(STATE_KEY, this.saved ? scrubSecrets(this.saved, this.secrets()) : undefined);
  }
}
