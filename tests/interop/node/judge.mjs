// The interop suite's judge: Debian's headless Chromium walks a sign-in
// flow and says, hop by hop, what a real browser did — which requests it
// made, which cookies it sent or withheld, which it stored or rejected, and
// where it ended. `reach sso` is compared with this record (browser.rs).
//
//   node judge.mjs SPEC.json   →   one JSON object on stdout
//
// SPEC and output are described in browser.rs. Chromium only ever reaches
// the hosts the SPEC maps to loopback: every other name resolves to nothing
// and every proxied request goes to a dead proxy. The whole run is bounded
// by `timeout_ms`; on expiry the browser is killed and the judge exits 3.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, isolatedArgs } from './chromium.mjs';

// How long the page must be quiet (no main-frame document request under
// way or started) before a walk counts as settled.
const QUIET_MS = 1000;

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const timeoutMs = spec.timeout_ms ?? 20000;

let context = null;
let tempProfile = null;

function fail(message, code) {
  process.stderr.write(`judge: ${message}\n`);
  // Whatever happens, the browser does not outlive the judge: playwright
  // kills the process group it started when node exits.
  process.exit(code);
}

const watchdog = setTimeout(() => {
  fail(`the walk did not finish within ${timeoutMs} ms`, 3);
}, timeoutMs);
watchdog.unref();
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => fail(`stopped by ${signal}`, 4));
}

const hosts = Object.keys(spec.hosts ?? {});
const args = [
  ...isolatedArgs(spec.hosts, hosts.join(';')),
  '--password-store=basic',
  // The test servers' certificates come from a CA made for the case; the
  // scheme stays https, so Secure cookies and schemeful same-site behave as
  // on a trusted origin (the SameSite=None; Secure case shows it).
  '--ignore-certificate-errors',
];

let profileDir = spec.profile;
if (!profileDir) {
  tempProfile = fs.mkdtempSync(path.join(os.tmpdir(), 'judge-profile-'));
  profileDir = tempProfile;
}

// --- recording ------------------------------------------------------------

let hops = []; // the current walk's hops
const byRequest = new Map(); // requestId → { hops: [...], sentInfo: n, recvInfo: n }
const pendingSent = new Map(); // requestId → extra infos that came first
const pendingRecv = new Map();
let mainFrameId = null;
let lastActivity = Date.now();
let loading = false; // the main frame is loading (Page.frameStartedLoading)

function cookieName(line) {
  const eq = line.indexOf('=');
  return (eq < 0 ? line : line.slice(0, eq)).trim();
}

function setCookieLines(headers) {
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === 'set-cookie') return String(v).split('\n').filter((l) => l.trim());
  }
  return [];
}

function applySent(hop, info) {
  hop.cookies_sent = [];
  hop.cookies_withheld = [];
  for (const c of info.associatedCookies ?? []) {
    const reasons = c.blockedReasons ?? [];
    if (reasons.length === 0) hop.cookies_sent.push(c.cookie.name);
    else hop.cookies_withheld.push({ name: c.cookie.name, reasons });
  }
}

function applyRecv(hop, info) {
  const rejected = (info.blockedCookies ?? []).map((b) => ({
    name: b.cookie?.name ?? cookieName(b.cookieLine ?? ''),
    reasons: b.blockedReasons ?? [],
    line: b.cookieLine ?? '',
  }));
  const rejectedLines = new Set(rejected.map((r) => r.line));
  hop.cookies_set = setCookieLines(info.headers)
    .filter((l) => !rejectedLines.has(l))
    .map(cookieName);
  hop.cookies_rejected = rejected.map(({ name, reasons }) => ({ name, reasons }));
  if (hop.status == null && info.statusCode) hop.status = info.statusCode;
}

function entry(requestId) {
  let e = byRequest.get(requestId);
  if (!e) {
    e = { hops: [], sentInfo: 0, recvInfo: 0 };
    byRequest.set(requestId, e);
  }
  return e;
}

