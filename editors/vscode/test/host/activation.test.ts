/**
 * The bundled extension activated against a fake `vscode`, without a working server:
 * registrations, server lookup (PATH / Python interpreter), version check, error UI.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { createFakeVscode, Uri, type FakeVscode } from './fakeVscode';
import { contributedCommands, loadExtension, waitFor } from './load';

const FIX = 'pip install devmem-layer in your environment, or set devmemory.server.command';
const posixOnly = { skip: process.platform === 'win32' ? 'uses a shell script as fake server' : false };

let tmp = '';
let savedPath: string | undefined;
let unload: (() => Promise<void>) | undefined;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-host-'));
  savedPath = process.env.PATH;
  // Nothing named devmem-lsp on PATH, whatever the machine has.
  fs.mkdirSync(path.join(tmp, 'empty-bin'));
  process.env.PATH = path.join(tmp, 'empty-bin');
});

afterEach(async () => {
  await unload?.();
  unload = undefined;
});

after(() => {
  process.env.PATH = savedPath;
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A venv-like folder whose devmem-lsp prints `version` for --version. */
function fakeVenv(name: string, version: string): string {
  const bin = path.join(tmp, name, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'python'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'devmem-lsp'), `#!/bin/sh\necho "devmem-lsp ${version}"\n`, { mode: 0o755 });
  return path.join(bin, 'python');
}

async function activate(fake: FakeVscode): Promise<void> {
  const loaded = loadExtension(fake);
  unload = loaded.unload;
  await loaded.ext.activate(loaded.context);
}

const errors = (fake: FakeVscode) => fake.messages.filter((m) => m.level === 'error');

test('registers every contributed command, the view and the memory documents', async () => {
  const fake = createFakeVscode({ config: { 'devmemory.server.command': path.join(tmp, 'missing', 'devmem-lsp') } });
  await activate(fake);
  for (const id of contributedCommands()) assert.ok(fake.commands.has(id), `command ${id} not registered`);
  assert.ok(fake.treeProviders.has('devmemory.memories'));
  assert.ok(fake.contentProviders.has('devmemory'));
});

test('server not found: error with the fix, "Open Settings" and "Show Log"', async () => {
  const fake = createFakeVscode({ config: { 'devmemory.server.command': 'devmem-lsp' } });
  fake.answers.error = () => 'Open Settings';
  await activate(fake);
  await waitFor('error message', () => errors(fake)[0]);
  const [error] = errors(fake);
  assert.match(error.message, /the language server "devmem-lsp" was not found/);
  assert.ok(error.message.includes(FIX), error.message);
  assert.deepEqual(error.items, ['Open Settings', 'Show Log']);
  await waitFor('settings opened', () => fake.executed.find((e) => e.command === 'workbench.action.openSettings'));
  assert.deepEqual(fake.executed.find((e) => e.command === 'workbench.action.openSettings')?.args, ['devmemory.server']);
  assert.ok(fake.outputs.get('DevMemory')?.some((l) => l.includes('not found; tried')));

  // The view and documents degrade instead of throwing.
  const tree = fake.treeProviders.get('devmemory.memories') as {
    getChildren(n?: unknown): Promise<{ type: string; text?: string }[]>;
  };
  const sections = await tree.getChildren();
  assert.deepEqual(sections.map((s) => s.type), ['section', 'section']);
  assert.deepEqual(await tree.getChildren(sections[1]), [{ type: 'message', text: 'Server not running', icon: 'debug-disconnect' }]);
  const docs = fake.contentProviders.get('devmemory')!;
  assert.match(await docs.provideTextDocumentContent(Uri.parse('devmemory:/memory/01ABC.md'), {}), /could not be opened: The DevMemory server is not running/);
});

test('finds devmem-lsp next to the Python extension\'s interpreter and rejects an old version', posixOnly, async () => {
  const python = fakeVenv('venv-api', '0.0.9');
  const fake = createFakeVscode({ config: { 'devmemory.server.command': 'devmem-lsp' } });
  (fake.api.extensions as { getExtension: (id: string) => unknown }).getExtension = (id: string) =>
    id === 'ms-python.python'
      ? { isActive: true, exports: { environments: { getActiveEnvironmentPath: () => ({ id: 'x', path: python }) } } }
      : undefined;
  fake.answers.error = () => 'Show Log';
  await activate(fake);
  await waitFor('error message', () => errors(fake)[0]);
  assert.match(errors(fake)[0].message, /devmem-lsp 0\.0\.9 is too old \(need ≥ 0\.1\.0\)/);
  assert.ok(errors(fake)[0].message.includes(FIX));
  const log = fake.outputs.get('DevMemory') ?? [];
  assert.ok(log.some((l) => l.includes(`server: ${path.join(path.dirname(python), 'devmem-lsp')} (found via interpreter)`)), log.join('\n'));
});

test('without the Python extension, python.defaultInterpreterPath is used (${workspaceFolder} expanded)', posixOnly, async () => {
  fakeVenv('venv-setting', '0.0.1');
  const fake = createFakeVscode({
    workspaceFolder: tmp,
    config: { 'devmemory.server.command': 'devmem-lsp', 'python.defaultInterpreterPath': '${workspaceFolder}/venv-setting/bin/python' },
  });
  await activate(fake);
  await waitFor('error message', () => errors(fake)[0]);
  assert.match(errors(fake)[0].message, /0\.0\.1 is too old/);
  assert.ok((fake.outputs.get('DevMemory') ?? []).some((l) => l.includes(path.join(tmp, 'venv-setting', 'bin', 'devmem-lsp'))));
});

test('a server that cannot report its version is reported as not runnable', posixOnly, async () => {
  const script = path.join(tmp, 'broken-lsp');
  fs.writeFileSync(script, '#!/bin/sh\necho "Traceback: boom" >&2\nexit 1\n', { mode: 0o755 });
  const fake = createFakeVscode({ config: { 'devmemory.server.command': script } });
  await activate(fake);
  await waitFor('error message', () => errors(fake)[0]);
  assert.match(errors(fake)[0].message, /could not be run\. pip install devmem-layer/);
  assert.ok((fake.outputs.get('DevMemory') ?? []).some((l) => l.includes('Traceback: boom')));
});
