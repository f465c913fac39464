// The playground as a person uses it, in headless Chromium at 1280x720: play the
// default NodePort SYN to the end, break and fix the ruleset, step by keyboard,
// send the reply, pick a branch, paste a real node's dump. Screenshots go to
// test-results/ (light and dark, mid-animation and at the end).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { serveDist, launch, openPlayground, pasteRuleset } from './harness.mjs';

const EXAMPLE = await readFile(new URL('../../src/examples/kube_nodeport.rules', import.meta.url), 'utf8');
let server, browser;
before(async () => {
  server = await serveDist();
  browser = await launch();
  await mkdir('test-results', { recursive: true });
});
after(async () => { await browser?.close(); await server?.close(); });

const fate = (page) => page.getByRole('status', { name: 'Fate' });
const stepCount = (page) => page.locator('.step-count');
const box = (page, hook, table) => page.locator(`[data-hook=${hook}][data-table=${table}]`);

/** Wait until the player shows the last frame. */
async function waitForEnd(page) {
  await page.waitForFunction(() => {
    const t = document.querySelector('.step-count')?.textContent ?? '';
    const [a, b] = t.split('/');
    return b && a === b;
  }, null, { timeout: 60000 });
}

for (const colorScheme of ['light', 'dark']) {
  test(`the default scenario plays to its end (${colorScheme})`, async () => {
    const { page, errors, context } = await openPlayground(browser, server.url, { colorScheme });
    const summary = page.getByRole('status', { name: 'Ruleset summary' });
    assert.equal(await summary.textContent(), '3 tables, 33 chains, 36 rules');
    await assert.doesNotReject(page.getByRole('region', { name: 'Problems' }).getByText('No problems').waitFor());
    assert.equal(await fate(page).getAttribute('data-fate'), 'forwarded');
    // Ready to play: every box unvisited, the diagram drawn from the engine's hooks.
    const diagram = page.getByRole('img', { name: 'Packet flow diagram' });
    assert.equal(await diagram.locator('[data-table][data-state=visited]').count(), 0);
    assert.equal(await box(page, 'PREROUTING', 'raw').count(), 1);
    assert.equal(await box(page, 'OUTPUT', 'security').count(), 1);

    await page.getByRole('combobox', { name: 'Speed' }).selectOption('4');
    await page.getByRole('button', { name: 'Play' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    // Mid-animation: the token is in the nat table of PREROUTING.
    await page.waitForFunction(() => document.querySelector('[data-hook=PREROUTING][data-table=nat]')?.dataset.state === 'current', null, { timeout: 30000 });
    await page.screenshot({ path: `test-results/default-mid-${colorScheme}.png` });
    await waitForEnd(page);
    await page.getByRole('button', { name: 'Play' }).waitFor();
    await page.waitForTimeout(700);
    await page.screenshot({ path: `test-results/default-end-${colorScheme}.png` });

    assert.equal(await fate(page).getAttribute('data-fate'), 'forwarded');
    assert.match(await fate(page).textContent(), /Forwarded out eth1/);
    assert.equal(await box(page, 'PREROUTING', 'nat').getAttribute('data-state'), 'visited');
    assert.equal(await box(page, 'POSTROUTING', 'nat').getAttribute('data-state'), 'visited');
    assert.match(await box(page, 'PREROUTING', 'nat').getAttribute('data-verdict'), /DNAT 203\.0\.113\.1[012]:80/);
    assert.equal(await box(page, 'INPUT', 'filter').getAttribute('data-state'), 'unvisited');
    // The Trace list: one item per step, with table, chain, rule and verdict as text.
    const items = page.getByRole('list', { name: 'Trace' }).getByRole('listitem');
    const texts = await items.allTextContents();
    assert.ok(texts.some((t) => /nat KUBE-NODEPORTS rule 2: jump KUBE-SVC-JKOCBQALQGD3X3RT/.test(t)), texts.join('\n'));
    assert.ok(texts.some((t) => /nat KUBE-SEP-\w+ rule 2: DNAT 203\.0\.113\.1[012]:80/.test(t)));
    assert.equal(await items.count(), Number((await stepCount(page).textContent()).split('/')[1]));
    assert.match(await page.getByRole('status', { name: 'Narration' }).textContent(), /^Forwarded out eth1\.$/);
    assert.deepEqual(errors, [], errors.join('\n'));
    await context.close();
  });
}

test('an edit that drops the packet changes the fate live; a typo shows in Problems on its line', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const firstForward = '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall"';
  await pasteRuleset(page, EXAMPLE.replace(firstForward, `-A FORWARD -p tcp --dport 80 -j DROP\n${firstForward}`));
  await page.waitForFunction(() => document.querySelector('[data-fate]')?.dataset.fate === 'dropped', null, { timeout: 20000 });
  assert.match(await fate(page).textContent(), /Dropped by filter FORWARD rule 1/);
  assert.equal(await page.getByRole('status', { name: 'Ruleset summary' }).textContent(), '3 tables, 33 chains, 37 rules');
  await page.locator('.topbar h1').click();
  await page.keyboard.press('End');
  assert.equal(await box(page, 'FORWARD', 'filter').getAttribute('data-verdict'), 'DROP');
  assert.equal(await box(page, 'POSTROUTING', 'nat').getAttribute('data-state'), 'unvisited');
  await page.screenshot({ path: 'test-results/dropped.png' });

  // A misspelt option: a problem on its line; clicking it selects the line in the editor.
  const broken = EXAMPLE.replace('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000', '-A KUBE-MARK-MASQ -j MARK --set-mork 0x4000');
  assert.notEqual(broken, EXAMPLE);
  const line = broken.split('\n').findIndex((l) => l.includes('--set-mork')) + 1;
  await pasteRuleset(page, broken);
  const problems = page.getByRole('region', { name: 'Problems' });
  const row = problems.locator(`li[data-line="${line}"]`);
  await row.waitFor({ timeout: 20000 });
  assert.match(await row.textContent(), /error\[E0101\]\s*unknown option "--set-mork"/);
  assert.match(await row.textContent(), /did you mean "--set-mark"/);
  await page.locator('.cm-lintRange-error').first().waitFor();
  await row.getByRole('button').click();
  const selected = await page.evaluate(() => window.getSelection().toString());
  assert.equal(selected, '-A KUBE-MARK-MASQ -j MARK --set-mork 0x4000');
  // The trace waits for a loadable ruleset, and says why.
  await page.getByRole('alert').filter({ hasText: 'The ruleset has errors' }).waitFor();
  await page.screenshot({ path: 'test-results/problem.png' });

  // Fixed again: no problems, forwarded again.
  await pasteRuleset(page, EXAMPLE);
  await problems.getByText('No problems').waitFor({ timeout: 20000 });
  await page.waitForFunction(() => document.querySelector('[data-fate]')?.dataset.fate === 'forwarded');
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});

test('the editor types, undoes and searches like an editor', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const editor = page.getByRole('textbox', { name: 'Ruleset' });
  await editor.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('*raw');
  await page.keyboard.press('Enter');
  await page.keyboard.type('-A PREROUTING -p tcp --dprot 30080 -j NOTRACK');
  await page.keyboard.press('Enter');
  await page.keyboard.type('COMMIT');
  // Re-parsed as typed: the typo is a problem on its line (the example has 76 lines).
  const problems = page.getByRole('region', { name: 'Problems' });
  const row = problems.locator('li[data-line="77"]');
  await row.waitFor({ timeout: 20000 });
  assert.match(await row.textContent(), /unknown option "--dprot"/);
  // A new table (the raw table's built-in chains); the broken rule is not loaded.
  assert.equal(await page.getByRole('status', { name: 'Ruleset summary' }).textContent(), '4 tables, 35 chains, 36 rules');
  // Undo takes it all back.
  for (let i = 0; i < 6 && !(await problems.getByText('No problems').count()); i++) {
    await page.keyboard.press('Control+z');
    await page.waitForTimeout(400);
  }
  await problems.getByText('No problems').waitFor({ timeout: 20000 });
  assert.equal(await page.getByRole('status', { name: 'Ruleset summary' }).textContent(), '3 tables, 33 chains, 36 rules');
  await page.keyboard.press('Control+f');
  await page.locator('.cm-search input[name=search]').waitFor();
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});