function onRequest(ev) {
  if (ev.type !== 'Document' || (mainFrameId && ev.frameId !== mainFrameId)) return;
  lastActivity = Date.now();
  const e = entry(ev.requestId);
  if (ev.redirectResponse && e.hops.length) {
    const prev = e.hops[e.hops.length - 1];
    prev.status = ev.redirectResponse.status;
    prev.done = true;
  }
  const hop = {
    method: ev.request.method,
    url: ev.request.url,
    status: null,
    cookies_sent: [],
    cookies_withheld: [],
    cookies_set: [],
    cookies_rejected: [],
  };
  e.hops.push(hop);
  hops.push(hop);
  // Extra infos may arrive before the request they describe.
  const early = pendingSent.get(ev.requestId) ?? [];
  while (early.length && e.sentInfo < e.hops.length) applySent(e.hops[e.sentInfo++], early.shift());
  const earlyRecv = pendingRecv.get(ev.requestId) ?? [];
  while (earlyRecv.length && e.recvInfo < e.hops.length) applyRecv(e.hops[e.recvInfo++], earlyRecv.shift());
}

function onSentInfo(ev) {
  const e = byRequest.get(ev.requestId);
  if (e && e.sentInfo < e.hops.length) {
    applySent(e.hops[e.sentInfo++], ev);
  } else {
    if (!pendingSent.has(ev.requestId)) pendingSent.set(ev.requestId, []);
    pendingSent.get(ev.requestId).push(ev);
  }
}

function onRecvInfo(ev) {
  const e = byRequest.get(ev.requestId);
  if (e && e.recvInfo < e.hops.length) {
    applyRecv(e.hops[e.recvInfo++], ev);
  } else {
    if (!pendingRecv.has(ev.requestId)) pendingRecv.set(ev.requestId, []);
    pendingRecv.get(ev.requestId).push(ev);
  }
}

function onResponse(ev) {
  const e = byRequest.get(ev.requestId);
  if (!e || ev.type !== 'Document') return;
  lastActivity = Date.now();
  const hop = e.hops[e.hops.length - 1];
  hop.status = ev.response.status;
}

function onFinished(ev) {
  const e = byRequest.get(ev.requestId);
  if (!e) return;
  lastActivity = Date.now();
  e.hops[e.hops.length - 1].done = true;
}

function onFailed(ev) {
  const e = byRequest.get(ev.requestId);
  if (!e) return;
  lastActivity = Date.now();
  const hop = e.hops[e.hops.length - 1];
  hop.done = true;
  // An aborted navigation (a new one replaced it) is not an error of the site.
  if (ev.errorText !== 'net::ERR_ABORTED') hop.error = ev.errorText;
}

// A page may navigate on its own once loaded (a form that submits itself
// from onload or DOMContentLoaded, a meta refresh): the walk is settled
// when no document request is under way, the main frame has stopped
// loading, and nothing happened for QUIET_MS.
async function settle(page) {
  await page.waitForTimeout(100);
  for (;;) {
    const busy = loading || hops.some((h) => !h.done);
    // A request that failed (refused, no such name) ends the walk: Chromium
    // would only retry it from its error page.
    const last = hops[hops.length - 1];
    if (!busy && last && last.error) break;
    if (!busy && Date.now() - lastActivity >= QUIET_MS) break;
    await page.waitForTimeout(100);
  }
  try {
    await page.waitForLoadState('load', { timeout: 2000 });
  } catch {
    // A page that never finishes loading still has a URL and hops.
  }
}

async function endOf(page) {
  const last = hops[hops.length - 1];
  let title = '';
  let text = '';
  try {
    title = await page.title();
    text = await page.evaluate(() => (document.body ? document.body.innerText : ''));
  } catch {
    // The page may be an error page with no document to read.
  }
  return {
    url: page.url(),
    status: last ? last.status : null,
    title,
    text: text.slice(0, 500),
  };
}

