/**
 * The bundled extension (dist/extension.js, on a fake `vscode`) driven through its commands
 * against the real devmem-lsp: remember → hover → open link → view → live search → forget.
 * Fails (never skips) when no server is found.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runExtensionFlow } from '../host/flow';
import { locateServer, notFoundHelp } from './locate';

test('extension flow against the real devmem-lsp', { timeout: 240_000 }, async () => {
  const { resolved, command, tried } = locateServer();
  if (!resolved.command) assert.fail(notFoundHelp(command, tried));
  await runExtensionFlow({ serverCommand: resolved.command, expectCodeLens: true });
});
