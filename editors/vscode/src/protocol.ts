/**
 * Types of the devmem-lsp ⇄ editor contract (docs/lsp-contract.md).
 * Pure: no `vscode` import, so the unit and smoke tests can use it under plain Node.
 */

export const Commands = {
  remember: 'devmem.remember',
  search: 'devmem.search',
  open: 'devmem.open',
  forget: 'devmem.forget',
  reindex: 'devmem.reindex',
  memoriesForFile: 'devmem.memoriesForFile',
  recent: 'devmem.recent',
  link: 'devmem.link',
} as const;

export type ServerCommand = (typeof Commands)[keyof typeof Commands];

/** Server → client notification: the store changed; refresh views. */
export const MEMORIES_CHANGED = 'devmem/memoriesChanged';

export const MEMORY_KINDS = ['decision', 'bugfix', 'snippet', 'note'] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];

/** LSP Position/Range (0-based line and UTF-16 character). */
export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}

export interface MemorySummary {
  id: string;
  title: string;
  /** One of MEMORY_KINDS in practice; kept open so a newer server's kinds still render. */
  kind: string;
  date: string;
  snippet: string;
  score?: number;
  why?: string;
  path?: string;
  line?: number;
  project?: string;
  tags: string[];
}

export interface RememberArgs {
  content: string;
  title?: string;
  kind?: MemoryKind;
  tags?: string[];
  uri?: string;
  range?: Range;
}
export interface RememberResult {
  id: string;
  title: string;
  kind: string;
  status: string;
  redactions: string[];
}

export interface SearchArgs {
  query: string;
  limit?: number;
  uri?: string;
}
export interface HitsResult {
  hits: MemorySummary[];
  notice?: string;
}

export interface IdArgs {
  id: string;
}
export interface OpenResult {
  id: string;
  title: string;
  markdown: string;
  memory: MemorySummary;
}
export interface ForgetResult {
  id: string;
  title: string;
  removed: true;
}

export interface MemoriesForFileArgs {
  uri: string;
  symbol?: string;
}
export interface RecentArgs {
  limit?: number;
}
export interface ReindexResult {
  count: number;
}
export interface LinkArgs {
  id: string;
  target: string;
  type?: string;
}
export interface LinkResult {
  source: string;
  target: string;
  type: string;
}

/** Argument and result types per command, for a typed `execute` helper. */
export interface CommandSignatures {
  'devmem.remember': [RememberArgs, RememberResult];
  'devmem.search': [SearchArgs, HitsResult];
  'devmem.open': [IdArgs, OpenResult];
  'devmem.forget': [IdArgs, ForgetResult];
  'devmem.reindex': [Record<string, never>, ReindexResult];
  'devmem.memoriesForFile': [MemoriesForFileArgs, HitsResult];
  'devmem.recent': [RecentArgs, HitsResult];
  'devmem.link': [LinkArgs, LinkResult];
}
