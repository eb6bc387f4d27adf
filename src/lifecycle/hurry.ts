/**
 * The mode of a stop under way: graceful until something asks for it to be
 * immediate, which ends every graceful wait at once (SPEC §4). Knows nothing
 * of what is being stopped.
 */
import { within } from './within.js';

export class StopMode {
  #immediate = false;
  /** Resolves when the stop turns immediate. */
  readonly #hurried: Promise<void>;
  readonly #hurry: () => void;

  constructor() {
    let hurry: () => void = () => {};
    this.#hurried = new Promise((resolve) => (hurry = resolve));
    this.#hurry = hurry;
  }

  get immediate(): boolean {
    return this.#immediate;
  }

  /** Turns the stop immediate; false if it already was. */
  hurry(): boolean {
    if (this.#immediate) return false;
    this.#immediate = true;
    this.#hurry();
    return true;
  }

  /** Waits for `p` up to `ms` or until the stop turns immediate; true if `p` settled. */
  async wait(p: Promise<unknown>, ms: number): Promise<boolean> {
    let settled = false;
    const tracked = p.then(
      () => void (settled = true),
      () => void (settled = true),
    );
    await within(Promise.race([tracked, this.#hurried]), this.#immediate ? 0 : ms);
    return settled;
  }
}
