// The "DSPex" output channel: every line (ours, the daemon's stderr, the client's trace)
// passes through the Redactor, and a bounded copy is kept for tests.

import * as vscode from "vscode";
import { Redactor } from "./redact";

const KEEP_CHARS = 200_000;

export class RedactingChannel implements vscode.LogOutputChannel {
  readonly name: string;
  private copy = "";

  private readonly levelEmitter = new vscode.EventEmitter<vscode.LogLevel>();
  readonly onDidChangeLogLevel = this.levelEmitter.event;
  private traceForced = false;

  constructor(private readonly inner: vscode.LogOutputChannel, private readonly redactor: Redactor) {
    this.name = inner.name;
    inner.onDidChangeLogLevel(() => this.levelEmitter.fire(this.logLevel));
  }

  /**
   * vscode-languageclient traces the JSON-RPC traffic only when the channel's log level is
   * Trace. `dspex.trace.server` (messages/verbose) turns that on without the user changing
   * the channel's level; the trace lines then go out at info level, redacted like the rest.
   */
  setTrace(on: boolean): void {
    if (on === this.traceForced) return;
    this.traceForced = on;
    this.levelEmitter.fire(this.logLevel);
  }

  get logLevel(): vscode.LogLevel {
    return this.traceForced ? vscode.LogLevel.Trace : this.inner.logLevel;
  }

  private line(level: string, message: string | Error, args: unknown[]): string {
    const text = message instanceof Error ? `${message.name}: ${message.message}` : message;
    const rest = args.map((a) => (typeof a === "string" ? a : safeJson(a))).join(" ");
    const v = this.redactor.redact(rest ? `${text} ${rest}` : text);
    this.keep(`[${level}] ${v}\n`);
    return v;
  }

  trace(message: string, ...args: unknown[]): void {
    const v = this.line("trace", message, args);
    if (this.traceForced) this.inner.info(`[trace] ${v}`);
    else this.inner.trace(v);
  }

  debug(message: string, ...args: unknown[]): void {
    this.inner.debug(this.line("debug", message, args));
  }

  warn(message: string, ...args: unknown[]): void {
    this.inner.warn(this.line("warn", message, args));
  }

  error(message: string | Error, ...args: unknown[]): void {
    this.inner.error(this.line("error", message, args));
  }

  private keep(text: string): void {
    this.copy += text;
    if (this.copy.length > KEEP_CHARS) this.copy = this.copy.slice(-KEEP_CHARS);
  }

  append(value: string): void {
    const v = this.redactor.redact(value);
    this.keep(v);
    this.inner.append(v);
  }

  appendLine(value: string): void {
    const v = this.redactor.redact(value);
    this.keep(`${v}\n`);
    this.inner.appendLine(v);
  }

  replace(value: string): void {
    const v = this.redactor.redact(value);
    this.copy = v;
    this.inner.replace(v);
  }

  clear(): void {
    this.copy = "";
    this.inner.clear();
  }

  show(columnOrPreserve?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    if (typeof columnOrPreserve === "boolean") this.inner.show(columnOrPreserve);
    else this.inner.show(columnOrPreserve, preserveFocus);
  }

  hide(): void {
    this.inner.hide();
  }

  dispose(): void {
    this.levelEmitter.dispose();
    this.inner.dispose();
  }

  /** What was written (already redacted). */
  text(): string {
    return this.copy;
  }

  info(message: string, ...args: unknown[]): void {
    this.inner.info(this.line("info", message, args));
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
