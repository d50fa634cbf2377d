// Shared by the console's browser scripts: launch Debian's chromium
// through playwright-core with the flags this machine's closed network
// needs, and small helpers.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// launch returns a fresh persistent context (a new --user-data-dir) and a
// close function that removes the directory.
export async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qf-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.QF_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    timeout: 120000,
  });
  ctx.setDefaultTimeout(60000);
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  page.on('dialog', (d) => d.accept());
  return {
    ctx, page,
    close: async () => { await ctx.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

export function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

export function log(msg) {
  console.log(`ok: ${msg}`);
}

export async function login(page, base, token) {
  await page.goto(`${base}/login`);
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
}

export async function logout(page) {
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/login')), page.click('header .who button')]);
}

// waitDrawn waits until the page has drawn more than `after` times.
export async function waitDrawn(page, after = 0) {
  await page.waitForFunction((n) => Number(document.body.dataset.drawn || 0) > n, after);
  return page.evaluate(() => window.qf.drawn);
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
