// The chat panel's page script (runs in the webview; bundled by esbuild into
// dist/webview/chat.js and loaded with the page's nonce). Answers are Markdown: rendered by
// markdown-it with raw HTML off, then sanitised by DOMPurify before they reach the DOM (two
// independent locks: a bug in one does not open the page, and the CSP forbids inline
// scripts anyway). While an answer streams it is re-rendered at most every RENDER_MS.

import DOMPurify from "dompurify";
import { renderMarkdown } from "./markdown";

interface MetaPart {
  cls: string;
  text: string;
}
interface Turn {
  role: "system" | "user" | "assistant";
  content: string;
  state?: string;
  meta?: string;
  metaParts?: MetaPart[];
}
type HostMessage =
  | { type: "reset"; turns: Turn[]; busy?: boolean; title?: string }
  | { type: "delta"; text: string }
  | { type: "final"; turn: Turn }
  | { type: "busy"; busy: boolean };

declare function acquireVsCodeApi(): { postMessage(message: unknown): void };

const RENDER_MS = 60;
const vscode = acquireVsCodeApi();
const log = document.getElementById("log")!;
const input = document.getElementById("input") as HTMLTextAreaElement;
const send = document.getElementById("send") as HTMLButtonElement;
const stop = document.getElementById("stop") as HTMLButtonElement;
const form = document.getElementById("form") as HTMLFormElement;
let last: { el: HTMLElement; turn: Turn } | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let updates = 0;

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
  FORBID_ATTR: ["style"],
};
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") node.setAttribute("rel", "noopener noreferrer");
});

function markdownInto(target: HTMLElement, text: string): void {
  target.innerHTML = DOMPurify.sanitize(renderMarkdown(text), PURIFY) as unknown as string;
  for (const pre of Array.from(target.querySelectorAll("pre"))) {
    const block = document.createElement("div");
    block.className = "code-block";
    const bar = document.createElement("div");
    bar.className = "code-actions";
    const lang = document.createElement("span");
    lang.className = "lang";
    lang.textContent = pre.getAttribute("data-lang") ?? "";
    bar.append(lang, button("Copy", "copy"), button("Insert at Cursor", "insert"));
    pre.replaceWith(block);
    block.append(bar, pre);
  }
}

function button(label: string, action: string): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary small";
  b.dataset.action = action;
  b.textContent = label;
  b.title = action === "copy" ? "Copy the code" : "Insert the code at the cursor of the last active editor";
  return b;
}

function metaInto(target: HTMLElement, turn: Turn): void {
  const parts = turn.metaParts ?? [];
  if (!parts.length) {
    target.textContent = turn.meta || (turn.state === "stopped" ? "stopped" : "");
    return;
  }
  target.replaceChildren();
  parts.forEach((p, i) => {
    if (i) target.append(" · ");
    const span = document.createElement("span");
    span.className = p.cls;
    span.textContent = p.text;
    target.append(span);
  });
}

function turnEl(t: Turn): HTMLElement {
  const div = document.createElement("div");
  div.className = `turn ${t.role}${t.state ? ` ${t.state}` : ""}`;
  const role = document.createElement("div");
  role.className = "role";
  role.textContent = t.role === "user" ? "You" : "DSPex";
  const text = document.createElement("div");
  text.className = t.role === "assistant" ? "text markdown" : "text plain";
  if (t.role === "assistant") markdownInto(text, t.content || "");
  else text.textContent = t.content || "";
  const meta = document.createElement("div");
  meta.className = "meta";
  metaInto(meta, t);
  div.append(role, text, meta);
  return div;
}

function renderLast(): void {
  timer = undefined;
  if (!last) return;
  markdownInto(last.el.querySelector<HTMLElement>(".text")!, last.turn.content);
  updates++;
  report();
  log.scrollTop = log.scrollHeight;
}

/** Tells the extension what the page shows for the last assistant turn (tests read it). */
function report(): void {
  const turns = log.querySelectorAll<HTMLElement>(".turn");
  const lastTurn = turns[turns.length - 1];
  const assistant = lastTurn?.classList.contains("assistant") ? lastTurn : undefined;
  const text = assistant?.querySelector<HTMLElement>(".text");
  vscode.postMessage({
    type: "rendered",
    text: text?.textContent?.trim() ?? "",
    html: text?.innerHTML ?? "",
    meta: assistant?.querySelector<HTMLElement>(".meta")?.textContent ?? "",
    state: lastTurn?.className ?? "",
    turns: turns.length,
    updates,
  });
}

function setBusy(b: boolean): void {
  send.disabled = b;
  stop.disabled = !b;
}

window.addEventListener("message", (e: MessageEvent<HostMessage>) => {
  const m = e.data;
  if (m.type === "reset") {
    if (timer) clearTimeout(timer);
    timer = undefined;
    log.replaceChildren(...m.turns.map(turnEl));
    const t = m.turns.at(-1);
    last = t ? { el: log.lastElementChild as HTMLElement, turn: { ...t } } : undefined;
    if (m.busy !== undefined) setBusy(m.busy);
    updates++;
  } else if (m.type === "delta" && last) {
    last.turn.content += m.text;
    timer ??= setTimeout(renderLast, RENDER_MS);
    return;
  } else if (m.type === "final" && m.turn) {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const el = turnEl(m.turn);
    if (last) last.el.replaceWith(el);
    else log.append(el);
    last = { el, turn: { ...m.turn } };
    updates++;
  } else if (m.type === "busy") {
    setBusy(m.busy);
  }
  log.scrollTop = log.scrollHeight;
  report();
});

log.addEventListener("click", (e) => {
  const b = (e.target as HTMLElement).closest<HTMLButtonElement>("button[data-action]");
  const code = b?.closest(".code-block")?.querySelector("code")?.textContent;
  if (!b || code == null) return;
  const lang = b.closest(".code-block")?.querySelector("pre")?.getAttribute("data-lang") ?? "";
  vscode.postMessage({ type: b.dataset.action, code, lang });
  if (b.dataset.action === "copy") {
    b.textContent = "Copied";
    setTimeout(() => (b.textContent = "Copy"), 1500);
  }
});

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  vscode.postMessage({ type: "send", text });
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    form.requestSubmit();
  }
});
stop.addEventListener("click", () => vscode.postMessage({ type: "stop" }));
document.getElementById("new")!.addEventListener("click", () => vscode.postMessage({ type: "new" }));
vscode.postMessage({ type: "ready" });
