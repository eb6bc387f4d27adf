/**
 * Response lines. Built by concatenation so the id goes back exactly as the
 * client wrote it and a result serialised in the worker is not parsed again.
 */
import type { RawId } from './envelope.js';
import type { WireError } from '../contract/errors.js';

/** `{"jsonrpc":"2.0","id":<id>,"result":<json>}` */
export function resultLine(id: RawId, json: string): string {
  return `{"jsonrpc":"2.0","id":${id},"result":${json}}`;
}

/** `{"jsonrpc":"2.0","id":<id|null>,"error":{code,message[,data]}}` */
export function errorLine(id: RawId | null, error: WireError): string {
  return `{"jsonrpc":"2.0","id":${id ?? 'null'},"error":${JSON.stringify(error)}}`;
}
