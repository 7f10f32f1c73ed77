// The alerts part's door: `warren alerts add|list|remove|deliver` (README "Alerts").
export { command } from './command.js';
