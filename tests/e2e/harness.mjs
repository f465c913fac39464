// Shared end-to-end harness: serves dist/ on a free loopback port and launches
// Debian's Chromium through playwright-core with the flags this closed network needs.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const DIST = new URL('../../dist/', import.meta.url).pathname;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.svg': 'image/svg+xml' };

export async function serveDist() {
  const server = http.createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(DIST, path.endsWith('/') ? 'index.html' : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((ok) => server.close(ok)) };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Open the playground (at 1280x720, a projector) and record console errors and page errors. */
export async function openPlayground(browser, url, { colorScheme = 'light', viewport = { width: 1280, height: 720 } } = {}) {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  // The editor is there (shown, or folded away by presentation mode).
  await page.locator('.cm-editor').waitFor({ state: 'attached' });
  // The worker has parsed the example and traced the default packet.
  await page.locator('[data-fate]').waitFor();
  return { page, errors, context };
}

/** Replace the editor's whole text the way a paste does: select all (CodeMirror's
 * Ctrl+A selects the whole document, not just the lines on screen), then a paste
 * event carrying the text, which CodeMirror reads from its clipboard data. */
export async function pasteRuleset(page, text) {
  const editor = page.getByRole('textbox', { name: 'Ruleset' });
  await editor.focus();
  await page.keyboard.press('Control+a');
  await editor.evaluate((el, t) => {
    const dt = new DataTransfer();
    dt.setData('text/plain', t);
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, text);
}
