// Runs test/ui/suite.js inside code-server's real workbench (the VS Code integration-test
// payload, as in shared/tools/vscode-ui/run-exttests.js) and serves the suite's UI requests
// (type, click, screenshot) that it writes as files into <workspace>/.ui/.
// Usage: node runner.js SERVER_URL EXT_DEV EXT_TESTS WORKSPACE SHOTS_DIR
const { chromium } = require("playwright-core");
const fs = require("node:fs");
const path = require("node:path");

const [, , server, extDev, extTests, folder, shots] = process.argv;
const UI = path.join(folder, ".ui");
const LIMIT_MS = Number(process.env.UI_TEST_TIMEOUT_MS || 420000);

async function findFrame(page, selector) {
  for (const f of page.frames()) {
    try {
      if (await f.$(selector)) return f;
    } catch {
      /* detached */
    }
  }
  return undefined;
}

async function serve(page, stop) {
  const done = new Set();
  while (!stop.stopped) {
    for (const name of fs.readdirSync(UI).filter((n) => /^req-\d+\.json$/.test(n) && !done.has(n))) {
      done.add(name);
      const id = name.match(/\d+/)[0];
      const req = JSON.parse(fs.readFileSync(path.join(UI, name), "utf8"));
      let res = { ok: true };
      try {
        if (req.action === "screenshot") {
          await page.waitForTimeout(req.waitMs || 500);
          const file = path.join(shots, req.name);
          await page.screenshot({ path: file });
          res.file = file;
        } else if (req.action === "find") {
          await page.getByText(req.text).first().waitFor({ state: "visible", timeout: 10000 });
        } else if (req.action === "keys") {
          // Typed into the workbench: `click` focuses something first (e.g. an editor's text),
          // `before` keys are pressed, then `text` is typed and `press` keys pressed.
          if (req.click) await page.locator(req.click).first().click();
          for (const key of req.before ?? []) await page.keyboard.press(key);
          if (req.text) await page.keyboard.type(req.text, { delay: req.delayMs ?? 30 });
          for (const key of req.press ?? []) await page.keyboard.press(key);
        } else if (req.action === "wait") {
          // A selector in the workbench itself (not a webview), e.g. an editor's ghost text.
          const el = page.locator(req.selector).first();
          await el.waitFor({ state: "visible", timeout: req.timeoutMs ?? 10000 });
          res.text = (await page.locator(req.selector).allTextContents()).join("");
        } else if (req.action === "query") {
          // Reads the DOM of the frame (webview) that has `req.within`: count, text, HTML.
          let frame;
          for (let i = 0; i < 100 && !frame; i++) {
            frame = await findFrame(page, req.within);
            if (!frame) await page.waitForTimeout(100);
          }
          if (!frame) throw new Error(`no frame has ${req.within}`);
          Object.assign(res, await frame.evaluate((sel) => {
            const all = document.querySelectorAll(sel);
            return { count: all.length, text: all[0] ? all[0].textContent : null, html: all[0] ? all[0].innerHTML : null, pwned: document.body.dataset.pwned ?? null };
          }, req.selector));
        } else {
          let frame;
          for (let i = 0; i < 100 && !frame; i++) {
            frame = await findFrame(page, req.selector);
            if (!frame) await page.waitForTimeout(100);
          }
          if (!frame) throw new Error(`no frame has ${req.selector}`);
          if (req.action === "type") await frame.fill(req.selector, req.text);
          else if (req.action === "click") await frame.click(req.selector, { timeout: 5000 });
          else throw new Error(`unknown action ${req.action}`);
        }
      } catch (e) {
        res = { error: String(e && e.message ? e.message : e) };
        await page.screenshot({ path: path.join(UI, `error-${id}.png`) }).catch(() => {});
      }
      console.log(`ui request ${id}: ${JSON.stringify(req).slice(0, 120)} -> ${JSON.stringify(res)}`);
      // Written then renamed, so that the suite never reads half a file.
      fs.writeFileSync(path.join(UI, `res-${id}.tmp`), JSON.stringify(res));
      fs.renameSync(path.join(UI, `res-${id}.tmp`), path.join(UI, `res-${id}.json`));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

(async () => {
  fs.mkdirSync(UI, { recursive: true });
  fs.mkdirSync(shots, { recursive: true });
  const host = new URL(server).host;
  const remote = (p) => `vscode-remote://${host}${p}`;
  const payload = JSON.stringify([
    ["extensionDevelopmentPath", remote(extDev)],
    ["extensionTestsPath", remote(extTests)],
    ["skipWelcome", "true"],
  ]);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // Clipboard permissions: the chat's Copy button goes through vscode.env.clipboard, which
  // in the browser workbench is the page's clipboard.
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, permissions: ["clipboard-read", "clipboard-write"] });
  const page = await context.newPage();
  let done;
  const exited = new Promise((r) => (done = r));
  // The workbench logs a lot offline (gallery, GitHub auth...): all of it goes to a file,
  // the suite's own lines to stdout.
  const logFile = fs.createWriteStream(path.join(UI, "workbench.log"));
  await page.exposeFunction("codeAutomationLog", (type, args) => {
    const line = args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
    logFile.write(`${line}\n`);
    if (/^(ok - |not ok - |ui: |Error|\s+at )/.test(line)) console.log(line);
  });
  await page.exposeFunction("codeAutomationExit", async (code) => {
    await page.screenshot({ path: process.env.FINAL_SHOT || path.join(UI, "final.png") }).catch(() => {});
    done(code);
  });
  page.on("pageerror", (e) => console.log("pageerror:", e.message));
  const stop = { stopped: false };
  const serving = serve(page, stop);
  await page.goto(`${server}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(payload)}`, { waitUntil: "domcontentloaded" });
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), LIMIT_MS))]);
  stop.stopped = true;
  await serving.catch(() => {});
  console.log("codeAutomationExit code =", code);
  await browser.close();
  process.exit(code === 0 ? 0 : 1);
})().catch((e) => {
  console.error("FAIL", e);
  process.exit(2);
});