test('a reload keeps the ruleset typed last time; looking at the example does not replace it', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const summary = page.getByRole('status', { name: 'Ruleset summary' });
  const firstForward = '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall"';
  await pasteRuleset(page, EXAMPLE.replace(firstForward, `-A FORWARD -p tcp --dport 80 -j DROP\n${firstForward}`));
  await page.waitForFunction(() => document.querySelector('[aria-label="Ruleset summary"]')?.textContent === '3 tables, 33 chains, 37 rules');
  await page.reload();
  await page.getByRole('textbox', { name: 'Ruleset' }).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-fate]')?.dataset.fate === 'dropped', null, { timeout: 20000 });
  assert.equal(await summary.textContent(), '3 tables, 33 chains, 37 rules');
  const notice = page.getByRole('status').filter({ hasText: 'Your scenario from last time' });
  await notice.getByRole('button', { name: 'Load the example' }).click();
  await page.waitForFunction(() => document.querySelector('[data-fate]')?.dataset.fate === 'forwarded', null, { timeout: 20000 });
  assert.equal(await summary.textContent(), '3 tables, 33 chains, 36 rules');
  // The draft is kept while the example is only looked at.
  await page.getByRole('button', { name: 'Restore my draft' }).waitFor();
  await page.reload();
  await page.waitForFunction(() => document.querySelector('[data-fate]')?.dataset.fate === 'dropped', null, { timeout: 20000 });
  assert.equal(await summary.textContent(), '3 tables, 33 chains, 37 rules');
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});

