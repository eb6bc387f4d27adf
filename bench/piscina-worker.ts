/** The reference piscina server's worker (`piscina-server.ts`): the bench fixture's dispatch, one call per task. */
import { dispatch } from './fixture.js';

export default function run(task: { method: string; params: unknown }): unknown {
  return dispatch(task.method, task.params);
}
