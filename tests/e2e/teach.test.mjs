// Issue 9 in headless Chromium: run many packets, the cost of the walk, the
// connection table; sharing, drafts, presets and the classroom modes are added
// below as they land. Screenshots go to test-results/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { serveDist, launch, openPlayground, pasteRuleset } from './harness.mjs';

let server, browser;
before(async () => {
  server = await serveDist();
  browser = await launch();
  await mkdir('test-results', { recursive: true });
});
after(async () => { await browser?.close(); await server?.close(); });

test('Run N packets spreads the NodePort over its three endpoints, counts add up to N', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  // The cost of the walk sits beside the fate.
  const cost = page.getByLabel('Cost of the walk');
  assert.match(await cost.textContent(), /^\d+ rules evaluated: PREROUTING \d+ · FORWARD \d+ · POSTROUTING \d+$/);
  const many = page.getByRole('region', { name: 'Many packets' });
  await many.getByRole('textbox', { name: 'Number of packets' }).fill('3000');
  await many.getByRole('button', { name: 'Run N packets' }).click();
  await many.getByText('3000 of 3000 packets').waitFor({ timeout: 30000 });
  const count = async (label) => {
    const items = many.getByRole('list', { name: label }).locator('li');
    const rows = [];
    for (const li of await items.all()) rows.push([await li.getAttribute('data-name'), Number(await li.getAttribute('data-count'))]);
    return rows;
  };
  const fates = await count('Fates');
  assert.deepEqual(fates, [['forwarded', 3000]]);
  const endpoints = await count('Endpoints');
  assert.equal(endpoints.length, 3, JSON.stringify(endpoints));
  assert.equal(endpoints.reduce((a, [, n]) => a + n, 0), 3000);
  for (const [to, n] of endpoints) {
    assert.match(to, /^203\.0\.113\.1[012]:80$/);
    assert.ok(n > 850 && n < 1150, `${to}: ${n} of 3000`);
  }
  assert.match(await many.locator('.never-hit').textContent(), /^\d+ of 36 rules never hit$/);
  // The gutter counts packets per rule, as iptables -L -v does: the
  // KUBE-NODEPORTS rule matched all 3000.
  await page.locator('.cm-gutterElement', { hasText: /^3k$/ }).first().waitFor();
  await page.screenshot({ path: 'test-results/run-n-packets.png' });
  // An edit makes the counts stale: they go, the trace's own counts come back.
  await page.getByRole('textbox', { name: 'Destination port' }).fill('32720');
  await many.getByRole('list', { name: 'Fates' }).waitFor({ state: 'detached' });
  assert.deepEqual(errors, []);
  await context.close();
});

test('a long batch shows progress and can be cancelled', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const many = page.getByRole('region', { name: 'Many packets' });
  await many.getByRole('textbox', { name: 'Number of packets' }).fill('1000000');
  await many.getByRole('button', { name: 'Run N packets' }).click();
  const progress = many.getByRole('progressbar', { name: 'Progress' });
  await progress.waitFor();
  await page.waitForFunction(() => Number(document.querySelector('.batch-pane progress')?.value) > 0);
  // The page stays responsive while the worker runs: the player still plays.
  await page.getByRole('button', { name: 'Step forward' }).click();
  assert.equal(await page.locator('.step-count').textContent().then((t) => t.split('/')[0]), '2');
  await many.getByRole('button', { name: 'Cancel' }).click();
  await many.getByText(/\(cancelled\)$/).waitFor();
  const sent = Number(await progress.getAttribute('value'));
  assert.ok(sent > 0 && sent < 1000000, `${sent}`);
  // Nothing more arrives after the cancel.
  await page.waitForTimeout(500);
  assert.equal(Number(await progress.getAttribute('value')), sent);
  const total = (await many.getByRole('list', { name: 'Fates' }).locator('li').evaluateAll((lis) => lis.map((l) => Number(l.dataset.count)))).reduce((a, b) => a + b, 0);
  assert.equal(total, sent);
  assert.deepEqual(errors, []);
  await context.close();
});

// kube-proxy masquerades NodePort traffic (--random-fully): the reply goes
// back to the node's eth1 address on a random port.
test('the connection table lists the NodePort connection as conntrack -L does', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  await page.getByRole('button', { name: 'Send reply' }).click();
  await page.getByText('Connection tracking (1)').click();
  const table = page.getByLabel('Conntrack table');
  await page.waitForFunction(() => document.querySelector('.conntrack-list')?.textContent.includes('SYN_RECV'));
  assert.match(await table.textContent(), /^tcp {6}6 60 SYN_RECV src=192\.0\.2\.50 dst=198\.51\.100\.1 sport=45678 dport=32719 src=203\.0\.113\.1[012] dst=203\.0\.113\.1 sport=80 dport=\d+ mark=0 use=1$/);
  assert.deepEqual(errors, []);
  await context.close();
});