test('stepping by keyboard, by rule and by hook', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const narration = page.getByRole('status', { name: 'Narration' });
  const total = Number((await stepCount(page).textContent()).split('/')[1]);
  assert.ok(total > 20, `${total} steps`);
  await page.locator('.topbar h1').click();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.equal(await stepCount(page).textContent(), `4/${total}`);
  assert.equal(await narration.textContent(), 'nat PREROUTING, rule 1 sends the packet to KUBE-SERVICES: it matches every packet.');
  // The rule being evaluated is highlighted in the editor, and each tried rule has a hit count.
  await page.locator('.cm-current-rule', { hasText: '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' }).waitFor();
  assert.ok(await page.locator('.cm-hit-matched').count() > 3);
  await page.keyboard.press('ArrowRight');
  assert.match(await narration.textContent(), /rule 1 does not match: -d 192\.0\.2\.100\/32, but the destination is 198\.51\.100\.1/);
  await page.keyboard.press('ArrowLeft');
  assert.equal(await stepCount(page).textContent(), `4/${total}`);
  await page.keyboard.press('Home');
  assert.equal(await stepCount(page).textContent(), `1/${total}`);

  await page.getByRole('combobox', { name: 'Step by' }).selectOption('hook');
  await page.getByRole('button', { name: 'Step forward' }).click();
  await page.getByRole('button', { name: 'Step forward' }).click();
  const at = Number((await stepCount(page).textContent()).split('/')[0]);
  const current = page.locator('ol.trace li[aria-current]');
  assert.match(await current.textContent(), /routing \(PREROUTING\): forward to 203\.0\.113\.1[012] dev eth1/);
  assert.ok(at > 10);
  await page.getByRole('button', { name: 'Step back' }).click();
  assert.match(await current.textContent(), /conntrack \(PREROUTING\): NEW/);

  // Every player button has its exact accessible name.
  for (const name of ['Play', 'Step forward', 'Step back', 'Restart', 'Send reply']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).count(), 1, name);
  }
  // The tree opens lazily: a chain's rules come from the worker when it is opened.
  await page.getByText('Tables and chains').click();
  await page.locator('details.table[data-table=nat] > summary').click();
  await page.locator('details.chain[data-chain=KUBE-SVC-JKOCBQALQGD3X3RT] > summary').click();
  await page.locator('details.chain[data-chain=KUBE-SVC-JKOCBQALQGD3X3RT] li code', { hasText: '--probability 0.33333333349' }).waitFor();

  // Space plays and pauses.
  await page.locator('.topbar h1').click();
  await page.keyboard.press(' ');
  await page.getByRole('button', { name: 'Pause' }).waitFor();
  await page.keyboard.press(' ');
  await page.getByRole('button', { name: 'Play' }).waitFor();
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});

