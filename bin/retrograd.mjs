#!/usr/bin/env node
// The `retrograd` command: registers tsx so the TypeScript sources run directly, then hands over
// to src/cli/main.ts.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
