// Bundles the extension (dist/extension.js), the chat webview's script (dist/webview/chat.js)
// and the tests (out/test/**) with esbuild.
import { build } from "esbuild";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const production = process.argv.includes("--production");
const common = { bundle: true, platform: "node", target: "node20", format: "cjs", sourcemap: !production, logLevel: "warning", external: ["vscode"] };

await build({ ...common, entryPoints: ["src/extension.ts"], outfile: "dist/extension.js", minify: production });
// The chat panel's page script: markdown-it, highlight.js (a language subset) and DOMPurify.
await build({ bundle: true, platform: "browser", target: "es2022", format: "iife", sourcemap: false, logLevel: "warning", minify: true, legalComments: "linked", entryPoints: ["src/webview/chat.ts"], outfile: "dist/webview/chat.js" });

const tests = (dir) => readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => join(dir, f));
await build({ ...common, entryPoints: [...tests("test/unit"), ...tests("test/protocol")], outdir: "out/test", outbase: "test" });
await build({ ...common, entryPoints: ["test/ui/suite.ts"], outfile: "out/test/ui/suite.js" });