function walkOf(recorded, end) {
  return {
    hops: recorded.map(({ done, ...hop }) => hop),
    end,
  };
}

function cookiesTxt(cookies) {
  const lines = ['# Netscape HTTP Cookie File', '# Written by the interop judge from Chromium\'s jar', ''];
  for (const c of cookies) {
    const hostOnly = !c.domain.startsWith('.');
    const domain = (c.httpOnly ? '#HttpOnly_' : '') + c.domain;
    const expires = c.session || c.expires < 0 ? 0 : Math.floor(c.expires);
    lines.push(
      [domain, hostOnly ? 'FALSE' : 'TRUE', c.path, c.secure ? 'TRUE' : 'FALSE', expires, c.name, c.value].join('\t'),
    );
  }
  return lines.join('\n') + '\n';
}

// --- the walk -------------------------------------------------------------

async function main() {
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    timeout: timeoutMs,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // A selector that never shows up fails its step well before the watchdog.
  page.setDefaultTimeout(Math.min(10000, timeoutMs));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Page.enable');
  mainFrameId = (await cdp.send('Page.getFrameTree')).frameTree.frame.id;
  cdp.on('Network.requestWillBeSent', onRequest);
  cdp.on('Network.requestWillBeSentExtraInfo', onSentInfo);
  cdp.on('Network.responseReceivedExtraInfo', onRecvInfo);
  cdp.on('Network.responseReceived', onResponse);
  cdp.on('Network.loadingFinished', onFinished);
  cdp.on('Network.loadingFailed', onFailed);
  const mainFrame = (handler) => (ev) => {
    if (ev.frameId === mainFrameId) {
      lastActivity = Date.now();
      handler();
    }
  };
  cdp.on('Page.frameStartedLoading', mainFrame(() => (loading = true)));
  cdp.on('Page.frameStoppedLoading', mainFrame(() => (loading = false)));
  cdp.on('Page.frameRequestedNavigation', mainFrame(() => {}));
  cdp.on('Page.frameScheduledNavigation', mainFrame(() => {}));
  cdp.on('Page.loadEventFired', () => (lastActivity = Date.now()));

  const walks = [];
  // Typed in the address bar: a browser-initiated navigation.
  try {
    await page.goto(spec.start, { waitUntil: 'commit' });
  } catch {
    // The hop records the failure (loadingFailed).
  }
  await settle(page);
  walks.push(walkOf(hops, await endOf(page)));

  for (const step of spec.steps ?? []) {
    hops = [];
    for (const [selector, value] of Object.entries(step.fill ?? {})) {
      await page.fill(selector, value);
    }
    if (step.click) {
      await page.click(step.click, { noWaitAfter: true });
    }
    lastActivity = Date.now();
    await settle(page);
    walks.push(walkOf(hops, await endOf(page)));
  }

  const { cookies } = await cdp.send('Network.getAllCookies');
  const jar = cookies.map((c) => ({
    name: c.name,
    domain: c.domain,
    path: c.path,
    secure: c.secure,
    httpOnly: c.httpOnly,
    sameSite: c.sameSite ?? null,
    expires: c.session || c.expires < 0 ? null : c.expires,
  }));
  const result = { walks, jar, cookies_txt: cookiesTxt(cookies) };

  // Closing a persistent context shuts Chromium down gracefully, which
  // writes the cookie store to the profile's Cookies file.
  await context.close();
  context = null;
  return result;
}

try {
  const result = await main();
  process.stdout.write(JSON.stringify(result) + '\n');
  if (tempProfile) fs.rmSync(tempProfile, { recursive: true, force: true });
  process.exit(0);
} catch (e) {
  if (context) await context.close().catch(() => {});
  if (tempProfile) fs.rmSync(tempProfile, { recursive: true, force: true });
  fail(e && e.stack ? e.stack : String(e), 2);
}
