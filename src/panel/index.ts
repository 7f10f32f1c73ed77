// The panel's door: the dashboard server and `warren panel`. It knows analytics only by URL.
export { command } from './command.js';
export { build, type Panel, type PanelOptions } from './server.js';
