// `node --import ./bench/module-count.mjs …`: registers bench/module-count-hooks.mjs (see there).
import { register } from 'node:module';

register('./module-count-hooks.mjs', import.meta.url);
