// Browser measurement (not a test): how long the playground takes to show the
// summary after a large kube-proxy dump is pasted into the editor.
// Usage: trunk build --release && node bench/browser-paste.mjs [SERVICES...]
import { execFileSync } from 'node:child_process';
import { serveDist, launch, openPlayground } from '../tests/e2e/harness.mjs';

const sizes = process.argv.slice(2).map(Number);
const server = await serveDist();
const browser = await launch();
try {
  for (const services of sizes.length ? sizes : [1000, 10000]) {
    const dump = execFileSync('cargo', ['run', '-q', '--release', '-p', 'nfsim', '--example', 'kubegen', '--', String(services), '3'],
      { maxBuffer: 1 << 30 }).toString();
    const { page, errors } = await openPlayground(browser, server.url);
    page.on('console', (m) => { if (process.env.LOG) console.log('  [page]', m.text()); });
    const [fill, react] = await page.evaluate(async (text) => {
      const area = document.querySelector('textarea');
      const summary = document.querySelector('[data-testid=summary]');
      const before = summary.textContent;
      const t0 = performance.now();
      area.value = text;
      const t1 = performance.now();
      area.dispatchEvent(new Event('input', { bubbles: true }));
      while (summary.textContent === before) await new Promise((r) => setTimeout(r, 0));
      return [t1 - t0, performance.now() - t1];
    }, dump);
    const summary = await page.getByTestId('summary').textContent();
    console.log(`${services} services (${dump.split('\n').length - 1} lines): textarea filled in ${fill.toFixed(0)} ms, ` +
      `app updated ${react.toFixed(0)} ms later — ${summary}`);
    if (errors.length) console.log('console errors:', errors);
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
