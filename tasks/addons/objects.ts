// What every add-on applies goes through here: each object labelled `harder.addon=<name>`, applied
// server-side under the add-on's own field manager, and removed by that label alone, so switching one
// add-on off deletes exactly what it applied and nothing of another add-on or of the cluster's own.

import type { Kubectl } from '../cluster/kubectl.ts';
import { ClusterError } from '../cluster/errors.ts';
import type { AddonName } from './spec.ts';

/** The label on every object an add-on applies; its value is the add-on's name. */
export const ADDON_LABEL = 'harder.addon';

/** A Kubernetes object as applied: only what the helpers read is typed. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
};

/** `kind/name` or `kind/namespace/name`, how messages and results name an object. */
export function objectId(object: KubeObject): string {
  return [object.kind, object.metadata.namespace, object.metadata.name].filter(Boolean).join('/');
}

/** The objects with the add-on's label added (the objects themselves are not changed). */
export function labelled(addon: AddonName, objects: readonly KubeObject[]): KubeObject[] {
  return objects.map((object) => ({ ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, [ADDON_LABEL]: addon } } }));
}

/**
 * Refuses objects that removal would miss: removal deletes the add-on's label from `kinds` (built-in
 * kinds, as kubectl names them) and every custom resource with its CustomResourceDefinition, so each object
 * must be of a listed kind or of a kind one of the add-on's own CRDs defines.
 */
export function checkRemovable(addon: AddonName, objects: readonly KubeObject[], kinds: readonly string[]): void {
  const own = new Set(
    objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => ((o as { spec?: { names?: { kind?: string } } }).spec?.names?.kind ?? '').toLowerCase()),
  );
  const listed = new Set(kinds.map((k) => k.toLowerCase()));
  const missed = objects.filter((o) => !listed.has(o.kind.toLowerCase()) && !own.has(o.kind.toLowerCase()));
  if (missed.length) {
    throw new ClusterError(
      `add-on ${addon} would apply ${missed.map(objectId).join(', ')}, whose kind its removal does not delete`,
      `add ${[...new Set(missed.map((o) => o.kind))].join(', ')} to the add-on's removal kinds (tasks/addons/${addon}/)`,
    );
  }
}

/** `kubectl apply --server-side` of the objects as one List, under the add-on's field manager; kubectl's lines. */
export async function applyObjects(kubectl: Kubectl, addon: AddonName, objects: readonly KubeObject[], signal?: AbortSignal): Promise<string> {
  const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
  const out = await kubectl(['apply', '--server-side', '--force-conflicts', `--field-manager=harder-addon-${addon}`, '-f', '-'], { input: list, signal, timeoutMs: 120_000 });
  return out.stdout;
}

/**
 * Deletes every object labelled with the add-on, of the given built-in kinds, in every namespace, and
 * waits until they are gone (a namespace's contents and a CRD's custom resources go with it). Returns
 * what was deleted (`customresourcedefinition.apiextensions.k8s.io "x" deleted` → that line).
 */
export async function removeObjects(kubectl: Kubectl, addon: AddonName, kinds: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const out = await kubectl(['delete', kinds.join(','), '--all-namespaces', '-l', `${ADDON_LABEL}=${addon}`, '--ignore-not-found', '--wait=true', '--timeout=180s'], { signal, timeoutMs: 200_000 });
  return out.stdout.split('\n').map((l) => l.trim()).filter((l) => / deleted/.test(l));
}
