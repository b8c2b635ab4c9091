// zod's issues as config problems: one per issue, an unknown key placed at the key itself.
import type { z } from 'zod';
import { ProblemCode, type UnplacedProblem } from './problems.js';

export function schemaProblems(issues: readonly z.core.$ZodIssue[]): UnplacedProblem[] {
  return issues.flatMap((issue): UnplacedProblem[] => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({
        code: ProblemCode.SCHEMA,
        severity: 'error' as const,
        path: [...path, k],
        message: `unknown field "${k}"`,
        atKey: true,
      }));
    }
    const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
    const message = missing ? `missing required field "${String(path.at(-1))}"` : issue.message;
    return [{ code: ProblemCode.SCHEMA, severity: 'error', path, message }];
  });
}

