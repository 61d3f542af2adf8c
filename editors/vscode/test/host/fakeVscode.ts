/**
 * A small in-process stand-in for the `vscode` API: enough for the bundled extension and
 * vscode-languageclient to activate, talk to a real server, and be driven by tests.
 * Unknown exports resolve to inert stubs (recorded in `fake.unknown`).
 */
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Listener<T> = (e: T) => unknown;

export class Disposable {
  constructor(private fn?: () => void) {}
  static from(...items: ({ dispose(): unknown } | undefined)[]): Disposable {
    return new Disposable(() => items.forEach((d) => d?.dispose()));
  }
  dispose(): void {
    const fn = this.fn;
    this.fn = undefined;
    fn?.();
  }
}

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>, thisArg?: unknown, disposables?: Disposable[]): Disposable => {
    const bound: Listener<T> = (e) => listener.call(thisArg, e);
    this.listeners.add(bound);
    const d = new Disposable(() => this.listeners.delete(bound));
    disposables?.push(d);
    return d;
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  get count(): number {
    return this.listeners.size;
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {}
  static parse(value: string): Uri {
    const u = new URL(value);
    return new Uri(u.protocol.slice(0, -1), u.host, decodeURIComponent(u.pathname), u.search.slice(1), u.hash.slice(1));
  }
  static file(fsPath: string): Uri {
    return Uri.parse(pathToFileURL(fsPath).toString());
  }
  static from(c: { scheme: string; authority?: string; path?: string; query?: string; fragment?: string }): Uri {
    return new Uri(c.scheme, c.authority ?? '', c.path ?? '', c.query ?? '', c.fragment ?? '');
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return base.with({ path: path.posix.join(base.path, ...parts) });
  }
  get fsPath(): string {
    return this.scheme === 'file' ? fileURLToPath(this.toString()) : this.path;
  }
  with(c: { scheme?: string; authority?: string; path?: string; query?: string; fragment?: string }): Uri {
    return new Uri(c.scheme ?? this.scheme, c.authority ?? this.authority, c.path ?? this.path, c.query ?? this.query, c.fragment ?? this.fragment);
  }
  toString(): string {
    const p = this.path.split('/').map(encodeURIComponent).join('/');
    const auth = this.authority || this.scheme === 'file' ? `//${this.authority}` : '';
    return `${this.scheme}:${auth}${p}${this.query ? `?${this.query}` : ''}${this.fragment ? `#${this.fragment}` : ''}`;
  }
  toJSON(): unknown {
    return { $mid: 1, scheme: this.scheme, authority: this.authority, path: this.path, query: this.query, fragment: this.fragment };
  }
}

export class Position {
  constructor(readonly line: number, readonly character: number) {}
  isBefore(o: Position): boolean {
    return this.line < o.line || (this.line === o.line && this.character < o.character);
  }
  isEqual(o: Position): boolean {
    return this.line === o.line && this.character === o.character;
  }
  translate(dl = 0, dc = 0): Position {
    return new Position(this.line + dl, this.character + dc);
  }
  with(line = this.line, character = this.character): Position {
    return new Position(line, character);
  }
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
    this.start = typeof a === 'number' ? new Position(a, b as number) : a;
    this.end = typeof a === 'number' ? new Position(c as number, d as number) : (b as Position);
  }
  get isEmpty(): boolean {
    return this.start.isEqual(this.end);
  }
  get isSingleLine(): boolean {
    return this.start.line === this.end.line;
  }
  contains(p: Position): boolean {
    return !p.isBefore(this.start) && !this.end.isBefore(p);
  }
}

export class Selection extends Range {
  constructor(readonly anchor: Position, readonly active: Position) {
    super(anchor.isBefore(active) ? anchor : active, anchor.isBefore(active) ? active : anchor);
  }
}

export class Location {
  constructor(readonly uri: Uri, readonly range: Range | Position) {}
}

