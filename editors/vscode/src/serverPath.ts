/**
 * Finding the `devmem-lsp` executable and checking its version.
 * Pure: file-system access is injected (`isFile`), paths use the target platform's rules.
 */
import * as path from 'node:path';

export const MIN_SERVER_VERSION = '0.1.0';

export interface ResolveInput {
  /** `devmemory.server.command`: a bare name (looked up) or a path (used as is). */
  command: string;
  /** `process.env.PATH`. */
  pathEnv?: string;
  /** `process.env.PATHEXT` (Windows). */
  pathExt?: string;
  platform: NodeJS.Platform;
  /** Selected Python interpreter (executable, or environment folder), if any. */
  interpreterPath?: string;
  /** Base for a relative command path (the first workspace folder). */
  cwd?: string;
  /** True when `p` is an existing (executable) file. */
  isFile: (p: string) => boolean;
}

export interface ResolveResult {
  /** The executable to spawn, or undefined when none of the candidates exists. */
  command?: string;
  /** Where it was found: an explicit path, PATH, or next to the interpreter. */
  source?: 'path' | 'PATH' | 'interpreter';
  /** Every location that was tried, in order (for the error message and the log). */
  tried: string[];
}

function pathApi(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** True when the command names a file (has a directory part) rather than a PATH lookup. */
export function isExplicitPath(command: string, platform: NodeJS.Platform): boolean {
  return platform === 'win32' ? /[\\/]/.test(command) : command.includes('/');
}

/** `devmem-lsp` → `devmem-lsp.exe`, `devmem-lsp.cmd`… on Windows; unchanged elsewhere. */
export function executableNames(command: string, platform: NodeJS.Platform, pathExt?: string): string[] {
  if (platform !== 'win32') return [command];
  const exts = (pathExt || '.COM;.EXE;.BAT;.CMD')
    .split(';')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  if (exts.some((e) => command.toLowerCase().endsWith(e))) return [command];
  return [...exts.map((e) => command + e), command];
}

/** Directories where an environment's console scripts live, given its interpreter. */
export function interpreterScriptDirs(interpreterPath: string, platform: NodeJS.Platform): string[] {
  const p = pathApi(platform);
  const looksLikeExe = /(^|[\\/])python[\d.]*(\.exe)?$/i.test(interpreterPath);
  const dirs: string[] = [];
  if (looksLikeExe) {
    const dir = p.dirname(interpreterPath);
    dirs.push(dir);
    // Windows conda/base installs: python.exe at the root, scripts in Scripts\
    if (platform === 'win32' && p.basename(dir).toLowerCase() !== 'scripts') dirs.push(p.join(dir, 'Scripts'));
  } else {
    // An environment folder (some Python extension versions report the env, not the exe).
    dirs.push(p.join(interpreterPath, platform === 'win32' ? 'Scripts' : 'bin'));
  }
  return dirs;
}

/**
 * Candidates in order: an explicit path alone; otherwise each PATH directory, then the
 * selected interpreter's script directory. The first existing file wins.
 */
export function serverCandidates(input: Omit<ResolveInput, 'isFile'>): { file: string; source: ResolveResult['source'] }[] {
  const p = pathApi(input.platform);
  const command = input.command.trim();
  if (command === '') return [];
  if (isExplicitPath(command, input.platform)) {
    const abs = p.isAbsolute(command) || !input.cwd ? command : p.resolve(input.cwd, command);
    return executableNames(abs, input.platform, input.pathExt).map((file) => ({ file, source: 'path' as const }));
  }
  const names = executableNames(command, input.platform, input.pathExt);
  const out: { file: string; source: ResolveResult['source'] }[] = [];
  const sep = input.platform === 'win32' ? ';' : ':';
  for (const dir of (input.pathEnv ?? '').split(sep)) {
    const d = dir.trim().replace(/^"(.*)"$/, '$1');
    if (d === '') continue;
    for (const name of names) out.push({ file: p.join(d, name), source: 'PATH' });
  }
  if (input.interpreterPath && input.interpreterPath.trim() !== '') {
    for (const dir of interpreterScriptDirs(input.interpreterPath.trim(), input.platform)) {
      for (const name of names) out.push({ file: p.join(dir, name), source: 'interpreter' });
    }
  }
  return out;
}

export function resolveServerCommand(input: ResolveInput): ResolveResult {
  const tried: string[] = [];
  for (const c of serverCandidates(input)) {
    if (tried.includes(c.file)) continue;
    tried.push(c.file);
    if (input.isFile(c.file)) return { command: c.file, source: c.source, tried };
  }
  return { tried };
}

/** First `X.Y.Z` in `--version` output (`devmem-lsp 0.1.0`, `0.1.0.dev3`…). */
export function parseVersion(output: string): string | undefined {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(output);
  return m ? `${Number(m[1])}.${Number(m[2])}.${Number(m[3])}` : undefined;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export type VersionCheck = { ok: true; version: string } | { ok: false; reason: string };

/** Checks `--version` output against MIN_SERVER_VERSION. */
export function checkVersion(output: string, min = MIN_SERVER_VERSION): VersionCheck {
  const version = parseVersion(output);
  if (!version) return { ok: false, reason: `could not read a version from "${output.trim().slice(0, 200)}"` };
  if (compareVersions(version, min) < 0) {
    return { ok: false, reason: `devmem-lsp ${version} is too old (need ≥ ${min})` };
  }
  return { ok: true, version };
}

/** The fix the error notification suggests. */
export const HOW_TO_FIX = 'pip install devmem-layer in your environment, or set devmemory.server.command';

export function notFoundMessage(command: string, tried: readonly string[]): string {
  const where = tried.length > 0 ? ` (looked in ${tried.length} place${tried.length === 1 ? '' : 's'}; see the log)` : '';
  return `DevMemory: the language server "${command}" was not found${where}. ${HOW_TO_FIX}.`;
}

/** How the server process is spawned: shared by the extension and the smoke test. */
export interface LaunchSpec {
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  /** Windows batch wrappers (`.cmd`/`.bat`) need a shell to run. */
  shell: boolean;
}

/**
 * The resolved executable with `devmemory.server.args`; `DEVMEM_DB` is set when
 * `database.path` is (initializationOptions carries it too, this covers start-up work).
 * No `--stdio` flag is added: stdio is the server's default transport.
 */
export function launchSpec(
  resolvedCommand: string,
  args: readonly string[],
  baseEnv: Record<string, string | undefined>,
  platform: NodeJS.Platform,
  databasePath?: string,
): LaunchSpec {
  const env = { ...baseEnv };
  if (databasePath) env.DEVMEM_DB = databasePath;
  return {
    command: resolvedCommand,
    args: [...args],
    env,
    shell: platform === 'win32' && /\.(cmd|bat)$/i.test(resolvedCommand),
  };
}
