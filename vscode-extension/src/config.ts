// Extension settings → daemon settings and daemon command line. Pure: unit-tested in Node.

export interface ExtensionSettings {
  provider: string;
  model: string;
  temperature: number | null;
  telemetry: boolean;
  providerSettings: Record<string, unknown>;
  daemon: { command: string; args: string[]; pythonPath: string; env: Record<string, string> };
}

export const DEFAULT_SETTINGS: ExtensionSettings = {
  provider: "",
  model: "",
  temperature: null,
  telemetry: false,
  providerSettings: {},
  daemon: { command: "", args: [], pythonPath: "", env: {} },
};

/** Keys that never travel from settings.json (keys come from SecretStorage only). */
const SECRET_FIELDS = new Set(["apiKey", "api_key", "awsSecretAccessKey", "awsSessionToken", "token", "password", "secret"]);

export interface DaemonSettingsInput {
  settings: ExtensionSettings;
  /** provider name → API key, from SecretStorage */
  keys: Record<string, string>;
  /** provider names the daemon knows; unknown ones would make it refuse the whole block */
  knownProviders?: readonly string[];
  /** whether the daemon's config has a `telemetry` entry (an older daemon rejects unknown keys) */
  daemonHasTelemetry?: boolean | "object";
}

export interface DaemonSettingsResult {
  /** `{dspex: {...}}`: the shape of initializationOptions and didChangeConfiguration settings */
  payload: { dspex: Record<string, unknown> };
  /** things the user should know (e.g. a key found in settings.json and dropped) */
  warnings: string[];
}

/**
 * The block the daemon's config layer accepts: `defaultProvider`, and
 * `providers.<name>.{apiKey, defaultModel, ...}` in camelCase.
 */
export function buildDaemonSettings(input: DaemonSettingsInput): DaemonSettingsResult {
  const { settings, keys } = input;
  const known = input.knownProviders ? new Set(input.knownProviders) : undefined;
  const warnings: string[] = [];
  const providers: Record<string, Record<string, unknown>> = {};
  const block = (name: string): Record<string, unknown> | undefined => {
    if (known && !known.has(name)) return undefined;
    return (providers[name] ??= {});
  };
  for (const [name, raw] of Object.entries(settings.providerSettings ?? {})) {
    if (known && !known.has(name)) {
      warnings.push(`dspex.providerSettings: unknown provider '${name}' ignored`);
      continue;
    }
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      warnings.push(`dspex.providerSettings.${name}: must be an object`);
      continue;
    }
    const target = block(name)!;
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (SECRET_FIELDS.has(k)) {
        warnings.push(`dspex.providerSettings.${name}.${k} ignored: secrets belong in 'DSPex: Set API Key', never in settings.json`);
        continue;
      }
      target[k] = v;
    }
  }
  for (const [name, key] of Object.entries(keys)) {
    if (!key) continue;
    const target = block(name);
    if (target) target.apiKey = key;
  }
  const dspex: Record<string, unknown> = {};
  const provider = settings.provider.trim();
  if (provider) {
    if (!known || known.has(provider)) {
      dspex.defaultProvider = provider;
      if (settings.model.trim()) block(provider)!.defaultModel = settings.model.trim();
    } else {
      warnings.push(`dspex.provider: unknown provider '${provider}'`);
    }
  }
  dspex.providers = providers;
  if (input.daemonHasTelemetry === "object") dspex.telemetry = { enabled: settings.telemetry };
  else if (input.daemonHasTelemetry) dspex.telemetry = settings.telemetry;
  return { payload: { dspex }, warnings };
}

/** The same payload with every key replaced, for logs. */
export function redactPayload(payload: unknown): unknown {
  if (Array.isArray(payload)) return payload.map(redactPayload);
  if (payload && typeof payload === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(payload as Record<string, unknown>)) {
      out[k] = SECRET_FIELDS.has(k) && v ? "<redacted>" : redactPayload(v);
    }
    return out;
  }
  return payload;
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** how it was chosen, for the log and the not-installed message */
  source: "command" | "python" | "path";
}

/**
 * Which process to start: a configured command, else a configured Python with
 * `-m dspex_server`, else `dspex-server` found on PATH. `undefined`: not installed.
 */
export function resolveServerCommand(
  daemon: ExtensionSettings["daemon"],
  findOnPath: (name: string) => string | undefined,
): ServerCommand | undefined {
  if (daemon.command.trim()) {
    return { command: daemon.command.trim(), args: [...daemon.args], source: "command" };
  }
  if (daemon.pythonPath.trim()) {
    return { command: daemon.pythonPath.trim(), args: ["-m", "dspex_server", ...daemon.args], source: "python" };
  }
  const found = findOnPath("dspex-server");
  return found ? { command: found, args: [...daemon.args], source: "path" } : undefined;
}

/** `which`, without a shell: the first executable `name` in `pathVar`. */
export function whichIn(
  name: string,
  pathVar: string | undefined,
  isExecutable: (file: string) => boolean,
  platform: string = process.platform,
): string | undefined {
  const sep = platform === "win32" ? ";" : ":";
  const exts = platform === "win32" ? [".exe", ".cmd", ".bat", ""] : [""];
  for (const dir of (pathVar ?? "").split(sep)) {
    if (!dir) continue;
    for (const ext of exts) {
      const file = `${dir.replace(/[\\/]+$/, "")}${platform === "win32" ? "\\" : "/"}${name}${ext}`;
      if (isExecutable(file)) return file;
    }
  }
  return undefined;
}

/** The pip command offered when the daemon is missing. */
export function installCommand(python: string | undefined): string {
  const py = python && python.trim() ? quoteArg(python.trim()) : "python3";
  return `${py} -m pip install -U dspex`;
}

function quoteArg(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Per-request chat options taken from settings. */
export function chatOptions(settings: ExtensionSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (settings.provider.trim()) out.provider = settings.provider.trim();
  if (settings.model.trim()) out.model = settings.model.trim();
  if (typeof settings.temperature === "number") out.temperature = settings.temperature;
  return out;
}
