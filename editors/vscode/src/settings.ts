/**
 * VS Code settings (section `devmemory`) → the server's configuration object.
 * Pure: the caller passes a getter (e.g. `workspace.getConfiguration('devmemory').get`).
 */

export const SECTION = 'devmemory';

export type TraceSetting = 'off' | 'messages' | 'verbose';

/** What the extension reads from the `devmemory` section, validated and defaulted. */
export interface DevMemorySettings {
  databasePath: string;
  hoverEnabled: boolean;
  codeLensEnabled: boolean;
  diagnosticsEnabled: boolean;
  relevanceFloor: number;
  project: string | null;
  serverCommand: string;
  serverArgs: string[];
  traceServer: TraceSetting;
}

/** `initializationOptions` / `workspace/configuration` shape from docs/lsp-contract.md. */
export interface ServerConfiguration {
  database?: { path: string };
  hover?: { enabled: boolean };
  codeLens?: { enabled: boolean };
  diagnostics?: { enabled: boolean };
  relevanceFloor?: number;
  project?: string | null;
}

export const DEFAULTS: Readonly<DevMemorySettings> = Object.freeze({
  databasePath: '',
  hoverEnabled: true,
  codeLensEnabled: true,
  diagnosticsEnabled: false,
  relevanceFloor: 0.35,
  project: null,
  serverCommand: 'devmem-lsp',
  serverArgs: [],
  traceServer: 'off',
});

/** Reads one key of the `devmemory` section (keys are relative, e.g. `hover.enabled`). */
export type SettingGetter = (key: string) => unknown;

/** Builds a getter over a plain object keyed like VS Code's dotted keys (used by tests). */
export function getterFromRecord(values: Record<string, unknown>): SettingGetter {
  return (key) => values[key];
}

function str(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value.trim() : fallback;
}
function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

export function readSettings(get: SettingGetter): DevMemorySettings {
  const floor = get('relevanceFloor');
  const project = get('project');
  const args = get('server.args');
  const trace = get('trace.server');
  const command = str(get('server.command'), '');
  return {
    databasePath: str(get('database.path'), DEFAULTS.databasePath),
    hoverEnabled: bool(get('hover.enabled'), DEFAULTS.hoverEnabled),
    codeLensEnabled: bool(get('codeLens.enabled'), DEFAULTS.codeLensEnabled),
    diagnosticsEnabled: bool(get('diagnostics.enabled'), DEFAULTS.diagnosticsEnabled),
    relevanceFloor:
      typeof floor === 'number' && Number.isFinite(floor)
        ? Math.min(1, Math.max(0, floor))
        : DEFAULTS.relevanceFloor,
    project: typeof project === 'string' && project.trim() !== '' ? project.trim() : null,
    serverCommand: command !== '' ? command : DEFAULTS.serverCommand,
    serverArgs: Array.isArray(args) ? args.filter((a): a is string => typeof a === 'string') : [],
    traceServer: trace === 'messages' || trace === 'verbose' ? trace : 'off',
  };
}

/** Values substituted into path settings. */
export interface PathContext {
  home?: string;
  workspaceFolder?: string;
}

/** Expands a leading `~` and `${workspaceFolder}` / `${userHome}`; leaves anything else alone. */
export function expandPath(value: string, ctx: PathContext): string {
  let out = value;
  if (ctx.home !== undefined) {
    if (out === '~') out = ctx.home;
    else if (out.startsWith('~/') || out.startsWith('~\\')) out = ctx.home + out.slice(1);
    out = out.split('${userHome}').join(ctx.home);
  }
  if (ctx.workspaceFolder !== undefined) {
    out = out.split('${workspaceFolder}').join(ctx.workspaceFolder);
  }
  return out;
}

/**
 * The object sent as `initializationOptions` and returned for `workspace/configuration`
 * section `devmemory`. An empty database path is left out so the server uses its default
 * (`DEVMEM_DB`, else the per-user data directory); client-only keys are never sent.
 */
export function toServerConfiguration(s: DevMemorySettings, ctx: PathContext = {}): ServerConfiguration {
  const config: ServerConfiguration = {};
  if (s.databasePath !== '') config.database = { path: expandPath(s.databasePath, ctx) };
  config.hover = { enabled: s.hoverEnabled };
  config.codeLens = { enabled: s.codeLensEnabled };
  config.diagnostics = { enabled: s.diagnosticsEnabled };
  config.relevanceFloor = s.relevanceFloor;
  config.project = s.project;
  return config;
}

/**
 * Answer for one `workspace/configuration` item: `devmemory` → the whole object,
 * `devmemory.hover` → `{enabled}`, `devmemory.hover.enabled` → the value.
 * `handled: false` when the section is not ours (the default handler answers it).
 */
export function configurationForSection(
  section: string | undefined | null,
  config: ServerConfiguration,
): { handled: boolean; value?: unknown } {
  if (section === undefined || section === null) return { handled: false };
  if (section === SECTION) return { handled: true, value: config };
  if (!section.startsWith(SECTION + '.')) return { handled: false };
  let value: unknown = config;
  for (const part of section.slice(SECTION.length + 1).split('.')) {
    if (value === null || typeof value !== 'object' || !(part in value)) {
      return { handled: true, value: null };
    }
    value = (value as Record<string, unknown>)[part];
  }
  return { handled: true, value };
}

/**
 * Whether a configuration change needs the server process restarted rather than pushed:
 * the command/arguments, and the database (also passed as `DEVMEM_DB` at spawn time).
 */
export function needsRestart(affects: (section: string) => boolean): boolean {
  return affects(`${SECTION}.server`) || affects(`${SECTION}.database`);
}
