/** Read-only virtual documents `devmemory:/memory/<id>.md` rendered from `devmem.open`. */
import * as vscode from 'vscode';
import { buildIdArgs } from './commands';
import { MEMORY_SCHEME, memoryDocument, memoryIdFromPath, memoryPath, missingMemoryDocument } from './format';
import { errorText, type DevMemoryServer } from './client';

export function memoryUri(id: string): vscode.Uri {
  return vscode.Uri.from({ scheme: MEMORY_SCHEME, path: memoryPath(id) });
}

export class MemoryDocumentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly listener: vscode.Disposable;

  constructor(private readonly server: DevMemoryServer) {
    // Re-render open memory documents when the store changes.
    this.listener = server.onDidChangeMemories(() => {
      for (const doc of vscode.workspace.textDocuments) {
        if (doc.uri.scheme === MEMORY_SCHEME && !doc.isClosed) this.emitter.fire(doc.uri);
      }
    });
  }

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    const id = memoryIdFromPath(uri.path);
    if (!id) return missingMemoryDocument(uri.path, 'not a memory URI (expected devmemory:/memory/<id>.md).');
    try {
      return memoryDocument(await this.server.execute('devmem.open', buildIdArgs(id), token));
    } catch (err) {
      return missingMemoryDocument(id, errorText(err));
    }
  }

  dispose(): void {
    this.listener.dispose();
    this.emitter.dispose();
  }
}

export async function openMemory(id: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(memoryUri(id));
  await vscode.window.showTextDocument(doc, { preview: true });
}
