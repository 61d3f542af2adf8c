/** Where the smoke tests find the real server: $DEVMEM_LSP, else <repo>/.venv, else PATH. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveServerCommand, type ResolveResult } from '../../src/serverPath';
import { extensionRoot } from '../host/load';

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Uses the extension's resolver: $DEVMEM_LSP as `devmemory.server.command`; otherwise
 * `devmem-lsp` next to the repo's .venv interpreter (the "selected interpreter" fallback),
 * otherwise on PATH.
 */
export function locateServer(): { resolved: ResolveResult; command: string; tried: string[] } {
  const platform = process.platform;
  const tried: string[] = [];
  const attempt = (command: string, pathEnv: string | undefined, interpreterPath?: string): ResolveResult => {
    const r = resolveServerCommand({ command, pathEnv, pathExt: process.env.PATHEXT, platform, interpreterPath, isFile });
    tried.push(...r.tried);
    return r;
  };
  const explicit = process.env.DEVMEM_LSP?.trim();
  if (explicit) return { resolved: attempt(explicit, process.env.PATH), command: explicit, tried };
  const win = platform === 'win32';
  const venvPython = path.resolve(extensionRoot(), '..', '..', '.venv', win ? 'Scripts' : 'bin', win ? 'python.exe' : 'python');
  const venv = attempt('devmem-lsp', '', venvPython);
  if (venv.command) return { resolved: venv, command: 'devmem-lsp', tried };
  return { resolved: attempt('devmem-lsp', process.env.PATH), command: 'devmem-lsp', tried };
}

export function notFoundHelp(command: string, tried: readonly string[]): string {
  return (
    `devmem-lsp not found (command "${command}"). Tried:\n  ${tried.join('\n  ') || '(nothing)'}\n` +
    'Install the Python package into the repo venv (.venv/bin/pip install -e .) or put devmem-lsp on PATH, ' +
    'or set DEVMEM_LSP=/path/to/devmem-lsp.'
  );
}
