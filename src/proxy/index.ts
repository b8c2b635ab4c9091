// The built-in data path's entry: what the rest of shadowplane (server, cli, sandbox) may use. Inside
// src/proxy the rooms are resources/ (reading Envoy resources into a DataPlaneConfig), mirror/ (sending
// copies) and compare/ (comparing their responses); test/layering.test.ts keeps outsiders to this file.
export { createDataPlane, type DataPlane, type DataPlaneDeps, type DataPlaneOptions } from './data-plane.js';
export {
  DataPlaneClosedError,
  DataPlaneErrorCode,
  formatResourceProblem,
  InvalidResourcesError,
  ListenerBindError,
  type ApplyError,
  type ApplyResult,
  type ResourceProblem,
} from './errors.js';
export type { BoundListener } from './listener-set.js';
export { mergeComparisons, type ComparisonSummary, type Difference, type MirrorDifferences } from './compare/mirror-comparisons.js';
export { parseResources, type ParseResult } from './resources/parse-resources.js';
export { runtimeValuesFromLayers, type RuntimeValue, type RuntimeValues } from './mirror/runtime-fraction.js';
