/**
 * Types every scenario and the report share. Declared here, once, so the
 * scenario files and report.ts import in one direction (no type circle).
 */

/** Reports a scenario's progress: a label and the fraction done (0..1). */
export type Progress = (label: string, frac: number) => void;

/** A headline figure of the human report, with the target it is held to (if any). */
export interface Headline {
  readonly name: string;
  readonly value: string;
  readonly target?: string;
  readonly met?: boolean;
}
