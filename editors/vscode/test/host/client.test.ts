/** The extension's client side end to end against a contract-following fake server. */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { runExtensionFlow } from './flow';

test('extension flow against the fake contract server', { timeout: 60_000 }, async () => {
  await runExtensionFlow({
    serverCommand: process.execPath,
    serverArgs: [path.join(__dirname, 'fakeServer.js')],
    inspect: async (fake, { dbPath }) => {
      const expected = {
        database: { path: dbPath },
        hover: { enabled: true },
        codeLens: { enabled: true },
        diagnostics: { enabled: false },
        relevanceFloor: 0.35,
        project: null,
      };
      const state = (await fake.commands.get('fake.state')!()) as {
        initializationOptions: unknown;
        configuration: unknown;
        didChangeConfiguration: unknown[];
      };
      assert.deepEqual(state.initializationOptions, expected);
      assert.deepEqual(state.configuration, expected, 'workspace/configuration answer');
      assert.deepEqual(state.didChangeConfiguration.at(-1), { devmemory: expected });

      // A pushed change arrives mapped; the server is not restarted for it.
      fake.setConfig('devmemory.hover.enabled', false);
      const after = (await fake.commands.get('fake.state')!()) as typeof state;
      assert.deepEqual(after.didChangeConfiguration.at(-1), { devmemory: { ...expected, hover: { enabled: false } } });
      assert.ok(!(fake.outputs.get('DevMemory') ?? []).some((l) => l.includes('restarting')));
      fake.setConfig('devmemory.hover.enabled', true);
    },
  });
});