export class MarkdownString {
  isTrusted?: boolean | { enabledCommands: readonly string[] };
  supportHtml?: boolean;
  supportThemeIcons?: boolean;
  constructor(public value = '', supportThemeIcons = false) {
    this.supportThemeIcons = supportThemeIcons;
  }
  appendMarkdown(v: string): this {
    this.value += v;
    return this;
  }
  appendText(v: string): this {
    this.value += v;
    return this;
  }
  appendCodeblock(code: string, lang = ''): this {
    this.value += `\n\`\`\`${lang}\n${code}\n\`\`\`\n`;
    return this;
  }
}

export class Hover {
  readonly contents: unknown[];
  constructor(contents: unknown, readonly range?: Range) {
    this.contents = Array.isArray(contents) ? contents : [contents];
  }
}

export class CancellationError extends Error {
  constructor() {
    super('Canceled');
  }
}

export class CancellationTokenSource {
  private emitter = new EventEmitter<void>();
  readonly token = {
    isCancellationRequested: false,
    onCancellationRequested: this.emitter.event,
  };
  cancel(): void {
    if (!this.token.isCancellationRequested) {
      this.token.isCancellationRequested = true;
      this.emitter.fire();
    }
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export class ThemeIcon {
  constructor(readonly id: string) {}
}

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}

export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: unknown;
  iconPath?: unknown;
  contextValue?: string;
  command?: { command: string; title: string; arguments?: unknown[] };
  constructor(readonly label: string, readonly collapsibleState = TreeItemCollapsibleState.None) {}
}

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

export enum DiagnosticSeverity {
  Error = 0,
  Warning = 1,
  Information = 2,
  Hint = 3,
}

export class CodeLens {
  constructor(readonly range: Range, public command?: { command: string; title: string; arguments?: unknown[] }) {}
  get isResolved(): boolean {
    return !!this.command;
  }
}

export class Diagnostic {
  source?: string;
  code?: unknown;
  tags?: unknown[];
  relatedInformation?: unknown[];
  constructor(readonly range: Range, readonly message: string, readonly severity = DiagnosticSeverity.Error) {}
}

export class CodeActionKind {
  static readonly Empty = new CodeActionKind('');
  static readonly QuickFix = new CodeActionKind('quickfix');
  static readonly Refactor = new CodeActionKind('refactor');
  static readonly RefactorExtract = new CodeActionKind('refactor.extract');
  static readonly RefactorInline = new CodeActionKind('refactor.inline');
  static readonly RefactorMove = new CodeActionKind('refactor.move');
  static readonly RefactorRewrite = new CodeActionKind('refactor.rewrite');
  static readonly Source = new CodeActionKind('source');
  static readonly SourceOrganizeImports = new CodeActionKind('source.organizeImports');
  static readonly SourceFixAll = new CodeActionKind('source.fixAll');
  static readonly Notebook = new CodeActionKind('notebook');
  constructor(readonly value: string) {}
  append(part: string): CodeActionKind {
    return new CodeActionKind(this.value ? `${this.value}.${part}` : part);
  }
  contains(other: CodeActionKind): boolean {
    return this.value === other.value || other.value.startsWith(this.value + '.');
  }
  intersects(other: CodeActionKind): boolean {
    return this.contains(other) || other.contains(this);
  }
}

