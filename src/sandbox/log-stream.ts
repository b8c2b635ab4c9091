// One readable log stream for the sandbox: every line prefixed with its service's name, in a color
// of its own on a terminal; pino's JSON lines are shortened to level and message.
const COLORS = [36, 33, 32, 35, 34, 91, 96, 93];

export class PrefixedLog {
  private readonly colors = new Map<string, number>();
  private readonly width: number;

  constructor(
    names: readonly string[],
    private readonly write: (text: string) => void,
    private readonly color: boolean,
  ) {
    names.forEach((n, i) => this.colors.set(n, COLORS[i % COLORS.length]!));
    this.width = Math.max(...names.map((n) => n.length));
  }

  line(name: string, text: string): void {
    const label = name.padEnd(this.width);
    const prefix = this.color ? `\x1b[${this.colors.get(name) ?? 37}m${label} |\x1b[0m` : `${label} |`;
    for (const l of text.split('\n')) if (l !== '') this.write(`${prefix} ${l}\n`);
  }

  /** A pino destination whose lines become `level: msg {fields}` under `name`. */
  pinoDestination(name: string): { write(line: string): void } {
    return {
      write: (line: string) => {
        try {
          const { level, msg, time: _t, pid: _p, hostname: _h, svc: _s, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const lvl = ({ 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[level as number] ?? String(level);
          const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
          this.line(name, `${lvl}: ${String(msg)}${fields}`);
        } catch {
          this.line(name, line);
        }
      },
    };
  }
}
