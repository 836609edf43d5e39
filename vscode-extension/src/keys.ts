// API keys in VS Code's SecretStorage. The names of providers with a key are kept in
// globalState (a name is not a secret); the keys themselves only in SecretStorage.

import type * as vscode from "vscode";

const INDEX = "dspex.keyProviders";
const secretId = (provider: string) => `dspex.apiKey.${provider}`;

export class KeyStore {
  constructor(private readonly secrets: vscode.SecretStorage, private readonly state: vscode.Memento) {}

  providers(): string[] {
    return this.state.get<string[]>(INDEX, []);
  }

  async set(provider: string, key: string): Promise<void> {
    await this.secrets.store(secretId(provider), key);
    const names = new Set(this.providers());
    names.add(provider);
    await this.state.update(INDEX, [...names].sort());
  }

  async delete(provider: string): Promise<void> {
    await this.secrets.delete(secretId(provider));
    await this.state.update(INDEX, this.providers().filter((p) => p !== provider));
  }

  async all(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const p of this.providers()) {
      const k = await this.secrets.get(secretId(p));
      if (k) out[p] = k;
    }
    return out;
  }
}
