// The simulated clients' door: `warren client`, and the client the bench drives in-process.
export { command } from './command.js';
export { build, type ClientOptions, makeEvent, type SimulatedClient, usuarioFor } from './simulated.js';
