/** The interactive commands: remember, search, file memories, forget, open. */
import * as vscode from 'vscode';
import {
  buildIdArgs,
  buildMemoriesForFileArgs,
  buildRecentArgs,
  buildRememberArgs,
  buildSearchArgs,
  extractMemoryId,
  suggestTitle,
} from './commands';
import { rememberedMessage, toPickItem } from './format';
import { MEMORY_KINDS, type MemoryKind, type MemorySummary } from './protocol';
import { errorText, type DevMemoryServer } from './client';
import { openMemory } from './docs';
import { displayPath, memoryTarget } from './tree';

export const SEARCH_DEBOUNCE_MS = 150;

const KIND_DESCRIPTIONS: Record<MemoryKind, string> = {
  decision: 'Why the code is the way it is',
  bugfix: 'A bug, its cause and the fix',
  snippet: 'Code worth finding again',
  note: 'Anything else',
};

interface MemoryItem extends vscode.QuickPickItem {
  memory: MemorySummary;
}

/** `alwaysShow` for server-ranked results, which VS Code's own filter must not hide. */
function toItem(memory: MemorySummary, alwaysShow = false): MemoryItem {
  const data = toPickItem(memory, displayPath);
  return { label: data.label, description: data.description, detail: data.detail, alwaysShow, memory };
}

async function report<T>(task: () => Promise<T>): Promise<T | undefined> {
  try {
    return await task();
  } catch (err) {
    void vscode.window.showErrorMessage(`DevMemory: ${errorText(err)}`);
    return undefined;
  }
}

export async function rememberSelection(server: DevMemoryServer): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.selection.isEmpty) {
    void vscode.window.showWarningMessage('DevMemory: select the code or text to remember first.');
    return;
  }
  const selection = editor.selection;
  const content = editor.document.getText(selection);
  const kind = await vscode.window.showQuickPick(
    MEMORY_KINDS.map((k) => ({ label: k, description: KIND_DESCRIPTIONS[k] })),
    { title: 'DevMemory: Remember Selection (1/2)', placeHolder: 'What kind of memory is this?', ignoreFocusOut: true },
  );
  if (!kind) return;
  const suggestion = suggestTitle(content);
  const title = await vscode.window.showInputBox({
    title: 'DevMemory: Remember Selection (2/2)',
    prompt: 'Title (leave empty to let DevMemory derive one)',
    value: suggestion,
    valueSelection: [0, suggestion.length],
    ignoreFocusOut: true,
  });
  if (title === undefined) return;
  const target = memoryTarget(editor);
  await report(async () => {
    const args = buildRememberArgs({
      content,
      title,
      kind: kind.label,
      // Only files on disk can be anchored (path, lines, symbol, commit).
      uri: target?.scheme === 'file' ? target.toString() : undefined,
      range: selection,
    });
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'DevMemory: remembering…' },
      () => server.execute('devmem.remember', args),
    );
    const choice = await vscode.window.showInformationMessage(rememberedMessage(result), 'Open');
    if (choice === 'Open') await openMemory(result.id);
  });
}

/**
 * A QuickPick with live results: typing is debounced, each query goes to `devmem.search`
 * (stale answers are dropped, in-flight requests cancelled); an empty query lists recent ones.
 */
