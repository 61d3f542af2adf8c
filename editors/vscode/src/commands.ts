/**
 * Builds `workspace/executeCommand` arguments for the devmem.* commands.
 * Pure: takes plain values (VS Code's Range/Uri are converted by the caller or duck-typed).
 */
import {
  Commands,
  MEMORY_KINDS,
  type IdArgs,
  type MemoriesForFileArgs,
  type MemoryKind,
  type Range,
  type RecentArgs,
  type RememberArgs,
  type SearchArgs,
} from './protocol';

export const DEFAULT_SEARCH_LIMIT = 20;
export const DEFAULT_RECENT_LIMIT = 20;
const TITLE_MAX = 80;

/** Anything with `{start: {line, character}, end: {line, character}}` (vscode.Range included). */
export interface RangeLike {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

/** A plain, JSON-safe LSP Range (vscode.Position would serialise its private fields). */
export function toLspRange(range: RangeLike): Range {
  return {
    start: { line: range.start.line, character: range.start.character },
    end: { line: range.end.line, character: range.end.character },
  };
}

export function isMemoryKind(value: unknown): value is MemoryKind {
  return typeof value === 'string' && (MEMORY_KINDS as readonly string[]).includes(value);
}

/** Proposed title: the first meaningful line of the selection, comment markers stripped. */
export function suggestTitle(content: string, max = TITLE_MAX): string {
  for (const raw of content.split(/\r?\n/)) {
    const line = raw
      .trim()
      .replace(/^(\/\/+|#+|--+|\/\*+|\*+|<!--|;+|"""|''')\s*/, '')
      .replace(/\s*(\*\/|-->|"""|''')$/, '')
      .trim();
    if (line === '') continue;
    return line.length > max ? line.slice(0, max - 1).trimEnd() + '…' : line;
  }
  return '';
}

export interface RememberInput {
  content: string;
  title?: string;
  kind?: string;
  tags?: readonly string[];
  /** Document URI as a string (`uri.toString()`). */
  uri?: string;
  range?: RangeLike;
}

/** `devmem.remember` arguments; throws when there is nothing to remember. */
export function buildRememberArgs(input: RememberInput): RememberArgs {
  if (input.content.trim() === '') {
    throw new Error('Nothing to remember: the selection is empty.');
  }
  const args: RememberArgs = { content: input.content };
  const title = input.title?.trim();
  if (title) args.title = title;
  if (input.kind !== undefined) {
    if (!isMemoryKind(input.kind)) {
      throw new Error(`Unknown memory kind "${input.kind}" (expected ${MEMORY_KINDS.join(', ')}).`);
    }
    args.kind = input.kind;
  }
  const tags = (input.tags ?? []).map((t) => t.trim()).filter((t) => t !== '');
  if (tags.length > 0) args.tags = [...new Set(tags)];
  if (input.uri) {
    args.uri = input.uri;
    if (input.range) args.range = toLspRange(input.range);
  }
  return args;
}

export function buildSearchArgs(query: string, uri?: string, limit = DEFAULT_SEARCH_LIMIT): SearchArgs {
  const args: SearchArgs = { query: query.trim(), limit };
  if (uri) args.uri = uri;
  return args;
}

export function buildRecentArgs(limit = DEFAULT_RECENT_LIMIT): RecentArgs {
  return { limit };
}

export function buildMemoriesForFileArgs(uri: string, symbol?: string): MemoriesForFileArgs {
  const args: MemoriesForFileArgs = { uri };
  if (symbol) args.symbol = symbol;
  return args;
}

export function buildIdArgs(id: string): IdArgs {
  if (id.trim() === '') throw new Error('A memory id is required.');
  return { id: id.trim() };
}

/**
 * The memory id out of whatever a command was invoked with: a bare id, `{id}`, a
 * `MemorySummary`, a tree node `{memory: {id}}`, or `[that]` (command-link arguments).
 */
export function extractMemoryId(arg: unknown): string | undefined {
  if (Array.isArray(arg)) return arg.length > 0 ? extractMemoryId(arg[0]) : undefined;
  if (typeof arg === 'string') return arg.trim() !== '' ? arg.trim() : undefined;
  if (typeof arg === 'number') return String(arg);
  if (arg !== null && typeof arg === 'object') {
    const obj = arg as Record<string, unknown>;
    if (typeof obj.id === 'string' || typeof obj.id === 'number') return extractMemoryId(obj.id);
    if ('memory' in obj) return extractMemoryId(obj.memory);
  }
  return undefined;
}

/**
 * Commands that this server's code lenses and code actions send with `"show": true` (the
 * server would then list the hits with window/showMessageRequest). The extension shows them
 * in a QuickPick instead: this returns the arguments without the flag and a picker title,
 * or undefined when the invocation is not such a request.
 */
export function shownListRequest(
  command: string,
  args: readonly unknown[],
): { command: typeof Commands.search | typeof Commands.memoriesForFile; args: Record<string, unknown>; title: string } | undefined {
  const first = args[0];
  if (first === null || typeof first !== 'object' || Array.isArray(first)) return undefined;
  const { show, ...rest } = first as Record<string, unknown>;
  if (show !== true) return undefined;
  if (command === Commands.search && typeof rest.query === 'string') {
    return { command, args: rest, title: `DevMemory: memories about "${rest.query.replace(/\s+/g, ' ').trim().slice(0, 60)}"` };
  }
  if (command === Commands.memoriesForFile && typeof rest.uri === 'string') {
    const where = typeof rest.symbol === 'string' && rest.symbol ? rest.symbol : decodeURIComponent(rest.uri.slice(rest.uri.lastIndexOf('/') + 1));
    return { command, args: rest, title: `DevMemory: memories for ${where}` };
  }
  return undefined;
}