test('Send reply shows the un-NAT; the three endpoints at 33% each, any of them playable', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const outcomes = page.getByRole('list', { name: 'Outcomes' }).getByRole('listitem');
  assert.deepEqual((await outcomes.allTextContents()).map((t) => t.replace(/\s+/g, ' ')),
    ['33.3%203.0.113.10:80', '33.3%203.0.113.11:80', '33.3%203.0.113.12:80']);
  // Pick the third endpoint: its KUBE-SEP chain's DNAT is what the trace shows.
  await outcomes.nth(2).getByRole('button').click();
  await page.waitForFunction(() => document.querySelectorAll('ul.outcomes li.shown').length === 1
    && document.querySelector('ul.outcomes li.shown').textContent.includes('203.0.113.12:80'));
  await page.getByRole('list', { name: 'Trace' }).getByText(/DNAT 203\.0\.113\.12:80/).first().waitFor();

  await page.getByRole('button', { name: 'Send reply' }).click();
  const packets = page.getByRole('list', { name: 'Packets' }).getByRole('listitem');
  await page.waitForFunction(() => document.querySelectorAll('ol.packets li').length === 2
    && document.querySelectorAll('ol.trace li').length > 3
    && document.querySelector('ol.trace li')?.textContent.includes('SYN,ACK'));
  assert.match(await packets.nth(1).textContent(), /reply to #1.*203\.0\.113\.12:80 -> 203\.0\.113\.1:\d+ SYN,ACK on eth1.*Forwarded out eth0/);
  const trace = await page.getByRole('list', { name: 'Trace' }).getByRole('listitem').allTextContents();
  assert.ok(trace.some((t) => /conntrack \(PREROUTING\): ESTABLISHED/.test(t)), trace.join('\n'));
  assert.ok(trace.some((t) => /nat \(PREROUTING\): 203\.0\.113\.12:80 -> 203\.0\.113\.1:\d+ → 203\.0\.113\.12:80 -> 192\.0\.2\.50:45678/.test(t)), trace.join('\n'));
  assert.ok(trace.some((t) => /nat \(POSTROUTING\): 203\.0\.113\.12:80 -> 192\.0\.2\.50:45678 → 198\.51\.100\.1:32719 -> 192\.0\.2\.50:45678/.test(t)), trace.join('\n'));
  // Step to the end: the packet state shows what the un-NAT changed.
  await page.locator('.topbar h1').click();
  await page.keyboard.press('End');
  await page.getByRole('slider', { name: 'Timeline' }).fill(String(trace.length - 1));
  const state = page.getByRole('region', { name: 'Packet state' });
  await state.getByText('203.0.113.12 → 198.51.100.1').waitFor();
  await state.getByText('203.0.113.1 → 192.0.2.50').waitFor();
  await page.screenshot({ path: 'test-results/reply.png' });
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});

test('packet fields are checked at the field, and the quick form follows them', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  const quick = page.getByRole('textbox', { name: 'Packet (one line)' });
  assert.equal(await quick.inputValue(), 'tcp 192.0.2.50:45678 -> 198.51.100.1:32719 iif eth0 flags S');
  const dst = page.getByRole('textbox', { name: 'Destination address' });
  await dst.fill('198.51.100');
  assert.equal(await dst.getAttribute('aria-invalid'), 'true');
  await page.getByText("`198.51.100' is not an IPv4 address (like 192.0.2.50)").waitFor();
  await dst.fill('198.51.100.1');
  await page.getByRole('textbox', { name: 'Destination port' }).fill('22');
  assert.equal(await quick.inputValue(), 'tcp 192.0.2.50:45678 -> 198.51.100.1:22 iif eth0 flags S');
  await page.waitForFunction(() => document.querySelector('[data-fate]')?.dataset.fate === 'delivered-local');
  await quick.fill('udp 192.0.2.7:5353 -> 198.51.100.1:32719 iif eth1');
  assert.equal(await page.getByRole('combobox', { name: 'Protocol' }).inputValue(), 'udp');
  assert.equal(await page.getByRole('textbox', { name: 'Source address' }).inputValue(), '192.0.2.7');
  assert.equal(await page.getByRole('combobox', { name: 'Arrives on' }).inputValue(), 'eth1');
  assert.equal(await page.getByRole('textbox', { name: 'TCP flags' }).count(), 0);
  await quick.fill('udp 192.0.2.7:5353 => nowhere');
  await page.getByText("expected `->' between the source and the destination").waitFor();
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});

