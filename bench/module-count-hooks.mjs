// Loader hooks for bench/startup.ts: appends the URL of every module Node loads to $HARDER_MODULE_LIST
// (the hooks run in their own thread, where a synchronous append is the simple way to lose none at exit).
import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  if (process.env.HARDER_MODULE_LIST) appendFileSync(process.env.HARDER_MODULE_LIST, `${url}\n`);
  return nextLoad(url, context);
}
