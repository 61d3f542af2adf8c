/** The language-server lifecycle: find `devmem-lsp`, check it, run it, talk to it. */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  ResponseError,
  State,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { extractMemoryId, shownListRequest } from './commands';
import { Commands, MEMORIES_CHANGED, type CommandSignatures, type MemorySummary } from './protocol';
import {
  HOW_TO_FIX,
  checkVersion,
  isExplicitPath,
  launchSpec,
  notFoundMessage,
  resolveServerCommand,
  type LaunchSpec,
} from './serverPath';
import {
  SECTION,
  configurationForSection,
  readSettings,
  toServerConfiguration,
  type ServerConfiguration,
} from './settings';

const VERSION_TIMEOUT_MS = 30_000;

/** Reads the `devmemory` section (optionally for a resource) into the server's shape. */
export function serverConfiguration(scope?: vscode.Uri): ServerConfiguration {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  const folder = scope ? vscode.workspace.getWorkspaceFolder(scope) : vscode.workspace.workspaceFolders?.[0];
  return toServerConfiguration(readSettings((key) => config.get(key)), {
    home: os.homedir(),
    workspaceFolder: folder?.uri.fsPath,
  });
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

interface PythonExtensionApi {
  environments?: { getActiveEnvironmentPath?(resource?: vscode.Uri): { path: string } | undefined };
  settings?: { getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] } | undefined };
}

/** The selected interpreter: ms-python's API if installed, else `python.defaultInterpreterPath`. */
async function selectedInterpreter(log: vscode.OutputChannel): Promise<string | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (ext) {
    try {
      const api = ext.isActive ? ext.exports : await ext.activate();
      const env = api?.environments?.getActiveEnvironmentPath?.(folder?.uri);
      if (env?.path) return env.path;
      const exec = api?.settings?.getExecutionDetails?.(folder?.uri)?.execCommand?.[0];
      if (exec) return exec;
    } catch (err) {
      log.appendLine(`[client] could not ask the Python extension for the interpreter: ${String(err)}`);
    }
  }
  const configured = vscode.workspace.getConfiguration('python', folder?.uri).get<string>('defaultInterpreterPath');
  if (!configured || !/[\\/]/.test(configured)) return undefined; // the default is a bare "python"
  return configured
    .split('${workspaceFolder}')
    .join(folder?.uri.fsPath ?? '')
    .replace(/^~(?=[\\/])/, os.homedir());
}

function runVersion(spec: LaunchSpec, cwd: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      spec.command,
      [...spec.args, '--version'],
      { env: spec.env, cwd, timeout: VERSION_TIMEOUT_MS, shell: spec.shell, windowsHide: true },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`"${spec.command} --version" failed: ${err.message.includes(stderr) ? err.message : `${err.message}\n${stderr}`}`));
        else resolve(`${stdout}${stderr}`);
      },
    );
  });
}

class StartError extends Error {}

/** What the client needs from the UI layer to answer commands invoked from the editor. */
export interface ClientUi {
  openMemory(id: string): Promise<void>;
  showHits(title: string, hits: MemorySummary[]): Promise<void>;
}

