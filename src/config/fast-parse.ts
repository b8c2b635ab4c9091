// The fast path for shadowplane's own YAML: it only ever accepts. A text it doubts in any way (a
// syntax error, a schema or semantic problem, even a warning, an alias) gets undefined, and the
// careful path (load.ts) alone decides what is wrong and where.
import { CORE_SCHEMA, load as fastLoad } from 'js-yaml';
import type { z } from 'zod';
import { GenerationMemo } from '../memo/generation-memo.js';
import { CONFIG_SECTIONS, configSchema, configSkeletonSchema, type ConfigFile } from './schema.js';
import { checkSemantics, SemanticCheckMemo } from './semantic.js';
import { splitYamlItems } from './yaml-items.js';

/** True when some object or array is reachable twice: YAML aliases, which the careful path limits. */
function sharesNodes(value: unknown, seen = new Set<object>()): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (seen.has(value)) return true;
  seen.add(value);
  return Object.values(value).some((v) => sharesNodes(v, seen));
}

/** js-yaml (YAML 1.2 core schema, duplicate keys rejected), or undefined on any error. */
function loadYaml(text: string): unknown {
  try {
    return fastLoad(text, { schema: CORE_SCHEMA, json: false });
  } catch {
    return undefined;
  }
}

/** The whole text at once: js-yaml parses a large file several times faster than the yaml package's Document. */
export function parseClean(text: string): ConfigFile | undefined {
  const raw = loadYaml(text);
  if (raw === undefined || sharesNodes(raw)) return undefined;
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success || checkSemantics(parsed.data).length > 0) return undefined;
  return parsed.data;
}

type SectionKey = keyof typeof CONFIG_SECTIONS;

/** One entry parsed and checked on its own; undefined when it does not pass alone. */
function parseEntry(text: string, schema: z.ZodType): unknown {
  const raw = loadYaml(text);
  if (!Array.isArray(raw) || raw.length !== 1 || sharesNodes(raw[0])) return undefined;
  const parsed = schema.safeParse(raw[0]);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The fast path for a config that changes: the text is cut into its entries (yaml-items.ts), and
 * only entries whose text is new are parsed and checked; the others are the very objects returned
 * last time, so every later stage keyed on them (the model, the Envoy resources, their encoding)
 * reuses its work too. Its answers are parseClean's (test/incremental-build.test.ts holds it to that);
 * a text it cannot cut goes to parseClean whole.
 */
export class IncrementalParser {
  /**
   * Per section, by the entry's text. The text alone is the key: a key built by concatenation
   * (section + text) would be copied whole on every lookup, and one entry can be megabytes.
   */
  private readonly entries = new Map<string, GenerationMemo<string, unknown>>();
  private readonly semantics = new SemanticCheckMemo();

  parse(text: string): ConfigFile | undefined {
    const sections = splitYamlItems(text);
    if (!sections) return parseClean(text);
    for (const memo of this.entries.values()) memo.nextGeneration();
    const raw: Record<string, unknown[]> = {};
    for (const s of sections) {
      const schema = (CONFIG_SECTIONS as Record<string, z.ZodType | undefined>)[s.key];
      // A section read whole, or a key the schema does not know: nothing to gain from parts.
      if (s.kind !== 'sequence' || !schema) return parseClean(text);
      const list: unknown[] = [];
      let memo = this.entries.get(s.key);
      if (!memo) this.entries.set(s.key, (memo = new GenerationMemo()));
      for (const e of s.entries) {
        const parsed = memo.get(e.text, undefined, () => parseEntry(e.text, schema));
        // An entry that does not pass alone may still pass in place (an alias of another entry's anchor).
        if (parsed === undefined) return parseClean(text);
        list.push(parsed);
      }
      raw[s.key] = list;
    }
    if (!configSkeletonSchema.safeParse(raw).success) return undefined;
    // In the schema's key order, as configSchema writes it.
    const config = Object.fromEntries(Object.keys(CONFIG_SECTIONS).map((k) => [k, raw[k]])) as { [K in SectionKey]: ConfigFile[K] };
    return this.semantics.isClean(config) ? config : undefined;
  }
}