// ---------------------------------------------------------------- sharing

import { readFile as readText } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { deflateRawSync } from 'node:zlib';

const PRESETS_RS = await readText(new URL('../../src/presets.rs', import.meta.url), 'utf8');
/** Each preset's id and expected outcomes, read from src/presets.rs. */
const PRESETS = [...PRESETS_RS.matchAll(/id: "([a-z0-9-]+)",[\s\S]*?title: "([^"]+)",[\s\S]*?expected: &\[([\s\S]*?)\],/g)]
  .map(([, id, title, exp]) => ({ id, title, expected: [...exp.matchAll(/"([^"]*)"/g)].map((m) => m[1]) }));

const editorText = (page) => page.evaluate(() => document.querySelector('.cm-editor').playgroundText());
const stepText = (page) => page.locator('.step-count').textContent();
const outcomes = (page) => page.getByRole('list', { name: 'Packets' }).locator('.packet-chip').evaluateAll((bs) => bs.map((b) => b.dataset.outcome));

async function waitIdle(page) {
  await page.waitForFunction(() => !document.querySelector('.busy.on'));
}

test('every preset of the Examples gallery plays to its expected fates', async () => {
  assert.equal(PRESETS.length, 7, 'seven presets in src/presets.rs');
  const { page, errors, context } = await openPlayground(browser, server.url);
  const gallery = page.getByRole('region', { name: 'Examples' });
  for (const p of PRESETS) {
    await gallery.getByRole('button', { name: p.title, exact: true }).click();
    await page.getByRole('status').filter({ hasText: `${p.title}:` }).waitFor();
    await page.waitForFunction((n) => {
      const chips = [...document.querySelectorAll('ol.packets .packet-chip')];
      return chips.length === n && chips.every((c) => c.dataset.outcome);
    }, p.expected.length);
    await waitIdle(page);
    assert.deepEqual(await outcomes(page), p.expected, p.id);
    assert.match(await page.getByRole('region', { name: 'Problems' }).textContent(), /No problems/, p.id);
  }
  // The last one played to its end, as a class would see it.
  await page.keyboard.press('End');
  await page.screenshot({ path: 'test-results/preset-raw-reject-log-nth.png' });
  assert.deepEqual(errors, []);
  await context.close();
});

test('a shared link reopens the same ruleset, packet, step, view and fate in a fresh browser', async () => {
  const a = await openPlayground(browser, server.url);
  const page = a.page;
  await page.getByRole('region', { name: 'Examples' }).getByRole('button', { name: 'Home router' }).click();
  await page.waitForFunction(() => document.querySelectorAll('ol.packets .packet-chip').length === 4);
  await waitIdle(page);
  await page.getByRole('list', { name: 'Packets' }).locator('.packet-chip').nth(2).click();
  await waitIdle(page);
  for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
  await page.getByRole('button', { name: 'Presentation mode' }).click();
  const want = {
    text: await editorText(page), step: await stepText(page), outcomes: await outcomes(page),
    fate: await page.getByRole('status', { name: 'Fate' }).getAttribute('data-fate'),
    narration: await page.getByRole('status', { name: 'Narration' }).textContent(),
  };
  await page.getByRole('button', { name: 'Share' }).click();
  const box = page.getByRole('textbox', { name: 'Share link' });
  const link = await box.inputValue();
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#1\.[A-Za-z0-9_-]+$/);
  assert.match(await page.locator('.share-len').textContent(), new RegExp(`^${link.length} characters`));
  assert.equal(await page.evaluate(() => location.href), link, 'the address bar holds the link');
  await page.screenshot({ path: 'test-results/share.png' });

  const b = await openPlayground(browser, link);
  await waitIdle(b.page);
  await b.page.waitForFunction((s) => document.querySelector('.step-count')?.textContent === s, want.step);
  assert.equal(await editorText(b.page), want.text);
  assert.deepEqual(await outcomes(b.page), want.outcomes);
  assert.equal(await b.page.getByRole('status', { name: 'Fate' }).getAttribute('data-fate'), want.fate);
  assert.equal(await b.page.getByRole('status', { name: 'Narration' }).textContent(), want.narration);
  assert.equal(await b.page.getByRole('button', { name: 'Presentation mode' }).getAttribute('aria-pressed'), 'true');
  assert.equal(await b.page.evaluate(() => document.documentElement.classList.contains('presentation')), true);
  assert.equal(await b.page.getByRole('list', { name: 'Packets' }).locator('.packet-chip').nth(2).getAttribute('aria-pressed'), 'true');
  await b.page.screenshot({ path: 'test-results/shared-link-opened-presentation.png' });
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.context.close();
  await b.context.close();
});

test('a draft survives a reload, and a shared link does not replace it', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const mine = (await editorText(page)).replace('COMMIT', '-A INPUT -p udp --dport 53 -j ACCEPT\nCOMMIT');
  await pasteRuleset(page, mine);
  await page.getByRole('textbox', { name: 'Destination port' }).fill('32720');
  await waitIdle(page);
  await page.waitForTimeout(300);
  await page.reload();
  await page.locator('[data-fate]').waitFor();
  await waitIdle(page);
  assert.equal(await editorText(page), mine);
  assert.equal(await page.getByRole('textbox', { name: 'Destination port' }).inputValue(), '32720');
  await page.getByText('Your scenario from last time in this browser is back.').waitFor();
  // Open a preset's shared link in the same browser: the draft stays in storage.
  await page.getByRole('region', { name: 'Examples' }).getByRole('button', { name: 'Stateful host firewall' }).click();
  await waitIdle(page);
  await page.getByRole('button', { name: 'Share' }).click();
  const link = await page.getByRole('textbox', { name: 'Share link' }).inputValue();
  await page.goto('about:blank');
  await page.goto(link);
  await page.locator('[data-fate]').waitFor();
  await waitIdle(page);
  assert.notEqual(await editorText(page), mine);
  await page.getByRole('button', { name: 'Restore my draft' }).click();
  await waitIdle(page);
  assert.equal(await editorText(page), mine);
  assert.equal(await page.getByRole('textbox', { name: 'Destination port' }).inputValue(), '32720');
  assert.deepEqual(errors, []);
  await context.close();
});

test('hostile and broken links never break the page or lose the draft', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const mine = (await editorText(page)).replace('COMMIT', '# my draft\nCOMMIT');
  await pasteRuleset(page, mine);
  await waitIdle(page);
  await page.waitForTimeout(300);
  // A link whose ruleset carries markup: it is text, never markup.
  const evil = mine.replace('# my draft', '# <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">');
  await pasteRuleset(page, evil);
  await waitIdle(page);
  await page.getByRole('button', { name: 'Share' }).click();
  const evilLink = await page.getByRole('textbox', { name: 'Share link' }).inputValue();
  await pasteRuleset(page, mine);
  await waitIdle(page);
  await page.waitForTimeout(300);
  const base = server.url;
  const bomb = '1.' + deflateRawSync(Buffer.alloc(100 * 1024 * 1024), { level: 9 }).toString('base64url');
  const real = evilLink.split('#')[1];
  const cases = [
    ['bad base64', '1.@@@not*base64', /damaged|base64/i],
    ['truncated', real.slice(0, Math.floor(real.length / 2)), /cut short|damaged|unpack/i],
    ['decompression bomb', bomb, /16 MiB|too large|more than/i],
    ['unknown version', '2.' + real.slice(2), /newer|format 2/i],
    ['not a link', 'hello-world', /not|link|damaged/i],
  ];
  for (const [what, fragment, message] of cases) {
    await page.goto('about:blank');
    await page.goto(`${base}#${fragment}`);
    await page.locator('[data-fate]').waitFor();
    const alert = page.locator('.alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), message, what);
    await waitIdle(page);
    assert.equal(await editorText(page), mine, `${what}: the draft is shown`);
  }
  // A 10 MB fragment set from the page itself (past Chromium's 2 MB URL limit).
  await page.evaluate(() => { try { location.hash = '1.' + 'A'.repeat(10 * 1024 * 1024); } catch {} });
  await page.waitForTimeout(500);
  assert.equal(await editorText(page), mine, '10 MB fragment: the draft is shown');
  // The markup link opens as text, and nothing ran.
  await page.goto('about:blank');
  await page.goto(evilLink);
  await page.locator('[data-fate]').waitFor();
  await waitIdle(page);
  assert.equal(await editorText(page), evil);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator('.cm-content img, .cm-content script').count(), 0);
  await page.getByRole('button', { name: 'Restore my draft' }).click();
  await waitIdle(page);
  assert.equal(await editorText(page), mine);
  assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  await context.close();
});

test('Download scenario writes the CLI\'s format; Open scenario reads it back', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  await page.getByRole('region', { name: 'Examples' }).getByRole('button', { name: 'Docker -p 8080:80' }).click();
  await waitIdle(page);
  const want = await outcomes(page);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download scenario' }).click()]);
  const file = 'test-results/downloaded-scenario.json';
  await download.saveAs(file);
  const scenario = JSON.parse(await readText(file, 'utf8'));
  assert.equal(scenario.version, 1);
  assert.equal(scenario.ruleset, await editorText(page));
  // The same file traces with the CLI to the same fates.
  const cli = JSON.parse(execFileSync('cargo', ['run', '-q', '-p', 'nfsim-cli', '--', 'trace', '--format', 'json', file], { encoding: 'utf8' }));
  assert.deepEqual(cli.packets.map((p) => p.fate.result ?? p.fate.kind ?? p.fate), want.map((o) => o.split(' ')[0]));
  // Open it again in a fresh page.
  const b = await openPlayground(browser, server.url);
  const [chooser] = await Promise.all([b.page.waitForEvent('filechooser'), b.page.getByRole('button', { name: 'Open scenario' }).click()]);
  await chooser.setFiles(file);
  await b.page.waitForFunction((n) => document.querySelectorAll('ol.packets .packet-chip').length === n, want.length);
  await waitIdle(b.page);
  assert.deepEqual(await outcomes(b.page), want);
  assert.deepEqual([...errors, ...b.errors], []);
  await context.close();
  await b.context.close();
});

