// Markdown → HTML for the chat panel: markdown-it with raw HTML off (an answer's `<script>`
// is shown as text, never parsed), code blocks highlighted by highlight.js (a subset of
// languages, bundled). No DOM needed: unit-tested in Node; the webview sanitises the output
// with DOMPurify before it touches the page (defence in depth, see chat.ts).

import MarkdownIt, { type MarkdownIt as Markdown, type RendererRule } from "markdown-it";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import csharp from "highlight.js/lib/languages/csharp";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import shell from "highlight.js/lib/languages/shell";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const LANGUAGES = { bash, c, cpp, csharp, css, diff, go, java, javascript, json, markdown, python, rust, shell, sql, typescript, xml, yaml };
for (const [name, fn] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, fn);

/** The languages a fenced block may name to be highlighted (aliases included: py, ts, sh…). */
export function highlightedLanguage(info: string): string | undefined {
  const lang = info.trim().split(/\s+/, 1)[0]?.toLowerCase() ?? "";
  return lang && hljs.getLanguage(lang) ? lang : undefined;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);

const md: Markdown = new MarkdownIt({
  html: false,
  linkify: true,
  typographer: false,
  breaks: false,
  highlight: (code: string, info: string): string => {
    const lang = highlightedLanguage(info);
    const body = lang ? hljs.highlight(code, { language: lang, ignoreIllegals: true }).value : escapeHtml(code);
    const label = escapeHtml(info.trim().split(/\s+/, 1)[0] ?? "");
    // Returned as a whole <pre>, markdown-it uses it as is: the class names and data-lang
    // are what the webview hangs the Copy / Insert buttons on.
    return `<pre class="code"${label ? ` data-lang="${label}"` : ""}><code class="hljs${lang ? ` language-${lang}` : ""}">${body}</code></pre>\n`;
  },
});

// Links open outside the webview (VS Code intercepts link clicks); say so to the reader.
const defaultLinkOpen: RendererRule = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet("title", tokens[idx].attrGet("href") ?? "");
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/** The HTML of an answer (not yet sanitised: the webview runs it through DOMPurify). */
export function renderMarkdown(text: string): string {
  return md.render(text);
}
