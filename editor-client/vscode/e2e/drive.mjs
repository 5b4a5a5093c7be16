// End-to-end check of the packaged extension in the real VS Code workbench (code-server),
// driven by Playwright with the system Chromium. Run by tests/e2e/test_vscode.py:
//   node drive.mjs CONFIG.json
// CONFIG: { codeServer, vsix, workspace, file, defLine, completionAt ('line:column'), settings, outDir,
//          chromium, playwrightFrom, timeoutMs, expectStartFailure, logLevel,
//          and at most one scenario (else the feature tour runs; see scenarios.mjs):
//          typing: { line, word } (half a word typed on a new line under `line`, the ghost text
//          awaited and accepted with Tab), docstring: { at } (Generate docstring there, file saved),
//          review: { bugAt, plainAt, written, replacement } (the finding's quick fix, file saved),
//          synth: { file, rows, waitMs } (Synthesize test data from that file in the workspace) }
// Writes OUTDIR/results.json and one screenshot per check. Waits on the page, never on fixed sleeps.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { checkDocstring, checkFeatures, checkReviewFix, checkSynth, checkTyping } from './scenarios.mjs';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(config.playwrightFrom ?? process.cwd(), 'package.json'));
const { chromium } = require('playwright-core');
const timeout = config.timeoutMs ?? 60000;
const out = config.outDir;
fs.mkdirSync(out, { recursive: true });
const results = { steps: [], screenshots: {} };
const save = () => fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(results, null, 1));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    const value = await fn();
    results.steps.push({ name, ok: true, ms: Date.now() - t0 });
    return value;
  } catch (err) {
    results.steps.push({ name, ok: false, ms: Date.now() - t0, error: String(err?.stack ?? err) });
    throw err;
  }
}

const home = path.join(out, 'code-server');
const userData = path.join(home, 'user-data');
const extensions = path.join(home, 'extensions');
// code-server is a remote window: machine-scoped settings (the server command, bundle) are read
// from the remote machine's settings (Machine/), the rest from the user's (User/).
for (const dir of ['User', 'Machine']) {
  fs.mkdirSync(path.join(userData, dir), { recursive: true });
  fs.writeFileSync(path.join(userData, dir, 'settings.json'), JSON.stringify(config.settings, null, 1));
}

let server;
let browser;
let page;
try {
  await step('install extension', () => {
    const log = execFileSync(config.codeServer, ['--extensions-dir', extensions, '--user-data-dir', userData, '--install-extension', config.vsix], {
      encoding: 'utf8',
      env: process.env,
      timeout: 120000,
    });
    results.installLog = log.trim().split('\n').slice(-3);
  });

  const port = await freePort();
  await step('start code-server', async () => {
    server = spawn(
      config.codeServer,
      ['--auth', 'none', '--log', config.logLevel ?? 'info', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
        '--user-data-dir', userData, '--extensions-dir', extensions, config.workspace],
      { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const logFile = fs.createWriteStream(path.join(out, 'code-server.log'));
    server.stdout.pipe(logFile);
    server.stderr.pipe(logFile);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('code-server did not print its address')), timeout);
      const onData = (chunk) => {
        if (String(chunk).includes('HTTP server listening')) {
          clearTimeout(timer);
          resolve();
        }
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      server.on('exit', (code) => reject(new Error(`code-server exited with ${code}`)));
    });
  });

  browser = await chromium.launch({
    executablePath: config.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(timeout);
  const shot = async (name) => {
    const file = path.join(out, `${name}.png`);
    await page.screenshot({ path: file });
    results.screenshots[name] = file;
  };
  const runCommand = async (title) => {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  };

  await step('open workbench', async () => {
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(config.workspace)}`);
    await page.locator('.monaco-workbench').waitFor();
  });

  await step('open python file', async () => {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill(path.basename(config.file));
    await page.locator('.quick-input-list .monaco-list-row', { hasText: path.basename(config.file) }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.monaco-editor .view-lines').first().waitFor();
  });

  results.status = await step('server ready in the status bar', async () => {
    const item = page.locator('.statusbar-item', { hasText: 'devassist' }).first();
    await item.waitFor();
    // Ready: a check mark and the model name; a failed start: the error icon (and one notification).
    await page.waitForFunction(() => {
      const el = [...document.querySelectorAll('.statusbar-item')].find((e) => e.textContent.includes('devassist'));
      return el && (el.querySelector('.codicon-check') || el.querySelector('.codicon-error'));
    });
    const text = (await item.innerText()).trim();
    if (await item.locator('.codicon-error').count()) {
      const toasts = page.locator('.notifications-toasts .notification-toast');
      await toasts.first().waitFor();
      // Let the toast finish fading in, so the screenshot shows it.
      await page.waitForFunction(() => {
        const toast = document.querySelector('.notifications-toasts .notification-toast');
        return toast && getComputedStyle(toast).opacity === '1';
      });
      results.startFailure = { toasts: (await toasts.allInnerTexts()).map((t) => t.trim()) };
      await shot('start-failed');
      if (!config.expectStartFailure) throw new Error(`start failed: ${results.startFailure.toasts.join(' | ')}`);
    } else {
      await shot('ready');
    }
    return text;
  });

  if (config.expectStartFailure) {
    if (!results.startFailure) throw new Error(`the server started, but a failed start was expected (status: ${results.status})`);
  } else {
    const ctx = { page, shot, runCommand, step, results, config, timeout };
    if (config.typing) await checkTyping(ctx);
    else if (config.docstring) await checkDocstring(ctx);
    else if (config.review) await checkReviewFix(ctx);
    else if (config.synth) await checkSynth(ctx);
    else await checkFeatures(ctx);
  }
  results.ok = true;
} catch (err) {
  results.ok = false;
  results.error = String(err?.message ?? err);
  if (page) {
    const file = path.join(out, 'failure.png');
    await page.screenshot({ path: file }).catch(() => {});
    results.screenshots.failure = file;
  }
} finally {
  save();
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        server.kill('SIGKILL');
        resolve();
      }, 5000);
      server.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
process.exit(results.ok ? 0 : 1);
