// `warren ingest` as the stack runs it (and as compose runs it): the gateway, plus the SDK's
// browser snippet at /warren.js, served from the origin its events go to. The stack puts the two
// parts together so that neither imports the other.
import { ingestCommand as gateway } from '../ingest/index.js';
import { registerSnippet } from '../sdk/index.js';

export const ingestCommand = gateway([(app) => registerSnippet(app)]);
