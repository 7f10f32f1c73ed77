// The bench's door: `warren bench`.
export { command } from './command.js';
