// How daemon errors are told to the user. Pure: no vscode import (unit-tested in Node).

export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const REQUEST_CANCELLED = -32800;
export const SERVER_CANCELLED = -32802;

export interface ErrorLike {
  code?: unknown;
  message?: unknown;
  data?: unknown;
}

export interface DspexErrorData {
  kind?: string;
  message?: string;
  provider?: string | null;
  model?: string | null;
  retryable?: boolean;
  retryAfterMs?: number | null;
}

export function errorCode(err: unknown): number | undefined {
  const code = (err as ErrorLike | null)?.code;
  return typeof code === "number" ? code : undefined;
}

export function isMethodNotFound(err: unknown): boolean {
  return errorCode(err) === METHOD_NOT_FOUND;
}

export function isCancelled(err: unknown): boolean {
  const code = errorCode(err);
  if (code === REQUEST_CANCELLED || code === SERVER_CANCELLED) return true;
  return errorData(err)?.kind === "cancelled";
}

export function errorData(err: unknown): DspexErrorData | undefined {
  const data = (err as ErrorLike | null)?.data;
  return data && typeof data === "object" ? (data as DspexErrorData) : undefined;
}

/** What to put in front of the user for a failed request; never a stack trace. */
export function describeError(err: unknown, method?: string): string {
  if (isMethodNotFound(err)) {
    return `${method ?? "This method"} is not available in this version of the dspex daemon. Update dspex (pip install -U dspex).`;
  }
  if (isCancelled(err)) return "Cancelled.";
  const data = errorData(err);
  const raw = (err as ErrorLike | null)?.message;
  const message = (data?.message ?? (typeof raw === "string" ? raw : undefined) ?? String(err)).trim();
  if (errorCode(err) === INVALID_PARAMS) return `Invalid request: ${message}`;
  if (data?.kind) {
    const where = [data.provider, data.model].filter(Boolean).join("/");
    const hint = KIND_HINTS[data.kind];
    return `${where ? `${where}: ` : ""}${message}${hint ? ` (${hint})` : ""}`;
  }
  return message;
}

const KIND_HINTS: Record<string, string> = {
  provider_not_configured: "run 'DSPex: Set API Key'",
  rate_limited: "rate limited; try again shortly",
  circuit_open: "the provider is failing; dspex paused requests to it",
  timeout: "the provider did not answer in time",
  network_error: "check the network or the provider's base URL",
};

/** True when the error is about a missing API key, so that a "Set API Key" action helps. */
export function needsApiKey(err: unknown): boolean {
  return errorData(err)?.kind === "provider_not_configured";
}
