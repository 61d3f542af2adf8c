/**
 * MemorySummary / devmem.open results → labels, QuickPick items, tree items and markdown.
 * Pure: returns plain data that the vscode-facing modules turn into UI objects.
 */
import type { MemorySummary, OpenResult, RememberResult } from './protocol';

/** Codicon per kind (`$(name)` in labels, ThemeIcon ids in the tree). */
const KIND_ICONS: Record<string, string> = {
  decision: 'law',
  bugfix: 'bug',
  snippet: 'code',
  note: 'note',
  pitfall: 'warning',
  todo: 'checklist',
  meeting: 'organization',
  email: 'mail',
  chat: 'comment-discussion',
  document: 'book',
  commit: 'git-commit',
  issue: 'issues',
  log: 'output',
  reference: 'references',
};

export function kindIcon(kind: string): string {
  return KIND_ICONS[kind] ?? 'lightbulb';
}

/** `2025-03-01T10:00:00Z` → `2025-03-01`; anything unparsable is returned as given. */
export function shortDate(date: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(date ?? '');
  return m ? m[1] : (date ?? '');
}

/** Collapses whitespace and cuts to `max` characters with an ellipsis. */
export function oneLine(text: string | undefined, max = 120): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max - 1).trimEnd() + '…' : flat;
}

/** Shortens a path for display (the extension passes a workspace-relative mapping). */
export type DisplayPath = (path: string) => string;
const asIs: DisplayPath = (p) => p;

/** `src/app.py:42` (line as reported by the server, 1-based), or the path alone, or ''. */
export function location(m: Pick<MemorySummary, 'path' | 'line'>, displayPath: DisplayPath = asIs): string {
  if (!m.path) return '';
  const p = displayPath(m.path);
  return typeof m.line === 'number' ? `${p}:${m.line}` : p;
}

function titleOf(m: Pick<MemorySummary, 'title' | 'id'>): string {
  const t = (m.title ?? '').trim();
  return t !== '' ? t : `(untitled ${m.id})`;
}

export interface PickItemData {
  label: string;
  description: string;
  detail: string;
  id: string;
}

/** QuickPick item: `$(icon) title`, `kind · date · path:line`, snippet (or why). */
export function toPickItem(m: MemorySummary, displayPath: DisplayPath = asIs): PickItemData {
  const description = [m.kind, shortDate(m.date), location(m, displayPath)].filter((s) => s !== '').join(' · ');
  const detail = oneLine(m.why ? `${m.why} — ${m.snippet ?? ''}` : m.snippet);
  return { label: `$(${kindIcon(m.kind)}) ${titleOf(m)}`, description, detail, id: m.id };
}

export interface TreeItemData {
  label: string;
  description: string;
  icon: string;
  tooltip: string;
  id: string;
}

export function toTreeItem(m: MemorySummary, displayPath: DisplayPath = asIs): TreeItemData {
  return {
    label: titleOf(m),
    description: [m.kind, shortDate(m.date)].filter((s) => s !== '').join(' · '),
    icon: kindIcon(m.kind),
    tooltip: tooltipMarkdown(m, displayPath),
    id: m.id,
  };
}

/** Escapes markdown punctuation in text that should render literally. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

export function tooltipMarkdown(m: MemorySummary, displayPath: DisplayPath = asIs): string {
  const lines = [`**[${escapeMarkdown(m.kind)}]** ${escapeMarkdown(titleOf(m))} — ${shortDate(m.date)}`];
  const where = location(m, displayPath);
  if (where) lines.push('', `\`${where.replace(/`/g, "'")}\``);
  if (m.why) lines.push('', `_${escapeMarkdown(oneLine(m.why, 200))}_`);
  if (m.snippet) lines.push('', escapeMarkdown(oneLine(m.snippet, 300)));
  if (m.tags?.length) lines.push('', m.tags.map((t) => `\`#${t.replace(/`/g, "'")}\``).join(' '));
  return lines.join('\n');
}

/**
 * The text of the read-only `devmemory:/memory/<id>.md` document: the server's markdown
 * followed by a metadata footer (id, kind, date, anchor, project, tags).
 */
export function memoryDocument(result: OpenResult): string {
  const m = result.memory;
  const meta: [string, string][] = [
    ['id', result.id],
    ['kind', m?.kind ?? ''],
    ['date', m?.date ?? ''],
    ['anchor', m ? location(m) : ''],
    ['project', m?.project ?? ''],
    ['tags', (m?.tags ?? []).join(', ')],
  ];
  const rows = meta.filter(([, v]) => v !== '').map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`);
  const body = (result.markdown ?? '').trimEnd();
  return `${body}\n\n---\n\n| | |\n|---|---|\n${rows.join('\n')}\n`;
}

/** The body shown when a memory cannot be opened (deleted, server down…). */
export function missingMemoryDocument(id: string, reason: string): string {
  return `# Memory ${id}\n\nThis memory could not be opened: ${reason}\n`;
}

/** Message after `devmem.remember`, e.g. `Remembered decision "x" (redacted: api_key).` */
export function rememberedMessage(r: RememberResult): string {
  let text = `DevMemory: remembered ${r.kind} "${r.title}"`;
  if (r.status && r.status !== 'created') text += ` (${r.status})`;
  if (r.redactions?.length) text += ` — redacted: ${[...new Set(r.redactions)].join(', ')}`;
  return text + '.';
}

/** URI path of a memory's virtual document, and its inverse. */
export const MEMORY_SCHEME = 'devmemory';

export function memoryPath(id: string): string {
  return `/memory/${encodeURIComponent(id)}.md`;
}

export function memoryUriString(id: string): string {
  return `${MEMORY_SCHEME}:${memoryPath(id)}`;
}

export function memoryIdFromPath(path: string): string | undefined {
  const m = /^\/memory\/(.+)\.md$/.exec(path);
  if (!m) return undefined;
  try {
    const id = decodeURIComponent(m[1]);
    return id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}
