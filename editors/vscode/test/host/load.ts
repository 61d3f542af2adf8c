/** Loads the built bundle (dist/extension.js) against a fake `vscode`. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installFakeVscode, type FakeVscode } from './fakeVscode';

export interface LoadedExtension {
  activate(context: { subscriptions: { dispose(): unknown }[] }): Promise<void>;
  deactivate(): Promise<void>;
}

/** editors/vscode, found from out/test/host/. */
export function extensionRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'devmemory') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find editors/vscode above ${__dirname}`);
    dir = parent;
  }
}

export function contributedCommands(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(extensionRoot(), 'package.json'), 'utf8'));
  return pkg.contributes.commands.map((c: { command: string }) => c.command);
}

/** A fresh copy of the bundle bound to `fake` (the module keeps the server in a global). */
export function loadExtension(fake: FakeVscode): { ext: LoadedExtension; context: { subscriptions: { dispose(): unknown }[] }; unload(): Promise<void> } {
  const bundle = path.join(extensionRoot(), 'dist', 'extension.js');
  assert.ok(fs.existsSync(bundle), `${bundle} is missing: run "npm run build" first`);
  const restore = installFakeVscode(fake);
  delete require.cache[require.resolve(bundle)];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ext = require(bundle) as LoadedExtension;
  const context = { subscriptions: [] as { dispose(): unknown }[] };
  return {
    ext,
    context,
    async unload() {
      await ext.deactivate();
      for (const d of context.subscriptions.splice(0)) d.dispose();
      restore();
    },
  };
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
