// Launches Debian's Chromium through playwright-core with the flags these machines need.
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './server.mjs';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

export const SCREENSHOT_DIR = join(ROOT, 'test-output', 'screenshots');

/** One person = one browser launch. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

/**
 * Opens a page in a fresh context with camera/microphone granted (ICE needs it on loopback) and
 * records every console error, page error, failed request and HTTP error in `problems`, and
 * console warnings in `warnings`.
 */
export async function openPage(browser, url, { width = 1280, height = 800 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  if (url.startsWith('http')) {
    await context.grantPermissions(['camera', 'microphone'], { origin: new URL(url).origin });
  }
  const page = await context.newPage();
  const problems = [];
  const warnings = [];
  watch(page, problems, warnings);
  await page.goto(url);
  return { context, page, problems, warnings };
}

/** Records console errors, page errors, failed requests and HTTP errors in problems; warnings. */
export function watch(page, problems, warnings) {
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    if (msg.type() === 'warning') warnings.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
  });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/**
 * For a test file: one browser launched before its tests and closed after them. The object's
 * browser is set by the time the first test runs.
 */
export function browserForTests() {
  const held = {};
  before(async () => {
    held.browser = await launchBrowser();
  });
  after(async () => {
    if (held.browser) await held.browser.close();
  });
  return held;
}