export class DevMemoryServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<void> | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly stateChanged = new vscode.EventEmitter<boolean>();
  private readonly subscriptions: vscode.Disposable[] = [];

  /** Fires on `devmem/memoriesChanged` and after this extension's own writes. */
  readonly onDidChangeMemories = this.changed.event;
  /** Fires with `true` when the server is running, `false` when it stopped. */
  readonly onDidChangeRunning = this.stateChanged.event;

  constructor(
    readonly output: vscode.OutputChannel,
    /** Used for `devmem.*` commands run from hover links, code lenses and code actions. */
    private readonly ui: ClientUi,
  ) {}

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  start(): Promise<void> {
    this.starting ??= this.doStart().finally(() => (this.starting = undefined));
    return this.starting;
  }

  async restart(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    while (this.subscriptions.length) this.subscriptions.pop()?.dispose();
    if (client) {
      try {
        await client.dispose(5_000); // shutdown + exit, then kills the process if needed
      } catch (err) {
        this.output.appendLine(`[client] stop: ${errorText(err)}`);
      }
    }
    this.stateChanged.fire(false);
  }

  /** Sends `workspace/executeCommand` for a devmem.* command with `arguments: [args]`. */
  async execute<C extends keyof CommandSignatures>(
    command: C,
    args: CommandSignatures[C][0],
    token?: vscode.CancellationToken,
  ): Promise<CommandSignatures[C][1]> {
    if (this.starting) await this.starting.catch(() => undefined);
    const client = this.client;
    if (!client || !this.running) {
      throw new Error('The DevMemory server is not running. Run "DevMemory: Restart Server" or check the DevMemory log.');
    }
    try {
      const result = await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] }, token);
      if (command === Commands.remember || command === Commands.forget) this.changed.fire();
      return result as CommandSignatures[C][1];
    } catch (err) {
      throw err instanceof ResponseError ? new Error(err.message) : err;
    }
  }

  private async doStart(): Promise<void> {
    const settings = readSettings((key) => vscode.workspace.getConfiguration(SECTION).get(key));
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    try {
      const lookup = {
        command: settings.serverCommand,
        pathEnv: process.env.PATH,
        pathExt: process.env.PATHEXT,
        platform: process.platform,
        cwd: folder,
        isFile,
      };
      let resolved = resolveServerCommand(lookup);
      if (!resolved.command && !isExplicitPath(settings.serverCommand, process.platform)) {
        // Only now ask the Python extension (activating it is not free).
        const interpreterPath = await selectedInterpreter(this.output);
        if (interpreterPath) resolved = resolveServerCommand({ ...lookup, interpreterPath });
      }
      if (!resolved.command) {
        this.output.appendLine(`[client] "${settings.serverCommand}" not found; tried:\n  ${resolved.tried.join('\n  ')}`);
        throw new StartError(notFoundMessage(settings.serverCommand, resolved.tried));
      }
      this.output.appendLine(`[client] server: ${resolved.command} (found via ${resolved.source})`);
      const config = serverConfiguration();
      const spec = launchSpec(resolved.command, settings.serverArgs, process.env, process.platform, config.database?.path);

      let versionOutput: string;
      try {
        versionOutput = await runVersion(spec, folder);
      } catch (err) {
        this.output.appendLine(`[client] ${String(err)}`);
        throw new StartError(`DevMemory: "${resolved.command}" could not be run. ${HOW_TO_FIX}.`);
      }
      const version = checkVersion(versionOutput);
      if (!version.ok) throw new StartError(`DevMemory: ${version.reason}. ${HOW_TO_FIX}.`);
      this.output.appendLine(`[client] devmem-lsp ${version.version}`);

      const client = this.createClient(spec, config);
      this.client = client;
      this.subscriptions.push(
        client.onNotification(MEMORIES_CHANGED, () => this.changed.fire()),
        client.onDidChangeState((e) => this.stateChanged.fire(e.newState === State.Running)),
      );
      await client.start();
      this.stateChanged.fire(true);
      this.changed.fire();
    } catch (err) {
      const message = err instanceof StartError ? err.message : `DevMemory: the language server failed to start: ${errorText(err)}. ${HOW_TO_FIX}.`;
      this.output.appendLine(`[client] ${message}`);
      await this.stop();
      void this.showStartError(message);
    }
  }

  private createClient(spec: LaunchSpec, config: ServerConfiguration): LanguageClient {
    const serverOptions: ServerOptions = {
      command: spec.command,
      args: spec.args,
      options: { env: spec.env, shell: spec.shell },
    };
    let client: LanguageClient | undefined;
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      initializationOptions: config,
      synchronize: { configurationSection: SECTION },
      outputChannel: this.output,
      traceOutputChannel: this.output,
      markdown: { isTrusted: { enabledCommands: [Commands.open, 'devmemory.openMemory'] } },
      initializationFailedHandler: (error) => {
        this.output.appendLine(`[client] initialize failed: ${errorText(error)}`);
        return false;
      },
      middleware: {
        workspace: {
          // Answer section `devmemory` with the contract's shape (not VS Code's raw settings).
          configuration: async (params, token, next) => {
            const answers: unknown[] = new Array(params.items.length);
            const rest: number[] = [];
            params.items.forEach((item, i) => {
              const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
              const ours = configurationForSection(item.section, serverConfiguration(scope));
              if (ours.handled) answers[i] = ours.value;
              else rest.push(i);
            });
            if (rest.length > 0) {
              const other = await next({ items: rest.map((i) => params.items[i]) }, token);
              if (other instanceof ResponseError) return other;
              rest.forEach((i, j) => (answers[i] = (other as unknown[])[j] ?? null));
            }
            return answers;
          },
          // Push the mapped object too, for servers that read `settings` instead of pulling.
          didChangeConfiguration: async () => {
            await client?.sendNotification(DidChangeConfigurationNotification.type, {
              settings: { [SECTION]: serverConfiguration() },
            });
          },
        },
        // Commands run from hover links, code lenses and code actions: `devmem.open` opens
        // the memory document; lists the server would show with showMessageRequest
        // (`"show": true`) are shown in a QuickPick. Everything else goes to the server.
        executeCommand: async (command, args, next) => {
          if (command === Commands.open) {
            const id = extractMemoryId(args);
            if (id) return this.ui.openMemory(id);
          }
          const list = shownListRequest(command, args);
          if (list) {
            const result = await this.execute(list.command, list.args as never);
            await this.ui.showHits(list.title, result.hits);
            return result;
          }
          return next(command, args);
        },
      },
    };
    client = new LanguageClient('devmemory', 'DevMemory', serverOptions, clientOptions);
    return client;
  }

  private async showStartError(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log');
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.server`);
    } else if (choice === 'Show Log') {
      this.output.show(true);
    }
  }

  dispose(): void {
    void this.stop();
    this.changed.dispose();
    this.stateChanged.dispose();
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
