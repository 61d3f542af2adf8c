import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULTS,
  configurationForSection,
  expandPath,
  getterFromRecord,
  needsRestart,
  readSettings,
  toServerConfiguration,
} from '../../src/settings';

test('defaults map to the contract shape without a database path', () => {
  const s = readSettings(getterFromRecord({}));
  assert.deepEqual(s, DEFAULTS);
  assert.deepEqual(toServerConfiguration(s), {
    hover: { enabled: true },
    codeLens: { enabled: true },
    diagnostics: { enabled: false },
    relevanceFloor: 0.35,
    project: null,
  });
});

test('every setting is mapped; client-only keys are not sent', () => {
  const s = readSettings(
    getterFromRecord({
      'database.path': ' /tmp/m.db ',
      'hover.enabled': false,
      'codeLens.enabled': false,
      'diagnostics.enabled': true,
      relevanceFloor: 0.5,
      project: 'billing',
      'server.command': '/opt/devmem-lsp',
      'server.args': ['--log-level', 'debug', 3],
      'trace.server': 'verbose',
    }),
  );
  assert.equal(s.serverCommand, '/opt/devmem-lsp');
  assert.deepEqual(s.serverArgs, ['--log-level', 'debug']);
  assert.equal(s.traceServer, 'verbose');
  const config = toServerConfiguration(s);
  assert.deepEqual(config, {
    database: { path: '/tmp/m.db' },
    hover: { enabled: false },
    codeLens: { enabled: false },
    diagnostics: { enabled: true },
    relevanceFloor: 0.5,
    project: 'billing',
  });
  assert.deepEqual(Object.keys(config).sort(), ['codeLens', 'database', 'diagnostics', 'hover', 'project', 'relevanceFloor']);
});

test('invalid values fall back to defaults', () => {
  const s = readSettings(
    getterFromRecord({
      'hover.enabled': 'yes',
      relevanceFloor: 'high',
      project: '   ',
      'server.command': '  ',
      'server.args': 'not-an-array',
      'trace.server': 'loud',
    }),
  );
  assert.equal(s.hoverEnabled, true);
  assert.equal(s.relevanceFloor, 0.35);
  assert.equal(s.project, null);
  assert.equal(s.serverCommand, 'devmem-lsp');
  assert.deepEqual(s.serverArgs, []);
  assert.equal(s.traceServer, 'off');
});

test('relevanceFloor is clamped to [0, 1]', () => {
  assert.equal(readSettings(getterFromRecord({ relevanceFloor: 3 })).relevanceFloor, 1);
  assert.equal(readSettings(getterFromRecord({ relevanceFloor: -1 })).relevanceFloor, 0);
  assert.equal(readSettings(getterFromRecord({ relevanceFloor: Number.NaN })).relevanceFloor, 0.35);
});

test('database path expansion', () => {
  const ctx = { home: '/home/me', workspaceFolder: '/work/repo' };
  assert.equal(expandPath('~/mem.db', ctx), '/home/me/mem.db');
  assert.equal(expandPath('~', ctx), '/home/me');
  assert.equal(expandPath('${workspaceFolder}/.devmem/m.db', ctx), '/work/repo/.devmem/m.db');
  assert.equal(expandPath('${userHome}/m.db', ctx), '/home/me/m.db');
  assert.equal(expandPath('/abs/~x.db', ctx), '/abs/~x.db');
  assert.equal(expandPath('${workspaceFolder}/m.db', {}), '${workspaceFolder}/m.db');
  const config = toServerConfiguration(readSettings(getterFromRecord({ 'database.path': '~/m.db' })), ctx);
  assert.deepEqual(config.database, { path: '/home/me/m.db' });
});

test('workspace/configuration answers for the devmemory section and its sub-sections', () => {
  const config = toServerConfiguration(readSettings(getterFromRecord({ 'database.path': '/x.db' })));
  assert.deepEqual(configurationForSection('devmemory', config), { handled: true, value: config });
  assert.deepEqual(configurationForSection('devmemory.hover', config), { handled: true, value: { enabled: true } });
  assert.deepEqual(configurationForSection('devmemory.database.path', config), { handled: true, value: '/x.db' });
  assert.deepEqual(configurationForSection('devmemory.nope.deeper', config), { handled: true, value: null });
  assert.deepEqual(configurationForSection('devmemoryx', config), { handled: false });
  assert.deepEqual(configurationForSection('python', config), { handled: false });
  assert.deepEqual(configurationForSection(undefined, config), { handled: false });
  assert.deepEqual(configurationForSection(null, config), { handled: false });
});

test('server and database changes need a restart, the rest is pushed', () => {
  const affects = (changed: string) => (section: string) => changed === section || changed.startsWith(section + '.');
  assert.equal(needsRestart(affects('devmemory.server.command')), true);
  assert.equal(needsRestart(affects('devmemory.server.args')), true);
  assert.equal(needsRestart(affects('devmemory.database.path')), true);
  assert.equal(needsRestart(affects('devmemory.hover.enabled')), false);
  assert.equal(needsRestart(affects('devmemory.trace.server')), false);
});
