import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HOW_TO_FIX,
  checkVersion,
  compareVersions,
  executableNames,
  interpreterScriptDirs,
  launchSpec,
  notFoundMessage,
  parseVersion,
  resolveServerCommand,
  serverCandidates,
} from '../../src/serverPath';

const only = (...files: string[]) => (p: string) => files.includes(p);

test('a bare command is looked up on PATH first', () => {
  const r = resolveServerCommand({
    command: 'devmem-lsp',
    pathEnv: '/usr/bin:/home/me/.local/bin',
    platform: 'linux',
    interpreterPath: '/repo/.venv/bin/python',
    isFile: only('/home/me/.local/bin/devmem-lsp', '/repo/.venv/bin/devmem-lsp'),
  });
  assert.deepEqual(r, {
    command: '/home/me/.local/bin/devmem-lsp',
    source: 'PATH',
    tried: ['/usr/bin/devmem-lsp', '/home/me/.local/bin/devmem-lsp'],
  });
});

test('falls back to the directory of the selected interpreter', () => {
  const r = resolveServerCommand({
    command: 'devmem-lsp',
    pathEnv: '/usr/bin::/bin',
    platform: 'linux',
    interpreterPath: '/repo/.venv/bin/python3.12',
    isFile: only('/repo/.venv/bin/devmem-lsp'),
  });
  assert.equal(r.command, '/repo/.venv/bin/devmem-lsp');
  assert.equal(r.source, 'interpreter');
  assert.deepEqual(r.tried, ['/usr/bin/devmem-lsp', '/bin/devmem-lsp', '/repo/.venv/bin/devmem-lsp']);
});

test('an interpreter given as an environment folder uses its bin/ or Scripts/', () => {
  assert.deepEqual(interpreterScriptDirs('/repo/.venv', 'linux'), ['/repo/.venv/bin']);
  assert.deepEqual(interpreterScriptDirs('C:\\envs\\dm', 'win32'), ['C:\\envs\\dm\\Scripts']);
  assert.deepEqual(interpreterScriptDirs('C:\\repo\\.venv\\Scripts\\python.exe', 'win32'), ['C:\\repo\\.venv\\Scripts']);
  assert.deepEqual(interpreterScriptDirs('C:\\Miniconda3\\python.exe', 'win32'), ['C:\\Miniconda3', 'C:\\Miniconda3\\Scripts']);
});

test('not found: every place tried is reported', () => {
  const r = resolveServerCommand({ command: 'devmem-lsp', pathEnv: '/a:/b', platform: 'darwin', isFile: () => false });
  assert.equal(r.command, undefined);
  assert.deepEqual(r.tried, ['/a/devmem-lsp', '/b/devmem-lsp']);
  const msg = notFoundMessage('devmem-lsp', r.tried);
  assert.match(msg, /"devmem-lsp" was not found \(looked in 2 places; see the log\)/);
  assert.ok(msg.includes(HOW_TO_FIX));
  assert.ok(HOW_TO_FIX.includes('pip install devmem-layer'));
  assert.ok(HOW_TO_FIX.includes('devmemory.server.command'));
});

test('an explicit path is used alone (relative to the workspace)', () => {
  assert.deepEqual(
    serverCandidates({ command: '/opt/dm/bin/devmem-lsp', pathEnv: '/usr/bin', platform: 'linux', interpreterPath: '/x/bin/python' }),
    [{ file: '/opt/dm/bin/devmem-lsp', source: 'path' }],
  );
  assert.deepEqual(serverCandidates({ command: './tools/devmem-lsp', platform: 'linux', cwd: '/repo' }), [
    { file: '/repo/tools/devmem-lsp', source: 'path' },
  ]);
  assert.deepEqual(serverCandidates({ command: '  ', platform: 'linux' }), []);
});

test('Windows: PATHEXT names, ; separators, quoted PATH entries', () => {
  assert.deepEqual(executableNames('devmem-lsp', 'win32', '.EXE;.CMD'), ['devmem-lsp.exe', 'devmem-lsp.cmd', 'devmem-lsp']);
  assert.deepEqual(executableNames('devmem-lsp.exe', 'win32', '.EXE;.CMD'), ['devmem-lsp.exe']);
  assert.deepEqual(executableNames('devmem-lsp', 'linux', '.EXE'), ['devmem-lsp']);
  const r = resolveServerCommand({
    command: 'devmem-lsp',
    pathEnv: '"C:\\Program Files\\Python\\Scripts";C:\\Windows',
    pathExt: '.EXE',
    platform: 'win32',
    interpreterPath: 'C:\\repo\\.venv\\Scripts\\python.exe',
    isFile: only('C:\\repo\\.venv\\Scripts\\devmem-lsp.exe'),
  });
  assert.equal(r.command, 'C:\\repo\\.venv\\Scripts\\devmem-lsp.exe');
  assert.equal(r.tried[0], 'C:\\Program Files\\Python\\Scripts\\devmem-lsp.exe');
});

test('versions', () => {
  assert.equal(parseVersion('devmem-lsp 0.1.0\n'), '0.1.0');
  assert.equal(parseVersion('devmem-lsp, version 1.02.3.dev4'), '1.2.3');
  assert.equal(parseVersion('no version'), undefined);
  assert.equal(compareVersions('0.1.0', '0.1.0'), 0);
  assert.equal(compareVersions('0.10.0', '0.9.9'), 1);
  assert.equal(compareVersions('0.0.9', '0.1.0'), -1);
  assert.deepEqual(checkVersion('devmem-lsp 0.1.0'), { ok: true, version: '0.1.0' });
  assert.deepEqual(checkVersion('devmem-lsp 0.2.1'), { ok: true, version: '0.2.1' });
  const old = checkVersion('devmem-lsp 0.0.9');
  assert.equal(old.ok, false);
  assert.match(!old.ok ? old.reason : '', /0\.0\.9 is too old \(need ≥ 0\.1\.0\)/);
  assert.equal(checkVersion('usage: devmem-lsp [-h]').ok, false);
});

test('launch spec: args, DEVMEM_DB, shell only for Windows batch files', () => {
  const spec = launchSpec('/v/bin/devmem-lsp', ['--log-level', 'debug'], { PATH: '/bin' }, 'linux', '/tmp/m.db');
  assert.deepEqual(spec, {
    command: '/v/bin/devmem-lsp',
    args: ['--log-level', 'debug'],
    env: { PATH: '/bin', DEVMEM_DB: '/tmp/m.db' },
    shell: false,
  });
  assert.equal(launchSpec('C:\\x\\devmem-lsp.cmd', [], {}, 'win32').shell, true);
  assert.equal(launchSpec('C:\\x\\devmem-lsp.exe', [], {}, 'win32').shell, false);
  const base = { PATH: '/bin', DEVMEM_DB: '/keep.db' };
  assert.deepEqual(launchSpec('x', [], base, 'linux').env, base);
});
