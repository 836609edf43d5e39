// Keeps secrets out of every log line the extension writes. Pure.

export class Redactor {
  private secrets = new Set<string>();

  add(secret: string | undefined): void {
    // Very short strings would redact ordinary words; real keys are long.
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }

  remove(secret: string | undefined): void {
    if (secret) this.secrets.delete(secret);
  }

  /** The secrets it knows (to scrub data before it is stored, e.g. a saved chat). */
  known(): string[] {
    return [...this.secrets];
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) {
      if (out.includes(s)) out = out.split(s).join("<redacted>");
    }
    // Keys a log line might quote even if we never saw them (e.g. from the daemon's env).
    return out.replace(/("?(?:apiKey|api_key|authorization)"?\s*[:=]\s*"?)(?!<redacted>)[^"\s,}]{8,}/gi, "$1<redacted>");
  }
}
