// The shell of every webview page: a strict Content-Security-Policy (no remote resources,
// scripts only with a per-render nonce), theme colours through VS Code's CSS variables. Pure.

import { randomBytes } from "node:crypto";

export function makeNonce(): string {
  return randomBytes(18).toString("base64").replace(/[^A-Za-z0-9]/g, "");
}

/** `cspSource` is webview.cspSource (the only origin styles/images may come from). */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    "connect-src 'none'",
    "frame-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join("; ");
}

export const BASE_CSS = `
:root { color-scheme: light dark; }
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); margin: 0; padding: 0 12px; }
button { font: inherit; color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: 1px solid var(--vscode-button-border, transparent); padding: 4px 12px; border-radius: 2px; cursor: pointer; }
button:hover { background: var(--vscode-button-hoverBackground); }
button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
button:disabled { opacity: 0.5; cursor: default; }
textarea, input, select { font: inherit; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); border-radius: 2px; }
textarea:focus, input:focus { outline: 1px solid var(--vscode-focusBorder); }
.muted { color: var(--vscode-descriptionForeground); }
.error { color: var(--vscode-errorForeground); }
code, pre { font-family: var(--vscode-editor-font-family); }
svg .axis { stroke: var(--vscode-foreground); stroke-opacity: 0.6; }
svg .grid { stroke: var(--vscode-foreground); stroke-opacity: 0.12; }
svg text { fill: var(--vscode-foreground); font-size: 10px; }
svg text.tick, svg text.empty { fill: var(--vscode-descriptionForeground); }
svg .track { fill: var(--vscode-input-background); stroke: var(--vscode-input-border, var(--vscode-panel-border)); }
`;

export interface PageOptions {
  title: string;
  cspSource: string;
  nonce: string;
  css?: string;
  body: string;
  /** inline script (nonce'd) */
  script?: string;
  /** a bundled script's webview URI (asWebviewUri), loaded with the same nonce */
  scriptSrc?: string;
}

export function page(o: PageOptions): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(o.cspSource, o.nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${o.title.replace(/</g, "&lt;")}</title>
<style nonce="${o.nonce}">${BASE_CSS}${o.css ?? ""}</style>
</head>
<body>
${o.body}
${o.script ? `<script nonce="${o.nonce}">${o.script}</script>` : ""}
${o.scriptSrc ? `<script nonce="${o.nonce}" src="${o.scriptSrc.replace(/"/g, "%22")}"></script>` : ""}
</body>
</html>`;
}