test('pasting a 10,000-service node dump keeps the page responsive', async () => {
  const dump = execFileSync('cargo', ['run', '-q', '-p', 'nfsim', '--example', 'kubegen', '--', '10000', '3'],
    { maxBuffer: 1 << 30 }).toString();
  const rules = dump.split('\n').filter((l) => l.startsWith('-A ')).length;
  const chains = dump.split('\n').filter((l) => l.startsWith(':')).length;
  const { page, errors, context } = await openPlayground(browser, server.url);
  // Count the animation frames during the paste: a frozen tab paints none.
  await page.evaluate(() => {
    window.__frames = 0;
    const tick = () => { window.__frames++; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  await pasteRuleset(page, dump);
  const summary = page.getByRole('status', { name: 'Ruleset summary' });
  await page.waitForFunction((want) => document.querySelector('[aria-label="Ruleset summary"]')?.textContent === want,
    `2 tables, ${chains} chains, ${rules} rules`, { timeout: 60000 });
  assert.equal(await summary.textContent(), `2 tables, ${chains} chains, ${rules} rules`);
  assert.ok(await page.evaluate(() => window.__frames) > 5, 'the page kept painting');
  // The default NodePort packet is traced through it too.
  await page.locator('[data-fate]').waitFor();
  assert.ok(await page.locator('.cm-line').count() < 200, 'the editor renders only what is on screen');
  // Too large for the browser's storage: said so, and the text stays in the editor.
  await page.getByRole('status').filter({ hasText: 'larger than this browser keeps' }).waitFor();
  await page.screenshot({ path: 'test-results/paste-10k.png' });
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});

test('the backend selector reorders INPUT; with listening sockets the host answers and the answer is played', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  await page.getByText('Host: interfaces, routes, sysctls, sockets, ipsets, backend').click();
  const y = async (table) => Number(await box(page, 'INPUT', table).locator('rect').first().getAttribute('y'));
  // iptables-nft (the default): security (150) after nat INPUT (100).
  assert.ok(await y('nat') < await y('security'));
  await page.getByRole('combobox', { name: 'iptables backend' }).selectOption('legacy');
  await page.waitForFunction(() => {
    const r = (t) => Number(document.querySelector(`[data-hook=INPUT][data-table=${t}] rect`)?.getAttribute('y'));
    return r('security') < r('nat');
  });
  // A SYN to the host itself, on a port nothing listens on: the stack's RST walks OUTPUT.
  const quick = page.getByRole('textbox', { name: 'Packet (one line)' });
  await quick.fill('tcp 192.0.2.50:45678 -> 198.51.100.1:2222 iif eth0 flags S');
  await quick.press('Enter');
  await page.waitForFunction(() => document.querySelector('[data-fate]')?.dataset.fate === 'delivered-local');
  const items = page.getByRole('list', { name: 'Trace' }).getByRole('listitem');
  assert.ok(!(await items.allTextContents()).some((t) => t.includes('answer:')));
  const listening = page.getByRole('textbox', { name: 'Listening sockets' });
  await listening.fill('tcp/22');
  await listening.press('Tab');
  await page.waitForFunction(() => [...document.querySelectorAll('[aria-label=Trace] li')].some((li) => li.textContent.includes("answer: the stack's RST")));
  await page.getByRole('button', { name: 'Play' }).focus();
  await page.keyboard.press('End');
  await waitForEnd(page);
  assert.match(await page.getByRole('status', { name: 'Narration' }).textContent(), /^The answer: sent out eth0\.$/);
  // The page's fate stays the packet's.
  assert.equal(await fate(page).getAttribute('data-fate'), 'delivered-local');
  await page.screenshot({ path: 'test-results/answer-legacy.png' });
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});

test('REJECT of the host\'s own ICMP error sends nothing, and the player says so', async () => {
  const { page, errors, context } = await openPlayground(browser, server.url);
  await pasteRuleset(page, '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p icmp -j REJECT\nCOMMIT\n');
  // With its sockets given, the host answers: a UDP packet to a port nothing
  // listens on gets the stack's port unreachable, which OUTPUT rejects, and
  // icmp_send never answers an ICMP error.
  await page.getByText('Host: interfaces, routes, sysctls, sockets, ipsets, backend').click();
  const listening = page.getByRole('textbox', { name: 'Listening sockets' });
  await listening.fill('tcp/22');
  await listening.press('Tab');
  const quick = page.getByRole('textbox', { name: 'Packet (one line)' });
  await quick.fill('udp 198.51.100.2:40000 -> 198.51.100.1:53 iif eth0');
  await quick.press('Enter');
  const trace = page.getByRole('list', { name: 'Trace' });
  const silent = trace.getByRole('listitem').filter({ hasText: 'reject: sends nothing (no ICMP error answers an ICMP error (icmp_send))' });
  await silent.waitFor();
  await silent.getByRole('button').first().click();
  assert.equal(await page.getByRole('status', { name: 'Narration' }).textContent(),
    'REJECT sends nothing back: no ICMP error answers an ICMP error (icmp_send).');
  await page.screenshot({ path: 'test-results/reject-sends-nothing.png' });
  assert.equal(await fate(page).getAttribute('data-fate'), 'delivered-local');
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});