test('presentation and embed modes render', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  await page.getByRole('button', { name: 'Presentation mode' }).click();
  // The editor folds away with presentation mode, and can come back.
  await page.getByRole('button', { name: 'Show editor' }).click();
  assert.equal(await page.getByRole('textbox', { name: 'Ruleset' }).isVisible(), true);
  await page.getByRole('button', { name: 'Hide editor' }).click();
  await page.keyboard.press('End');
  await page.waitForTimeout(700);
  assert.equal(await page.getByRole('textbox', { name: 'Ruleset' }).isVisible(), false);
  const svg = await page.getByRole('img', { name: 'Packet flow diagram' }).boundingBox();
  assert.ok(svg.width > 1000, `the diagram takes the width: ${svg.width}`);
  await page.screenshot({ path: 'test-results/presentation-mode.png' });
  await context.close();
  const e = await browser.newContext({ viewport: { width: 960, height: 540 }, colorScheme: 'dark' });
  const p = await e.newPage();
  const embedErrors = [];
  p.on('pageerror', (x) => embedErrors.push(String(x)));
  await p.goto(`${server.url}?embed`);
  await p.locator('[data-fate]').waitFor();
  await p.keyboard.press('End');
  await p.waitForTimeout(700);
  assert.equal(await p.getByRole('region', { name: 'Examples' }).isVisible(), false);
  assert.equal(await p.getByRole('textbox', { name: 'Ruleset' }).isVisible(), false);
  assert.equal(await p.getByRole('img', { name: 'Packet flow diagram' }).isVisible(), true);
  assert.equal(await p.getByRole('toolbar', { name: 'Player' }).isVisible(), true);
  assert.equal(await p.getByRole('status', { name: 'Narration' }).isVisible(), true);
  await p.screenshot({ path: 'test-results/embed-mode.png' });
  assert.deepEqual([...errors, ...embedErrors], []);
  await e.close();
});

test('the ruleset exports as iptables-save, iptables commands and nft', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  await page.getByText('Export', { exact: true }).click();
  const group = page.getByRole('group', { name: 'Export as' });
  const text = page.getByRole('textbox', { name: 'Exported ruleset' });
  await group.getByRole('button', { name: 'iptables commands' }).click();
  await page.waitForFunction(() => document.querySelector('.export-text')?.value.includes('iptables -t nat -A KUBE-NODEPORTS'));
  await group.getByRole('button', { name: 'nftables (nft)' }).click();
  await page.waitForFunction(() => document.querySelector('.export-text')?.value.includes('add rule ip nat KUBE-NODEPORTS'));
  assert.match(await text.inputValue(), /^add table ip nat$/m);
  await group.getByRole('button', { name: 'iptables-save' }).click();
  await page.waitForFunction(() => document.querySelector('.export-text')?.value.startsWith('*'));
  assert.deepEqual(errors, []);
  await context.close();
});
