/** Shared pieces of the native tests: temp files on /tmp (ext4, O_DIRECT works) and real loop devices. */
import { addonPath } from '../../src/native/binding.js';

export const ADDON_PATH = addonPath();
export const NO_ADDON_REASON = 'native addon not built (npx node-gyp rebuild --nodedir=/usr)';

// Loop devices and temp dirs: one implementation for all suites, in test/support.
export { attachLoop, detachLoop, LOOP_SKIP_REASON } from '../support/loop-device.js';
export { tempDir } from '../support/temp-dir.js';
