import { describe, expect, it } from 'vitest';
import { nvmeHealthProblem } from '../../workers/probes/full.js';

// Shapes as src/nvme/health.ts reports them (controllerState, anaState, smart.criticalWarning).
describe('nvmeHealthProblem (full probe verdict on backend health facts)', () => {
  it.each([
    { facts: undefined, problem: undefined },
    { facts: {}, problem: undefined },
    { facts: { devicePath: '/dev/loop0', sizeBytes: 1 }, problem: undefined },
    { facts: { controllerState: 'live', anaState: 'optimized', smart: { criticalWarning: 0 } }, problem: undefined },
    { facts: { controllerState: 'live', anaState: 'non-optimized', smart: null }, problem: undefined },
    { facts: { controllerState: 'live', anaState: null, smart: null }, problem: undefined },
    { facts: { controllerState: 'live', anaState: 'inaccessible' }, problem: 'ANA state inaccessible' },
    { facts: { controllerState: 'live', anaState: 'persistent-loss' }, problem: 'ANA state persistent-loss' },
    { facts: { controllerState: 'live', anaState: 'change' }, problem: 'ANA state change' },
    { facts: { controllerState: 'resetting', anaState: 'optimized' }, problem: 'controller state resetting' },
    { facts: { controllerState: 'gone', anaState: null, smart: null }, problem: 'controller state gone' },
    { facts: { controllerState: 'live', smart: { criticalWarning: 0x4 } }, problem: 'SMART critical warning 0x4' },
  ])('$facts -> $problem', ({ facts, problem }) => {
    expect(nvmeHealthProblem(facts as Record<string, unknown> | undefined)).toBe(problem);
  });
});