export class FakeTextDocument {
  isClosed = false;
  isDirty = false;
  readonly eol = 1;
  constructor(readonly uri: Uri, readonly languageId: string, public version: number, private text: string) {}
  get fileName(): string {
    return this.uri.fsPath;
  }
  get isUntitled(): boolean {
    return this.uri.scheme === 'untitled';
  }
  get lineCount(): number {
    return this.text.split('\n').length;
  }
  private lines(): string[] {
    return this.text.split('\n');
  }
  offsetAt(p: Position): number {
    const lines = this.lines();
    let off = 0;
    for (let i = 0; i < p.line && i < lines.length; i++) off += lines[i].length + 1;
    return off + p.character;
  }
  positionAt(offset: number): Position {
    const lines = this.lines();
    let rest = offset;
    for (let i = 0; i < lines.length; i++) {
      if (rest <= lines[i].length) return new Position(i, rest);
      rest -= lines[i].length + 1;
    }
    return new Position(lines.length - 1, lines[lines.length - 1].length);
  }
  getText(range?: Range): string {
    if (!range) return this.text;
    return this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end));
  }
  lineAt(line: number | Position): { text: string; lineNumber: number } {
    const n = typeof line === 'number' ? line : line.line;
    return { text: this.lines()[n] ?? '', lineNumber: n };
  }
  getWordRangeAtPosition(p: Position): Range | undefined {
    const text = this.lines()[p.line] ?? '';
    const re = /\w+/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m.index <= p.character && p.character <= m.index + m[0].length) {
        return new Range(p.line, m.index, p.line, m.index + m[0].length);
      }
    }
    return undefined;
  }
  save(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

/** A scripted answer for a modal/quick-input call (undefined = the user dismissed it). */
type Answer = (...args: unknown[]) => unknown;

export interface FakeQuickPick {
  title?: string;
  placeholder?: string;
  value: string;
  items: { label: string; memory?: { id: string } }[];
  activeItems: unknown[];
  selectedItems: unknown[];
  busy: boolean;
  visible: boolean;
  matchOnDescription: boolean;
  matchOnDetail: boolean;
  onDidChangeValue: EventEmitter<string>['event'];
  onDidAccept: EventEmitter<void>['event'];
  onDidHide: EventEmitter<void>['event'];
  show(): void;
  hide(): void;
  dispose(): void;
  /** Test helpers: type a query / press Enter. */
  type(value: string): void;
  accept(): void;
}

function createQuickPick(): FakeQuickPick {
  const changed = new EventEmitter<string>();
  const accepted = new EventEmitter<void>();
  const hidden = new EventEmitter<void>();
  const qp: FakeQuickPick = {
    value: '',
    items: [],
    activeItems: [],
    selectedItems: [],
    busy: false,
    visible: false,
    matchOnDescription: false,
    matchOnDetail: false,
    onDidChangeValue: changed.event,
    onDidAccept: accepted.event,
    onDidHide: hidden.event,
    show() {
      qp.visible = true;
    },
    hide() {
      if (!qp.visible) return;
      qp.visible = false;
      hidden.fire();
    },
    dispose() {
      changed.dispose();
      accepted.dispose();
    },
    type(value: string) {
      qp.value = value;
      changed.fire(value);
    },
    accept() {
      accepted.fire();
    },
  };
  return qp;
}

export function createFakeVscode(options: { config?: Record<string, unknown>; workspaceFolder?: string } = {}) {
  const config: Record<string, unknown> = { ...(options.config ?? {}) };
  const commands = new Map<string, (...args: unknown[]) => unknown>();
  const executed: { command: string; args: unknown[] }[] = [];
  const messages: { level: 'info' | 'warning' | 'error'; message: string; items: unknown[] }[] = [];
  const outputs = new Map<string, string[]>();
  const treeProviders = new Map<string, unknown>();
  const contentProviders = new Map<string, { provideTextDocumentContent(uri: Uri, token: unknown): Promise<string> | string; onDidChange?: unknown }>();
  const providers: { kind: string; selector: unknown; provider: unknown }[] = [];
  const shownDocuments: FakeTextDocument[] = [];
  const quickPicks: FakeQuickPick[] = [];
  const unknown = new Set<string>();
  const answers: { info?: Answer; warning?: Answer; error?: Answer; quickPick?: Answer; inputBox?: Answer } = {};

  const folderUri = options.workspaceFolder ? Uri.file(options.workspaceFolder) : undefined;
  const ev = {
    openDoc: new EventEmitter<FakeTextDocument>(),
    closeDoc: new EventEmitter<FakeTextDocument>(),
    changeDoc: new EventEmitter<unknown>(),
    saveDoc: new EventEmitter<FakeTextDocument>(),
    willSave: new EventEmitter<unknown>(),
    config: new EventEmitter<{ affectsConfiguration(s: string): boolean }>(),
    folders: new EventEmitter<unknown>(),
    activeEditor: new EventEmitter<unknown>(),
    tabs: new EventEmitter<unknown>(),
    extensions: new EventEmitter<void>(),
  };
  const textDocuments: FakeTextDocument[] = [];
  let activeTextEditor: { document: FakeTextDocument; selection: Selection } | undefined;

  const noopEvent = new EventEmitter<unknown>().event;
  const getValue = (full: string): unknown => {
    if (full in config) return config[full];
    const prefix = full + '.';
    const keys = Object.keys(config).filter((k) => k.startsWith(prefix));
    if (keys.length === 0) return undefined;
    const obj: Record<string, unknown> = {};
    for (const k of keys) {
      const parts = k.slice(prefix.length).split('.');
      let cur = obj;
      for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
      cur[parts[parts.length - 1]] = config[k];
    }
    return obj;
  };

  const workspace = {
    get workspaceFolders() {
      return folderUri ? [{ uri: folderUri, name: path.basename(folderUri.fsPath), index: 0 }] : undefined;
    },
    get textDocuments() {
      return textDocuments;
    },
    name: 'fake',
    getWorkspaceFolder: (uri: Uri) =>
      folderUri && uri.scheme === 'file' && uri.fsPath.startsWith(folderUri.fsPath)
        ? { uri: folderUri, name: path.basename(folderUri.fsPath), index: 0 }
        : undefined,
    getConfiguration: (section?: string) => ({
      get: (key: string, def?: unknown) => {
        const v = getValue(section ? `${section}.${key}` : key);
        return v === undefined ? def : v;
      },
      has: (key: string) => getValue(section ? `${section}.${key}` : key) !== undefined,
      inspect: () => undefined,
      update: async (key: string, value: unknown) => {
        config[section ? `${section}.${key}` : key] = value;
      },
    }),
    onDidOpenTextDocument: ev.openDoc.event,
    onDidCloseTextDocument: ev.closeDoc.event,
    onDidChangeTextDocument: ev.changeDoc.event,
    onDidSaveTextDocument: ev.saveDoc.event,
    onWillSaveTextDocument: ev.willSave.event,
    onDidChangeConfiguration: ev.config.event,
    onDidChangeWorkspaceFolders: ev.folders.event,
    onDidCreateFiles: noopEvent,
    onDidDeleteFiles: noopEvent,
    onDidRenameFiles: noopEvent,
    onWillCreateFiles: noopEvent,
    onWillDeleteFiles: noopEvent,
    onWillRenameFiles: noopEvent,
    onDidOpenNotebookDocument: noopEvent,
    onDidCloseNotebookDocument: noopEvent,
    onDidChangeNotebookDocument: noopEvent,
    onDidSaveNotebookDocument: noopEvent,
    notebookDocuments: [],
    createFileSystemWatcher: () => ({
      onDidCreate: noopEvent,
      onDidChange: noopEvent,
      onDidDelete: noopEvent,
      dispose() {},
    }),
    registerTextDocumentContentProvider: (scheme: string, provider: never) => {
      contentProviders.set(scheme, provider);
      return new Disposable(() => contentProviders.delete(scheme));
    },
    openTextDocument: async (uri: Uri) => {
      const provider = contentProviders.get(uri.scheme);
      const text = provider
        ? await provider.provideTextDocumentContent(uri, new CancellationTokenSource().token)
        : '';
      const existing = textDocuments.find((d) => d.uri.toString() === uri.toString());
      if (existing) return existing;
      const doc = new FakeTextDocument(uri, uri.path.endsWith('.md') ? 'markdown' : 'plaintext', 1, text);
      textDocuments.push(doc);
      ev.openDoc.fire(doc);
      return doc;
    },
    applyEdit: async () => true,
    asRelativePath: (p: string | Uri) => {
      const fsPath = typeof p === 'string' ? p : p.fsPath;
      return folderUri && fsPath.startsWith(folderUri.fsPath + path.sep) ? path.relative(folderUri.fsPath, fsPath) : fsPath;
    },
  };

  const message = (level: 'info' | 'warning' | 'error') => async (msg: string, ...rest: unknown[]) => {
    const items = rest.filter((r) => typeof r === 'string' || (r && typeof r === 'object' && 'title' in (r as object)));
    messages.push({ level, message: msg, items });
    const answer = answers[level];
    return answer ? answer(msg, ...items) : undefined;
  };

  const window = {
    get activeTextEditor() {
      return activeTextEditor;
    },
    visibleTextEditors: [],
    onDidChangeActiveTextEditor: ev.activeEditor.event,
    onDidChangeVisibleTextEditors: noopEvent,
    tabGroups: { all: [], onDidChangeTabs: ev.tabs.event, onDidChangeTabGroups: noopEvent },
    createOutputChannel: (name: string) => {
      const lines: string[] = [];
      outputs.set(name, lines);
      let partial = '';
      return {
        name,
        append: (v: string) => {
          partial += v;
          const parts = partial.split('\n');
          partial = parts.pop() ?? '';
          lines.push(...parts);
        },
        appendLine: (v: string) => {
          lines.push(partial + v);
          partial = '';
        },
        replace: () => undefined,
        clear: () => (lines.length = 0),
        show: () => undefined,
        hide: () => undefined,
        dispose: () => undefined,
      };
    },
    showInformationMessage: message('info'),
    showWarningMessage: message('warning'),
    showErrorMessage: message('error'),
    showQuickPick: async (items: unknown, opts?: unknown) => {
      const resolved = await items;
      return answers.quickPick ? answers.quickPick(resolved, opts) : undefined;
    },
    showInputBox: async (opts?: unknown) => (answers.inputBox ? answers.inputBox(opts) : undefined),
    createQuickPick: () => {
      const qp = createQuickPick();
      quickPicks.push(qp);
      return qp;
    },
    withProgress: async (_opts: unknown, task: (p: unknown, t: unknown) => unknown) =>
      task({ report() {} }, new CancellationTokenSource().token),
    showTextDocument: async (doc: FakeTextDocument) => {
      shownDocuments.push(doc);
      return { document: doc };
    },
    registerTreeDataProvider: (id: string, provider: unknown) => {
      treeProviders.set(id, provider);
      return new Disposable(() => treeProviders.delete(id));
    },
    createStatusBarItem: () => ({ show() {}, hide() {}, dispose() {} }),
  };

  const register = (kind: string) => (selector: unknown, provider: unknown) => {
    const entry = { kind, selector, provider };
    providers.push(entry);
    return new Disposable(() => providers.splice(providers.indexOf(entry), 1));
  };
  const languages = new Proxy(
    {
      match: (selector: unknown, doc: FakeTextDocument): number => {
        const filters = Array.isArray(selector) ? selector : [selector];
        return filters.some((f) => {
          if (typeof f === 'string') return f === '*' || f === doc.languageId;
          const filter = f as { scheme?: string; language?: string; pattern?: string };
          return (!filter.scheme || filter.scheme === doc.uri.scheme) && (!filter.language || filter.language === doc.languageId);
        })
          ? 10
          : 0;
      },
      createDiagnosticCollection: () => {
        const map = new Map<string, unknown>();
        return {
          set: (uri: Uri, d: unknown) => map.set(uri.toString(), d),
          delete: (uri: Uri) => map.delete(uri.toString()),
          get: (uri: Uri) => map.get(uri.toString()),
          has: (uri: Uri) => map.has(uri.toString()),
          clear: () => map.clear(),
          forEach: () => undefined,
          dispose: () => map.clear(),
        };
      },
      onDidChangeDiagnostics: noopEvent,
      getLanguages: async () => ['python', 'markdown'],
    } as Record<string, unknown>,
    {
      get(target, prop: string) {
        if (prop in target) return target[prop];
        if (prop.startsWith('register')) return register(prop.slice('register'.length));
        unknown.add(`languages.${prop}`);
        return undefined;
      },
    },
  );

  const commandsApi = {
    registerCommand: (id: string, fn: (...args: unknown[]) => unknown) => {
      if (commands.has(id)) throw new Error(`command '${id}' already exists`);
      commands.set(id, fn);
      return new Disposable(() => commands.delete(id));
    },
    executeCommand: async (id: string, ...args: unknown[]) => {
      executed.push({ command: id, args });
      const fn = commands.get(id);
      return fn ? fn(...args) : undefined;
    },
    getCommands: async () => [...commands.keys()],
  };

  const known: Record<string, unknown> = {
    version: '1.90.0',
    env: { language: 'en', appName: 'Visual Studio Code (fake)', uriScheme: 'vscode', machineId: 'fake', openExternal: async () => true },
    extensions: { getExtension: (): unknown => undefined, all: [], onDidChange: ev.extensions.event },
    workspace,
    window,
    languages,
    commands: commandsApi,
    Disposable,
    EventEmitter,
    Uri,
    Position,
    Range,
    Selection,
    Location,
    MarkdownString,
    Hover,
    CancellationError,
    CancellationTokenSource,
    ThemeIcon,
    TreeItem,
    TreeItemCollapsibleState,
    ProgressLocation,
    DiagnosticSeverity,
    CodeLens,
    CodeActionKind,
    Diagnostic,
    TabInputText: class {},
    TabInputTextDiff: class {},
    TabInputCustom: class {},
    TabInputNotebook: class {},
    TabInputNotebookDiff: class {},
  };
  const api = new Proxy(known, {
    get(target, prop) {
      if (typeof prop !== 'string') return undefined;
      if (prop in target) return target[prop];
      if (prop === '__esModule' || prop === 'default' || prop === 'then') return undefined;
      unknown.add(prop);
      // Constructible and enum-like: `new X(...)` works, `X.Member` is a string.
      return new Proxy(function Stub() {}, {
        construct: (_t, args) => ({ __stub: prop, args }),
        get: (_t, member) => (member === 'prototype' ? {} : `${prop}.${String(member)}`),
      });
    },
  });

  return {
    api,
    config,
    commands,
    executed,
    messages,
    outputs,
    treeProviders,
    contentProviders,
    providers,
    shownDocuments,
    quickPicks,
    unknown,
    answers,
    /** Opens a document (fires onDidOpenTextDocument) and makes it the active editor. */
    openEditor(doc: FakeTextDocument, selection = new Selection(new Position(0, 0), new Position(0, 0))) {
      if (!textDocuments.includes(doc)) {
        textDocuments.push(doc);
        ev.openDoc.fire(doc);
      }
      activeTextEditor = { document: doc, selection };
      ev.activeEditor.fire(activeTextEditor);
    },
    setConfig(key: string, value: unknown) {
      config[key] = value;
      ev.config.fire({ affectsConfiguration: (s: string) => key === s || key.startsWith(s + '.') });
    },
  };
}

export type FakeVscode = ReturnType<typeof createFakeVscode>;

/** Makes `require('vscode')` return `fake.api` (for the bundled extension). */
export function installFakeVscode(fake: FakeVscode): () => void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = Module._load;
  Module._load = function (request: string, ...rest: unknown[]) {
    if (request === 'vscode') return fake.api;
    return original.call(this, request, ...rest);
  };
  return () => {
    Module._load = original;
  };
}
