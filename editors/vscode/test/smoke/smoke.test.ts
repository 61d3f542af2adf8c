/**
 * End-to-end smoke test against the real `devmem-lsp`, launched the way the extension
 * launches it: the same command resolution (src/serverPath.ts), the same spawn spec and the
 * same initializationOptions (src/settings.ts), with the database in a temp directory.
 *
 * Server lookup: $DEVMEM_LSP, else <repo>/.venv/bin/devmem-lsp, else PATH.
 * No server → the test FAILS (it never skips).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { buildIdArgs, buildMemoriesForFileArgs, buildRecentArgs, buildRememberArgs, buildSearchArgs } from '../../src/commands';
import { memoryDocument, toPickItem, toTreeItem } from '../../src/format';
import {
  Commands,
  MEMORIES_CHANGED,
  type CommandSignatures,
  type MemorySummary,
} from '../../src/protocol';
import { checkVersion, launchSpec } from '../../src/serverPath';
import { configurationForSection, getterFromRecord, readSettings, toServerConfiguration } from '../../src/settings';
import { FUNCTION_LINE, SAMPLE, TITLE } from '../fixtures';
import { locateServer, notFoundHelp } from './locate';

const STEP_TIMEOUT_MS = 120_000;

function hoverText(hover: unknown): string {
  if (hover === null || hover === undefined) return '';
  const contents = (hover as { contents?: unknown }).contents;
  const one = (c: unknown): string =>
    typeof c === 'string' ? c : c && typeof c === 'object' && 'value' in c ? String((c as { value: unknown }).value) : '';
  return Array.isArray(contents) ? contents.map(one).join('\n') : one(contents);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('devmem-lsp smoke test (as launched by the extension)', () => {
  let tmp = '';
  let child: ChildProcess | undefined;
  let connection: MessageConnection | undefined;
  let stderr = '';
  let exitCode: number | null | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);
  let changedNotifications = 0;
  let memoryId = '';
  const fileUri = () => pathToFileURL(path.join(tmp, 'src', 'checksum.py')).toString();

  const tail = () => (stderr ? `\n--- devmem-lsp stderr (last 4000 chars) ---\n${stderr.slice(-4000)}` : '');
  // Steps run in order on one server; after a failure the rest are skipped (the suite has
  // already failed) instead of piling up follow-on errors.
  let failedStep: string | undefined;
  const step = (name: string, fn: () => Promise<void>) =>
    it(name, { timeout: STEP_TIMEOUT_MS }, async (t) => {
      if (failedStep) return t.skip(`after failed step "${failedStep}"`);
      try {
        await fn();
      } catch (err) {
        failedStep = name;
        if (err instanceof Error) err.message += tail();
        throw err;
      }
    });

  const execute = <C extends keyof CommandSignatures>(command: C, args: CommandSignatures[C][0]) => {
    assert.ok(connection, 'server not started');
    return connection.sendRequest('workspace/executeCommand', { command, arguments: [args] }) as Promise<CommandSignatures[C][1]>;
  };

  // The extension's settings, with the database in the temp directory.
  let settings = readSettings(getterFromRecord({}));
  let config = toServerConfiguration(settings);

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-smoke-'));
    fs.mkdirSync(path.join(tmp, 'src'));
    fs.writeFileSync(path.join(tmp, 'src', 'checksum.py'), SAMPLE);
  });

  after(async () => {
    connection?.dispose();
    if (child && exitCode === undefined) {
      child.kill();
      await Promise.race([exited, sleep(5_000)]);
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  step('finds devmem-lsp and it reports a version ≥ 0.1.0', async () => {
    const { resolved, command, tried } = locateServer();
    if (!resolved.command) assert.fail(notFoundHelp(command, tried));
    const dbPath = path.join(tmp, 'memories.db');
    settings = readSettings(
      getterFromRecord({ 'server.command': resolved.command, 'database.path': dbPath, project: 'devmem-smoke' }),
    );
    config = toServerConfiguration(settings, { home: os.homedir(), workspaceFolder: tmp });
    assert.deepEqual(config.database, { path: dbPath });

    const spec = launchSpec(resolved.command, settings.serverArgs, process.env, process.platform, config.database?.path);
    const version = spawnSync(spec.command, [...spec.args, '--version'], {
      env: spec.env, cwd: tmp, encoding: 'utf8', timeout: 60_000, shell: spec.shell,
    });
    assert.equal(version.status, 0, `"${spec.command} --version" exited ${version.status}: ${version.stderr ?? ''}${version.error ?? ''}`);
    const check = checkVersion(`${version.stdout}${version.stderr}`);
    assert.ok(check.ok, `version check failed: ${!check.ok ? check.reason : ''}`);

    const proc = spawn(spec.command, spec.args, { env: spec.env, cwd: tmp, shell: spec.shell, stdio: ['pipe', 'pipe', 'pipe'] });
    child = proc;
    exited = new Promise((resolve) => proc.on('exit', (code) => resolve((exitCode = code))));
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const conn = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    connection = conn;
    // What the client answers: workspace/configuration via the same mapping as the middleware.
    conn.onRequest('workspace/configuration', (params: { items: { section?: string }[] }) =>
      params.items.map((item) => {
        const ours = configurationForSection(item.section, config);
        return ours.handled ? ours.value : null;
      }),
    );
    conn.onRequest(() => null); // client/registerCapability, workDoneProgress/create, codeLens/refresh…
    conn.onNotification(MEMORIES_CHANGED, () => changedNotifications++);
    conn.onNotification(() => undefined);
    conn.listen();
  });

  step('initialize → initialized', async () => {
    assert.ok(connection);
    const result = (await connection.sendRequest('initialize', {
      processId: process.pid,
      // What vscode-languageclient sends from VS Code (env.appName, version); the server
      // keys "the client shows devmemory: documents" on it.
      clientInfo: { name: 'Visual Studio Code', version: '1.90.0' },
      rootUri: pathToFileURL(tmp).toString(),
      workspaceFolders: [{ uri: pathToFileURL(tmp).toString(), name: 'smoke' }],
      initializationOptions: config,
      capabilities: {
        workspace: {
          configuration: true,
          didChangeConfiguration: { dynamicRegistration: true },
          executeCommand: { dynamicRegistration: false },
          workspaceFolders: true,
          codeLens: { refreshSupport: true },
        },
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: true },
          hover: { dynamicRegistration: false, contentFormat: ['markdown', 'plaintext'] },
          codeLens: { dynamicRegistration: false },
          publishDiagnostics: {},
        },
        window: { workDoneProgress: true },
      },
    })) as { capabilities: { hoverProvider?: unknown; executeCommandProvider?: { commands?: string[] } } };
    assert.ok(result.capabilities.hoverProvider, 'server must provide hover');
    const commands = result.capabilities.executeCommandProvider?.commands ?? [];
    // The extension relies on VS Code registering these (e.g. devmem.open links in hovers).
    for (const c of Object.values(Commands)) assert.ok(commands.includes(c), `executeCommandProvider lacks ${c}`);
    await connection.sendNotification('initialized', {});
  });

  step('devmem.remember seeds a memory anchored to the function', async () => {
    const lines = SAMPLE.split('\n');
    const args = buildRememberArgs({
      content: 'compute_checksum must fold the sum to 16 bits: the firmware only compares the low 16 bits.',
      title: TITLE,
      kind: 'decision',
      tags: ['checksum'],
      uri: fileUri(),
      range: { start: { line: FUNCTION_LINE, character: 0 }, end: { line: FUNCTION_LINE + 2, character: lines[FUNCTION_LINE + 2].length } },
    });
    const result = await execute('devmem.remember', args);
    assert.equal(typeof result.id, 'string');
    assert.ok(result.id.length > 0);
    assert.equal(result.title, TITLE);
    assert.equal(result.kind, 'decision');
    assert.ok(Array.isArray(result.redactions), 'redactions must be an array');
    memoryId = result.id;
  });

  step('hover on the function name shows the memory title', async () => {
    assert.ok(connection && memoryId);
    await connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: fileUri(), languageId: 'python', version: 1, text: SAMPLE },
    });
    const position = { line: FUNCTION_LINE, character: 'def compute_'.length };
    let text = '';
    for (let attempt = 0; attempt < 20 && !text.includes(TITLE); attempt++) {
      if (attempt > 0) await sleep(500);
      text = hoverText(await connection.sendRequest('textDocument/hover', { textDocument: { uri: fileUri() }, position }));
    }
    assert.ok(text.includes(TITLE), `hover does not mention "${TITLE}":\n${text}`);
  });

  step('views: memoriesForFile, recent, search and open follow the contract', async () => {
    const forFile = await execute('devmem.memoriesForFile', buildMemoriesForFileArgs(fileUri()));
    const hit = forFile.hits.find((h: MemorySummary) => h.id === memoryId);
    assert.ok(hit, `memoriesForFile misses ${memoryId}: ${JSON.stringify(forFile)}`);
    assert.equal(hit.title, TITLE);
    assert.ok(Array.isArray(hit.tags), 'MemorySummary.tags must be an array');
    assert.ok(toPickItem(hit).label.includes(TITLE));
    assert.equal(toTreeItem(hit).label, TITLE);

    const recent = await execute('devmem.recent', buildRecentArgs());
    assert.ok(recent.hits.some((h) => h.id === memoryId), `recent misses ${memoryId}`);

    const search = await execute('devmem.search', buildSearchArgs('firmware checksum 16 bits', fileUri()));
    assert.ok(Array.isArray(search.hits));
    assert.ok(search.hits.some((h) => h.id === memoryId), `search misses ${memoryId}: ${JSON.stringify(search)}`);

    const opened = await execute('devmem.open', buildIdArgs(memoryId));
    assert.equal(opened.id, memoryId);
    assert.equal(typeof opened.markdown, 'string');
    assert.ok(memoryDocument(opened).includes(memoryId));

    for (let i = 0; i < 50 && changedNotifications === 0; i++) await sleep(100);
    assert.ok(changedNotifications > 0, `no ${MEMORIES_CHANGED} notification after devmem.remember`);
  });

  step('devmem.forget removes it', async () => {
    const result = await execute('devmem.forget', buildIdArgs(memoryId));
    assert.equal(result.id, memoryId);
    assert.equal(result.removed, true);
    const forFile = await execute('devmem.memoriesForFile', buildMemoriesForFileArgs(fileUri()));
    assert.ok(!forFile.hits.some((h) => h.id === memoryId));
  });

  step('shutdown → exit, and the process exits 0', async () => {
    assert.ok(connection && child);
    await connection.sendRequest('shutdown');
    await connection.sendNotification('exit');
    const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
    assert.equal(code, 0, `devmem-lsp exit code: ${code}`);
  });
});
