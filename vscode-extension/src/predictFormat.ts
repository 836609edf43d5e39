// Signatures for `DSPex: Predict on Selection` and the document the result is shown in. Pure.

export interface SignatureFields {
  inputs: string[];
  outputs: { name: string; type?: string }[];
}

/**
 * Parse a DSPy-style signature `"text, context -> sentiment, confidence: float"` enough to
 * know the input names (the selection goes into the first). The daemon does the real parsing.
 */
export function parseSignature(signature: string): SignatureFields | undefined {
  const parts = signature.split("->");
  if (parts.length !== 2) return undefined;
  const field = (s: string) => {
    const [name, type] = s.split(":").map((x) => x.trim());
    return { name, type: type || undefined };
  };
  const inputs = splitTopLevel(parts[0]).map(field).map((f) => f.name);
  const outputs = splitTopLevel(parts[1]).map(field);
  const ident = /^[A-Za-z_][A-Za-z0-9_]*$/;
  if (!inputs.length || !outputs.length) return undefined;
  if (![...inputs, ...outputs.map((o) => o.name)].every((n) => ident.test(n))) return undefined;
  return { inputs, outputs };
}

/** Split on commas that are not inside brackets (`list[str], dict[str, int]`). */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "[" || ch === "(") depth++;
    if (ch === "]" || ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

export function predictParams(signature: string, selection: string, base: Record<string, unknown>): Record<string, unknown> {
  const fields = parseSignature(signature);
  const first = fields?.inputs[0] ?? "text";
  return { ...base, signature, inputs: { [first]: selection } };
}

export interface PredictResultLike {
  outputs?: Record<string, unknown>;
  attempts?: number;
  usage?: { promptTokens?: number; completionTokens?: number; totalTokens?: number };
  cost?: number | { total?: number; totalUsd?: number } | null;
  provider?: string;
  model?: string;
}

/** A Markdown document: the signature, the input, one section per output field, then usage. */
export function formatPrediction(signature: string, selection: string, result: PredictResultLike): string {
  const lines = [`# DSPex prediction`, "", `**Signature:** \`${signature}\``, ""];
  if (result.provider || result.model) lines.push(`**Model:** ${[result.provider, result.model].filter(Boolean).join(" / ")}`, "");
  lines.push("## Input", "", fence(selection), "");
  lines.push("## Outputs", "");
  for (const [name, value] of Object.entries(result.outputs ?? {})) {
    lines.push(`### ${name}`, "");
    lines.push(typeof value === "string" ? value : fence(JSON.stringify(value, null, 2), "json"), "");
  }
  const meta: string[] = [];
  if (typeof result.attempts === "number") meta.push(`attempts: ${result.attempts}`);
  if (result.usage?.totalTokens !== undefined) meta.push(`tokens: ${result.usage.totalTokens}`);
  const cost = typeof result.cost === "number" ? result.cost : result.cost?.totalUsd ?? result.cost?.total;
  if (typeof cost === "number") meta.push(`cost: $${cost.toFixed(6)}`);
  if (meta.length) lines.push("---", "", `_${meta.join(" · ")}_`, "");
  return lines.join("\n");
}

function fence(text: string, lang = ""): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const f = "`".repeat(longest + 1);
  return `${f}${lang}\n${text}\n${f}`;
}
