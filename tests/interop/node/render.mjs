// The interop suite's look at `reach --format html`: Debian's headless
// Chromium opens a report page from file:// and says what happened — every
// request the page made, every console message and log entry (with its
// level), every uncaught error — and writes a screenshot.
//
//   node render.mjs SPEC.json   →   one JSON object on stdout
//
// SPEC: {"page": FILE, "screenshot": PNG, "print_screenshot": PNG?,
// "width": px, "height": px, "full_page": bool, "timeout_ms": n,
// "hold_ms": n?, "tag": text?}. With "print_screenshot", the page is also
// rendered as it prints (media `print`) and that screenshot written; what
// it logs then counts as well. "hold_ms" holds the browser open after the
// page loaded and "tag" goes on Chromium's command line (both for the
// test that stops a render). Output: {"requests": [url…], "failed": [url…],
// "console": [{"level", "text"}…], "exceptions": [text…], "title", "svgs",
// "text_length", "print_text_length"}. The browser reaches nothing: every name
// resolves to nothing and every proxied request goes to a dead proxy, so
// a request the page tried still shows in `requests` (and in `failed`)
// without leaving the machine. Bounded by `timeout_ms` (exit 3); SIGTERM
// ends it too (exit 4). Either way the browser goes with it: playwright
// starts Chromium in a process group of its own and kills that group when
// node exits, which a SIGKILL to node would not let it do.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { CHROMIUM, isolatedArgs } from './chromium.mjs';

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const timeoutMs = spec.timeout_ms ?? 20000;

function fail(message, code) {
  process.stderr.write(`render: ${message}\n`);
  process.exit(code);
}

const watchdog = setTimeout(() => fail(`not done within ${timeoutMs} ms`, 3), timeoutMs);
watchdog.unref();
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => fail(`stopped by ${signal}`, 4));
}

const args = [
  ...isolatedArgs(),
  ...(spec.tag ? [`--reach-render-tag=${spec.tag}`] : []),
];

const requests = [];
const failed = [];
const consoleMessages = [];
const exceptions = [];

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args,
    timeout: timeoutMs,
  });
  const context = await browser.newContext({
    viewport: { width: spec.width ?? 1100, height: spec.height ?? 900 },
    javaScriptEnabled: true,
  });
  const page = await context.newPage();
  // Both what playwright reports and what the developer tools protocol
  // says directly: console calls, the browser's own log (blocked loads,
  // Content-Security-Policy violations) and every request sent.
  page.on('console', (m) => consoleMessages.push({ level: m.type(), text: m.text() }));
  page.on('pageerror', (e) => exceptions.push(String(e)));
  context.on('request', (r) => requests.push(r.url()));
  context.on('requestfailed', (r) => failed.push(r.url()));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Log.enable');
  await cdp.send('Network.enable');
  cdp.on('Log.entryAdded', ({ entry }) =>
    consoleMessages.push({ level: `log:${entry.level}`, text: `${entry.source}: ${entry.text} ${entry.url ?? ''}` }),
  );
  cdp.on('Network.requestWillBeSent', ({ request }) => requests.push(request.url));

  const url = pathToFileURL(spec.page).href;
  await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
  // Anything late (a lazy image, a timer) would show within this second.
  await page.waitForTimeout(1000);
  if (spec.hold_ms) await page.waitForTimeout(spec.hold_ms);
  await page.screenshot({ path: spec.screenshot, fullPage: spec.full_page ?? true });
  const title = await page.title();
  const svgs = await page.locator('svg').count();
  const textLength = (await page.locator('body').innerText()).length;
  let printTextLength = null;
  if (spec.print_screenshot) {
    // The page as it prints: the print style (lists whole, no scrolling
    // boxes) laid out, and anything it logs counted with the rest.
    await page.emulateMedia({ media: 'print' });
    await page.waitForTimeout(300);
    await page.screenshot({ path: spec.print_screenshot, fullPage: true });
    printTextLength = (await page.locator('body').innerText()).length;
  }
  await browser.close();
  process.stdout.write(
    JSON.stringify({
      page: url,
      requests: [...new Set(requests)],
      failed,
      console: consoleMessages,
      exceptions,
      title,
      svgs,
      text_length: textLength,
      print_text_length: printTextLength,
    }) + '\n',
  );
}

main().catch((e) => fail(e?.stack ?? String(e), 1));