export function pickMemory(server: DevMemoryServer, title: string, placeholder: string): Promise<MemorySummary | undefined> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<MemoryItem>();
    qp.title = title;
    qp.placeholder = placeholder;
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    const context = memoryTarget(vscode.window.activeTextEditor)?.toString();
    let seq = 0;
    let timer: NodeJS.Timeout | undefined;
    let cts: vscode.CancellationTokenSource | undefined;
    let picked: MemorySummary | undefined;

    const run = async (query: string): Promise<void> => {
      cts?.cancel();
      cts?.dispose();
      cts = new vscode.CancellationTokenSource();
      const mine = ++seq;
      qp.busy = true;
      try {
        const result =
          query.trim() === ''
            ? await server.execute('devmem.recent', buildRecentArgs(), cts.token)
            : await server.execute('devmem.search', buildSearchArgs(query, context), cts.token);
        if (mine !== seq) return;
        qp.items = result.hits.map((m) => toItem(m, true));
        const notice = 'notice' in result ? result.notice : undefined;
        qp.title = notice ? `${title} — ${notice}` : result.hits.length === 0 ? `${title} — no matches` : title;
      } catch (err) {
        if (mine !== seq) return;
        qp.items = [];
        qp.title = `${title} — ${errorText(err)}`;
      } finally {
        if (mine === seq) qp.busy = false;
      }
    };

    qp.onDidChangeValue((value) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void run(value), SEARCH_DEBOUNCE_MS);
    });
    qp.onDidAccept(() => {
      picked = qp.selectedItems[0]?.memory ?? qp.activeItems[0]?.memory;
      if (picked) qp.hide();
    });
    qp.onDidHide(() => {
      if (timer) clearTimeout(timer);
      cts?.cancel();
      cts?.dispose();
      qp.dispose();
      resolve(picked);
    });
    qp.show();
    void run('');
  });
}

export async function searchMemories(server: DevMemoryServer): Promise<void> {
  const memory = await pickMemory(server, 'DevMemory: Search Memories', 'Search your memories (empty: most recent)');
  if (memory) await report(() => openMemory(memory.id));
}

export async function showFileMemories(server: DevMemoryServer): Promise<void> {
  const uri = memoryTarget(vscode.window.activeTextEditor);
  if (!uri) {
    void vscode.window.showWarningMessage('DevMemory: open a file first.');
    return;
  }
  const hits = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'DevMemory: loading memories…' },
    () => report(async () => (await server.execute('devmem.memoriesForFile', buildMemoriesForFileArgs(uri.toString()))).hits),
  );
  if (!hits) return;
  if (hits.length === 0) {
    void vscode.window.showInformationMessage('DevMemory: no memories for this file yet.');
    return;
  }
  const picked = await vscode.window.showQuickPick(hits.map((m) => toItem(m)), {
    title: 'DevMemory: Memories for This File',
    placeHolder: 'Pick a memory to open',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (picked) await report(() => openMemory(picked.memory.id));
}

/** A list of memories chosen by the server (code lens, code action): pick one to open it. */
export async function showHits(title: string, hits: MemorySummary[]): Promise<void> {
  if (hits.length === 0) {
    void vscode.window.showInformationMessage(`${title}: none.`);
    return;
  }
  const picked = await vscode.window.showQuickPick(hits.map((m) => toItem(m)), {
    title,
    placeHolder: 'Pick a memory to open',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (picked) await report(() => openMemory(picked.memory.id));
}

function titleOf(arg: unknown): string | undefined {
  if (arg && typeof arg === 'object') {
    const obj = arg as { title?: unknown; memory?: unknown };
    if (typeof obj.title === 'string') return obj.title;
    if (obj.memory) return titleOf(obj.memory);
  }
  return undefined;
}

/** Forget the memory given (tree item, id, summary) or one picked from search/recent. */
export async function forgetMemory(server: DevMemoryServer, arg?: unknown): Promise<void> {
  let id = extractMemoryId(arg);
  let title = titleOf(arg);
  if (!id) {
    const picked = await pickMemory(server, 'DevMemory: Forget Memory', 'Find the memory to forget');
    if (!picked) return;
    id = picked.id;
    title = picked.title;
  }
  const answer = await vscode.window.showWarningMessage(
    `Forget "${title ?? id}"?`,
    { modal: true, detail: 'The memory is removed from your DevMemory store. This cannot be undone.' },
    'Forget',
  );
  if (answer !== 'Forget') return;
  const memoryId = id;
  await report(async () => {
    const result = await server.execute('devmem.forget', buildIdArgs(memoryId));
    void vscode.window.showInformationMessage(`DevMemory: forgot "${result.title}".`);
  });
}

/** Open by id (tree items, links) or, without one, via the search picker. */
export async function openMemoryCommand(server: DevMemoryServer, arg?: unknown): Promise<void> {
  const id = extractMemoryId(arg) ?? (await pickMemory(server, 'DevMemory: Open Memory', 'Search your memories'))?.id;
  if (id) await report(() => openMemory(id));
}
