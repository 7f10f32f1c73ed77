import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isUsageOrConfig } from '../command.js';
import { htpasswd } from './traefik-config.js';

it('a dashboard user name with ":" is refused as a setting (exit 2), naming the variable', () => {
  // Basic auth ends the user name at its first ":", so such a user could never log in.
  assert.throws(
    () => htpasswd('ad:min', 'secret'),
    (err) => isUsageOrConfig(err) && err.code === 'config' && /TRAEFIK_DASHBOARD_USER/.test(err.message),
  );
  assert.match(htpasswd('admin', 'secret'), /^admin:\$2[aby]\$10\$/);
});
